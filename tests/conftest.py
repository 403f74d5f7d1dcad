from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PAYLOADS = Path(__file__).parent / "payloads"


def read_payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def bare_program_name() -> Iterator[None]:
    """Commands run in-process print ``chift-frames ...``, as when it is on the PATH.

    Run from a shell, the command prints the path it was run by (``.venv/bin/chift-frames``);
    under pytest that path is pytest's, and the guess would depend on the folder the tests
    run from. The test of that guess puts it back.
    """
    from chift_frames import cli

    with pytest.MonkeyPatch.context() as patch:  # its own: a test's monkeypatch.undo() keeps it
        patch.setattr(cli, "_command_prefix", lambda: "")
        yield


@pytest.fixture
def active_pos() -> dict[str, Any]:
    """A realistic, fully set-up POS → Accounting response with every kind of field."""
    return read_payload("active_pos")


@pytest.fixture
def opened_only() -> dict[str, Any]:
    """A consumer who only opened the setup link: null lists, no status, no enabled."""
    return read_payload("opened_only")


@pytest.fixture(scope="session")
def s3_api():
    """moto's S3 server in its own process (and a fault proxy), for the whole session."""
    from tests.s3_server import moto_server

    with moto_server() as s3:
        yield s3


@pytest.fixture(scope="session")
def azurite():
    """Azurite, Microsoft's Azure Blob emulator, in its own process, for the whole session."""
    from tests.azure_server import azurite_server
    from tests.components import require

    with azurite_server(require("azurite")) as server:
        yield server


@pytest.fixture
def abfs_root(azurite, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh container's abfs:// URL, the account key in the environment."""
    from tests.azure_server import KEY

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", KEY)
    container = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:50].strip("-")
    return azurite.create_container(container)


@pytest.fixture
def s3_root(s3_api, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket's URL, the AWS environment pointing at the S3 server."""
    for key, value in s3_api.env.items():
        monkeypatch.setenv(key, value)
    s3_api.faults.fail_put = None
    bucket = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:50].strip("-")
    return s3_api.create_bucket(bucket) + "/lake"


@pytest.fixture(scope="module")
def spark():
    """A local Spark session (one core, loopback, UTC, no UI) for a module; skips without Java."""
    from tests.components import require

    require("java")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("chift-frames-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

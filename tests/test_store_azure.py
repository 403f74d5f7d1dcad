"""The whole cycle on abfs://, against Azurite (Microsoft's Azure Blob emulator) in a process."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from chift_frames import SnapshotWriter, StoreError, list_snapshots, load, query
from chift_frames.cli import main
from chift_frames.sandbox import Sandbox
from chift_frames.store import display_root, snapshot_manifest
from chift_frames.world import World
from tests.azure_server import KEY, Azurite
from tests.test_fetch import assert_matches_world
from tests.test_store_s3 import SECRET, chift_env


def container_of(url: str) -> str:
    return url.removeprefix("abfs://").split("@", 1)[0]


def test_the_whole_cycle_on_azure(
    azurite: Azurite,
    abfs_root: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = World(consumers=12, syncs=2, seed=5)
    shown = display_root(abfs_root)
    assert shown == f"abfs://{container_of(abfs_root)}@devstoreaccount1.dfs.core.windows.net/lake"
    with Sandbox(world) as sandbox:
        chift_env(monkeypatch, sandbox)
        assert main(["fetch", "--out", abfs_root, "--quiet"]) == 0
        first = list_snapshots(abfs_root).snapshot_id.iloc[-1]
        assert_matches_world(abfs_root, world, first)
        sandbox.evolve()
        assert main(["fetch", "--out", abfs_root, "--quiet"]) == 0
    second = list_snapshots(abfs_root).snapshot_id.iloc[-1]
    assert_matches_world(abfs_root, world, second)
    printed = capsys.readouterr()
    assert f"Snapshot {second} in {shown}" in printed.out

    sql = "SELECT count(*) AS n FROM consumer_syncs"
    assert main(["query", abfs_root, sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": world.pair_count}]
    assert query(abfs_root, sql, snapshot="all").n[0] == 2 * world.pair_count
    assert main(["diff", abfs_root]) == 0
    assert f"What changed from {first} to {second}" in capsys.readouterr().out

    page = abfs_root.replace("/lake?", "/page.html?")
    assert main(["report", abfs_root, "--html", page]) == 0
    container = container_of(abfs_root)
    names = azurite.names(container)
    assert "page.html" in names
    assert f"lake/reports/{second}/onboarding_funnel.parquet" in names

    assert main(["rebuild", abfs_root]) == 0
    rebuilt = list_snapshots(abfs_root).snapshot_id.iloc[-1]
    assert_matches_world(abfs_root, world, rebuilt)
    assert main(["prune", abfs_root, "--keep-last", "1"]) == 0
    assert list_snapshots(abfs_root).snapshot_id.tolist() == [rebuilt]
    names = azurite.names(container)
    # what is left of the pruned snapshots: the parts of the executions log the rebuild lists
    listed = snapshot_manifest(abfs_root, rebuilt)["files"]["executions"]
    kept = {f"snapshot_id={rebuilt}"} | {rel.split("/")[1] for rel in listed}
    assert {n.split("/")[2] for n in names if "snapshot_id=" in n} == kept
    others = {
        n.removeprefix("lake/")
        for n in names
        if n.endswith(".parquet") and "snapshot_id=" in n and f"snapshot_id={rebuilt}" not in n
    }
    assert others <= set(listed) and all(o.startswith("executions/") for o in others)
    assert not [n for n in names if n.startswith(("lake/_staging/", "lake/_locks/"))]

    # neither the Chift secret nor the account key in any output or any blob
    printed = capsys.readouterr()
    for text in (printed.out, printed.err):
        assert SECRET not in text and KEY not in text
    fs = azurite.filesystem()
    for name in names:
        with fs.open_input_stream(f"{container}/{name}") as blob:
            body = blob.read()
        assert SECRET.encode() not in body and KEY.encode() not in body, name


def test_one_writer_per_snapshot_on_azure(abfs_root: str) -> None:
    writer = SnapshotWriter(abfs_root, "only-one")
    with pytest.raises(StoreError, match="being written by another writer"):
        SnapshotWriter(abfs_root, "only-one")
    writer.commit()
    with pytest.raises(StoreError, match="already exists"):
        SnapshotWriter(abfs_root, "only-one")
    frames = load(abfs_root, "only-one")
    assert all(isinstance(df, pd.DataFrame) and df.empty for df in frames.values())


def test_an_azure_url_names_its_container_but_carries_no_key() -> None:
    url = "abfs://lake@acct.dfs.core.windows.net/data?enable_tls=false"
    assert display_root(url) == "abfs://lake@acct.dfs.core.windows.net/data"
    with pytest.raises(StoreError, match="must not carry credentials") as refused:
        load("abfs://lake:hunter2@acct.dfs.core.windows.net/data")
    assert "hunter2" not in str(refused.value) and "AZURE_STORAGE_ACCOUNT_KEY" in str(refused.value)
    with pytest.raises(StoreError, match="must not carry credentials"):
        load("s3://AKIAXXXX@bucket/data")  # a user name is still refused where it is no container

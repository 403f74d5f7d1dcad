"""Parts saved before a column existed (ADDED_COLUMNS) read with it null, in every reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from chift_frames import load, query
from chift_frames.client import ChiftClient
from chift_frames.export import compute_reports
from chift_frames.fetch import fetch_snapshot
from chift_frames.reports import REPORTS, SparkSource, onboarding_funnel
from chift_frames.sandbox import Sandbox
from chift_frames.store import snapshot_manifest
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000021"
OLD_SYNCS = ["config", "object_kinds"]  # not in syncs before the sync definitions' JSON


def strip(root: Path, snapshot_id: str, table: str, columns: list[str]) -> None:
    """Rewrite a snapshot's parts of ``table`` as a version before ``columns`` saved them."""
    for rel in snapshot_manifest(root, snapshot_id)["files"][table]:
        path = root / rel
        pq.write_table(pq.read_table(path).drop_columns(columns), path)


@pytest.fixture(scope="module")
def older(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """A fetched snapshot whose syncs parts lack config and object_kinds; its reports before."""
    root = tmp_path_factory.mktemp("older")
    with Sandbox(World(consumers=12, syncs=2, seed=7)) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        snapshot = fetch_snapshot(client, root).snapshot_id
    assert load(root).syncs["config"].notna().any()
    expected = compute_reports(root)
    strip(root, snapshot, "syncs", OLD_SYNCS)
    return root, expected


def test_an_older_syncs_part_reads_with_the_json_null_everywhere(
    older: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    root, expected = older
    syncs = load(root).syncs
    assert len(syncs) and syncs[OLD_SYNCS].isna().all().all()
    assert str(syncs["config"].dtype) == "string"
    sql = "SELECT count(*) AS n, count(config) AS c, count(object_kinds) AS k FROM syncs"
    got = query(root, sql)
    assert got.to_dict("records") == [{"n": len(syncs), "c": 0, "k": 0}]
    # every report is as it was: none reads the definitions' JSON
    reports = compute_reports(root)
    for name in REPORTS:
        pd.testing.assert_frame_equal(reports[name], expected[name], obj=name)


def test_the_printed_views_run_in_duckdb_on_an_older_syncs_part(
    older: tuple[Path, dict[str, pd.DataFrame]], capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_frames.cli import main

    root, expected = older
    assert main(["report", str(root), "--sql", "onboarding_funnel", "--views", str(root)]) == 0
    script = capsys.readouterr().out
    assert 'CAST(NULL AS STRING) AS "config"' in script
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.sql(script).df()
    assert got.linked_count.tolist() == expected["onboarding_funnel"].linked_count.tolist()


def test_spark_reads_an_older_syncs_part(
    older: tuple[Path, dict[str, pd.DataFrame]], spark: Any
) -> None:
    root, expected = older
    got = onboarding_funnel(SparkSource(str(root), spark))
    pd.testing.assert_frame_equal(got, expected["onboarding_funnel"])

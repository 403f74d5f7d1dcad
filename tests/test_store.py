"""save, load and query: snapshots, atomicity, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import (
    SnapshotWriter,
    StoreError,
    flatten,
    list_snapshots,
    load,
    query,
    save,
)

C1, C2 = "consumer-1", "consumer-2"


@pytest.fixture
def frames(active_pos: dict[str, Any], opened_only: dict[str, Any]):
    return flatten([(C1, active_pos), (C2, opened_only)], fetched_at="2026-11-27T10:00:00Z")


def assert_frames_equal(a, b) -> None:
    assert set(a) <= set(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_save_writes_a_hive_partitioned_dataset(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path)
    for name in frames:
        parts = list((tmp_path / name / f"snapshot={sid}").glob("*.parquet"))
        assert [p.name for p in parts] == ["part-00000.parquet"], name
    # pandas (and so Spark and DuckDB) read a table folder as it is, snapshot as a column
    direct = pd.read_parquet(tmp_path / "mapping_values")
    assert direct["snapshot"].astype(str).unique().tolist() == [sid]
    assert len(direct) == len(frames.mapping_values)


def test_load_gives_back_what_was_saved(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path)
    assert_frames_equal(frames, load(tmp_path))
    assert_frames_equal(frames, load(tmp_path, sid))
    only = load(tmp_path, tables=["flows"])
    assert list(only) == ["flows"]


def test_each_save_is_a_new_snapshot_and_latest_is_the_last(
    tmp_path: Path, frames, active_pos
) -> None:
    first = save(frames, tmp_path, snapshot_id="week-1")
    smaller = flatten([(C1, active_pos)])
    second = save(smaller, tmp_path, snapshot_id="week-2")
    assert_frames_equal(smaller, load(tmp_path))
    assert_frames_equal(frames, load(tmp_path, first))
    both = load(tmp_path, "all")
    assert both.consumer_syncs.snapshot_id.tolist() == [first, first, second]
    assert list(both.consumer_syncs.columns[:2]) == ["snapshot_id", "consumer_id"]
    pd.testing.assert_frame_equal(
        both.mapping_values[both.mapping_values.snapshot_id == second]
        .drop(columns="snapshot_id")
        .reset_index(drop=True),
        smaller.mapping_values,
    )
    assert list_snapshots(tmp_path).snapshot_id.tolist() == [first, second]


def test_an_uncommitted_snapshot_is_invisible(tmp_path: Path, frames) -> None:
    good = save(frames, tmp_path)
    crashed = SnapshotWriter(tmp_path, "crashed")
    crashed.write({"consumer_syncs": frames.consumer_syncs})  # ... and the process dies here
    (tmp_path / "flows" / "snapshot=crashed").mkdir(parents=True)
    (tmp_path / "flows" / "snapshot=crashed" / ".part-00000.parquet.tmp").write_bytes(b"PAR1")
    assert load(tmp_path, "all").consumer_syncs.snapshot_id.unique().tolist() == [good]
    assert query(tmp_path, "SELECT count(*) AS n FROM consumer_syncs", snapshot="all").n[0] == 2
    with pytest.raises(StoreError, match="no snapshot 'crashed'"):
        load(tmp_path, "crashed")
    # the same id can be reopened and finished later
    resumed = SnapshotWriter(tmp_path, "crashed")
    resumed.write({"consumer_syncs": frames.consumer_syncs})
    resumed.commit("partial")
    assert len(load(tmp_path, "crashed").consumer_syncs) == 4
    assert list_snapshots(tmp_path).status.tolist() == ["complete", "partial"]


def test_query_joins_the_views(tmp_path: Path, frames) -> None:
    save(frames, tmp_path)
    result = query(
        tmp_path,
        """
        SELECT c.consumer_id, m.name, count(*) FILTER (WHERE NOT v.is_mapped) AS unmapped
        FROM consumer_syncs c
        JOIN mappings m USING (consumer_id, sync_id)
        JOIN mapping_values v USING (consumer_id, sync_id, mapping_index)
        GROUP BY ALL ORDER BY m.name
    """,
    )
    assert result.astype(object).values.tolist() == [
        [C1, "Payment methods", 1],
        [C1, "Tax rates", 1],
    ]
    assert str(result.dtypes["consumer_id"]) == "string"
    assert str(result.dtypes["unmapped"]) == "Int64"


def test_errors_say_what_to_do(tmp_path: Path, frames) -> None:
    with pytest.raises(StoreError, match="not a chift_frames dataset"):
        load(tmp_path)
    save(frames, tmp_path, snapshot_id="one")
    with pytest.raises(StoreError, match="already exists"):
        save(frames, tmp_path, snapshot_id="one")
    with pytest.raises(StoreError, match="invalid snapshot id"):
        save(frames, tmp_path, snapshot_id="../escape")
    with pytest.raises(StoreError, match="unknown table 'flow'"):
        save({"flow": frames.flows}, tmp_path)
    with pytest.raises(StoreError, match="does not match its schema"):
        save({"flows": frames.flows.drop(columns="name")}, tmp_path)
    with pytest.raises(StoreError, match="cannot be stored"):
        save({"flows": frames.flows.assign(datastore_count="many")}, tmp_path)
    with pytest.raises(StoreError, match="unknown table"):
        load(tmp_path, tables=["nope"])


def test_a_snapshot_without_a_table_still_queries(tmp_path: Path, frames) -> None:
    import json

    sid = save(frames, tmp_path)
    manifest_path = tmp_path / "_snapshots" / f"{sid}.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"]["fetch_errors"]  # as written before that table existed
    manifest_path.write_text(json.dumps(manifest))
    assert query(tmp_path, "SELECT count(*) AS n FROM fetch_errors").n[0] == 0
    assert load(tmp_path).fetch_errors.empty

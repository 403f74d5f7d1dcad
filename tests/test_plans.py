"""What DuckDB believes of a view's size, whatever the order and sizes of its parts.

DuckDB guesses the rows of a read of several Parquet files from the first file alone (its
rows times the number of files), and each join hashes the side it believes smaller. A
dataset whose executions start with a tiny part (commit 247a0a6 wrote the first page of a
sync as one) made 1.4 million executions look like 37,500, and ``stale_flows`` hashed every
execution rather than the flows, and spilled. The executions' largest part is read first,
so the guess (its rows times the parts) is never below the rows the view holds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from chift_frames import query
from chift_frames.flatten import flatten_executions
from chift_frames.reports import consumer_flow_runs, stale_flows
from chift_frames.store import SnapshotWriter, connect
from chift_frames.world import World


def _estimated_rows(con: object, sql: str) -> int:
    plan = con.sql(f"EXPLAIN {sql}").fetchall()[0][1]  # type: ignore[attr-defined]
    return int(re.findall(r"~([\d,]+) [Rr]ows", plan)[-1].replace(",", ""))


@pytest.fixture
def tiny_first(tmp_path: Path) -> tuple[Path, int]:
    """A snapshot whose executions are a part of one run, then parts of many."""
    world = World(consumers=60, syncs=1, seed=3)
    (sync,) = world.sync_items()
    table = flatten_executions(sync["syncid"], world.executions(sync["syncid"], days=30))
    writer = SnapshotWriter(tmp_path)
    writer.write({"executions": table.slice(0, 1)})
    for start in range(1, len(table), 200):
        writer.write({"executions": table.slice(start, 200)})
    writer.commit("complete")
    return tmp_path, len(table)


def test_the_executions_view_is_not_believed_as_small_as_its_first_part(
    tiny_first: tuple[Path, int],
) -> None:
    root, rows = tiny_first
    parts = -(-(rows - 1) // 200) + 1
    assert rows > 1_000 and parts > 5
    con = connect(root)
    try:
        # read first, the one-run part made the guess the number of parts
        assert _estimated_rows(con, "SELECT * FROM executions") >= rows * 0.8
        assert con.execute("SELECT count(*) FROM executions").fetchone()[0] == rows
    finally:
        con.close()
    # every row once, whatever part is read first
    ids = query(root, "SELECT execution_id FROM executions ORDER BY execution_id").execution_id
    assert ids.is_unique and len(ids) == rows


def test_run_reports_read_the_same_whatever_part_comes_first(tiny_first: tuple[Path, int]) -> None:
    root, _ = tiny_first
    runs = consumer_flow_runs(root)
    stale = stale_flows(root, now="2100-01-01")
    assert runs.run_count.sum() == query(root, "SELECT count(*) AS n FROM executions").n[0]
    assert len(stale) == len(query(root, "SELECT * FROM flows"))
    pd.testing.assert_frame_equal(consumer_flow_runs(root), runs)

"""What DuckDB believes of a view's size, whatever the order and sizes of its parts.

DuckDB guesses the rows of a read of several Parquet files from the first file alone (its
rows times the number of files), and each join hashes the side it believes smaller. A
dataset whose executions start with a tiny part (commit 247a0a6 wrote the first page of a
sync as one) made 1.4 million executions look like 37,500, and ``stale_flows`` hashed every
execution rather than the flows, and spilled. A view whose first part holds less than half
the rows of its largest reads the largest first, so the guess is at least about half the
rows the view holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chift_frames import flatten, query
from chift_frames.flatten import flatten_executions
from chift_frames.reports import consumer_flow_runs, flow_runs, stale_flows
from chift_frames.store import SnapshotWriter, connect, snapshot_manifest
from chift_frames.world import World

NOW = "2100-01-01"  # every flow stale: stale_flows lists them all


def _guessed_and_counted(root: Path, table: str) -> tuple[int, int]:
    """The rows DuckDB guesses view ``table`` holds (its plan's scan), and those it holds."""
    with closing(connect(root)) as con:
        plan = con.sql(f"EXPLAIN SELECT * FROM {table}").fetchall()[0][1]
        guess = int(re.findall(r"~([\d,]+) [Rr]ows", plan)[-1].replace(",", ""))
        return guess, con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


WORLD = World(consumers=60, syncs=1, seed=3)


def _write(root: Path, table: pa.Table, first: int, size: int, first_pairs: int = 0) -> None:
    """Commit the world's pairs (the first ``first_pairs`` apart, when given), and ``table``
    as executions: a part of its ``first`` rows, then parts of ``size``."""
    writer = SnapshotWriter(root)
    pairs = [(c, WORLD.consumer_sync(c, s)) for c, s in WORLD.pairs()]
    if first_pairs:
        writer.write(flatten(pairs[:first_pairs]))
    writer.write(flatten(pairs[first_pairs:]))
    writer.write({"executions": table.slice(0, first)})
    for start in range(first, len(table), size):
        writer.write({"executions": table.slice(start, size)})
    writer.commit("complete")


@pytest.fixture
def runs() -> pa.Table:
    (sync,) = WORLD.sync_items()
    return flatten_executions(sync["syncid"], WORLD.executions(sync["syncid"], days=30))


def test_the_executions_view_is_not_believed_as_small_as_its_first_part(
    tmp_path: Path, runs: pa.Table
) -> None:
    _write(tmp_path, runs, 1, 200)
    parts = snapshot_manifest(tmp_path)["files"]["executions"]
    assert len(runs) > 1_000 and len(parts) > 5
    assert pq.read_metadata(tmp_path / parts[0]).num_rows == 1  # as listed, a tiny first part
    # read first, the one-run part made the guess the number of parts
    guess, rows = _guessed_and_counted(tmp_path, "executions")
    assert guess >= rows == len(runs)
    # every row once, whatever part is read first
    ids = query(tmp_path, "SELECT execution_id FROM executions ORDER BY execution_id")
    assert ids.execution_id.is_unique and len(ids) == len(runs)


def test_run_reports_do_not_hang_on_the_parts(tmp_path: Path, runs: pa.Table) -> None:
    _write(tmp_path / "uneven", runs, 1, 200)
    _write(tmp_path / "whole", runs, len(runs), len(runs))
    reports: list[Callable[[Path], pd.DataFrame]] = [
        flow_runs,
        consumer_flow_runs,
        lambda root: stale_flows(root, now=NOW),
    ]
    for report in reports:
        whole = report(tmp_path / "whole")
        assert len(whole) > 0
        pd.testing.assert_frame_equal(report(tmp_path / "uneven"), whole)


def test_a_table_whose_first_part_holds_a_few_pairs_is_not_believed_small(
    tmp_path: Path, runs: pa.Table
) -> None:
    # as a fetch that died after a pair, then resumed, lists its parts
    _write(tmp_path, runs, len(runs), len(runs), first_pairs=1)
    parts = snapshot_manifest(tmp_path)["files"]["mapping_values"]
    sizes = [pq.read_metadata(tmp_path / part).num_rows for part in parts]
    assert len(parts) == 2 and sizes[0] * 10 < sizes[1]
    guess, rows = _guessed_and_counted(tmp_path, "mapping_values")
    assert guess >= rows == sum(sizes)

"""One implementation, two inputs: every report from in-memory Frames equals the same report
from the saved dataset, on generated worlds."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chift_frames import Frames, flatten, save
from chift_frames.engine import settings as engine_settings
from chift_frames.export import compute_reports
from chift_frames.flatten import flatten_consumers, flatten_executions, flatten_syncs
from chift_frames.reports import REPORTS, report_sql, summarise
from chift_frames.schema import to_pandas
from chift_frames.world import World


def world_frames(world: World, *, account: bool) -> Frames:
    """A world's snapshot as a fetch would make it; ``account`` adds consumers, syncs, runs."""
    frames = dict(flatten([(c, world.consumer_sync(c, s)) for c, s in world.pairs()]))
    if account:
        frames["consumers"] = flatten_consumers(world.consumer_items())
        frames["syncs"] = flatten_syncs(world.sync_items())
        runs = [
            flatten_executions(item["syncid"], world.executions(item["syncid"], days=3))
            for item in world.sync_items()
        ]
        frames["executions"] = to_pandas(pa.concat_tables(runs))
    return Frames(frames)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    consumers=st.integers(0, 25),
    syncs=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    account=st.booleans(),
)
def test_every_report_is_the_same_from_frames_and_from_the_dataset(
    consumers: int, syncs: int, seed: int, account: bool
) -> None:
    frames = world_frames(World(consumers=consumers, syncs=syncs, seed=seed), account=account)
    with tempfile.TemporaryDirectory() as root:
        snapshot_id = save(frames, root)
        from_dataset = compute_reports(root, snapshot=snapshot_id)
        for name, report in REPORTS.items():
            expected = from_dataset[name]
            if name == "unmapped_by_consumer" and "consumers" not in frames:
                # frames without a consumers table give no consumer_name column; a saved
                # dataset always has the table (empty), so its names are all null
                assert expected.consumer_name.isna().all()
                expected = expected.drop(columns="consumer_name")
            pd.testing.assert_frame_equal(report(frames), expected, obj=name)
            pd.testing.assert_frame_equal(
                report(root, snapshot=snapshot_id), from_dataset[name], obj=name
            )
        a, b = summarise(frames), summarise(root)
        assert (a.pairs, a.incomplete) == (b.pairs, b.incomplete)
        assert {n: c for n, c in b.rows.items() if n in a.rows} == a.rows


def test_a_summary_of_every_snapshot_counts_every_snapshots_rows(tmp_path: Path) -> None:
    world = World(consumers=6, syncs=2, seed=5)
    first = world_frames(world, account=True)
    save(first, tmp_path, snapshot_id="first")
    world.evolve()
    second = world_frames(world, account=True)
    save(second, tmp_path, snapshot_id="second")
    every = summarise(tmp_path, snapshot="all")
    for name in ("consumer_syncs", "mapping_values", "executions"):
        assert every.rows[name] == len(first[name]) + len(second[name]), name
    assert every.pairs == len(first.consumer_syncs) + len(second.consumer_syncs)
    latest = summarise(tmp_path)
    assert latest.rows["mapping_values"] == len(second.mapping_values)
    assert latest.pairs == len(second.consumer_syncs)


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_query_states_its_question_and_grain(name: str) -> None:
    sql = report_sql(name)
    lines = sql.splitlines()
    assert lines[0].startswith("-- ") and lines[0].endswith("?"), lines[0]
    assert any(line.startswith("-- Grain: ") for line in lines[:4])
    assert "SELECT *" not in sql.upper()
    question = (REPORTS[name].__doc__ or "").splitlines()[0]
    assert lines[0] == f"-- {question}"


def test_report_sql_names_an_unknown_report() -> None:
    with pytest.raises(KeyError, match="no report 'nope'"):
        report_sql("nope")


def test_engine_settings_come_from_arguments_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", "/tmp/spill-here")
    assert engine_settings() == {"memory_limit": "300MB", "temp_directory": "/tmp/spill-here"}
    assert engine_settings(memory_limit="2GB")["memory_limit"] == "2GB"
    monkeypatch.delenv("CHIFT_FRAMES_MEMORY_LIMIT")
    assert engine_settings()["memory_limit"] == "256MiB"


def test_connections_carry_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chift_frames.engine import open_source

    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", str(tmp_path / "spill"))
    save(flatten([]), tmp_path / "data")
    for source in (flatten([]), tmp_path / "data"):
        with open_source(source) as con:
            limit, temp = con.sql(
                "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
            ).fetchall()[0]
        assert limit in ("286.1 MiB", "300.0 MB"), limit
        assert temp == str(tmp_path / "spill")

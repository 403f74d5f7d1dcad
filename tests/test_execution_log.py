"""Executions are a log: each stored once across snapshots, each snapshot shows its window.

Nightly fetches of one account (the sandbox's world, its ``now`` a day later each night) go
into one dataset; each night's fetch also goes into a fresh dataset of its own, which reads
the whole window as every fetch did before the log. Each snapshot of the first must show
what the second holds, through ``load``, the views and the reports.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chift_frames import load, query
from chift_frames.cli import main
from chift_frames.fetch import fetch_snapshot
from chift_frames.reports import REPORTS
from chift_frames.sandbox import Sandbox
from chift_frames.store import list_snapshots, prune, snapshot_manifest
from chift_frames.store.execlog import REFRESH_PAD
from chift_frames.world import World
from tests.test_fetch import client_for

KEY = ["sync_id", "execution_id"]
START = World().now - timedelta(days=12)


def world_on(night: int) -> World:
    return World(consumers=40, syncs=2, seed=4, now=START + timedelta(days=night))


@dataclass
class Night:
    snapshot_id: str
    served: int  # executions items the sandbox served to the nightly fetch
    fresh: Path  # a dataset holding only a fetch of the whole window, the way before the log
    world: World


def fetch_night(root: Path, night: int, fresh: Path | None, **options: object) -> Night:
    world = world_on(night)
    with Sandbox(world) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox), root, executions_until=world.now, progress=False, **options
        )
        served = sandbox.stats.executions_served
        if fresh is not None:
            fetch_snapshot(
                client_for(sandbox), fresh, executions_until=world.now, progress=False, **options
            )
    assert result.complete
    return Night(result.snapshot_id, served, fresh or root, world)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Night]]]:
    root = tmp_path_factory.mktemp("nightly")
    out = []
    for night in range(10):
        fresh = tmp_path_factory.mktemp(f"fresh{night}") if night in (0, 4, 9) else None
        out.append(fetch_night(root, night, fresh))
    yield root, out


def stored_rows(root: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in root.glob("executions/*/*.parquet"))


def by_key(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY).reset_index(drop=True)


def test_ten_nightly_fetches_store_each_execution_once_and_ask_for_about_a_day(
    nights: tuple[Path, list[Night]],
) -> None:
    root, fetched = nights
    distinct = load(root, "all", tables=["executions"]).executions
    distinct = distinct.drop_duplicates(KEY)
    assert len(distinct) > 500
    assert stored_rows(root) <= 1.1 * len(distinct)
    for before, night in itertools.pairwise(fetched):
        world = night.world
        runs = [item for s in world.sync_items() for item in world.executions(s["syncid"])]

        def since(hours: int, runs: list[dict[str, object]] = runs, world: World = world) -> int:
            edge = world.now - timedelta(hours=hours)
            return sum(pd.Timestamp(str(i["start"])).to_pydatetime() >= edge for i in runs)

        # the day since the last fetch, the hour of overlap, and the runs that start within
        # a second of one that was running (asked again, with it, for its final state)
        running = [
            pd.Timestamp(str(i["start"]))
            for s in before.world.sync_items()
            for i in before.world.executions(s["syncid"])
            if i["status"] == "running"
        ]
        near = sum(
            any(abs(pd.Timestamp(str(i["start"])) - r) <= 2 * REFRESH_PAD for r in running)
            for i in runs
        )
        assert since(24) <= night.served <= since(25) + near, (night.served, since(24))
        assert night.served <= 1.25 * since(24)
    assert fetched[0].served > 25 * fetched[1].served  # the first fetch reads the whole window


@pytest.mark.parametrize("index", [0, 4, 9])
def test_each_snapshot_shows_what_a_fetch_of_its_whole_window_holds(
    nights: tuple[Path, list[Night]], index: int
) -> None:
    root, fetched = nights
    night = fetched[index]
    mine = load(root, night.snapshot_id, tables=["executions"]).executions
    theirs = load(night.fresh, tables=["executions"]).executions
    pd.testing.assert_frame_equal(by_key(mine), by_key(theirs), check_exact=True)
    assert {"success", "running"} <= set(mine.status) or index == 0
    # the views, and the count every summary prints
    sql = 'SELECT sync_id, execution_id, status, "end" FROM executions ORDER BY 1, 2'
    pd.testing.assert_frame_equal(
        query(root, sql, snapshot=night.snapshot_id), query(night.fresh, sql)
    )
    rows = snapshot_manifest(root, night.snapshot_id)["rows"]["executions"]
    assert rows == len(theirs)
    # "all": each snapshot its own window
    every = load(root, "all", tables=["executions"]).executions
    one = every[every.snapshot_id == night.snapshot_id].drop(columns="snapshot_id")
    pd.testing.assert_frame_equal(by_key(one), by_key(theirs), check_exact=True)


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_reports_on_executions_are_the_same_as_before_the_log(
    nights: tuple[Path, list[Night]], name: str
) -> None:
    root, fetched = nights
    night = fetched[9]
    mine = REPORTS[name](root, snapshot=night.snapshot_id)
    theirs = REPORTS[name](night.fresh)
    assert len(theirs) > 0 or name not in ("flow_runs", "consumer_flow_runs", "stale_flows")
    pd.testing.assert_frame_equal(mine, theirs)


def test_a_runs_final_state_replaces_running(nights: tuple[Path, list[Night]]) -> None:
    root, fetched = nights
    every = load(root, "all", tables=["executions"]).executions
    first, last = fetched[0].snapshot_id, fetched[9].snapshot_id
    running = every[(every.snapshot_id == first) & (every.status == "running")]
    assert len(running) > 0
    later = every[(every.snapshot_id == last) & every.execution_id.isin(running.execution_id)]
    assert len(later) == len(running) and later.end.notna().all()
    assert (later.status != "running").all()


def test_prune_keeps_the_parts_a_kept_snapshot_shows(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    fetched = [fetch_night(root, night, None) for night in range(3)]
    before = load(root, tables=["executions"]).executions
    removed = prune(root, keep_last=1)
    assert removed == [fetched[0].snapshot_id, fetched[1].snapshot_id]
    assert list(list_snapshots(root).snapshot_id) == [fetched[2].snapshot_id]
    after = load(root, tables=["executions"]).executions
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    # the next night builds on what is left
    fetch_night(root, 3, None)
    assert stored_rows(root) < 1.1 * len(load(root, "all", tables=["executions"]).executions)


def test_a_partial_snapshot_pruned_to_alone_can_still_be_resumed(tmp_path: Path) -> None:
    """Prune keeps the parts a partial snapshot planned to list for the sync that failed."""
    from chift_frames.sandbox import Faults

    root, fresh = tmp_path / "lake", tmp_path / "fresh"
    fetch_night(root, 0, None)
    fetch_night(root, 1, None)
    world = world_on(2)
    failing = world.sync_items()[0]["syncid"]
    with Sandbox(world, faults=Faults(rate_5xx=1.0, fault_attempts=100)) as sandbox:
        sandbox.fault_for = lambda key, f=sandbox.fault_for: (  # type: ignore[method-assign]
            f(key) if "/executions" in key and failing in key else None
        )
        first = fetch_snapshot(
            client_for(sandbox, max_attempts=2), root, executions_until=world.now, progress=False
        )
    assert first.status == "partial" and first.executions_failed == 1
    assert len(prune(root, keep_last=1)) == 2  # the partial snapshot alone is left
    with Sandbox(world) as sandbox:
        again = fetch_snapshot(client_for(sandbox), root, resume=first.snapshot_id)
    assert again.complete
    night = fetch_night(fresh, 2, None)
    mine = load(root, first.snapshot_id, tables=["executions"]).executions
    theirs = load(night.fresh, tables=["executions"]).executions
    pd.testing.assert_frame_equal(by_key(mine), by_key(theirs), check_exact=True)


def test_a_sync_filtered_fetch_and_a_later_full_one(tmp_path: Path) -> None:
    root, fresh = tmp_path / "lake", tmp_path / "fresh"
    first_sync = world_on(0).sync_items()[0]["syncid"]
    fetch_night(root, 0, None, sync_ids=[first_sync])
    only = load(root, tables=["executions"]).executions
    assert set(only.sync_id) == {first_sync}
    night = fetch_night(root, 1, fresh)
    mine = load(root, night.snapshot_id, tables=["executions"]).executions
    theirs = load(fresh, tables=["executions"]).executions
    assert len(set(theirs.sync_id)) == 2
    pd.testing.assert_frame_equal(by_key(mine), by_key(theirs), check_exact=True)


def old_dataset(root: Path, nights: int, scratch: Path) -> list[str]:
    """Nightly snapshots as versions before the log wrote them: each a copy of its window."""
    ids = []
    for night in range(nights):
        fresh = scratch / f"night{night}"
        sid = fetch_night(fresh, night, None).snapshot_id
        manifest_path = fresh / "_snapshots" / f"{sid}.json"
        manifest = json.loads(manifest_path.read_text())
        for key in ("executions_log", "execution_parts", "executions_windows", "executions_base"):
            manifest["info"].pop(key, None)
        manifest["info"].pop("executions_stored", None)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        for path in fresh.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                target = root / path.relative_to(fresh)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        ids.append(sid)
    return ids


def test_migrate_turns_old_copies_into_the_log(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    ids = old_dataset(root, 4, tmp_path / "scratch")
    before = {sid: load(root, sid, tables=["executions"]).executions for sid in ids}
    reports = {name: REPORTS[name](root, snapshot=ids[-1]) for name in ("flow_runs",)}
    copies = stored_rows(root)
    assert copies == sum(len(df) for df in before.values())  # each snapshot a whole copy
    assert main(["snapshots", str(root), "--migrate"]) == 0
    distinct = pd.concat(before.values()).drop_duplicates(KEY)
    assert stored_rows(root) <= 1.1 * len(distinct) < copies / 2
    for sid in ids:
        after = load(root, sid, tables=["executions"]).executions
        pd.testing.assert_frame_equal(by_key(after), by_key(before[sid]), check_exact=True)
        assert snapshot_manifest(root, sid)["rows"]["executions"] == len(before[sid])
    for name, df in reports.items():
        pd.testing.assert_frame_equal(REPORTS[name](root, snapshot=ids[-1]), df)
    stored = stored_rows(root)
    assert main(["snapshots", str(root), "--migrate"]) == 0  # nothing left to turn
    assert stored_rows(root) == stored
    # the next nightly fetch builds on the migrated log
    assert fetch_night(root, 4, None).served < len(distinct) / 10


@pytest.mark.parametrize("index", [0, 9])
@pytest.mark.parametrize("dialect", ["duckdb", "trino"])
def test_the_printed_executions_view_shows_the_snapshots_window(
    nights: tuple[Path, list[Night]], dialect: str, index: int
) -> None:
    """``report --views``: over the files (DuckDB), or over an external table (the others)."""
    import duckdb

    from chift_frames.reports._script import log_view

    root, fetched = nights
    night = fetched[index]
    manifest = snapshot_manifest(root, night.snapshot_id)
    if dialect == "duckdb" and index == 9:  # stored again: the step reads AGAIN's parts
        assert manifest["info"]["executions_again"]
        assert "last_part" in log_view(str(root), manifest, "duckdb")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if dialect == "duckdb":
        con.execute(log_view(str(root), manifest, "duckdb"))
    else:  # the external table of docs/readers.md: every stored row, with its folder
        con.execute("CREATE SCHEMA lake")
        path = str(root / "executions" / "*" / "*.parquet")
        con.execute(
            "CREATE TABLE lake.executions AS SELECT * FROM read_parquet(?, "
            "hive_partitioning = true, hive_types = {'snapshot_id': VARCHAR})",
            [path],
        )
        con.execute(log_view("lake", manifest, dialect))
    got = con.sql("SELECT * FROM executions").df()
    want = load(night.fresh, tables=["executions"]).executions
    assert len(got) == len(want)
    assert set(zip(got.execution_id, got.status, strict=True)) == set(
        zip(want.execution_id, want.status, strict=True)
    )


@pytest.mark.parametrize("without_again", [False, True])
def test_the_printed_spark_view_shows_a_nightly_snapshots_window(
    nights: tuple[Path, list[Night]], spark: Any, without_again: bool
) -> None:
    """``report --dialect spark --views``, in pyspark, on a snapshot that stored runs again."""
    from chift_frames.reports._script import log_view

    root, fetched = nights
    night = fetched[9]
    manifest = snapshot_manifest(root, night.snapshot_id)
    assert manifest["info"]["executions_again"]
    if without_again:  # committed before the key: the step groups every execution
        manifest["info"].pop("executions_again")
    spark.sql(log_view(str(root), manifest, "spark").rstrip(";"))
    got = {(r.execution_id, r.status) for r in spark.sql("SELECT * FROM executions").collect()}
    want = load(night.fresh, tables=["executions"]).executions
    assert spark.sql("SELECT count(*) AS n FROM executions").collect()[0].n == len(want)
    assert got == set(zip(want.execution_id, want.status, strict=True))


def test_a_snapshot_says_whether_it_lists_each_execution_once(
    nights: tuple[Path, list[Night]],
) -> None:
    """The flag its view trusts (no newest-row step) is what its parts hold, night by night."""
    from chift_frames import connect
    from chift_frames.store.execlog import log_window

    root, fetched = nights
    flags = []
    for night in fetched:
        manifest = snapshot_manifest(root, night.snapshot_id)
        since, _ = log_window(manifest)
        listed = manifest["files"]["executions"]
        parts = [pq.read_table(root / rel).to_pandas() for rel in listed]
        rows = pd.concat([p.assign(_part=k) for k, p in enumerate(parts)], ignore_index=True)
        rows = rows[rows.start >= pd.Timestamp(since)]
        once = not rows.duplicated(KEY).any()
        assert manifest["info"]["executions_once"] is once, night.snapshot_id
        flags.append(once)
        # the parts holding the newest row of each execution listed more than once
        counts = rows.groupby(KEY)["_part"].agg(["size", "max"])
        again = sorted(set(counts.loc[counts["size"] > 1, "max"]))
        assert manifest["info"]["executions_again"] == [listed[k] for k in again]
        for k in again:  # written apart by the fetch: runs that changed, each listed before
            earlier = rows[rows._part < k].set_index(KEY).index
            assert parts[k].set_index(KEY).index.isin(earlier).all(), listed[k]
        con = connect(root, night.snapshot_id, tables=["executions"])
        view = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'executions'"
        ).fetchone()
        con.close()
        assert view is not None and ("stored_again" in view[0]) is not once
        # the view looks for the executions stored again in those parts alone
        assert ("HAVING" in view[0]) is False and view[0].count("read_parquet") == 1 + bool(again)
    # the first fetch lists each execution once; the later ones list the runs that were
    # still running in an earlier part too, and their final state in their own
    assert flags[0] and not all(flags)


def test_migrate_says_whether_older_log_snapshots_list_each_execution_once(
    nights: tuple[Path, list[Night]], tmp_path: Path
) -> None:
    from chift_frames.store.lifecycle import migrate

    root, fetched = nights
    copy = tmp_path / "older"
    shutil.copytree(root, copy)
    flags = {}
    for night in fetched:  # as a version before the flags committed them
        path = copy / "_snapshots" / f"{night.snapshot_id}.json"
        manifest = json.loads(path.read_text())
        flags[night.snapshot_id] = (
            manifest["info"].pop("executions_once"),
            manifest["info"].pop("executions_again"),
        )
        path.write_text(json.dumps(manifest))
    sql = "SELECT sync_id, execution_id, status FROM executions ORDER BY 1, 2"
    before = query(copy, sql, snapshot=fetched[9].snapshot_id)
    assert before.equals(query(root, sql, snapshot=fetched[9].snapshot_id))
    migrate(copy)
    for night in fetched:
        info = snapshot_manifest(copy, night.snapshot_id)["info"]
        assert (info["executions_once"], info["executions_again"]) == flags[night.snapshot_id]
    pd.testing.assert_frame_equal(query(copy, sql, snapshot=fetched[9].snapshot_id), before)
    manifests = {p.name: p.read_bytes() for p in (copy / "_snapshots").glob("*.json")}
    migrate(copy)  # nothing left to do: no manifest is written again
    assert manifests == {p.name: p.read_bytes() for p in (copy / "_snapshots").glob("*.json")}


def test_a_resumed_nightly_fetch_shows_its_whole_window(tmp_path: Path) -> None:
    from chift_frames.errors import PartialSnapshotWarning
    from chift_frames.sandbox import Faults

    root, fresh = tmp_path / "lake", tmp_path / "fresh"
    fetch_night(root, 0, None)
    world = world_on(1)
    stubborn = Faults(rate_5xx=1.0, fault_attempts=100)
    with Sandbox(world, faults=stubborn) as sandbox:
        sandbox.fault_for = lambda key, f=sandbox.fault_for: (  # type: ignore[method-assign]
            f(key) if "/executions" in key else None
        )
        first = fetch_snapshot(
            client_for(sandbox, max_attempts=2), root, executions_until=world.now, progress=False
        )
    assert first.status == "partial" and first.executions_failed == 2
    with pytest.warns(PartialSnapshotWarning):  # the syncs that failed show no executions
        assert load(root, first.snapshot_id, tables=["executions"]).executions.empty
    night = fetch_night(fresh, 1, None)
    with Sandbox(world) as sandbox:
        again = fetch_snapshot(client_for(sandbox), root, resume=first.snapshot_id)
    assert again.complete
    mine = load(root, first.snapshot_id, tables=["executions"]).executions
    theirs = load(night.fresh, tables=["executions"]).executions
    pd.testing.assert_frame_equal(by_key(mine), by_key(theirs), check_exact=True)
    assert stored_rows(root) < 1.1 * len(load(root, "all", tables=["executions"]).executions)


@pytest.mark.parametrize("seed", range(30))
def test_a_run_read_again_is_stored_only_when_it_changed(seed: int) -> None:
    """``not_known`` keeps what the old row-by-row comparison kept: nulls, NaN and all."""
    import random

    import pyarrow as pa

    from chift_frames.schema import TABLES
    from chift_frames.store.execlog import known_fingerprints, not_known

    rng = random.Random(seed)
    schema = TABLES["executions"].schema
    start = pd.Timestamp("2026-03-01T00:00:00Z")

    def row(i: int) -> dict[str, object]:
        return {
            "sync_id": "s1",
            "execution_id": f"e{i}",
            "parent_execution_id": rng.choice([None, "p1", "p2"]),
            "consumer_id": rng.choice(["c1", "c2"]),
            "flow_id": "f1",
            "start": (start + pd.Timedelta(hours=i)).to_pydatetime(),
            "end": rng.choice([None, (start + pd.Timedelta(hours=i, minutes=5)).to_pydatetime()]),
            "duration_s": rng.choice([None, 300.0, float("nan")]),
            "status": rng.choice(["running", "success", "error"]),
        }

    known_rows = [row(i) for i in range(rng.randint(0, 30))]
    read = []
    for i in range(rng.randint(0, 40)):
        if known_rows and rng.random() < 0.6:
            again = dict(rng.choice(known_rows))
            if rng.random() < 0.3:
                field = rng.choice(["status", "end", "duration_s", "parent_execution_id"])
                again[field] = row(i)[field]
            read.append(again)
        else:
            read.append(row(100 + i))
    if known_rows and rng.random() < 0.3:  # a part written by hand may hold an id twice
        known_rows.append({**rng.choice(known_rows), "status": rng.choice(["success", "error"])})
    known = pa.Table.from_pylist(known_rows, schema=schema)
    table = pa.Table.from_pylist(read, schema=schema)
    by_id = {r["execution_id"]: r for r in known.to_pylist()}
    expected = [r for r in table.to_pylist() if by_id.get(r["execution_id"]) != r]
    got = not_known(table, known_fingerprints(known))[0].to_pylist()
    # NaN is not equal to itself, in Python as in Arrow: compare the rows as text
    assert [repr(r) for r in got] == [repr(r) for r in expected]


@pytest.mark.parametrize("seed", range(30))
def test_the_known_runs_are_the_newest_rows_of_the_windows_read_again(
    seed: int, tmp_path: Path
) -> None:
    """``known_rows`` fingerprints, of the parts' rows in the windows, each run's newest row.

    The parts are oldest first; a run may be in several (running, then ended), or twice in
    one. A run read again equal to its newest row is known; equal to an older row, it is not.
    """
    import random

    import pyarrow as pa

    from chift_frames.schema import TABLES
    from chift_frames.store.execlog import known_rows, not_known
    from chift_frames.store.filesystems import open_root

    rng = random.Random(seed)
    schema = TABLES["executions"].schema
    start = pd.Timestamp("2026-03-01T00:00:00Z")

    def row(i: int) -> dict[str, object]:
        ended = rng.random() < 0.6
        return {
            "sync_id": "s1",
            "execution_id": f"e{i}",
            "parent_execution_id": rng.choice([None, "p1"]),
            "consumer_id": rng.choice(["c1", "c2"]),
            "flow_id": "f1",
            "start": (start + pd.Timedelta(hours=i)).to_pydatetime(),
            "end": (start + pd.Timedelta(hours=i, minutes=5)).to_pydatetime() if ended else None,
            "duration_s": 300.0 if ended else None,
            "status": rng.choice(["success", "error"]) if ended else "running",
        }

    root = open_root(tmp_path)
    parts, held = [], []
    for number in range(rng.randint(1, 4)):
        rows = [row(rng.randint(0, 20)) for _ in range(rng.randint(0, 15))]
        rel = f"executions/snapshot_id=s{number}/part-0.parquet"
        (tmp_path / rel).parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / rel)
        parts.append(rel)
        held += rows
    windows = sorted(
        (start + pd.Timedelta(hours=a)).to_pydatetime()
        for a in rng.sample(range(-2, 24), 2 * rng.randint(1, 2))
    )
    spans = list(zip(windows[::2], windows[1::2], strict=True))
    newest = {}
    for r in held:  # oldest part first, each part's rows in order: the last one read wins
        if any(lo <= r["start"] <= hi for lo, hi in spans):
            newest[r["execution_id"]] = r
    read = [dict(rng.choice(held)) for _ in range(rng.randint(0, 30)) if held]
    read += [row(rng.randint(0, 30)) for _ in range(rng.randint(0, 10))]
    table = pa.Table.from_pylist(read, schema=schema)
    expected = [r for r in table.to_pylist() if newest.get(r["execution_id"]) != r]
    kept, again = not_known(table, known_rows(root, parts, spans))
    assert kept.to_pylist() == expected
    # a run the log holds, changed, is told from a new one: the fetch writes it apart
    assert list(again) == [r["execution_id"] in newest for r in expected]


def test_a_snapshot_listing_each_run_once_shows_only_its_window(tmp_path: Path) -> None:
    """Its parts hold older runs: its view, one read of them all, keeps its window alone."""
    from chift_frames import connect

    root, fresh = tmp_path / "lake", tmp_path / "fresh"
    first = fetch_night(root, 0, None)
    since = world_on(0).now - timedelta(days=20)
    # the same account again, a shorter window: no run changed, so nothing is stored again
    night = fetch_night(root, 0, fresh, executions_since=since)
    manifest = snapshot_manifest(root, night.snapshot_id)
    assert manifest["info"]["executions_once"] is True
    listed = snapshot_manifest(root, first.snapshot_id)["files"]["executions"]
    assert sorted(manifest["files"]["executions"]) == sorted(listed)  # it stored none
    con = connect(root, night.snapshot_id, tables=["executions"])
    view = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'executions'").fetchone()
    con.close()
    assert view is not None and view[0].count("read_parquet") == 1 and "_part" not in view[0]
    sql = 'SELECT sync_id, execution_id, status, "start" FROM executions ORDER BY 1, 2'
    pd.testing.assert_frame_equal(query(root, sql, snapshot=night.snapshot_id), query(fresh, sql))
    mine = load(root, night.snapshot_id, tables=["executions"]).executions
    theirs = load(fresh, tables=["executions"]).executions
    assert mine.start.min() >= pd.Timestamp(since)
    pd.testing.assert_frame_equal(by_key(mine), by_key(theirs), check_exact=True)
    whole = load(root, first.snapshot_id, tables=["executions"]).executions
    assert len(whole) > len(mine)
    every = load(root, "all", tables=["executions"]).executions
    counted = query(
        root, "SELECT snapshot_id, count(*) AS n FROM executions GROUP BY 1", snapshot="all"
    ).set_index("snapshot_id")["n"]
    for sid, expected in ((night.snapshot_id, theirs), (first.snapshot_id, whole)):
        one = every[every.snapshot_id == sid].drop(columns="snapshot_id")
        pd.testing.assert_frame_equal(by_key(one), by_key(expected), check_exact=True)
        assert counted[sid] == len(expected)  # the views of both snapshots at once


def test_the_executions_parts_fill_a_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync's executions are written in parts of at least PART_ROWS, but the last.

    Past PART_BYTES held over every sync, the sync holding most is written at once. The
    rows are the same however they are cut into parts.
    """
    from chift_frames.fetch import _workers

    monkeypatch.setattr(_workers, "EXECUTIONS_PAGE", 100)
    monkeypatch.setattr(_workers, "PAGES_PER_PART", 1)

    def parts_of(root: Path) -> dict[str, list[int]]:
        manifest = snapshot_manifest(root)
        found: dict[str, list[int]] = {}
        for rel in manifest["files"]["executions"]:
            sync_id, _, rows = manifest["info"]["execution_parts"][rel]
            assert pq.read_metadata(root / rel).num_rows == rows
            found.setdefault(sync_id, []).append(rows)
        return found

    monkeypatch.setattr(_workers, "PART_ROWS", 250)
    fetch_night(tmp_path / "filled", 0, None)
    filled = parts_of(tmp_path / "filled")
    assert len(filled) == 2
    for rows in filled.values():
        assert all(250 <= n < 250 + 100 for n in rows[:-1]) and 0 < rows[-1] < 250 + 100, rows
    monkeypatch.setattr(_workers, "PART_BYTES", 1)  # every page's rows are written at once
    fetch_night(tmp_path / "each", 0, None)
    each = parts_of(tmp_path / "each")
    assert {s: sum(r) for s, r in each.items()} == {s: sum(r) for s, r in filled.items()}
    assert (
        all(len(each[s]) > len(filled[s]) for s in filled) and max(map(max, each.values())) <= 100
    )
    a = load(tmp_path / "filled", tables=["executions"]).executions
    b = load(tmp_path / "each", tables=["executions"]).executions
    pd.testing.assert_frame_equal(by_key(a), by_key(b), check_exact=True)


@pytest.mark.parametrize("folder", ["lake", "lake[1]"])  # DuckDB's reader; pyarrow's (a glob)
def test_a_snapshot_outside_the_log_shows_its_parts_as_they_are_in_every_reader(
    tmp_path: Path, folder: str
) -> None:
    """One alone or with log snapshots ("all"): ``load`` and the views show the same rows."""
    import pyarrow as pa

    root = tmp_path / folder
    fetch_night(root, 0, None)
    fetch_night(root, 1, None)
    world = world_on(2)
    some = sorted({c["consumerid"] for c in world.consumer_items()})[:3]
    sid = fetch_night(root, 2, None, consumer_ids=some).snapshot_id
    path = root / "_snapshots" / f"{sid}.json"
    manifest = json.loads(path.read_text())
    assert not manifest["info"].get("executions_log")
    # a part written by hand repeats one of its executions, in another state
    rel = manifest["files"]["executions"][0]
    row = pq.read_table(root / rel).slice(0, 1)
    row = row.set_column(row.schema.get_field_index("status"), "status", pa.array(["edited"]))
    added = rel.rsplit("/", 1)[0] + "/part-99999-" + "d" * 32 + ".parquet"
    pq.write_table(row, root / added)
    manifest["files"]["executions"].append(added)
    manifest["rows"]["executions"] += 1
    path.write_text(json.dumps(manifest))
    key = row["execution_id"][0].as_py()
    sql = f"SELECT snapshot_id, status FROM executions WHERE execution_id = '{key}'"
    one = load(root, sid, tables=["executions"]).executions
    every = load(root, "all", tables=["executions"]).executions
    found = {
        "load": sorted(one[one.execution_id == key].status),
        "load all": sorted(every[(every.execution_id == key) & (every.snapshot_id == sid)].status),
        "query": sorted(query(root, sql.replace("snapshot_id, ", ""), snapshot=sid).status),
        "query all": sorted(query(root, sql, snapshot="all").query("snapshot_id == @sid").status),
    }
    assert all(len(found[k]) == 2 and "edited" in found[k] for k in found), found

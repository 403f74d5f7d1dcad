"""Nothing counted twice: answers that disagree with their request, repeated entries, listings
that never advance, and counts that say exactly what failed, where."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import FetchResult, fetch_snapshot, rebuild_snapshot
from chift_frames.sandbox import Sandbox
from chift_frames.schema import TABLES
from chift_frames.store import snapshot_manifest
from chift_frames.world import World
from tests.sandbox_env import point_at

# these tests read partial snapshots on purpose: load's PartialSnapshotWarning is expected
pytestmark = pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
# the tables whose rows have no key: a skipped mapping may be listed once per sub-mapping
# (kept as sent), and the error and raw tables log what happened
KEYLESS = {"skipped_mappings", "payload_errors", "fetch_errors", "raw_responses"}


def client_for(sandbox: Sandbox) -> ChiftClient:
    return ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url, backoff=0.001)


def fetch(tmp_path: Path, world: World, **hostile: Any) -> FetchResult:
    since = world.now - timedelta(days=30)
    with Sandbox(world, **hostile) as sandbox:
        return fetch_snapshot(
            client_for(sandbox), tmp_path, executions_since=since, concurrency=4, batch_size=20
        )


def sorted_rows(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("fetched_at",) if c in df])
    return df.sort_values(list(df.columns[:3])).reset_index(drop=True)


def mismatched_pairs(world: World, seed: int = 0, share: float = 0.25) -> set[tuple[str, str]]:
    sandbox = Sandbox(world, mismatched_pairs=share, faults=None)
    try:
        return {(c, s) for c, s in world.pairs() if sandbox.mismatched(c, s)}
    finally:
        sandbox.stop()


# -- 7a: the request names the pair -----------------------------------------------------------


def test_an_answer_for_another_sync_is_an_error_of_the_pair_asked_for(tmp_path: Path) -> None:
    world = World(consumers=20, syncs=3, seed=7)
    wrong = mismatched_pairs(world)
    assert wrong  # some pairs are answered with another of their consumer's setups
    result = fetch(tmp_path, world, mismatched_pairs=0.25)
    assert result.status == "partial" and result.pairs_failed == len(wrong)
    assert result.pairs_ok + result.pairs_failed == result.pairs == world.pair_count
    got = load(tmp_path)
    stored = set(zip(got.consumer_syncs.consumer_id, got.consumer_syncs.sync_id, strict=True))
    assert not got.consumer_syncs.duplicated(["consumer_id", "sync_id"]).any()
    assert stored == set(world.pairs()) - wrong  # nothing stored under another pair's key
    errors = got.payload_errors
    assert set(zip(errors.consumer_id, errors.sync_id, strict=True)) == wrong
    assert (errors.path == "syncid").all()
    assert errors.message.str.contains("not for the sync asked for").all()
    # a rebuild from the raw responses refuses them the same way
    rebuilt = load(tmp_path, rebuild_snapshot(tmp_path, result.snapshot_id))
    assert len(rebuilt.consumer_syncs) == len(got.consumer_syncs)
    errors = rebuilt.payload_errors
    assert set(zip(errors.consumer_id, errors.sync_id, strict=True)) == wrong


def test_an_answer_that_names_another_consumer_is_refused(tmp_path: Path) -> None:
    world = World(consumers=6, syncs=2, seed=3)
    consumer_id, sync_id = next(world.pairs())
    body = {**(world.consumer_sync(consumer_id, sync_id) or {}), "consumerid": "someone-else"}
    raw = {f"/consumers/{consumer_id}/syncs/{sync_id}": json.dumps(body).encode()}
    result = fetch(tmp_path, world, raw_bodies=raw)
    assert result.status == "partial" and result.pairs_failed == 1
    (row,) = load(tmp_path).payload_errors.to_dict("records")
    assert (row["consumer_id"], row["sync_id"], row["path"]) == (consumer_id, sync_id, "consumerid")
    assert row["message"] == (
        "the answer is for consumer 'someone-else', not for the consumer asked for "
        f"({consumer_id!r}); it is left out"
    )


# -- 7b: repeated entries are stored once ---------------------------------------------------


def test_repeated_entries_are_stored_once_and_counted(tmp_path: Path) -> None:
    world = World(consumers=20, syncs=3, seed=9)
    clean = fetch(tmp_path / "clean", world)
    hostile = fetch(tmp_path / "hostile", world, duplicate_entries=True)
    # identical or conflicting, a repeat loses nothing the first copy does not hold
    assert clean.complete and hostile.complete
    before, after = load(tmp_path / "clean"), load(tmp_path / "hostile")
    for name in TABLES:
        if name in ("raw_responses", "fetch_errors", "payload_errors"):
            continue
        pd.testing.assert_frame_equal(
            sorted_rows(after[name], name), sorted_rows(before[name], name), obj=name
        )
    syncs = world.sync_items()
    with_connections = sum(bool(world.connection_items(c)) for c in {c for c, _ in world.pairs()})
    counts = hostile.duplicates
    assert counts["consumers"] == {"identical": 1, "conflicting": 1}
    assert counts["syncs"] == {"identical": 1, "conflicting": 0}
    assert counts["sync_flows"] == {"identical": len(syncs), "conflicting": 0}
    assert counts["sync_mappings"]["identical"] == sum(bool(s.get("mappings")) for s in syncs)
    assert counts["connections"] == {"identical": with_connections, "conflicting": 0}
    assert counts["executions"]["identical"] > 0 and counts["executions"]["conflicting"] == 0
    manifest = snapshot_manifest(tmp_path / "hostile", hostile.snapshot_id)
    assert manifest["info"]["duplicates"] == counts
    assert clean.duplicates == {}


def test_the_report_counts_each_flow_once_on_repeated_entries(tmp_path: Path) -> None:
    from chift_frames.reports import flows_not_enabled

    world = World(consumers=20, syncs=3, seed=9)
    fetch(tmp_path / "clean", world)
    fetch(tmp_path / "hostile", world, duplicate_entries=True)
    before = flows_not_enabled(tmp_path / "clean")
    after = flows_not_enabled(tmp_path / "hostile")
    assert len(before) > 0
    pd.testing.assert_frame_equal(after, before)


# -- every table's documented key is unique on hostile answers --------------------------------


def test_every_table_has_a_documented_key_or_is_said_to_have_none() -> None:
    for name, table in TABLES.items():
        assert bool(table.key) != (name in KEYLESS), name
        assert set(table.key) <= set(table.columns), name


def test_every_documented_key_is_unique_after_a_hostile_fetch(tmp_path: Path) -> None:
    world = World(consumers=20, syncs=3, seed=5)
    result = fetch(tmp_path, world, duplicate_entries=True, mismatched_pairs=0.2)
    got = load(tmp_path, tables=list(TABLES))
    for name, table in TABLES.items():
        if table.key:
            assert len(got[name]) > 0, name
            assert not got[name].duplicated(list(table.key)).any(), name
    # the answers were hostile: pairs answered for others, entries repeated
    assert result.pairs_failed > 0 and sum(result.duplicates["executions"].values()) > 0


# -- 7c: a listing that does not advance, or ends short ---------------------------------------


def big_world() -> World:
    return World(consumers=60, syncs=2, seed=13)


def test_executions_pages_that_repeat_the_first_fail_the_sync_and_stop(tmp_path: Path) -> None:
    world = big_world()
    with Sandbox(world, executions_stuck=True) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox),
            tmp_path,
            executions_since=world.now - timedelta(days=30),
            concurrency=1,
        )
        asked = sum(n for key, n in sandbox.stats.asks.items() if "/executions" in key)
    paged = [s["syncid"] for s in world.sync_items() if len(world.executions(s["syncid"])) > 500]
    assert paged  # syncs with more than one page of executions
    assert result.status == "partial" and result.executions_failed == len(paged)
    assert result.pairs_failed == 0 and result.pairs_ok == result.pairs
    errors = load(tmp_path).fetch_errors
    assert sorted(errors.sync_id) == sorted(paged) and errors.consumer_id.isna().all()
    assert errors.message.str.contains("repeats page 1").all()
    assert not load(tmp_path).executions.sync_id.isin(paged).any()
    pages = sum(-(-len(world.executions(s)) // 500) for s in paged)
    assert asked < pages  # the pages after the repeat are not asked for


def test_executions_that_end_short_of_their_total_fail_the_sync(tmp_path: Path) -> None:
    world = big_world()
    result = fetch(tmp_path, world, executions_overstated=300_000)
    syncs = [s["syncid"] for s in world.sync_items()]
    assert result.status == "partial" and result.executions_failed == len(syncs)
    errors = load(tmp_path).fetch_errors
    assert errors.message.str.startswith("the executions listing ended short of its total").all()
    assert load(tmp_path).executions.empty


# -- 9: honest counts --------------------------------------------------------------------------


def test_failed_connections_are_not_counted_as_failed_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(consumers=12, syncs=2, seed=4)
    consumers = sorted({c for c, _ in world.pairs()})[:3]
    broken = {f"/consumers/{c}/connections": b'[{"connectionid": 7}]' for c in consumers}
    with Sandbox(world, raw_bodies=broken) as sandbox:
        point_at(monkeypatch, sandbox)
        assert main(["fetch", "--out", str(tmp_path), "--quiet", "--no-executions"]) == 2
    out = capsys.readouterr().out
    manifest = snapshot_manifest(tmp_path, "latest")
    info = manifest["info"]
    assert info["pairs_failed"] == 0 and info["pairs_ok"] == world.pair_count
    assert info["connections_failed"] == len(consumers) and info["executions_failed"] == 0
    assert manifest["rows"]["payload_errors"] == len(consumers)
    assert f"is partial: {world.pair_count} of {world.pair_count} pairs were fetched; " in out
    assert f"the connections of {len(consumers)} consumers failed. What failed (table " in out
    assert "payload_errors):" in out and "table fetch_errors" not in out
    assert f"the connections of {len(consumers)} consumers failed (table payload_errors)" in out


# -- the pure flatteners: the first copy is kept, the others counted ---------------------------


def test_a_consumer_listed_twice_keeps_its_first_copy_with_one_warning() -> None:
    from chift_frames.errors import DuplicateEntriesWarning
    from chift_frames.flatten import flatten_consumers

    items = [
        {"consumerid": "c1", "name": "Bakery"},
        {"consumerid": "c2", "name": "Florist"},
        {"consumerid": "c1", "name": "Bakery"},
        {"consumerid": "c1", "name": "Butcher"},
    ]
    with pytest.warns(DuplicateEntriesWarning) as caught:
        got = flatten_consumers(items)
    assert got[["consumer_id", "name"]].values.tolist() == [["c1", "Bakery"], ["c2", "Florist"]]
    (warning,) = caught
    assert str(warning.message).startswith(
        "GET /consumers: 1 identical and 1 conflicting repeated entries left out, the first "
        "copy of each kept (consumers 'c1' at [2] repeats [0]; consumers 'c1' at [3] repeats "
        "[0] with other values)"
    )


def test_an_execution_listed_twice_is_collected_without_a_warning() -> None:
    from chift_frames.flatten import Duplicate, flatten_executions

    run = {
        "id": "e1",
        "consumer_id": "c1",
        "flow_id": "f1",
        "start": "2026-01-01T00:00:00Z",
        "end": None,
        "status": "running",
    }
    found: list[Duplicate] = []
    table = flatten_executions("s1", [run, {**run, "status": "success"}], duplicates=found)
    assert table.column("status").to_pylist() == ["running"]  # the first copy
    assert found == [Duplicate("executions", "'e1'", "[1]", "[0]", identical=False)]

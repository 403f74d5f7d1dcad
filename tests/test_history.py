"""diff: two snapshots fetched from an evolving sandbox, checked against the world itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import StoreError, to_canonical_json
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot
from chift_frames.history import CHANGE_SQL, CHANGE_TABLES, diff
from chift_frames.sandbox import Sandbox
from chift_frames.store import connect
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"


def payloads(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c, s): world.consumer_sync(c, s) for c, s in world.pairs()}


def first_by_key(items: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in items:
        out.setdefault(key, value)
    return out


def value_map(p: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
    return first_by_key(
        [
            ((m["name"], m["sub_mapping_name"], v["source_id"]), v.get("target_id"))
            for m in p["link_mappings"] or []
            for v in m["values"]
            if v.get("source_id") is not None
        ]
    )


def flow_map(p: dict[str, Any]) -> dict[str, tuple[str, str]]:
    out = {}
    for f in p["enabled_flows"] or []:
        t = f["trigger"]
        trigger = f"{t['type']} {t['id']} {t.get('cronschedule') or ''}".strip()
        out.setdefault(f["id"], (trigger, to_canonical_json(f["values"])))
    return out


def column_map(p: dict[str, Any], flows: set[str]) -> dict[tuple[str, str, str], str]:
    return first_by_key(
        [
            ((f["id"], d["name"], c["name"]), c["type"])
            for f in p["enabled_flows"] or []
            if f["id"] in flows
            for d in (f["config"] or {}).get("datastores") or []
            for c in d["definition"]["columns"]
        ]
    )


def expected_changes(a: dict, b: dict) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {name: set() for name in CHANGE_TABLES}
    out["pair_changes"] = {(*k, "added") for k in b.keys() - a.keys()} | {
        (*k, "removed") for k in a.keys() - b.keys()
    }
    for key in a.keys() & b.keys():
        pa_, pb = a[key], b[key]
        for field in ("status", "enabled", "status_details"):
            old, new = pa_.get(field), pb.get(field)
            if old != new:
                text = [
                    None if x is None else str(x).lower() if isinstance(x, bool) else x
                    for x in (old, new)
                ]
                kind = "set" if old is None else "cleared" if new is None else "changed"
                out["status_changes"].add((*key, field, kind, *text))
        va, vb = value_map(pa_), value_map(pb)
        for k in va.keys() - vb.keys():
            out["value_changes"].add((*key, *k, "removed", va[k], None))
        for k in vb.keys() - va.keys():
            out["value_changes"].add((*key, *k, "added", None, vb[k]))
        for k in va.keys() & vb.keys():
            kind = value_kind(va[k], vb[k])
            if kind is not None:
                out["value_changes"].add((*key, *k, kind, va[k], vb[k]))
        fa, fb = flow_map(pa_), flow_map(pb)
        for k in fb.keys() - fa.keys():
            out["flow_changes"].add((*key, k, "enabled", None, None))
        for k in fa.keys() - fb.keys():
            out["flow_changes"].add((*key, k, "disabled", None, None))
        for k in fa.keys() & fb.keys():
            for i, what in enumerate(("trigger_changed", "settings_changed")):
                if fa[k][i] != fb[k][i]:
                    out["flow_changes"].add((*key, k, what, fa[k][i], fb[k][i]))
        both = fa.keys() & fb.keys()
        ca, cb = column_map(pa_, both), column_map(pb, both)
        for k in ca.keys() - cb.keys():
            out["column_changes"].add((*key, *k, "removed", ca[k], None))
        for k in cb.keys() - ca.keys():
            out["column_changes"].add((*key, *k, "added", None, cb[k]))
        for k in ca.keys() & cb.keys():
            if ca[k] != cb[k]:
                out["column_changes"].add((*key, *k, "retyped", ca[k], cb[k]))
    return out


def value_kind(before: str | None, after: str | None) -> str | None:
    """The kind of change of a value's target; '' and None are both "unmapped"."""
    if not before and not after:
        return None
    if not before:
        return "mapped"
    if not after:
        return "unmapped"
    return "retargeted" if before != after else None


def connection_changes(world: World, consumers: set[str], generation_before: dict) -> set[tuple]:
    out = set()
    for c in consumers:
        a = {x["connectionid"]: x for x in generation_before[c]}
        b = {x["connectionid"]: x for x in world.connection_items(c) or []}
        for k in b.keys() - a.keys():
            out.add((c, k, "added", None, b[k]["status"]))
        for k in a.keys() - b.keys():
            out.add((c, k, "removed", a[k]["status"], None))
        for k in a.keys() & b.keys():
            for field in ("status", "agent_status"):
                if a[k].get(field) != b[k].get(field):
                    out.add((c, k, f"{field}_changed", a[k].get(field), b[k].get(field)))
    return out


NAMES = {"consumer_name", "sync_name", "flow_name", "connection_name", "api", "integration"}


def ids_only(df):
    """A change table without the names beside its ids (checked on their own)."""
    return df.drop(columns=[c for c in df.columns if c in NAMES])


def rows(df) -> set[tuple]:
    clean = df.astype(object).where(df.notna(), None)
    return set(clean.itertuples(index=False, name=None))


def test_diff_reports_every_change_and_nothing_else(tmp_path: Path) -> None:
    world = World(consumers=80, syncs=3, seed=21)
    before = payloads(world)
    linked_before = {c for c, _ in world.pairs()}
    connections_before = {c: world.connection_items(c) or [] for c in linked_before}
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        first = fetch_snapshot(client, tmp_path, executions=False)
        world.evolve()
        second = fetch_snapshot(client, tmp_path, executions=False)
    after = payloads(world)
    linked = linked_before & {c for c, _ in world.pairs()}
    changes = diff(tmp_path)
    assert diff(tmp_path, first.snapshot_id, second.snapshot_id).row_counts() == (
        changes.row_counts()
    )
    expected = expected_changes(before, after)
    expected["connection_changes"] = connection_changes(world, linked, connections_before)
    for name, columns in CHANGE_TABLES.items():
        assert list(changes[name].columns) == columns
        assert rows(ids_only(changes[name])) == expected[name], name
    # the names beside the ids are the world's
    consumer_names = {c["consumerid"]: c["name"] for c in world.consumer_items()}
    sync_names = {s["syncid"]: s["name"] for s in world.sync_items()}
    flow_names = {(s["syncid"], f["id"]): f["name"] for s in world.sync_items() for f in s["flows"]}
    for name, table in changes.items():
        assert len(table) > 0, name
        assert table.consumer_name.notna().all(), name
        assert (table.consumer_name == table.consumer_id.map(consumer_names)).all(), name
        if "sync_name" in table:
            assert table.sync_name.notna().all(), name
            assert (table.sync_name == table.sync_id.map(sync_names)).all(), name
        if "flow_name" in table:
            keys = list(zip(table.sync_id, table.flow_id, strict=True))
            assert table.flow_name.tolist() == [flow_names.get(k) for k in keys], name
    connections = {
        x["connectionid"]: (x["name"], x["api"], x["integration"])
        for c in linked
        for x in [*connections_before[c], *(world.connection_items(c) or [])]
    }
    got = changes.connection_changes
    assert [connections[k] for k in got.connection_id] == list(
        zip(got.connection_name, got.api, got.integration, strict=True)
    )
    # the evolution really changed every kind of thing
    kinds = {name: set(changes[name].change) for name in CHANGE_TABLES}
    assert kinds["pair_changes"] == {"added", "removed"}
    # was "retargeted" for every target change; now unmapped -> mapped, mapped -> unmapped
    # and mapped -> another target are told apart (issue 12)
    assert kinds["value_changes"] == {"added", "removed", "mapped", "unmapped", "retargeted"}
    assert kinds["connection_changes"] >= {"added", "status_changed"}
    assert kinds["flow_changes"] >= {"enabled", "disabled", "trigger_changed", "settings_changed"}
    assert kinds["column_changes"] >= {"added", "retyped"}
    assert {"status", "enabled"} <= set(changes.status_changes.field)
    # each table's one query, pasted into `query --snapshot all`, gives the same rows in the
    # same order (diff computes value_changes in two steps, the query in one)
    con = connect(tmp_path, "all")
    try:
        for name, sql in CHANGE_SQL.items():
            params = {"before": first.snapshot_id, "after": second.snapshot_id}
            got = con.sql(sql, params=params).df().astype(changes[name].dtypes.to_dict())
            pd.testing.assert_frame_equal(got, changes[name], obj=name)
    finally:
        con.close()


def test_a_snapshot_compared_with_itself_has_no_changes(tmp_path: Path) -> None:
    world = World(consumers=20, syncs=2, seed=5)
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        fetch_snapshot(client, tmp_path, executions=False)
        fetch_snapshot(client, tmp_path, executions=False)
    assert all(n == 0 for n in diff(tmp_path).row_counts().values())


def test_diff_needs_two_snapshots(tmp_path: Path) -> None:
    world = World(consumers=5, syncs=1, seed=5)
    with Sandbox(world) as sandbox:
        fetch_snapshot(
            ChiftClient("id", "s", ACCOUNT, base_url=sandbox.url), tmp_path, executions=False
        )
    with pytest.raises(StoreError, match="no complete snapshot before"):
        diff(tmp_path)


def test_evolution_is_deterministic() -> None:
    a, b = World(consumers=30, seed=3), World(consumers=30, seed=3, generation=2)
    a.evolve()
    a.evolve()
    assert list(a.pairs()) == list(b.pairs())
    assert payloads(a) == payloads(b)


def test_pick_snapshots_skips_partial_ones(tmp_path: Path) -> None:
    from chift_frames import SnapshotWriter, flatten, save
    from chift_frames.history import pick_snapshots

    frames = flatten([])
    save(frames, tmp_path, snapshot_id="a")
    save(frames, tmp_path, snapshot_id="b")
    partial = SnapshotWriter(tmp_path, "c")
    partial.commit("partial")
    assert pick_snapshots(tmp_path) == ("a", "b")
    assert pick_snapshots(tmp_path, after="c") == ("b", "c")
    assert pick_snapshots(tmp_path, before="a", after="c") == ("a", "c")
    with pytest.raises(StoreError, match="no snapshot 'zz'"):
        pick_snapshots(tmp_path, after="zz")
    with pytest.raises(StoreError, match="no complete snapshot before 'a'"):
        pick_snapshots(tmp_path, after="a")


def test_diff_works_when_a_table_is_empty_in_one_or_both_snapshots(tmp_path: Path) -> None:
    from chift_frames import flatten, save
    from chift_frames.history import diff_frames

    world = World(consumers=6, syncs=1, seed=2)
    full = flatten([(c, world.consumer_sync(c, s)) for c, s in world.pairs()])
    no_datastores = {
        name: df.iloc[0:0] if name in ("datastores", "datastore_columns") else df
        for name, df in full.items()
    }
    save(flatten([]), tmp_path, snapshot_id="a")  # every table empty
    save(flatten([]), tmp_path, snapshot_id="b")
    save(no_datastores, tmp_path, snapshot_id="c")  # no datastore anywhere
    save(full, tmp_path, snapshot_id="d")
    empty_both = diff(tmp_path, "a", "b")
    assert {name: len(df) for name, df in empty_both.items()} == dict.fromkeys(CHANGE_TABLES, 0)
    for name, columns in CHANGE_TABLES.items():
        assert list(empty_both[name].columns) == columns
        assert (empty_both[name].dtypes == "string").all()
    pairs = sorted(world.pairs())
    assert rows(ids_only(diff(tmp_path, "b", "c").pair_changes)) == {
        (c, s, "added") for c, s in pairs
    }
    assert rows(ids_only(diff(tmp_path, "c", "b").pair_changes)) == {
        (c, s, "removed") for c, s in pairs
    }
    # datastores appear in flows enabled in both snapshots: every column is "added"
    added = diff(tmp_path, "c", "d").column_changes
    columns = full["datastore_columns"]
    assert len(columns) > 0
    assert rows(ids_only(added)) == {
        (r.consumer_id, r.sync_id, r.flow_id, r.datastore_name, r.name, "added", None, r.type)
        for r in columns.itertuples()
    }
    assert all(
        len(df) == 0 for name, df in diff(tmp_path, "c", "d").items() if name != "column_changes"
    )
    # the same from in-memory frames, with tables missing altogether
    only_pairs = {"consumer_syncs": full["consumer_syncs"]}
    assert rows(ids_only(diff_frames(flatten([]), only_pairs).pair_changes)) == {
        (c, s, "added") for c, s in pairs
    }


def test_trends_count_every_snapshot_in_one_pass(tmp_path: Path) -> None:
    from chift_frames import flatten, save, trends

    world = World(consumers=12, syncs=2, seed=4)
    names = {}
    for snapshot_id in ("s1", "s2", "s3"):
        frames = flatten([(c, world.consumer_sync(c, s)) for c, s in world.pairs()])
        save(frames, tmp_path, snapshot_id=snapshot_id)
        names[snapshot_id] = frames["consumer_syncs"]
        world.evolve()
    got = trends(tmp_path)
    assert got.snapshot_id.tolist() == sorted(
        got.snapshot_id.tolist(), key=["s1", "s2", "s3"].index
    )
    expected = set()
    for snapshot_id, cs in names.items():
        for sync_id, group in cs.groupby("sync_id"):
            active = int((group.status == "active").sum())
            expected.add(
                (
                    snapshot_id,
                    False,  # is_partial: every snapshot saved whole
                    False,  # is_filtered
                    sync_id,
                    len(group),
                    active,
                    active / len(group),
                    int((group.enabled_flow_count > 0).sum()),
                    int(group.value_count.sum()),
                    int(group.unmapped_count.sum()),
                )
            )
    assert rows(got.drop(columns=["finished_at", "sync_name"])) == expected
    latest = names["s3"].drop_duplicates("sync_id").set_index("sync_id").sync_name
    assert (got.sync_name == got.sync_id.map(latest)).all()


def test_value_kinds_tell_mapping_unmapping_and_retargeting_apart() -> None:
    import copy

    from chift_frames import flatten
    from chift_frames.history import diff_frames

    world = World(consumers=1, syncs=1, seed=2)
    ((consumer_id, sync_id),) = world.pairs()
    before = world.consumer_sync(consumer_id, sync_id)
    mapping = before["link_mappings"][0]
    mapping["values"] = [
        {"source_id": source, "target_id": target}
        for source, target in [("a", ""), ("b", None), ("c", "X"), ("d", "X"), ("e", None)]
    ]
    after = copy.deepcopy(before)
    targets = {"a": None, "b": "", "c": "", "d": "Y", "e": "Z"}
    for value in after["link_mappings"][0]["values"]:
        value["target_id"] = targets[value["source_id"]]
    changes = diff_frames(flatten([(consumer_id, before)]), flatten([(consumer_id, after)]))
    key = (consumer_id, sync_id, mapping["name"], mapping["sub_mapping_name"])
    assert rows(ids_only(changes.value_changes)) == {
        (*key, "c", "unmapped", "X", ""),
        (*key, "d", "retargeted", "X", "Y"),
        (*key, "e", "mapped", None, "Z"),
    }  # '' <-> null is no change: unmapped both times


def test_a_source_given_twice_is_compared_by_its_first_value() -> None:
    import copy

    from chift_frames import flatten
    from chift_frames.history import diff_frames

    world = World(consumers=1, syncs=1, seed=2)
    ((consumer_id, sync_id),) = world.pairs()
    before = world.consumer_sync(consumer_id, sync_id)
    mapping = before["link_mappings"][0]
    pairs = [("a", "X"), ("a", "Y"), ("b", "P"), ("b", "Q"), ("c", "K"), ("d", "M"), ("d", "M")]
    mapping["values"] = [{"source_id": s, "target_id": t} for s, t in pairs]
    after = copy.deepcopy(before)
    # a: its values swap places, so its first target changes; b: its second value changes;
    # c: given twice now, first as before; d: one copy left
    pairs = [("a", "Y"), ("a", "X"), ("b", "P"), ("b", "R"), ("c", "K"), ("c", "L"), ("d", "M")]
    after["link_mappings"][0]["values"] = [{"source_id": s, "target_id": t} for s, t in pairs]
    changes = diff_frames(flatten([(consumer_id, before)]), flatten([(consumer_id, after)]))
    key = (consumer_id, sync_id, mapping["name"], mapping["sub_mapping_name"])
    assert rows(ids_only(changes.value_changes)) == {(*key, "a", "retargeted", "X", "Y")}


def test_a_rebuild_takes_the_place_of_the_snapshot_it_rebuilds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_frames import list_snapshots, load, trends
    from chift_frames.cli import main
    from chift_frames.fetch import rebuild_snapshot
    from chift_frames.history import pick_snapshots
    from chift_frames.store import prune, snapshot_states

    world = World(consumers=30, syncs=2, seed=8)
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        first = fetch_snapshot(client, tmp_path, executions=False)
        world.evolve()
        second = fetch_snapshot(client, tmp_path, executions=False)
    changes = diff(tmp_path)
    assert changes.value_changes.shape[0] > 0
    pairs = len(load(tmp_path, "all", tables=["consumer_syncs"]).consumer_syncs)
    # rebuild the older snapshot, then the newer one: each replaces the one it re-derives
    old_first = rebuild_snapshot(tmp_path, first.snapshot_id)
    new_second = rebuild_snapshot(tmp_path, "latest")
    listed = list_snapshots(tmp_path)
    assert listed.snapshot_id.tolist() == [old_first, new_second]  # in fetch order, once each
    assert pick_snapshots(tmp_path) == (old_first, new_second)
    after_rebuild = diff(tmp_path)
    for name, table in changes.items():
        pd_equal = after_rebuild[name].reset_index(drop=True).equals(table.reset_index(drop=True))
        assert pd_equal, name  # diff still compares the two real snapshots
    stacked = load(tmp_path, "all", tables=["consumer_syncs"]).consumer_syncs
    assert len(stacked) == pairs  # each row once
    assert set(stacked.snapshot_id) == {old_first, new_second}
    assert trends(tmp_path).snapshot_id.unique().tolist() == [old_first, new_second]
    # the replaced snapshots stay readable by id until prune removes them
    assert len(load(tmp_path, first.snapshot_id, tables=["consumer_syncs"]).consumer_syncs) > 0
    with pytest.raises(StoreError, match=f"already rebuilt as {old_first}: rebuild that one"):
        rebuild_snapshot(tmp_path, first.snapshot_id)
    assert main(["diff", str(tmp_path)]) == 0
    assert f"What changed from {old_first} to {new_second}" in capsys.readouterr().out
    states = snapshot_states(tmp_path).set_index("snapshot_id").next_step
    assert states[first.snapshot_id] == f"replaced by its rebuild {old_first}; prune removes it"
    assert states[new_second] == ""
    removed = prune(tmp_path, keep_last=2)
    assert sorted(removed) == sorted([first.snapshot_id, second.snapshot_id])
    assert list_snapshots(tmp_path).snapshot_id.tolist() == [old_first, new_second]


def test_only_pairs_whose_values_differ_are_compared_and_none_is_missed() -> None:
    """The pair fingerprint skips unchanged pairs; a swap of a repeated source is a change."""
    import copy

    from chift_frames import flatten
    from chift_frames.history import diff_frames

    world = World(consumers=6, syncs=2, seed=11)
    before = [(c, world.consumer_sync(c, s)) for c, s in world.pairs()]
    at = next(i for i, (_, p) in enumerate(before) if p["link_mappings"])
    # one pair gains a source given twice
    after = copy.deepcopy(before)
    values = after[at][1]["link_mappings"][0]["values"]
    values.insert(0, {"source_id": "dup", "target_id": "T2"})
    values.append({"source_id": "dup", "target_id": "T1"})
    changes = diff_frames(flatten(before), flatten(after)).value_changes
    assert changes[["source_id", "change"]].values.tolist() == [["dup", "added"]]
    # then its two values swap: the same rows, but the first value of "dup" is now T1
    later = copy.deepcopy(after)
    values = later[at][1]["link_mappings"][0]["values"]
    values[0], values[-1] = values[-1], values[0]
    changes = diff_frames(flatten(after), flatten(later)).value_changes
    got = changes[["source_id", "change", "target_before", "target_after"]]
    assert got.values.tolist() == [["dup", "retargeted", "T2", "T1"]]
    # and a snapshot against its copy has no value change at all
    assert len(diff_frames(flatten(before), flatten(copy.deepcopy(before))).value_changes) == 0

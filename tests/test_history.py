"""diff: two snapshots fetched from an evolving sandbox, checked against the world itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chift_frames import StoreError, to_canonical_json
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot
from chift_frames.history import CHANGE_TABLES, diff
from chift_frames.sandbox import Sandbox
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
            if va[k] != vb[k]:
                out["value_changes"].add((*key, *k, "retargeted", va[k], vb[k]))
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


def rows(df) -> set[tuple]:
    clean = df.astype(object).where(df.notna(), None)
    return set(clean.itertuples(index=False, name=None))


def test_diff_reports_every_change_and_nothing_else(tmp_path: Path) -> None:
    world = World(consumers=80, syncs=3, seed=21)
    before = payloads(world)
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        first = fetch_snapshot(client, tmp_path, executions=False)
        world.evolve()
        second = fetch_snapshot(client, tmp_path, executions=False)
    after = payloads(world)
    changes = diff(tmp_path)
    assert diff(tmp_path, first.snapshot_id, second.snapshot_id).row_counts() == (
        changes.row_counts()
    )
    expected = expected_changes(before, after)
    for name, columns in CHANGE_TABLES.items():
        assert list(changes[name].columns) == columns
        assert rows(changes[name]) == expected[name], name
    # the evolution really changed every kind of thing
    kinds = {name: set(changes[name].change) for name in CHANGE_TABLES}
    assert kinds["pair_changes"] == {"added", "removed"}
    assert kinds["value_changes"] == {"added", "removed", "retargeted"}
    assert kinds["flow_changes"] >= {"enabled", "disabled", "trigger_changed", "settings_changed"}
    assert kinds["column_changes"] >= {"added", "retyped"}
    assert {"status", "enabled"} <= set(changes.status_changes.field)


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
    assert rows(diff(tmp_path, "b", "c").pair_changes) == {(c, s, "added") for c, s in pairs}
    assert rows(diff(tmp_path, "c", "b").pair_changes) == {(c, s, "removed") for c, s in pairs}
    # datastores appear in flows enabled in both snapshots: every column is "added"
    added = diff(tmp_path, "c", "d").column_changes
    columns = full["datastore_columns"]
    assert len(columns) > 0
    assert rows(added) == {
        (r.consumer_id, r.sync_id, r.flow_id, r.datastore_name, r.name, "added", None, r.type)
        for r in columns.itertuples()
    }
    assert all(
        len(df) == 0 for name, df in diff(tmp_path, "c", "d").items() if name != "column_changes"
    )
    # the same from in-memory frames, with tables missing altogether
    only_pairs = {"consumer_syncs": full["consumer_syncs"]}
    assert rows(diff_frames(flatten([]), only_pairs).pair_changes) == {
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

"""``mapping_values.source_repeats``: computed when flattening, and absent from older snapshots.

The reports take a consumer's one value for a source as its answer and group only the values
whose pair gives the source several (``source_repeats``). Snapshots saved before the column
existed lack it: readers show it as null, and the reports then group every value, with the
same results.
"""

from __future__ import annotations

import copy
import random
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chift_frames import flatten, load, query, save
from chift_frames.export import compute_reports
from chift_frames.history import diff
from chift_frames.reports import REPORTS
from chift_frames.schema import ADDED_COLUMNS, TABLES
from chift_frames.store import snapshot_manifest
from chift_frames.world import World

KEY = ["consumer_id", "sync_id", "mapping_name", "sub_mapping_name", "source_id"]

values = st.lists(
    st.fixed_dictionaries({
        "source_id": st.sampled_from(["A", "B", "C", None]),
        "target_id": st.sampled_from(["x", "y", "", None]),
    }),
    max_size=6,
)  # fmt: skip
mappings = st.lists(
    st.fixed_dictionaries({
        "name": st.sampled_from(["Tax", "Journal"]),
        "sub_mapping_name": st.sampled_from(["VAT", "Sales"]),
        "hidden_source_ids": st.just([]),
        "values": values,
    }),
    max_size=4,
)  # fmt: skip
pairs = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["s1", "s2"]), mappings),
    max_size=5,
    unique_by=lambda p: (p[0], p[1]),
)


def payload(sync_id: str, link_mappings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "syncid": sync_id,
        "sync_name": sync_id.upper(),
        "link_createdon": "2026-02-01T10:00:00Z",
        "link_mappings": link_mappings,
    }


def expected_repeats(mv: pd.DataFrame) -> pd.Series:
    """The definition, the slow way: the key occurs more than once and has a source."""
    counts = mv.groupby(KEY, dropna=False)["value_index"].transform("size")
    return (counts > 1) & mv["source_id"].notna()


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_source_repeats_is_true_exactly_when_a_pair_gives_a_source_more_than_one_value(
    generated: list[tuple[str, str, list[dict[str, Any]]]],
) -> None:
    frames = flatten([(c, payload(s, m)) for c, s, m in generated])
    mv = frames.mapping_values
    assert str(mv["source_repeats"].dtype) == "boolean"
    assert not mv["source_repeats"].isna().any()
    got = mv["source_repeats"].astype(bool).tolist()
    assert got == expected_repeats(mv).tolist()


def test_a_batch_of_many_pairs_keeps_each_pairs_repeats_its_own() -> None:
    # the same source in two pairs, or in two mappings of other names, is no repeat
    same = [{"source_id": "A", "target_id": "x"}]
    records = [
        ("c1", payload("s1", [{"name": "Tax", "sub_mapping_name": "VAT", "values": same}])),
        ("c2", payload("s1", [{"name": "Tax", "sub_mapping_name": "VAT", "values": same}])),
        (
            "c3",
            payload(
                "s1",
                [
                    {"name": "Tax", "sub_mapping_name": "VAT", "values": same},
                    {"name": "Tax", "sub_mapping_name": "Sales", "values": same},
                    {"name": "Journal", "sub_mapping_name": "VAT", "values": same},
                ],
            ),
        ),
        ("c4", payload("s1", [{"name": "Tax", "sub_mapping_name": "VAT", "values": same * 2}])),
    ]
    for r in records:
        for m in r[1]["link_mappings"]:
            m["hidden_source_ids"] = []
    mv = flatten(records).mapping_values
    assert mv.groupby("consumer_id")["source_repeats"].any().to_dict() == {
        "c1": False,
        "c2": False,
        "c3": False,
        "c4": True,
    }


def strip_source_repeats(root: Path | str, snapshot_id: str) -> None:
    """Rewrite the snapshot's mapping_values parts as a version before the column saved them."""
    for rel in snapshot_manifest(root, snapshot_id)["files"]["mapping_values"]:
        path = Path(root) / rel
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["source_repeats"]), path)


def with_repeats(world: World, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """The world's payloads, where some pairs give some sources a second, third value."""
    rng = random.Random(seed)
    records = []
    for consumer_id, sync_id in world.pairs():
        p = copy.deepcopy(world.consumer_sync(consumer_id, sync_id))
        for mapping in p.get("link_mappings") or []:
            for n, value in enumerate(list(mapping["values"])):
                if n == 0 or rng.random() < 0.2:  # each mapping's first source at least
                    target = rng.choice([value["target_id"], "OTHER", None, ""])
                    mapping["values"].append({"source_id": value["source_id"], "target_id": target})
            rng.shuffle(mapping["values"])
        records.append((consumer_id, p))
    return records


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(consumers=st.integers(4, 16), seed=st.integers(0, 10_000))
def test_every_report_and_diff_is_the_same_with_the_column_and_without(
    consumers: int, seed: int
) -> None:
    world = World(consumers=consumers, syncs=2, seed=seed)
    before = flatten(with_repeats(world, seed))
    world.evolve()
    after = flatten(with_repeats(world, seed + 1))
    assert before.mapping_values["source_repeats"].any()
    assert not before.mapping_values["source_repeats"].all()
    with tempfile.TemporaryDirectory() as new, tempfile.TemporaryDirectory() as old:
        for root in (new, old):
            save(before, root, snapshot_id="before")
            save(after, root, snapshot_id="after")
        for sid in ("before", "after"):
            strip_source_repeats(old, sid)
        assert load(old, "after").mapping_values["source_repeats"].isna().all()
        got, expected = compute_reports(old), compute_reports(new)
        for name in REPORTS:
            pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
        changes_old, changes_new = diff(old), diff(new)
        for name in ("value_changes", "pair_changes", "flow_changes"):
            pd.testing.assert_frame_equal(
                getattr(changes_old, name), getattr(changes_new, name), obj=name
            )


def test_an_older_snapshot_reads_with_the_column_null_everywhere(tmp_path: Path) -> None:
    world = World(consumers=8, syncs=2, seed=3)
    save(flatten(with_repeats(world, 3)), tmp_path, snapshot_id="old")
    save(flatten(with_repeats(world, 3)), tmp_path, snapshot_id="new")
    strip_source_repeats(tmp_path, "old")
    old = load(tmp_path, "old").mapping_values
    assert str(old["source_repeats"].dtype) == "boolean" and old["source_repeats"].isna().all()
    assert not load(tmp_path, "new").mapping_values["source_repeats"].isna().any()
    sql = "SELECT snapshot_id, count(source_repeats) AS known, count(*) AS n FROM mapping_values "
    sql += "GROUP BY ALL ORDER BY ALL"
    got = query(tmp_path, sql, snapshot="all")
    n = len(old)
    assert got.to_dict("records") == [
        {"snapshot_id": "new", "known": n, "n": n},
        {"snapshot_id": "old", "known": 0, "n": n},
    ]


def older_dataset(root: Path) -> pd.DataFrame:
    """Save a snapshot with repeats, strip the column as an older version saved it.

    Return ``consensus_targets`` computed before the column was stripped.
    """
    world = World(consumers=8, syncs=2, seed=4)
    save(flatten(with_repeats(world, 4)), root, snapshot_id="old")
    expected = compute_reports(root, snapshot="old")["consensus_targets"]
    strip_source_repeats(root, "old")
    assert len(expected) > 0
    return expected


def test_the_printed_views_and_sql_run_in_duckdb_on_an_older_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_frames.cli import main

    expected = older_dataset(tmp_path)
    root = str(tmp_path)
    assert main(["report", root, "--sql", "consensus_targets", "--views", root]) == 0
    script = capsys.readouterr().out
    assert 'CAST(NULL AS BOOLEAN) AS "source_repeats"' in script
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.sql(script).df()
    columns = ["source_id", "consumer_count", "consensus_target_id", "outlier_count"]
    assert got[columns].values.tolist() == expected[columns].astype(object).values.tolist()


def test_spark_reads_an_older_snapshot(tmp_path: Path, spark: Any) -> None:
    from chift_frames.reports import SparkSource, consensus_targets

    expected = older_dataset(tmp_path)
    got = consensus_targets(SparkSource(str(tmp_path), spark), snapshot="old")
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("shape", ["light", "heavy"])
def test_the_worlds_shapes_give_no_repeats_and_the_flag_says_so(shape: str) -> None:
    world = World(consumers=5, syncs=2, seed=1, shape=shape)
    mv = flatten([(c, world.consumer_sync(c, s)) for c, s in world.pairs()]).mapping_values
    assert len(mv) and not mv["source_repeats"].any()


def test_added_columns_are_nullable_booleans_or_strings() -> None:
    # the views of an older snapshot show them as CAST(NULL AS BOOLEAN) or AS STRING
    for name, columns in ADDED_COLUMNS.items():
        for column in columns:
            field = TABLES[name].schema.field(column)
            assert field.nullable and str(field.type) in ("bool", "string")


def test_a_rebuild_fills_the_column_in(tmp_path: Path) -> None:
    from chift_frames.client import ChiftClient
    from chift_frames.fetch import fetch_snapshot, rebuild_snapshot
    from chift_frames.sandbox import Sandbox

    from .sandbox_env import ACCOUNT

    world = World(consumers=6, syncs=2, seed=9)
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url)
        fetched = fetch_snapshot(client, tmp_path, executions=False)
    strip_source_repeats(tmp_path, fetched.snapshot_id)
    assert load(tmp_path).mapping_values["source_repeats"].isna().all()
    rebuild_snapshot(tmp_path, "latest")
    values = load(tmp_path).mapping_values
    assert len(values) and values["source_repeats"].notna().all()


def test_snapshots_migrate_fills_the_column_in_and_keeps_every_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_frames.cli import main

    world = World(consumers=10, syncs=2, seed=6)
    save(flatten(with_repeats(world, 6)), tmp_path, snapshot_id="one")
    world.evolve()
    save(flatten(with_repeats(world, 7)), tmp_path, snapshot_id="two")
    expected = {sid: load(tmp_path, sid).mapping_values for sid in ("one", "two")}
    reports = compute_reports(tmp_path)
    changes = diff(tmp_path).value_changes
    for sid in ("one", "two"):
        strip_source_repeats(tmp_path, sid)
    old_parts = set(snapshot_manifest(tmp_path, "one")["files"]["mapping_values"])
    assert main(["snapshots", str(tmp_path), "--migrate"]) == 0
    capsys.readouterr()
    for sid in ("one", "two"):
        pd.testing.assert_frame_equal(load(tmp_path, sid).mapping_values, expected[sid])
    new_parts = set(snapshot_manifest(tmp_path, "one")["files"]["mapping_values"])
    assert not new_parts & old_parts
    assert not any((tmp_path / rel).exists() for rel in old_parts)
    got = compute_reports(tmp_path)
    for name in REPORTS:
        pd.testing.assert_frame_equal(got[name], reports[name], obj=name)
    pd.testing.assert_frame_equal(diff(tmp_path).value_changes, changes)
    # a second run finds nothing to do
    from chift_frames.store.lifecycle import migrate_added_columns

    assert migrate_added_columns(tmp_path) == []


def test_a_snapshot_whose_pair_spans_parts_is_left_null(tmp_path: Path) -> None:
    from chift_frames.store import SnapshotWriter
    from chift_frames.store.lifecycle import migrate_added_columns

    world = World(consumers=3, syncs=1, seed=2)
    values = flatten(with_repeats(world, 2)).mapping_values
    first = values.consumer_id.iloc[0]
    mine = values[values.consumer_id == first]
    writer = SnapshotWriter(tmp_path)
    writer.write({"mapping_values": mine.iloc[: len(mine) // 2]})
    writer.write({"mapping_values": mine.iloc[len(mine) // 2 :]})
    writer.commit("complete", pairs_ok=1, pairs_failed=0)
    strip_source_repeats(tmp_path, snapshot_manifest(tmp_path)["snapshot_id"])
    assert migrate_added_columns(tmp_path) == []
    assert load(tmp_path).mapping_values["source_repeats"].isna().all()


def test_a_pair_listed_twice_in_one_batch_repeats_its_sources() -> None:
    from chift_frames.reports import unmapped_sources

    p = payload(
        "s1",
        [
            {
                "name": "Tax",
                "sub_mapping_name": "VAT",
                "hidden_source_ids": [],
                "values": [{"source_id": "V21", "target_id": None}],
            }
        ],
    )
    frames = flatten([("c1", p), ("c1", p), ("c2", p)])
    mv = frames.mapping_values
    assert mv["source_repeats"].astype(bool).tolist() == expected_repeats(mv).tolist()
    assert mv["source_repeats"].astype(bool).tolist() == [True, True, False]
    got = unmapped_sources(frames)
    assert got[["unmapped_consumer_count", "consumer_count"]].values.tolist() == [[2, 2]]


def test_a_migration_run_again_removes_what_a_crashed_one_left(tmp_path: Path) -> None:
    import shutil

    from chift_frames.store.lifecycle import migrate_added_columns

    world = World(consumers=6, syncs=2, seed=5)
    save(flatten(with_repeats(world, 5)), tmp_path, snapshot_id="one")
    strip_source_repeats(tmp_path, "one")
    stripped = snapshot_manifest(tmp_path, "one")["files"]["mapping_values"]
    kept = tmp_path / "kept.parquet"
    shutil.copy(tmp_path / stripped[0], kept)
    assert migrate_added_columns(tmp_path) == ["one"]
    manifest = snapshot_manifest(tmp_path, "one")
    # as if the run had crashed after the manifest, before removing the old part
    shutil.copy(kept, tmp_path / stripped[0])
    assert migrate_added_columns(tmp_path) == []
    assert not (tmp_path / stripped[0]).exists()
    assert snapshot_manifest(tmp_path, "one") == manifest
    folder = tmp_path / "mapping_values" / "snapshot_id=one"
    listed = {Path(rel).name for rel in manifest["files"]["mapping_values"]}
    assert {f.name for f in folder.iterdir()} == listed

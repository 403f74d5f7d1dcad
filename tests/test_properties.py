"""Invariants of flatten, save and load over payloads generated from Chift's official spec."""

from __future__ import annotations

import tempfile
from typing import Any

import jsonschema
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chift_frames import flatten, load, save

from .spec_strategies import official_spec, sync_consumer_items

batches = st.lists(sync_consumer_items(), min_size=0, max_size=6)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def records_of(payloads: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"consumer-{i}", p) for i, p in enumerate(payloads)]


def lists(payload: dict[str, Any], key: str) -> list[Any]:
    return payload.get(key) or []


def flow_datastores(flow: dict[str, Any]) -> list[dict[str, Any]]:
    return (flow.get("config") or {}).get("datastores") or []


def test_the_generator_makes_valid_payloads() -> None:
    spec = official_spec()
    schema = {"$ref": "#/components/schemas/SyncConsumerItem", "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(schema)

    @given(sync_consumer_items())
    @settings(max_examples=50, deadline=None)
    def check(payload: dict[str, Any]) -> None:
        validator.validate(payload)

    check()


@given(batches)
@SETTINGS
def test_row_counts_equal_nested_list_lengths(payloads: list[dict[str, Any]]) -> None:
    frames = flatten(records_of(payloads))
    flows = [f for p in payloads for f in lists(p, "enabled_flows")]
    datastores = [d for f in flows for d in flow_datastores(f)]
    assert len(frames.consumer_syncs) == len(payloads)
    assert len(frames.mappings) == sum(len(lists(p, "link_mappings")) for p in payloads)
    assert len(frames.mapping_values) == sum(
        len(m["values"]) for p in payloads for m in lists(p, "link_mappings")
    )
    assert len(frames.skipped_mappings) == sum(len(lists(p, "skip_mappings")) for p in payloads)
    assert len(frames.flows) == len(flows)
    assert len(frames.datastores) == len(datastores)
    assert len(frames.datastore_columns) == sum(len(d["definition"]["columns"]) for d in datastores)
    assert frames.payload_errors.empty


def keys_exist(child: pd.DataFrame, parent: pd.DataFrame, keys: list[str]) -> bool:
    merged = child[keys].merge(parent[keys].drop_duplicates(), how="left", indicator=True)
    return bool((merged["_merge"] == "both").all())


@given(batches)
@SETTINGS
def test_every_child_key_exists_in_its_parent(payloads: list[dict[str, Any]]) -> None:
    f = flatten(records_of(payloads))
    pair = ["consumer_id", "sync_id"]
    assert keys_exist(f.mappings, f.consumer_syncs, pair)
    assert keys_exist(f.mapping_values, f.mappings, [*pair, "mapping_index"])
    assert keys_exist(f.skipped_mappings, f.consumer_syncs, pair)
    assert keys_exist(f.flows, f.consumer_syncs, pair)
    assert keys_exist(f.datastores, f.flows, [*pair, "flow_id"])
    assert keys_exist(f.datastore_columns, f.datastores, [*pair, "flow_id", "datastore_index"])
    # the denormalised parent columns agree with the parent rows
    parent = f.mapping_values.merge(
        f.mappings[[*pair, "mapping_index", "name", "sub_mapping_name"]],
        on=[*pair, "mapping_index"],
    )
    assert (parent.mapping_name == parent.name).all()
    assert (parent.sub_mapping_name_x == parent.sub_mapping_name_y).all()


def sums(
    child: pd.DataFrame, keys: list[str], column: str | None, parent: pd.DataFrame
) -> pd.Series:
    """The child rows (or the sum of ``column``) per parent row, aligned with ``parent``."""
    grouped = (
        child.groupby(keys, dropna=False).size()
        if column is None
        else (child.groupby(keys, dropna=False)[column].sum())
    )
    index = pd.MultiIndex.from_frame(parent[keys])
    return grouped.reindex(index, fill_value=0).astype("int64").reset_index(drop=True)


@given(batches)
@SETTINGS
def test_parent_counts_add_up(payloads: list[dict[str, Any]]) -> None:
    f = flatten(records_of(payloads))
    pair = ["consumer_id", "sync_id"]
    cs = f.consumer_syncs
    m = f.mappings
    mv = f.mapping_values

    def same(a: pd.Series, b: pd.Series) -> bool:
        return a.astype("int64").tolist() == b.astype("int64").tolist()

    assert same(cs.mapping_count, sums(m, pair, None, cs))
    assert same(cs.value_count, sums(m, pair, "value_count", cs))
    assert same(cs.unmapped_count, sums(m, pair, "unmapped_count", cs))
    assert same(cs.value_count, sums(mv, pair, None, cs))
    assert same(cs.unmapped_count, sums(mv.assign(u=~mv.is_mapped), pair, "u", cs))
    assert same(cs.skipped_mapping_count, sums(f.skipped_mappings, pair, None, cs))
    assert same(cs.enabled_flow_count, sums(f.flows, pair, None, cs))
    assert same(m.value_count, sums(mv, [*pair, "mapping_index"], None, m))
    assert same(
        m.unmapped_count, sums(mv.assign(u=~mv.is_mapped), [*pair, "mapping_index"], "u", m)
    )
    ds = f.datastores
    assert same(
        ds.column_count, sums(f.datastore_columns, [*pair, "flow_id", "datastore_index"], None, ds)
    )
    assert (mv.is_mapped == (mv.target_id.notna() & (mv.target_id != ""))).all()


@given(batches)
@SETTINGS
def test_save_load_round_trip_is_identical(payloads: list[dict[str, Any]]) -> None:
    frames = flatten(records_of(payloads), fetched_at="2026-11-27T10:00:00Z")
    with tempfile.TemporaryDirectory() as root:
        save(frames, root)
        back = load(root)
    for name in frames:
        pd.testing.assert_frame_equal(frames[name], back[name], check_exact=True)

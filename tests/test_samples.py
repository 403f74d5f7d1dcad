"""The samples in data/samples/ follow Chift's official spec, flatten cleanly and are fresh."""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chift_frames import flatten
from chift_frames.flatten import (
    flatten_connections,
    flatten_consumers,
    flatten_sync_definitions,
    flatten_syncs,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
PAIR_FILES = sorted((SAMPLES / "consumer_syncs").glob("*.json"))
CONNECTION_FILES = sorted((SAMPLES / "connections").glob("*.json"))

# What the eight responses of World(consumers=3, syncs=3, seed=194) flatten into.
EXPECTED_ROWS = {
    "consumer_syncs": 8,
    "mappings": 19,
    "mapping_values": 108,
    "skipped_mappings": 3,
    "flows": 7,
    "datastores": 9,
    "datastore_columns": 34,
    "payload_errors": 0,
}


# What the sync definitions of the same account flatten into.
EXPECTED_SYNC_ROWS = {
    "syncs": 3,
    "sync_flows": 6,
    "sync_flow_triggers": 6,
    "sync_mappings": 10,
    "sync_mapping_labels": 126,  # 8+9+9+60, 6+5+6 and 4+7+12 source values
    "sync_connections": 6,
}


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def pair_of(path: Path) -> tuple[str, str]:
    consumer_id, sync_id = path.stem.split("__")
    return consumer_id, sync_id


@cache
def official_validator(schema_name: str, *, array: bool = False) -> Draft202012Validator:
    spec = json.loads((files("chift.openapi") / "openapi.json").read_text(encoding="utf-8"))
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    root = {**({"type": "array", "items": ref} if array else ref), "components": spec["components"]}
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(validator: Draft202012Validator, body: Any, name: str) -> None:
    problems = [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: e.json_path)
    ]
    assert not problems, f"{name} breaks Chift's spec:\n" + "\n".join(problems)


def samples_script() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_samples
    finally:
        sys.path.pop(0)
    return make_samples


def test_the_samples_are_a_complete_small_account() -> None:
    consumers = read(SAMPLES / "consumers.json")
    syncs = read(SAMPLES / "syncs.json")
    assert len(consumers) == 3 and len(syncs) == 3
    linked = {(c, s["syncid"]) for s in syncs for c in s["consumers"]}
    assert {pair_of(p) for p in PAIR_FILES} == linked, "one response per linked pair"
    known = {c["consumerid"] for c in consumers}
    for consumer_id in known:
        assert 2 <= sum(c == consumer_id for c, _ in linked) <= 3
    for path in PAIR_FILES:
        assert read(path)["syncid"] == pair_of(path)[1], path.name


@pytest.mark.parametrize("path", PAIR_FILES, ids=lambda p: p.stem[:8] + "__" + p.stem[38:46])
def test_consumer_sync_sample_follows_the_official_spec(path: Path) -> None:
    assert_valid(official_validator("SyncConsumerItem"), read(path), path.name)


@pytest.mark.parametrize(
    ("name", "schema_name"), [("syncs.json", "ReadSyncItem"), ("consumers.json", "ConsumerItem")]
)
def test_account_sample_follows_the_official_spec(name: str, schema_name: str) -> None:
    assert_valid(official_validator(schema_name, array=True), read(SAMPLES / name), name)


@pytest.mark.parametrize("path", CONNECTION_FILES, ids=lambda p: p.stem[:8])
def test_connections_sample_follows_the_official_spec(path: Path) -> None:
    assert_valid(official_validator("ConnectionItem", array=True), read(path), path.name)


def test_the_official_spec_rejects_a_broken_sample() -> None:
    body = read(PAIR_FILES[0])
    body["enabled_flows"] = [{"id": "f1"}]  # a flow without name, trigger or values
    assert list(official_validator("SyncConsumerItem").iter_errors(body))


def test_the_samples_flatten_to_the_expected_rows() -> None:
    records = [(pair_of(p)[0], read(p)) for p in PAIR_FILES]
    frames = flatten(records, on_error="collect")
    assert frames.payload_errors.empty
    assert frames.row_counts() == EXPECTED_ROWS
    cs = frames.consumer_syncs
    assert (cs.status == "active").sum() == 5
    assert cs.unmapped_count.sum() == (~frames.mapping_values.is_mapped).sum() == 20
    assert len(flatten_consumers(read(SAMPLES / "consumers.json"))) == 3
    syncs = flatten_syncs(read(SAMPLES / "syncs.json"))
    assert syncs.consumer_count.sum() == len(PAIR_FILES)
    definitions = flatten_sync_definitions(read(SAMPLES / "syncs.json"))
    assert {name: t.num_rows for name, t in definitions.items()} == EXPECTED_SYNC_ROWS
    assert len(CONNECTION_FILES) == 3
    connections = [flatten_connections(p.stem, read(p)) for p in CONNECTION_FILES]
    assert sum(t.num_rows for t in connections) == sum(len(read(p)) for p in CONNECTION_FILES)


def test_the_samples_are_what_make_samples_writes_now() -> None:
    stale = samples_script().stale_files(SAMPLES)
    assert not stale, f"data/samples/ is stale, run python scripts/make_samples.py: {stale}"

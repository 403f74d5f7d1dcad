"""Sync definitions and connections: whole rows, bad bodies, and bodies drawn from the spec."""

from __future__ import annotations

import copy
import json
import warnings
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chift_frames.errors import PayloadError, UnknownFieldsWarning
from chift_frames.flatten import (
    SYNC_TABLES,
    Duplicate,
    flatten_connections,
    flatten_sync_definitions,
)
from chift_frames.schema import TABLES
from chift_frames.world import World

from .spec_strategies import REF, from_schema

SYNC: dict[str, Any] = {
    "syncid": "s1",
    "name": "POS → Accounting",
    "config": {"presync": {"fields": ["country"]}},
    "connections": [
        {"one_api": 2, "connection_type": None, "display_order": 0, "display_hidden": False},
        {"one_api": 1},
    ],
    "mappings": [
        {
            "name": "Tax rates",
            "description": "Map your tax rates",
            "display_order": 0,
            "challenge_question": "Do you sell abroad?",
            "conditions": {"hideIf": {"==": [{"var": "presync.simple"}, True]}},
            "sub_mappings": [
                {
                    "name": "VAT codes",
                    "source_field": {
                        "name": "vat_rate",
                        "type": "fixed",
                        "values": [
                            {"id": "VAT01", "label": "21%"},
                            {"id": "VAT02", "label": "6%"},
                        ],
                    },
                    "target_field": {
                        "name": "vat_code",
                        "type": "api",
                        "api_route": "/accounting/vat-codes",
                        "values": None,
                    },
                    "logic": {"b": 1.0, "a": 1},
                    "manual_mapping": True,
                }
            ],
        }
    ],
    "consumers": ["c1", "c2"],
    "flows": [
        {
            "id": "f1",
            "name": "Daily sales",
            "execution": {"type": "code", "data": {"code": "daily"}},
            "triggers": [
                {
                    "id": "t1",
                    "type": "timer",
                    "cronschedules": ["0 5 * * *", "30 4 * * *"],
                    "priority": "HIGH",
                    "definitionFields": [{"name": "from_date"}],
                },
                {"id": "t2", "type": "event", "visible": False, "options": {"retries": 2}},
            ],
        },
        {"id": "f2", "name": "Close of day", "description": "On close"},
    ],
    "module": None,
}

CONNECTIONS: list[dict[str, Any]] = [
    {
        "connectionid": "k1",
        "name": "Books",
        "integration": "Odoo",
        "integrationid": 2001,
        "api": "Accounting",
        "data": {"company_id": 7},
        "status": "active",
        "agent": None,
        "datalayer": {"status": "ready", "last_sync_date": "2026-09-07T10:00:00+02:00"},
    },
    {
        "connectionid": "k2",
        "name": "Till",
        "integration": "Sage 50",
        "integrationid": 2003,
        "api": "Point of Sale",
        "status": "inactive",
        "agent": {"status": "down"},
    },
]


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_sync_definitions_flatten_to_whole_rows() -> None:
    tables = flatten_sync_definitions([SYNC])
    assert list(tables) == list(SYNC_TABLES)
    for name, table in tables.items():
        assert table.schema.equals(TABLES[name].schema), name
    assert rows(tables["syncs"]) == [
        {
            "sync_id": "s1",
            "name": "POS → Accounting",
            "module": None,
            "consumer_count": 2,
            "flow_count": 2,
            "config": '{"presync":{"fields":["country"]}}',
            "object_kinds": None,
        }
    ]
    assert rows(tables["sync_flows"]) == [
        {
            "sync_id": "s1",
            "flow_id": "f1",
            "name": "Daily sales",
            "description": None,
            "execution_type": "code",
            "execution": '{"data":{"code":"daily"},"type":"code"}',
            "config": None,
            "trigger_count": 2,
        },
        {
            "sync_id": "s1",
            "flow_id": "f2",
            "name": "Close of day",
            "description": "On close",
            "execution_type": None,
            "execution": None,
            "config": None,
            "trigger_count": 0,
        },
    ]
    assert rows(tables["sync_flow_triggers"]) == [
        {
            "sync_id": "s1",
            "flow_id": "f1",
            "trigger_index": 0,
            "trigger_id": "t1",
            "trigger_type": "timer",
            "cronschedules": ["0 5 * * *", "30 4 * * *"],
            "visible": True,
            "priority": "HIGH",
            "definition_fields": '[{"name":"from_date"}]',
            "options": None,
        },
        {
            "sync_id": "s1",
            "flow_id": "f1",
            "trigger_index": 1,
            "trigger_id": "t2",
            "trigger_type": "event",
            "cronschedules": None,
            "visible": False,
            "priority": "NORMAL",
            "definition_fields": None,
            "options": '{"retries":2}',
        },
    ]
    [mapping] = rows(tables["sync_mappings"])
    assert mapping == {
        "sync_id": "s1",
        "mapping_index": 0,
        "sub_mapping_index": 0,
        "name": "Tax rates",
        "description": "Map your tax rates",
        "display_order": 0,
        "challenge_question": "Do you sell abroad?",
        "conditions": '{"hideIf":{"==":[{"var":"presync.simple"},true]}}',
        "sub_mapping_name": "VAT codes",
        "sub_mapping_description": None,
        "source_field_name": "vat_rate",
        "source_field_type": "fixed",
        "source_api_route": None,
        "target_field_name": "vat_code",
        "target_field_type": "api",
        "target_api_route": "/accounting/vat-codes",
        "display_delete": None,
        "logic": mapping["logic"],
        "manual_mapping": True,
    }
    assert json.loads(mapping["logic"]) == {"a": 1, "b": 1}
    assert rows(tables["sync_mapping_labels"]) == [
        {
            "sync_id": "s1",
            "mapping_index": 0,
            "sub_mapping_index": 0,
            "side": "source",
            "value_index": i,
            "value_id": value_id,
            "label": label,
        }
        for i, (value_id, label) in enumerate([("VAT01", "21%"), ("VAT02", "6%")])
    ]
    assert rows(tables["sync_connections"]) == [
        {
            "sync_id": "s1",
            "connection_index": 0,
            "one_api": 2,
            "connection_type": None,
            "display_order": 0,
            "display_hidden": False,
        },
        {
            "sync_id": "s1",
            "connection_index": 1,
            "one_api": 1,
            "connection_type": None,
            "display_order": 0,
            "display_hidden": False,
        },
    ]


def test_connections_flatten_to_whole_rows_and_keep_data_only_when_asked() -> None:
    table = flatten_connections("c1", CONNECTIONS)
    assert table.schema.equals(TABLES["connections"].schema)
    assert rows(table) == [
        {
            "consumer_id": "c1",
            "connection_id": "k1",
            "name": "Books",
            "integration": "Odoo",
            "integration_id": 2001,
            "api": "Accounting",
            "status": "active",
            "agent_status": None,
            "datalayer_status": "ready",
            "datalayer_last_sync_date": datetime(2026, 9, 7, 8, 0, tzinfo=UTC),
            "data": None,
        },
        {
            "consumer_id": "c1",
            "connection_id": "k2",
            "name": "Till",
            "integration": "Sage 50",
            "integration_id": 2003,
            "api": "Point of Sale",
            "status": "inactive",
            "agent_status": "down",
            "datalayer_status": None,
            "datalayer_last_sync_date": None,
            "data": None,
        },
    ]
    kept = flatten_connections("c1", CONNECTIONS, keep_data=True)
    assert kept.column("data").to_pylist() == ['{"company_id":7}', None]


def broken(change: Any) -> list[dict[str, Any]]:
    body = copy.deepcopy(SYNC)
    change(body)
    return [body]


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda b: b.pop("syncid"), "[0].syncid", "required field is missing"),
        (
            lambda b: b["flows"][0]["triggers"][0].update(type=42),
            "[0].flows[0].triggers[0].type",
            "expected one of timer, event, got 42",
        ),
        (
            lambda b: b["flows"][0]["triggers"][0].update(priority="URGENT"),
            "[0].flows[0].triggers[0].priority",
            "expected one of NORMAL, MEDIUM, HIGH, got 'URGENT'",
        ),
        (
            lambda b: b["flows"][0]["triggers"][0].update(cronschedules=["0 5 * * *", 5]),
            "[0].flows[0].triggers[0].cronschedules[1]",
            "expected a string, got 5",
        ),
        (
            lambda b: b["mappings"][0]["sub_mappings"][0].pop("target_field"),
            "[0].mappings[0].sub_mappings[0].target_field",
            "expected an object, got null",
        ),
        (
            lambda b: b["mappings"][0]["sub_mappings"][0]["source_field"]["values"][1].update(
                label=None
            ),
            "[0].mappings[0].sub_mappings[0].source_field.values[1].label",
            "got null, expected a string",
        ),
        (
            lambda b: b["connections"][0].update(one_api=2**63),
            "[0].connections[0].one_api",
            "does not fit in 64 bits",
        ),
        (
            lambda b: b["flows"][0].update(execution={"type": "code", "data": float("nan")}),
            "[0].flows[0].execution.data",
            "NaN",
        ),
        (lambda b: b.update(name="\ud800"), "[0].name", "lone surrogate"),
        (lambda b: b.update(flows=None), "[0].flows", "expected an array, got null"),
    ],
)
def test_a_broken_sync_body_names_the_sync_the_path_and_the_reason(
    change: Any, path: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as raised:
        flatten_sync_definitions(broken(change))
    assert raised.value.path == path
    assert reason in raised.value.message
    if path != "[0].syncid":
        assert raised.value.sync_id == "s1"


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (lambda c: c.update(status="broken"), "[0].status", "expected one of active, inactive"),
        (lambda c: c.update(agent={"status": "sleepy"}), "[0].agent.status", "up, down"),
        (
            lambda c: c.update(datalayer={"status": "ready", "last_sync_date": "yesterday"}),
            "[0].datalayer.last_sync_date",
            "not an ISO 8601 date-time",
        ),
        (
            lambda c: c.update(
                datalayer={"status": "ready", "last_sync_date": "9999-12-31T23:00:00-05:00"}
            ),
            "[0].datalayer.last_sync_date",
            "in range",
        ),
        (lambda c: c.update(integrationid="2001"), "[0].integrationid", "expected an integer"),
        (lambda c: c.update(data=[1]), "[0].data", "expected an object or null"),
    ],
)
def test_a_broken_connection_body_names_the_consumer_and_the_path(
    change: Any, path: str, reason: str
) -> None:
    body = copy.deepcopy(CONNECTIONS)
    change(body[0])
    with pytest.raises(PayloadError) as raised:
        flatten_connections("c9", body)
    assert (raised.value.consumer_id, raised.value.path) == ("c9", path)
    assert reason in raised.value.message


def test_fields_outside_the_spec_are_left_out_with_one_warning_per_body() -> None:
    body = copy.deepcopy(SYNC)
    body["shiny"] = 1
    body["flows"][0]["colour"] = "red"
    body["flows"][1]["colour"] = "blue"
    with pytest.warns(UnknownFieldsWarning) as caught:
        tables = flatten_sync_definitions([body])
    assert len(caught) == 1
    assert "flows[].colour" in str(caught[0].message) and "syncs[].shiny" in str(caught[0].message)
    assert tables["sync_flows"].num_rows == 2
    connection = {**CONNECTIONS[0], "secret_key": "x"}
    with pytest.warns(UnknownFieldsWarning, match="connections\\[\\].secret_key"):
        flatten_connections("c1", [connection])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flatten_connections("c1", CONNECTIONS)


def test_the_world_definitions_flatten_and_label_every_source_value() -> None:
    world = World(consumers=30, syncs=4, seed=5)
    tables = flatten_sync_definitions(world.sync_items())
    labels = tables["sync_mapping_labels"].to_pylist()
    for consumer_id, sync_id in world.pairs():
        payload = world.consumer_sync(consumer_id, sync_id)
        assert payload is not None
        defined = {(row["value_id"]) for row in labels if row["sync_id"] == sync_id}
        for mapping in payload["link_mappings"] or []:
            for value in mapping["values"]:
                if not value["source_id"].startswith(("NEW-",)):
                    assert value["source_id"] in defined


SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def nested(items: list[Any] | None) -> list[Any]:
    return items or []


def first_of(items: list[Any] | None, key: str) -> list[Any]:
    """The entries of a list answer with a key not seen before: what the tables keep."""
    seen: set[Any] = set()
    kept = []
    for item in items or []:
        if item[key] not in seen:
            seen.add(item[key])
            kept.append(item)
    return kept


@SETTINGS
@given(st.lists(from_schema({"$ref": REF + "ReadSyncItem"}, max_items=3), max_size=4))
def test_any_sync_body_the_spec_allows_flattens_with_a_row_per_item(bodies: list[Any]) -> None:
    found: list[Duplicate] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tables = flatten_sync_definitions(bodies, duplicates=found)
    syncs = first_of(bodies, "syncid")  # an entry listed twice is kept once: the first
    flows = [f for b in syncs for f in first_of(b["flows"], "id")]
    subs = [
        s
        for b in syncs
        for m in first_of(b.get("mappings"), "name")
        for s in first_of(m.get("sub_mappings"), "name")
    ]
    assert tables["syncs"].num_rows == len(syncs)
    assert tables["syncs"].column("sync_id").to_pylist() == [b["syncid"] for b in syncs]
    assert tables["sync_flows"].num_rows == len(flows)
    assert tables["sync_flow_triggers"].num_rows == sum(
        len(nested(f.get("triggers"))) for f in flows
    )
    assert tables["sync_mappings"].num_rows == len(subs)
    labels = [
        first_of(s[side].get("values"), "id")
        for s in subs
        for side in ("source_field", "target_field")
    ]
    assert tables["sync_mapping_labels"].num_rows == sum(map(len, labels))
    assert tables["sync_connections"].num_rows == sum(len(b["connections"]) for b in syncs)
    assert len([d for d in found if d.table == "syncs"]) == len(bodies) - len(syncs)
    assert len([d for d in found if d.table == "sync_flows"]) == sum(
        len(b["flows"]) - len(first_of(b["flows"], "id")) for b in syncs
    )


@SETTINGS
@given(st.lists(from_schema({"$ref": REF + "ConnectionItem"}), max_size=5))
def test_any_connections_body_the_spec_allows_flattens_row_for_row(body: list[Any]) -> None:
    found: list[Duplicate] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = flatten_connections("c1", body, keep_data=True, duplicates=found)
    kept = first_of(body, "connectionid")  # a connection listed twice is kept once
    assert len(found) == len(body) - len(kept)
    assert table.column("connection_id").to_pylist() == [c["connectionid"] for c in kept]
    assert table.column("status").to_pylist() == [c["status"] for c in kept]
    assert table.column("agent_status").to_pylist() == [
        (c.get("agent") or {}).get("status") for c in kept
    ]
    assert [d is None for d in table.column("data").to_pylist()] == [
        c.get("data") is None for c in kept
    ]

"""One response, whatever it holds, becomes rows or one payload_errors row; never a traceback.

Values JSON (as Python's ``json`` reads it) can carry but the tables cannot: NaN and
infinities, integers past 64 bits, lone surrogates, dates that overflow once in UTC, deep
nesting, repeated keys. Each is an exact path and reason; the other records are untouched.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from chift_frames import PayloadError, UnknownFieldsWarning, flatten
from chift_frames.errors import MissingFieldsWarning
from chift_frames.flatten import flatten_consumers, flatten_executions, flatten_syncs

from .conftest import read_payload

C1, C2, C3 = "consumer-1", "consumer-2", "consumer-3"
S1 = "76d8b868-0000-4000-8000-000000000001"
COLUMN0 = "enabled_flows[0].config.datastores[0].definition.columns[0]"


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def poisoned(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    payload = read_payload("active_pos")
    change(payload)
    return payload


def first_value(p: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = p["link_mappings"][0]["values"][1]
    return value


def column(p: dict[str, Any]) -> dict[str, Any]:
    col: dict[str, Any] = p["enabled_flows"][0]["config"]["datastores"][0]["definition"]["columns"][
        0
    ]
    return col


# (what, how, the JSON path, the message)
POISONS: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    (
        "NaN in metadata",
        lambda p: p.__setitem__("link_metadata", {"rate": float("nan")}),
        "link_metadata.rate",
        "NaN is not a JSON number",
    ),
    (
        "Infinity in flow values",
        lambda p: p["enabled_flows"][0]["values"].__setitem__("max", [1, float("inf")]),
        "enabled_flows[0].values.max[1]",
        "Infinity is not a JSON number",
    ),
    (
        "-Infinity in a definition field",
        lambda p: p["enabled_flows"][0]["config"]["definitionFields"][0].__setitem__(
            "min", float("-inf")
        ),
        "enabled_flows[0].config.definitionFields[0].min",
        "-Infinity is not a JSON number",
    ),
    (
        "NaN in conditions",
        lambda p: p["link_mappings"][1]["conditions"]["hideIf"].__setitem__("x", float("nan")),
        "link_mappings[1].conditions.hideIf.x",
        "NaN is not a JSON number",
    ),
    (
        "NaN where a string is expected",
        lambda p: p.__setitem__("sync_name", float("nan")),
        "sync_name",
        "expected a string, got NaN",
    ),
    (
        "NaN where a boolean is expected",
        lambda p: column(p).__setitem__("optional", float("nan")),
        f"{COLUMN0}.optional",
        "expected a boolean or null, got NaN",
    ),
    (
        "2**63 where an integer is expected",
        lambda p: p["link_mappings"][0].__setitem__("display_order", 2**63),
        "link_mappings[0].display_order",
        "9223372036854775808 is outside the 64-bit integer range",
    ),
    (
        "-(2**63) - 1 where an integer is expected",
        lambda p: p["link_mappings"][1].__setitem__("display_order", -(2**63) - 1),
        "link_mappings[1].display_order",
        "-9223372036854775809 is outside the 64-bit integer range",
    ),
    (
        "10**40 where an integer is expected",
        lambda p: p["link_mappings"][1].__setitem__("display_order", 10**40),
        "link_mappings[1].display_order",
        "an integer of about 41 digits is outside the 64-bit integer range",
    ),
    (
        "2**63 where a string is expected",
        lambda p: first_value(p).__setitem__("target_id", 2**63),
        "link_mappings[0].values[1].target_id",
        "expected a string or null, got 9223372036854775808",
    ),
    (
        "a lone surrogate in the sync name",
        lambda p: p.__setitem__("sync_name", "POS \ud800"),
        "sync_name",
        "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode",
    ),
    (
        "a lone surrogate in a source id",
        lambda p: first_value(p).__setitem__("source_id", "\udfff"),
        "link_mappings[0].values[1].source_id",
        "holds a lone surrogate ('\\udfff'), which UTF-8 cannot encode",
    ),
    (
        "a lone surrogate in a column title",
        lambda p: column(p).__setitem__("title", "a\udc80b"),
        f"{COLUMN0}.title",
        "holds a lone surrogate ('\\udc80'), which UTF-8 cannot encode",
    ),
    (
        "a lone surrogate in a hidden source id",
        lambda p: p["link_mappings"][0]["hidden_source_ids"].append("\ud800"),
        "link_mappings[0].hidden_source_ids[1]",
        "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode",
    ),
    (
        "a lone surrogate in a free-form value",
        lambda p: p.__setitem__("link_presync", {"note": "\ud800"}),
        "link_presync.note",
        "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode",
    ),
    (
        "a lone surrogate in a free-form key",
        lambda p: p.__setitem__("link_presync", {"\ud800": 1}),
        'link_presync["\\ud800"]',
        "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode",
    ),
    (
        "a date past 9999 in UTC",
        lambda p: p.__setitem__("link_createdon", "9999-12-31T23:00:00-05:00"),
        "link_createdon",
        "'9999-12-31T23:00:00-05:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    (
        "a date before year 1 in UTC",
        lambda p: p["enabled_flows"][1].__setitem__("enabled_on", "0001-01-01T00:30:00+01:00"),
        "enabled_flows[1].enabled_on",
        "'0001-01-01T00:30:00+01:00' is outside the years 1 to 9999 once converted to UTC",
    ),
    (
        "nesting 10,000 deep in a free-form object",
        lambda p: p.__setitem__("link_metadata", {"deep": nested(10_000)}),
        "link_metadata.deep" + "[0]" * 127,
        "nests deeper than 128 levels",
    ),
    (
        "nesting 10,000 deep where a string is expected",
        lambda p: first_value(p).__setitem__("source_id", nested(10_000)),
        "link_mappings[0].values[1].source_id",
        "expected a string or null, got an array",
    ),
    (
        "nesting 10,000 deep in flow values",
        lambda p: p["enabled_flows"][0].__setitem__("values", {"a": {"b": nested(10_000)}}),
        "enabled_flows[0].values.a.b" + "[0]" * 126,
        "nests deeper than 128 levels",
    ),
    (
        "a flow id repeated",
        lambda p: p["enabled_flows"].append({**p["enabled_flows"][0], "name": "Again"}),
        "enabled_flows[2].id",
        "'9f0e0000-0000-4000-8000-0000000000f1' repeats enabled_flows[0].id, "
        "and rows are keyed by it",
    ),
    (
        "a Python object that is not JSON",
        lambda p: p.__setitem__("link_metadata", {"when": object()}),
        "link_metadata.when",
        "a Python object is not a JSON value",
    ),
]


@pytest.mark.parametrize(
    ("what", "change", "path", "message"), POISONS, ids=[p[0] for p in POISONS]
)
def test_a_poisoned_record_is_one_error_and_the_others_are_untouched(
    active_pos: dict[str, Any],
    opened_only: dict[str, Any],
    what: str,
    change: Callable[[dict[str, Any]], Any],
    path: str,
    message: str,
) -> None:
    bad = poisoned(change)
    good = flatten([(C1, active_pos), (C3, opened_only)])
    frames = flatten([(C1, active_pos), (C2, bad), (C3, opened_only)], on_error="collect")
    assert frames.payload_errors.astype(object).to_dict("records") == [
        {"consumer_id": C2, "sync_id": S1, "path": path, "message": message}
    ]
    for name in good:
        if name != "payload_errors":
            pd.testing.assert_frame_equal(frames[name], good[name], check_exact=True, obj=name)
    with pytest.raises(PayloadError) as info:
        flatten([(C1, active_pos), (C2, bad)])
    assert (info.value.consumer_id, info.value.sync_id) == (C2, S1)
    assert (info.value.path, info.value.message) == (path, message)
    assert f"at {path}: {message}" in str(info.value)


def test_a_poisoned_batch_keeps_every_good_record_in_order(active_pos: dict[str, Any]) -> None:
    """Bad leaf values spread through a batch: the halving finds each, the rest stay in order."""
    records: list[tuple[str, Any]] = []
    bad_consumers = []
    for i in range(40):
        payload = copy.deepcopy(active_pos)
        if i % 7 == 3:
            first_value(payload)["source_id"] = "\ud800" if i % 2 else 5
            bad_consumers.append(f"c{i:02d}")
        records.append((f"c{i:02d}", payload))
    frames = flatten(records, on_error="collect")
    assert frames.payload_errors.consumer_id.tolist() == bad_consumers
    good = [r for r in records if r[0] not in bad_consumers]
    alone = flatten(good)
    for name in alone:
        if name != "payload_errors":
            pd.testing.assert_frame_equal(frames[name], alone[name], check_exact=True, obj=name)


def test_good_bad_good_keeps_the_good_ones(active_pos: dict[str, Any]) -> None:
    bad = poisoned(lambda p: p.__setitem__("link_metadata", {"x": float("nan")}))
    frames = flatten([(C1, active_pos), (C2, bad), (C3, active_pos)], on_error="collect")
    assert frames.consumer_syncs.consumer_id.tolist() == [C1, C3]
    assert frames.payload_errors.consumer_id.tolist() == [C2]


def test_values_parsed_from_json_text_are_caught_too(active_pos: dict[str, Any]) -> None:
    """What Python's json.loads lets through: NaN, Infinity and lone surrogate escapes."""
    text = json.dumps(active_pos)
    records = [
        (C1, json.loads(text.replace('"plan": "pro"', '"plan": NaN'))),
        (C2, json.loads(text.replace('"plan": "pro"', '"plan": -Infinity'))),
        (C3, json.loads(text.replace('"POS -> Accounting"', '"\\ud800"'))),
        ("consumer-4", json.loads(text)),
    ]
    frames = flatten(records, on_error="collect")
    assert frames.payload_errors[["consumer_id", "path"]].values.tolist() == [
        [C1, "link_metadata.plan"],
        [C2, "link_metadata.plan"],
        [C3, "sync_name"],
    ]
    assert frames.consumer_syncs.consumer_id.tolist() == ["consumer-4"]


def test_huge_integers_in_free_form_objects_are_kept_losslessly(active_pos: dict[str, Any]) -> None:
    payload = poisoned(lambda p: p.__setitem__("link_metadata", {"id": 2**64 + 1, "n": 1.0}))
    frames = flatten([(C1, payload)])
    assert frames.consumer_syncs.link_metadata[0] == '{"id":18446744073709551617,"n":1}'


def test_dates_at_the_edges_of_the_range_are_kept() -> None:
    payload = poisoned(lambda p: p.__setitem__("link_createdon", "9999-12-31T23:59:59+00:00"))
    payload["enabled_flows"][0]["enabled_on"] = "0001-01-01T05:00:00+05:00"
    frames = flatten([(C1, payload)])
    assert frames.consumer_syncs.link_createdon[0] == pd.Timestamp("9999-12-31T23:59:59Z")
    assert frames.flows.enabled_on[0] == pd.Timestamp("0001-01-01T00:00:00Z")


def test_a_consumer_id_with_a_lone_surrogate_is_refused(active_pos: dict[str, Any]) -> None:
    frames = flatten([("c\ud800", active_pos), (C1, active_pos)], on_error="collect")
    assert frames.consumer_syncs.consumer_id.tolist() == [C1]
    (message,) = frames.payload_errors.message.tolist()
    assert message.startswith("record 0: consumer_id must be a non-empty string")
    assert frames.payload_errors.consumer_id.tolist() == ["c\\ud800"]  # Parquet can hold it


# -- mistyped enums: the exact path and reason, never a dump of the parent ------------------------

ENUMS = [
    ("trigger.type", lambda p, v: p["enabled_flows"][0]["trigger"].__setitem__("type", v)),
    ("status", lambda p, v: p.__setitem__("status", v)),
    ("skip_reason", lambda p, v: p["skip_mappings"][0].__setitem__("skip_reason", v)),
    (
        "datastore status",
        lambda p, v: p["enabled_flows"][0]["config"]["datastores"][0].__setitem__("status", v),
    ),
]
ENUM_PATHS = {
    "trigger.type": ("enabled_flows[0].trigger.type", "timer, event"),
    "status": ("status", "active, inactive"),
    "skip_reason": ("skip_mappings[0].skip_reason", "presync, connector_feature, challenge"),
    "datastore status": (
        "enabled_flows[0].config.datastores[0].status",
        "active, inactive or null",
    ),
}
BAD_VALUES = [
    (42, "42"),
    (4.5, "4.5"),
    (True, "true"),
    ([], "an array"),
    ({"type": "timer"}, "an object"),
    ("cron", "'cron'"),
    ("TIMER", "'TIMER'"),
    ("x" * 500, repr("x" * 57 + "...")),
    (float("nan"), "NaN"),
    (2**63, "9223372036854775808"),
    ("\ud800", "'\\ud800'"),
]


@pytest.mark.parametrize(("field", "change"), ENUMS, ids=[e[0] for e in ENUMS])
@pytest.mark.parametrize(("value", "shown"), BAD_VALUES, ids=[b[1][:12] for b in BAD_VALUES])
def test_a_mistyped_enum_names_its_path_the_choices_and_the_value(
    field: str, change: Callable[[dict[str, Any], Any], Any], value: Any, shown: str
) -> None:
    payload = read_payload("active_pos")
    change(payload, value)
    with pytest.raises(PayloadError) as info:
        flatten([(C1, payload)])
    path, choices = ENUM_PATHS[field]
    assert info.value.path == path
    assert info.value.message == f"expected one of {choices}, got {shown}"
    assert str(info.value).endswith(f"at {path}: expected one of {choices}, got {shown}")


def test_the_enum_choices_are_the_specs() -> None:
    from chift_frames.flatten._columns import (
        _DATASTORE_STATUSES,
        _SKIP_REASONS,
        _STATUSES,
        _TRIGGER_TYPES,
    )

    from .spec_strategies import schema_of

    assert tuple(schema_of("TriggerType")["enum"]) == _TRIGGER_TYPES
    assert tuple(schema_of("SyncConsumerStatus")["enum"]) == _STATUSES
    assert tuple(schema_of("SyncSkipReason")["enum"]) == _SKIP_REASONS
    assert tuple(schema_of("DatastoreStatus")["enum"]) == _DATASTORE_STATUSES


def test_the_example_of_the_issue() -> None:
    payload = read_payload("active_pos")
    payload["enabled_flows"][0]["trigger"]["type"] = 42
    with pytest.raises(
        PayloadError,
        match=r"at enabled_flows\[0\]\.trigger\.type: expected one of timer, event, got 42$",
    ):
        flatten([(C1, payload)])


# -- duplicate keys within one response -----------------------------------------------------------


def test_a_repeated_skipped_mapping_name_is_kept_as_sent(active_pos: dict[str, Any]) -> None:
    payload = copy.deepcopy(active_pos)
    payload["skip_mappings"].append(dict(payload["skip_mappings"][0]))
    frames = flatten([(C1, payload)])
    name = payload["skip_mappings"][0]["name"]
    assert frames.skipped_mappings.name.tolist() == [name, name]
    assert frames.consumer_syncs.skipped_mapping_count.tolist() == [2]


# -- older responses without hidden_source_ids --------------------------------------------------


def older_example() -> dict[str, Any]:
    """Chift's documented example as SDK 0.6.11's spec had it: no hidden_source_ids, no enabled."""
    payload = read_payload("active_pos")
    payload.pop("enabled")
    for mapping in payload["link_mappings"]:
        mapping.pop("hidden_source_ids")
    return payload


def test_a_response_without_hidden_source_ids_flattens_with_one_warning(
    active_pos: dict[str, Any],
) -> None:
    with pytest.warns(MissingFieldsWarning) as record:
        frames = flatten([(C1, older_example()), (C2, older_example())])
    assert len(record) == 1
    assert str(record[0].message) == (
        "fields that Chift's OpenAPI spec requires were missing and read as empty: "
        "link_mappings[].hidden_source_ids (4 times)"
    )
    assert frames.payload_errors.empty
    assert [list(h) for h in frames.mappings.hidden_source_ids] == [[], [], [], []]
    assert not frames.mapping_values.is_hidden.any()
    assert frames.consumer_syncs.enabled.isna().all()
    # everything else is what the current response gives
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        current = flatten([(C1, active_pos)])
    for name in ("flows", "datastores", "datastore_columns", "skipped_mappings"):
        pd.testing.assert_frame_equal(
            frames[name][frames[name].consumer_id == C1], current[name], check_exact=True
        )
    keep = ["mapping_index", "name", "sub_mapping_name", "value_count", "unmapped_count"]
    pd.testing.assert_frame_equal(
        frames.mappings[frames.mappings.consumer_id == C1][keep], current.mappings[keep]
    )


def test_a_record_left_out_does_not_count_its_missing_fields(active_pos: dict[str, Any]) -> None:
    bad = older_example()
    bad["sync_name"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = flatten([(C1, active_pos), (C2, bad)], on_error="collect")
    assert frames.payload_errors.path.tolist() == ["sync_name"]


# -- the account lists: the same exact paths and reasons ------------------------------------------


@pytest.mark.parametrize(
    ("flattener", "items", "path", "message"),
    [
        (
            flatten_consumers,
            [{"consumerid": "c1", "name": "Bakery \ud800"}],
            "[0].name",
            "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode",
        ),
        (
            flatten_consumers,
            [{"consumerid": "c1", "name": "B", "created_on": "9999-12-31T23:00:00-05:00"}],
            "[0].created_on",
            "'9999-12-31T23:00:00-05:00' is outside the years 1 to 9999 once converted to UTC",
        ),
        (
            flatten_syncs,
            [{"syncid": "s1", "name": float("nan"), "consumers": [], "flows": []}],
            "[0].name",
            "expected a string, got NaN",
        ),
        (
            lambda items: flatten_executions("s1", items),
            [
                {
                    "id": "e1",
                    "consumer_id": "c1",
                    "flow_id": "f1",
                    "status": "\udfff",
                    "start": "2026-01-01T00:00:00Z",
                }
            ],
            "[0].status",
            "holds a lone surrogate ('\\udfff'), which UTF-8 cannot encode",
        ),
    ],
)
def test_the_account_lists_name_the_path_and_the_reason(
    flattener: Callable[[Any], Any], items: Any, path: str, message: str
) -> None:
    with pytest.raises(PayloadError) as info:
        flattener(items)
    assert (info.value.path, info.value.message) == (path, message)


# -- what no check names --------------------------------------------------------------------------


def test_an_unforeseen_failure_is_one_error_row_in_collect_mode(
    active_pos: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug met by one record: collect mode keeps the others and says it is a bug."""
    from chift_frames.flatten._columns import _Columns

    add_flow = _Columns._add_flow

    def fragile(self: Any, rec: int, i: int, f: Any) -> str:
        if f.get("name") == "Boom":
            raise RuntimeError("unforeseen")
        return add_flow(self, rec, i, f)

    monkeypatch.setattr(_Columns, "_add_flow", fragile)
    bad = poisoned(lambda p: p["enabled_flows"][0].__setitem__("name", "Boom"))
    frames = flatten([(C1, active_pos), (C2, bad)], on_error="collect")
    assert frames.consumer_syncs.consumer_id.tolist() == [C1]
    assert frames.payload_errors.astype(object).to_dict("records") == [
        {
            "consumer_id": C2,
            "sync_id": S1,
            "path": "",
            "message": "could not be flattened (RuntimeError: unforeseen); "
            "this is a bug in chift_frames, please report it",
        }
    ]
    with pytest.raises(RuntimeError, match="unforeseen"):  # raise mode shows the bug itself
        flatten([(C1, active_pos), (C2, bad)])


def test_keys_that_are_not_strings_do_not_stop_the_batch(active_pos: dict[str, Any]) -> None:
    odd = copy.deepcopy(active_pos)
    odd[1] = "one"  # not JSON, but a Python caller can pass it
    with pytest.warns(UnknownFieldsWarning, match="1"):
        frames = flatten([(C1, odd), (C2, active_pos)], on_error="collect")
    assert frames.consumer_syncs.consumer_id.tolist() == [C1, C2]

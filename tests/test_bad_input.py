"""Bad input: a clear error naming consumer, sync and JSON path, and nothing else lost."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from chift_frames import PayloadError, UnknownFieldsWarning, flatten

C1, C2, C3 = "consumer-1", "consumer-2", "consumer-3"
S1 = "76d8b868-0000-4000-8000-000000000001"


def broken(payload: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    bad = copy.deepcopy(payload)
    change(bad)
    return bad


# (what is broken, how, the expected JSON path, the whole message)
CASES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    ("required syncid", lambda p: p.pop("syncid"), "syncid", "required field is missing"),
    (
        "required link_createdon",
        lambda p: p.pop("link_createdon"),
        "link_createdon",
        "required field is missing",
    ),
    (
        "required trigger type",
        lambda p: p["enabled_flows"][1]["trigger"].pop("type"),
        "enabled_flows[1].trigger.type",
        "required field is missing",
    ),
    (
        "required mapping values",
        lambda p: p["link_mappings"][1].pop("values"),
        "link_mappings[1].values",
        "required field is missing",
    ),
    (
        "required column type",
        lambda p: p["enabled_flows"][0]["config"]["datastores"][0]["definition"]["columns"][1].pop(
            "type"
        ),
        "enabled_flows[0].config.datastores[0].definition.columns[1].type",
        "required field is missing",
    ),
    (
        "list that is a string",
        lambda p: p.__setitem__("link_mappings", "Tax rates"),
        "link_mappings",
        "expected an array or null, got 'Tax rates'",
    ),
    (
        "values that is a string",
        lambda p: p["link_mappings"][0].__setitem__("values", "VAT21"),
        "link_mappings[0].values",
        "expected an array, got 'VAT21'",
    ),
    (
        "hidden ids that is a string",
        lambda p: p["link_mappings"][0].__setitem__("hidden_source_ids", "VAT0"),
        "link_mappings[0].hidden_source_ids",
        "expected an array, got 'VAT0'",
    ),
    (
        "a value that is not an object",
        lambda p: p["link_mappings"][1]["values"].__setitem__(1, "CARD"),
        "link_mappings[1].values[1]",
        "expected an object, got 'CARD'",
    ),
    (
        "a source id that is a number",
        lambda p: p["link_mappings"][1]["values"][2].__setitem__("source_id", 5),
        "link_mappings[1].values[2].source_id",
        "expected a string or null, got 5",
    ),
    (
        "a column title that is null",
        lambda p: p["enabled_flows"][0]["config"]["datastores"][0]["definition"]["columns"][
            2
        ].__setitem__("title", None),
        "enabled_flows[0].config.datastores[0].definition.columns[2].title",
        "expected a string, got null",
    ),
    (
        "unknown trigger type",
        lambda p: p["enabled_flows"][0]["trigger"].__setitem__("type", "cron"),
        "enabled_flows[0].trigger.type",
        "expected one of timer, event, got 'cron'",
    ),
    (
        "unknown status",
        lambda p: p.__setitem__("status", "done"),
        "status",
        "expected one of active, inactive, got 'done'",
    ),
    (
        "unknown skip reason",
        lambda p: p["skip_mappings"][0].__setitem__("skip_reason", "lazy"),
        "skip_mappings[0].skip_reason",
        "expected one of presync, connector_feature, challenge, got 'lazy'",
    ),
    (
        "enabled that is a string",
        lambda p: p.__setitem__("enabled", "yes"),
        "enabled",
        "expected a boolean, got 'yes'",
    ),
    (
        "flow values that is a list",
        lambda p: p["enabled_flows"][0].__setitem__("values", []),
        "enabled_flows[0].values",
        "expected an object, got an array",
    ),
    (
        "metadata that is a string",
        lambda p: p.__setitem__("link_metadata", "pro"),
        "link_metadata",
        "expected an object or null, got 'pro'",
    ),
    (
        "custom fields that hold a string",
        lambda p: p["enabled_flows"][0]["config"].__setitem__("customFields", ["SALES"]),
        "enabled_flows[0].config.customFields[0]",
        "expected an object, got 'SALES'",
    ),
    (
        "a date that is not a date",
        lambda p: p.__setitem__("link_createdon", "yesterday"),
        "link_createdon",
        "'yesterday' is not an ISO 8601 date-time",
    ),
    (
        "a flow date that is not a date",
        lambda p: p["enabled_flows"][1].__setitem__("enabled_on", "2026-13-45"),
        "enabled_flows[1].enabled_on",
        "'2026-13-45' is not an ISO 8601 date-time",
    ),
    (
        "conditions with another key",
        lambda p: p["link_mappings"][1].__setitem__("conditions", {"showIf": {}}),
        "link_mappings[1].conditions",
        "expected only the key hideIf, got 'showIf'",
    ),
]


@pytest.mark.parametrize(("what", "change", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_payload_raises_with_consumer_sync_and_path(
    active_pos: dict[str, Any],
    what: str,
    change: Callable[[dict[str, Any]], Any],
    path: str,
    message: str,
) -> None:
    bad = broken(active_pos, change)
    with pytest.raises(PayloadError) as info:
        flatten([(C1, active_pos), (C2, bad), (C3, active_pos)])
    error = info.value
    assert error.consumer_id == C2
    assert error.sync_id == (None if path == "syncid" else S1)
    assert error.path == path
    assert error.message == message
    assert C2 in str(error) and path in str(error)


@pytest.mark.parametrize(("what", "change", "path", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_collect_keeps_every_other_record(
    active_pos: dict[str, Any],
    what: str,
    change: Callable[[dict[str, Any]], Any],
    path: str,
    phrase: str,
) -> None:
    bad = broken(active_pos, change)
    good = flatten([(C1, active_pos), (C3, active_pos)])
    frames = flatten([(C1, active_pos), (C2, bad), (C3, active_pos)], on_error="collect")
    errors = frames.payload_errors.astype(object).to_dict("records")
    assert len(errors) == 1
    assert errors[0]["consumer_id"] == C2 and errors[0]["path"] == path
    for name in good:
        if name != "payload_errors":
            assert frames[name].equals(good[name]), name
    assert C2 not in set(frames.mapping_values.consumer_id)


@pytest.mark.parametrize("payload", [[], "text", None, 42])
def test_a_payload_that_is_not_an_object(payload: Any) -> None:
    with pytest.raises(PayloadError, match="at the payload root") as info:
        flatten([(C1, payload)])
    assert info.value.path == ""
    assert info.value.sync_id is None


@pytest.mark.parametrize("consumer_id", [None, "", 7])
def test_a_consumer_id_that_is_not_a_string(active_pos: dict[str, Any], consumer_id: Any) -> None:
    with pytest.raises(PayloadError, match="consumer_id must be a non-empty string"):
        flatten([(consumer_id, active_pos)])
    frames = flatten([(consumer_id, active_pos), (C1, active_pos)], on_error="collect")
    assert len(frames.payload_errors) == 1 and len(frames.consumer_syncs) == 1


def test_a_record_that_is_not_a_pair(active_pos: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="record 1: expected \\(consumer_id, payload\\)"):
        flatten([(C1, active_pos), active_pos])  # type: ignore[list-item]


def test_several_bad_records_are_all_collected(active_pos: dict[str, Any]) -> None:
    records = [
        (C1, broken(active_pos, lambda p: p.pop("sync_name"))),
        (C2, active_pos),
        (
            C3,
            broken(
                active_pos,
                lambda p: p["link_mappings"][0]["values"][0].__setitem__("target_id", 451000),
            ),
        ),
        ("consumer-4", ["not", "an", "object"]),
    ]
    frames = flatten(records, on_error="collect")
    assert frames.payload_errors[["consumer_id", "path"]].astype(object).values.tolist() == [
        [C1, "sync_name"],
        ["consumer-4", ""],
        [C3, "link_mappings[0].values[0].target_id"],
    ]
    assert frames.consumer_syncs.consumer_id.tolist() == [C2]


def test_on_error_must_be_known(active_pos: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="on_error must be"):
        flatten([(C1, active_pos)], on_error="ignore")  # type: ignore[arg-type]


def test_unknown_fields_warn_once_and_stay_out(active_pos: dict[str, Any]) -> None:
    extra = copy.deepcopy(active_pos)
    extra["new_top_field"] = 1
    extra["link_mappings"][0]["values"][0]["comment"] = "hi"
    extra["link_mappings"][1]["values"][1]["comment"] = "again"
    extra["enabled_flows"][0]["trigger"]["priority"] = "HIGH"
    extra["enabled_flows"][0]["config"]["datastores"][0]["definition"]["columns"][0]["width"] = 3
    with pytest.warns(UnknownFieldsWarning) as record:
        frames = flatten([(C1, extra), (C2, extra)])
    assert len(record) == 1
    message = str(record[0].message)
    for name in (
        "new_top_field",
        "link_mappings[].values[].comment",
        "enabled_flows[].trigger.priority",
        "enabled_flows[].config.datastores[].definition.columns[].width",
    ):
        assert message.count(name) == 1, name
    plain = flatten([(C1, active_pos), (C2, active_pos)])
    for name in plain:
        assert frames[name].equals(plain[name]), name


def test_a_valid_payload_warns_nothing(active_pos: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flatten([(C1, active_pos)])

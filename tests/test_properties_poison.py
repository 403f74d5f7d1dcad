"""Poison any field of a spec-generated response: collect mode never raises, and isolates it.

A value JSON can carry but the tables cannot (NaN, infinities, integers past 64 bits, lone
surrogates, dates that overflow in UTC, nesting 10,000 deep) replaces one node of a payload
drawn from Chift's spec, or is added to one of its free-form objects. Then, in collect mode:

- no exception escapes;
- the poisoned record gives exactly one ``payload_errors`` row when the value cannot be
  stored there, and none when it can (a huge integer in a free-form object is kept, a date
  string is a fine plain string);
- the good records around it give exactly the rows they give alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chift_frames import flatten

from .spec_strategies import REF, schema_of, sync_consumer_items


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


# name -> a fresh value (built when used: hypothesis never has to show a 10,000-deep list)
POISONS = {
    "NaN": lambda: float("nan"),
    "Infinity": lambda: float("inf"),
    "-Infinity": lambda: float("-inf"),
    "2**63": lambda: 2**63,
    "-(2**63)-1": lambda: -(2**63) - 1,
    "lone surrogate": lambda: "x\ud800",
    "lone low surrogate": lambda: "\udfff",
    "date past 9999 in UTC": lambda: "9999-12-31T23:00:00-05:00",
    "date before year 1 in UTC": lambda: "0001-01-01T00:00:00+01:00",
    "nesting 10,000 deep": lambda: nested(10_000),
}
ALWAYS_BAD = {"NaN", "Infinity", "-Infinity", "lone surrogate", "lone low surrogate"}
ALWAYS_BAD.add("nesting 10,000 deep")


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schema_of(schema["$ref"].removeprefix(REF))
    return schema


def branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(schema)
    if "anyOf" in schema:
        return [b for s in schema["anyOf"] for b in branches(s)]
    return [schema]


def slot_kind(schema: dict[str, Any]) -> str:
    """What a slot accepts, as far as the poisons care: a plain string, a date-time, or other."""
    kinds = set()
    for branch in branches(schema):
        if branch.get("type") == "string" and "enum" not in branch and "const" not in branch:
            kinds.add("date-time" if branch.get("format") == "date-time" else "string")
    return "string" if "string" in kinds else ("date-time" if kinds else "other")


def matches(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return value in schema.get("enum", [schema.get("const")])
    return {
        "null": value is None,
        "boolean": type(value) is bool,
        "integer": type(value) is int,
        "string": type(value) is str,
        "array": type(value) is list,
        "object": type(value) is dict,
    }.get(kind, True)


def slots(value: Any, schema: dict[str, Any], parts: tuple[Any, ...] = ()) -> Iterator[Any]:
    """Every node of ``value``: (its path parts, what its slot accepts)."""
    yield parts, slot_kind(schema)
    branch = next(b for b in branches(schema) if matches(value, b))
    if type(value) is dict:
        properties = branch.get("properties")
        for key, item in value.items():
            if properties:
                yield from slots(item, properties[key], (*parts, key))
            else:  # a free-form object: its values are free-form JSON, or objects (conditions)
                extra = branch.get("additionalProperties")
                yield from slots(item, extra if isinstance(extra, dict) else {}, (*parts, key))
    elif type(value) is list:
        for i, item in enumerate(value):
            yield from slots(item, branch.get("items", {}), (*parts, i))
    # {} (free-form JSON) has no "type": every node under it is a free slot


def free_slots(value: Any, schema: dict[str, Any], parts: tuple[Any, ...] = ()) -> Iterator[Any]:
    """Every free-form object (a dict under a schema without properties)."""
    for path, _ in slots(value, schema, parts):
        node = get(value, path)
        if type(node) is dict and path and is_free(value, schema, path):
            yield path


def free_object(value: Any, branch: dict[str, Any]) -> bool:
    """An object whose keys and values are free (not ``conditions``, whose key is fixed)."""
    return (
        type(value) is dict
        and not branch.get("properties")
        and "propertyNames" not in branch
        and not isinstance(branch.get("additionalProperties"), dict)
    )


def is_free(value: Any, schema: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the node at ``path`` is a free-form object, or inside one."""
    for key in path:
        branch = next(b for b in branches(schema) if matches(value, b))
        if free_object(value, branch) or not branch:
            return True
        if type(value) is dict:
            properties = branch.get("properties")
            extra = branch.get("additionalProperties")
            schema = properties[key] if properties else (extra if isinstance(extra, dict) else {})
        else:
            schema = branch.get("items", {})
        value = value[key]
    branch = next(b for b in branches(schema) if matches(value, b))
    return free_object(value, branch) or (not branch and type(value) is dict)


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def replace(payload: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    get(payload, path[:-1])[path[-1]] = new
    return payload


def under_free(payload: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the node at ``path`` sits inside a free-form object of the payload."""
    return any(is_free(payload, ITEM, path[:n]) for n in range(1, len(path)))


ITEM = {"$ref": REF + "SyncConsumerItem"}


def is_bad(poison: str, kind: str, free: bool) -> bool:
    if poison in ALWAYS_BAD:
        return True
    if free:  # huge integers are kept losslessly, a date is just a string
        return False
    if poison.startswith("date"):
        return kind != "string"
    return True  # an integer past 64 bits: no slot of the spec outside free-form JSON takes it


def check_isolated(goods: list[dict[str, Any]], bad: Any, expect_error: bool) -> None:
    records = [("good-0", goods[0]), ("bad", bad)] + [
        (f"good-{i}", g) for i, g in enumerate(goods[1:], 1)
    ]
    event("an error row" if expect_error else "rows kept")
    frames = flatten(records, on_error="collect")  # must not raise
    errors = frames.payload_errors
    alone = flatten([r for r in records if r[0] != "bad"])
    if expect_error:
        assert errors.consumer_id.tolist() == ["bad"], errors.to_dict("records")
        assert errors.path.notna().all() and (errors.message.str.len() > 0).all()
    else:
        assert errors.empty, errors.to_dict("records")
    for name in alone:
        if name == "payload_errors":
            continue
        got = frames[name]
        got = got[got.consumer_id != "bad"].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone[name], check_exact=True, obj=name)


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@given(
    payload=sync_consumer_items(),
    goods=st.lists(sync_consumer_items(), min_size=1, max_size=2),
    poison=st.sampled_from(sorted(POISONS)),
    data=st.data(),
)
@SETTINGS
def test_a_poison_in_any_field_is_isolated(
    payload: dict[str, Any], goods: list[dict[str, Any]], poison: str, data: st.DataObject
) -> None:
    # pick the kind of slot first (free-form, date-time, string, other), then a node of it
    groups: dict[str, list[tuple[tuple[Any, ...], str]]] = {}
    for path, kind in slots(payload, ITEM):
        free = under_free(payload, path)
        groups.setdefault("free" if free else kind, []).append((path, kind))
    order = [g for g in ("free", "date-time", "string", "other") if g in groups]
    group = groups[data.draw(st.sampled_from(order), label="slot")]
    path, kind = group[data.draw(st.integers(0, len(group) - 1), label="node")]
    free = under_free(payload, path)
    bad = replace(copy.deepcopy(payload), path, POISONS[poison]())
    event(f"slot: {'free' if free else kind}")
    check_isolated(goods, bad, is_bad(poison, kind, free))


@given(
    payload=sync_consumer_items(),
    goods=st.lists(sync_consumer_items(), min_size=1, max_size=2),
    pick=st.integers(0, 10**9),
    poison=st.sampled_from(sorted(POISONS)),
    as_key=st.booleans(),
)
@SETTINGS
def test_a_poison_added_to_a_free_form_object_is_isolated(
    payload: dict[str, Any], goods: list[dict[str, Any]], pick: int, poison: str, as_key: bool
) -> None:
    payload.setdefault("link_metadata", {})  # at least one free-form object
    if payload["link_metadata"] is None:
        payload["link_metadata"] = {}
    objects = list(free_slots(payload, ITEM))
    path = objects[pick % len(objects)]
    bad = copy.deepcopy(payload)
    value = POISONS[poison]()
    if as_key and isinstance(value, str):
        get(bad, path)[value] = 1
    else:
        get(bad, path)["poison"] = value
    check_isolated(goods, bad, is_bad(poison, "free", free=True))

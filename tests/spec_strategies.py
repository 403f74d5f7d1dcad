"""Hypothesis strategies that generate JSON documents from the schemas of Chift's official spec.

A small generator driven by the schema itself: it follows ``$ref``, ``anyOf``, ``enum``,
``const``, ``type``, ``properties``/``required``, ``items``, ``propertyNames`` and the
``uuid``/``date-time`` formats, which is all ``SyncConsumerItem`` and its children use.
(hypothesis-jsonschema 0.23 breaks on current hypothesis releases.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from importlib.resources import files
from typing import Any

from hypothesis import strategies as st

REF = "#/components/schemas/"


@cache
def official_spec() -> dict[str, Any]:
    """Chift's OpenAPI spec, as shipped in the official ``chift`` SDK."""
    return json.loads((files("chift.openapi") / "openapi.json").read_text(encoding="utf-8"))


def schema_of(name: str) -> dict[str, Any]:
    return official_spec()["components"]["schemas"][name]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=8)
    | (st.floats(allow_nan=False, allow_infinity=False))
)
free_form = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
free_object = st.dictionaries(st.text(max_size=8), free_form, max_size=4)

offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
date_times = st.builds(
    lambda moment, tz, style: (
        moment.replace(tzinfo=UTC).astimezone(tz).isoformat().replace("+00:00", "Z")
        if style
        else moment.replace(tzinfo=UTC).astimezone(tz).isoformat()
    ),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    offsets,
    st.booleans(),
)


def from_schema(schema: dict[str, Any], max_items: int = 4) -> st.SearchStrategy[Any]:
    """A strategy for documents that ``schema`` accepts."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return st.deferred(lambda: from_schema(schema_of(name), max_items))
    if "anyOf" in schema:
        return st.one_of([from_schema(s, max_items) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(-1000, 1000)
    if kind == "string":
        if schema.get("format") == "uuid":
            return st.uuids().map(str)
        if schema.get("format") == "date-time":
            return date_times
        return st.text(min_size=schema.get("minLength", 0), max_size=12)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), max_items), max_size=max_items)
    if kind == "object":
        properties = schema.get("properties")
        if not properties:
            names = schema.get("propertyNames")
            value = schema.get("additionalProperties")
            if names is not None and isinstance(value, dict) and value.get("type") == "object":
                return st.dictionaries(from_schema(names), free_object, max_size=1)
            return free_object
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, max_items) for k, v in properties.items() if k in required},
            optional={
                k: from_schema(v, max_items) for k, v in properties.items() if k not in required
            },
        )
    if not schema:
        return free_form
    raise NotImplementedError(f"no generator for schema {schema}")


def unique_flow_ids(payload: dict[str, Any]) -> dict[str, Any]:
    """Make the flow ids of one response distinct, as Chift's are (they key rows)."""
    seen: set[str] = set()
    for i, flow in enumerate(payload.get("enabled_flows") or []):
        while flow["id"] in seen:
            flow["id"] += f"#{i}"
        seen.add(flow["id"])
    return payload


def sync_consumer_items() -> st.SearchStrategy[dict[str, Any]]:
    """``SyncConsumerItem`` responses drawn from the official spec, flow ids distinct."""
    return from_schema({"$ref": REF + "SyncConsumerItem"}).map(unique_flow_ids)

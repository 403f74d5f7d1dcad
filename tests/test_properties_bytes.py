"""flatten reads a response's bytes as it reads the decoded dict: the same tables, the same errors.

The bytes are written as the sandbox writes its answers (``json.dumps``, UTF-8), or with
ASCII escapes; payloads are drawn from Chift's spec, and poisoned as in
``test_properties_poison`` (NaN, infinities, integers past 64 bits, lone surrogates, dates
that overflow in UTC, deep nesting). Whichever path a record takes (typed values, or the dict
path when the typed decoding refuses it), every table, every ``payload_errors`` row (its
path and message) and every warning are those of the dict.
"""

from __future__ import annotations

import copy
import gc
import json
import warnings
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chift_frames import flatten
from chift_frames.canonical_json import to_canonical_json
from chift_frames.errors import PayloadError
from chift_frames.flatten import check_request
from chift_frames.flatten._typed import _canonical, decode

from .spec_strategies import sync_consumer_items
from .test_properties_poison import (
    ITEM,
    POISONS,
    free_slots,
    get,
    nested,
    replace,
    slots,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# json.dumps cannot write 10,000 levels, nor json.loads read them: 200 is past the limit of
# 128 that free-form objects may have, and within what JSON text can carry here
BYTE_POISONS = {**POISONS, "nesting 10,000 deep": lambda: nested(200)}


def to_bytes(payload: Any, ascii_only: bool) -> bytes:
    """Write ``payload`` as an answer's body (as the sandbox does, or with ASCII escapes)."""
    try:
        return json.dumps(payload, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its escape is JSON text
        return json.dumps(payload).encode("utf-8")


def flatten_both(payloads: list[Any], ascii_only: bool) -> tuple[Any, Any, list[str], list[str]]:
    """Flatten the payloads as dicts and as bytes, collecting errors; return both and warnings."""
    records = [(f"c{i}", p) for i, p in enumerate(payloads)]
    bodies = [(c, to_bytes(p, ascii_only)) for c, p in records]
    with warnings.catch_warnings(record=True) as from_dicts:
        warnings.simplefilter("always")
        expected = flatten(records, on_error="collect")
    with warnings.catch_warnings(record=True) as from_bytes:
        warnings.simplefilter("always")
        got = flatten(bodies, on_error="collect")
    return (
        expected,
        got,
        [f"{w.category.__name__}: {w.message}" for w in from_dicts],
        [f"{w.category.__name__}: {w.message}" for w in from_bytes],
    )


def assert_same(payloads: list[Any], ascii_only: bool) -> pd.DataFrame:
    expected, got, warned, warned_bytes = flatten_both(payloads, ascii_only)
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)
    assert warned_bytes == warned
    return got.payload_errors


@given(st.lists(sync_consumer_items(), min_size=1, max_size=5), st.booleans())
@SETTINGS
def test_bytes_and_dicts_give_the_same_tables(payloads: list[Any], ascii_only: bool) -> None:
    errors = assert_same(payloads, ascii_only)
    assert errors.empty, errors.to_dict("records")
    event("typed" if all(decode(to_bytes(p, ascii_only)) for p in payloads) else "dict path")


@given(
    payload=sync_consumer_items(),
    goods=st.lists(sync_consumer_items(), min_size=1, max_size=2),
    poison=st.sampled_from(sorted(BYTE_POISONS)),
    ascii_only=st.booleans(),
    data=st.data(),
)
@SETTINGS
def test_a_poison_in_any_field_gives_the_same_error_from_bytes(
    payload: Any, goods: list[Any], poison: str, ascii_only: bool, data: st.DataObject
) -> None:
    nodes = list(slots(payload, ITEM))
    path, _ = nodes[data.draw(st.integers(0, len(nodes) - 1), label="node")]
    bad = replace(copy.deepcopy(payload), path, BYTE_POISONS[poison]())
    errors = assert_same([goods[0], bad, *goods[1:]], ascii_only)
    event("an error row" if len(errors) else "rows kept")


@given(
    payload=sync_consumer_items(),
    pick=st.integers(0, 10**9),
    poison=st.sampled_from(sorted(BYTE_POISONS)),
    as_key=st.booleans(),
    ascii_only=st.booleans(),
)
@SETTINGS
def test_a_poison_in_a_free_form_object_gives_the_same_error_from_bytes(
    payload: Any, pick: int, poison: str, as_key: bool, ascii_only: bool
) -> None:
    if payload.get("link_metadata") is None:
        payload["link_metadata"] = {}
    objects = list(free_slots(payload, ITEM))
    path = objects[pick % len(objects)]
    value = BYTE_POISONS[poison]()
    if as_key and isinstance(value, str):
        get(payload, path)[value] = 1
    else:
        get(payload, path)["poison"] = value
    assert_same([payload], ascii_only)


def example() -> dict[str, Any]:
    return {
        "syncid": "s1",
        "sync_name": "POS",
        "link_createdon": "2026-02-01T10:00:00Z",
        "link_mappings": [
            {
                "name": "Tax",
                "sub_mapping_name": "VAT",
                "hidden_source_ids": ["V6"],
                "values": [
                    {"source_id": "V21", "target_id": "451"},
                    {"source_id": "V6", "target_id": None},
                ],
            }
        ],
        "link_metadata": {"rate": 0.21, "big": 2**70, "\ue000": 1, "\U0001f600": [1e-7]},
    }


def test_the_example_of_the_issue_from_bytes() -> None:
    body = json.dumps(example()).replace('"V6", "target_id"', 'NaN, "target_id"').encode()
    with pytest.raises(
        PayloadError,
        match=r"at link_mappings\[0\]\.values\[1\]\.source_id: expected a string or null, "
        r"got NaN$",
    ):
        flatten([("c1", body)])


def test_floats_and_keys_that_sort_otherwise_in_utf16_are_canonical_from_bytes() -> None:
    body = json.dumps(example(), ensure_ascii=False).encode()
    assert decode(body) is not None  # the typed path, floats and all
    got, expected = flatten([("c1", body)]), flatten([("c1", example())])
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=True, obj=name)
    assert got.consumer_syncs.link_metadata[0] == to_canonical_json(example()["link_metadata"])
    assert got.mapping_values.is_hidden.tolist() == [False, True]


def test_what_the_typed_values_refuse_warns_as_the_dict_does() -> None:
    older = example()
    del older["link_mappings"][0]["hidden_source_ids"]
    older["newer_field"] = 1
    assert decode(json.dumps(older).encode()) is None
    assert_same([example(), older], ascii_only=False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"syncid": "s1"', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deep to decode"),
    ],
    ids=["cut short", "not UTF-8", "10,000 deep"],
)
def test_a_body_that_is_not_json_is_one_error_and_the_others_are_kept(
    body: bytes, reason: str
) -> None:
    good = json.dumps(example()).encode()
    frames = flatten([("c1", good), ("c2", body), ("c3", good)], on_error="collect")
    assert frames.payload_errors.to_dict("records") == [
        {
            "consumer_id": "c2",
            "sync_id": None,
            "path": "",
            "message": f"the payload is {reason} ({len(body):,} bytes)",
        }
    ]
    assert frames.consumer_syncs.consumer_id.tolist() == ["c1", "c3"]


def test_the_typed_answer_of_another_sync_is_refused_as_the_dict() -> None:
    typed = decode(json.dumps(example()).encode())
    assert typed is not None
    for asked in ("s1", "s2"):
        got, expected = check_request("c1", asked, typed), check_request("c1", asked, example())
        assert (got and got.args) == (expected and expected.args)


def test_msgspec_writes_every_character_as_the_canonical_writer() -> None:
    step = 4096
    for start in range(0, 0x110000, step):
        text = "".join(chr(c) for c in range(start, start + step) if not 0xD800 <= c <= 0xDFFF)
        value = {"k": text, text[:3]: [text[-3:]]}
        assert _canonical(value) == to_canonical_json(value), hex(start)


def test_the_garbage_collector_is_on_again_after_a_flatten_that_raises() -> None:
    body = json.dumps(example()).replace('"V6", "target_id"', 'NaN, "target_id"').encode()
    assert gc.isenabled()
    with pytest.raises(PayloadError):
        flatten([("c1", body)])
    assert gc.isenabled()
    gc.disable()  # and a collector the caller turned off stays off
    try:
        flatten([("c1", json.dumps(example()).encode())])
        assert not gc.isenabled()
    finally:
        gc.enable()

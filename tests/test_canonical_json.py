"""Free-form JSON text is canonical (RFC 8785): equal values give equal text; the refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chift_frames import to_canonical_json
from chift_frames.canonical_json import MAX_DEPTH, CanonicalJsonError, _slow

# Text with what makes canonical JSON hard: controls, quotes, non-BMP characters and the
# U+E000-U+FFFF block (where UTF-16 order and code point order disagree); no lone surrogates.
text = st.text(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(['"', "\\", "\n", "\x00", "\x7f", "\u2028", "\ue000", "\uffff", "😀"]),
    max_size=6,
)
safe_ints = st.integers(-(2**53) + 1, 2**53 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | finite | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
SETTINGS = settings(max_examples=300, deadline=None)


@given(json_values)
@SETTINGS
def test_the_text_is_rfc8785s(value: Any) -> None:
    value = [value]  # a bare None is SQL null, not the text "null"
    assert to_canonical_json(value) == rfc8785.dumps(value).decode("utf-8")


@given(json_values)
@SETTINGS
def test_the_text_reads_back_to_the_same_text(value: Any) -> None:
    text = to_canonical_json([value])
    assert text is not None
    assert to_canonical_json(json.loads(text)) == text


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    )
)
@SETTINGS
def test_the_fast_and_the_slow_path_agree(value: Any) -> None:
    """Integers of any size, every kind of string: the C encoder and the Python writer agree."""
    assert to_canonical_json([value]) == _slow([value])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"n": 1}, {"n": 1.0}),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
        ([1e21], [1e21]),
        ({"x": 0.0}, {"x": -0.0}),
        ({"x": 100}, {"x": 1e2}),
        ({"\ue000": 1, "😀": 2}, {"😀": 2, "\ue000": 1}),
    ],
)
def test_equal_values_give_equal_text(a: Any, b: Any) -> None:
    assert to_canonical_json(a) == to_canonical_json(b)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1.0, "a": [True, None]}, '{"a":[true,null],"b":1}'),
        ([1e21, 1e-7, 0.1, 123.456, -0.0], "[1e+21,1e-7,0.1,123.456,0]"),
        ({"\ue000": 1, "😀": 2}, '{"😀":2,"\ue000":1}'),  # UTF-16 order: U+D83D < U+E000
        ({"s": 'a"b\\c\n\x01'}, '{"s":"a\\"b\\\\c\\n\\u0001"}'),
        ({"big": 2**64 + 1}, '{"big":18446744073709551617}'),  # kept losslessly
        ({}, "{}"),
        (None, None),
    ],
)
def test_known_texts(value: Any, expected: str | None) -> None:
    assert to_canonical_json(value) == expected


def nested(depth: int, leaf: Any = None) -> Any:
    value: Any = [leaf]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("leaf", [None, 1.5], ids=["fast path", "slow path"])
def test_nesting_is_bounded_the_same_way_on_both_paths(leaf: Any) -> None:
    assert (
        to_canonical_json(nested(MAX_DEPTH, leaf))
        == "[" * MAX_DEPTH + ("null" if leaf is None else "1.5") + "]" * MAX_DEPTH
    )
    with pytest.raises(CanonicalJsonError) as info:
        to_canonical_json(nested(MAX_DEPTH + 1, leaf))
    assert info.value.path == "[0]" * MAX_DEPTH
    assert info.value.reason == f"nests deeper than {MAX_DEPTH} levels"
    with pytest.raises(CanonicalJsonError, match="nests deeper"):
        to_canonical_json(nested(10_000, leaf))


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"a": [1, float("nan")]}, ".a[1]", "NaN is not a JSON number"),
        ({"a b": float("inf")}, '["a b"]', "Infinity is not a JSON number"),
        ([float("-inf")], "[0]", "-Infinity is not a JSON number"),
        ({"k": "x\ud800"}, ".k", "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode"),
        (
            {"\udfff": 1},
            '["\\udfff"]',
            "holds a lone surrogate ('\\udfff'), which UTF-8 cannot encode",
        ),
        ({"a": {1: 2.5}}, ".a", "has a key that is not a string: 1"),
        ({"a": {1, 2}}, ".a", "a Python set is not a JSON value"),
        ({"a": 10**5000}, ".a", "the integer has too many digits"),
    ],
)
def test_what_cannot_be_written_names_the_path_and_the_reason(
    value: Any, path: str, reason: str
) -> None:
    with pytest.raises(CanonicalJsonError) as info:
        to_canonical_json(value)
    assert (info.value.path, info.value.reason) == (path, reason)
    assert isinstance(info.value, ValueError)

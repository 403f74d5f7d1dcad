"""SeenIds, the execution ids a listing has shown: the same answers as a dict, in less memory."""

from __future__ import annotations

import tracemalloc
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from chift_frames.fetch._seen import SeenIds

ids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),  # another id than its lowercase: the dict
    st.text(max_size=40),  # longer than 36, not ASCII, NULs: kept in the dict
    st.sampled_from(["a", "a\x00", "A", "", "é", "x" * 36, "x" * 37]),
)
marks = st.integers(min_value=0, max_value=2**120)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(ids, marks, max_size=30), max_size=12), st.lists(ids, max_size=30))
def test_it_answers_as_a_dict_would(groups: list[dict[str, int]], asked: list[str]) -> None:
    seen, reference = SeenIds(), {}
    for group in groups:
        new = {k: v for k, v in group.items() if k not in reference}
        assert seen.lookup(list(group)) == [reference.get(k) for k in group]
        seen.add(new)
        reference.update(new)
        assert len(seen) == len(reference)
    assert seen.lookup(asked) == [reference.get(k) for k in asked]


def test_a_million_ids_take_a_fraction_of_a_dicts_memory() -> None:
    keys = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(200_000)]
    tracemalloc.start()
    seen = SeenIds()
    for start in range(0, len(keys), 20_000):  # in groups, as pages come
        seen.add({k: (start + i) << 64 | i for i, k in enumerate(keys[start : start + 20_000])})
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(seen) == len(keys)
    assert held < 45 * len(keys), held  # a dict of str -> int: about 230 bytes an id
    assert seen.lookup([keys[123_456], "nope"]) == [(120_000 + 3_456) << 64 | 3_456, None]

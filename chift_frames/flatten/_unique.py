"""Entries a list answer names twice: each key is kept once, the copies left out are counted. Pure.

Chift's list answers (consumers, syncs, a sync's flows and mappings, a consumer's connections,
executions pages) can name the same entry twice. Every table keeps one row per key, and the
copy it keeps is the **first**, in the order of the answer (for executions, of the pages as
they were read):

- identical copies lose nothing, and any copy would do; the first is the one a reader of the
  answer meets first, and a rebuild from the raw responses, read in the same order, keeps the
  same one;
- a conflicting copy (same key, other content) contradicts the first, and nothing in the
  answer says which is right: the first is kept for the same reasons, and the copy left out is
  counted apart from the identical ones, so that a harmless repeat and an answer that
  contradicts itself can be told apart.

Each copy left out is a :class:`Duplicate`. Given a list to collect them in, the flatteners
append to it (a fetch records the counts in the snapshot's manifest, ``info.duplicates``);
without one, they warn once per answer with
:class:`~chift_frames.errors.DuplicateEntriesWarning`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import DuplicateEntriesWarning
from ._checks import _safe_text


@dataclass(frozen=True)
class Duplicate:
    """A copy of an entry that a list answer names again, left out of ``table``.

    Attributes
    ----------
    table : str
        The table the entry is a row of (``consumers``, ``sync_flows``, ``executions``...).
    key : str
        The entry's key, as text (``'c1'``, or ``'s1', 'f2'`` for a key of two parts).
    path : str
        JSON path of the copy left out, in the answer (``[5]``, ``[0].flows[3]``).
    first : str
        JSON path of the copy kept.
    identical : bool
        Whether the copy left out is equal to the one kept.
    """

    table: str
    key: str
    path: str
    first: str
    identical: bool


def fingerprint(item: Any) -> int:
    """Hash an entry's content: equal entries have equal fingerprints (within a process)."""
    try:
        return hash(tuple(sorted(item.items())))
    except (TypeError, AttributeError):  # nested or unorderable values: hash their JSON text
        return hash(json.dumps(item, sort_keys=True, default=repr))


def _key_text(key: Any) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return ", ".join(repr(_safe_text(p)) for p in parts)


def repeats(
    items: list[Any],
    key_of: Callable[[dict[str, Any]], Any],
    table: str,
    at: str,
    found: list[Duplicate],
    scope: tuple[str, ...] = (),
) -> set[int]:
    """Return the positions in ``items`` whose key an earlier entry has; note each in ``found``.

    ``key_of`` reads an entry's key, or returns None when it has none that can be read (such
    an entry is kept, for the walk to say what is wrong with it); entries that are not
    objects are kept too, for the same reason. ``scope`` (a sync id...) prefixes the key as
    :class:`Duplicate` names it.
    """
    first: dict[Any, int] = {}
    left_out: set[int] = set()
    for i, item in enumerate(items):
        if type(item) is not dict:
            continue
        own = key_of(item)
        if own is None:
            continue
        key = (*scope, *own) if isinstance(own, tuple) else (*scope, own) if scope else own
        try:
            j = first.setdefault(key, i)
        except TypeError:  # an unhashable "id" (an object): the walk refuses it
            continue
        if j != i:
            left_out.add(i)
            same = item == items[j]
            found.append(Duplicate(table, _key_text(key), f"{at}[{i}]", f"{at}[{j}]", same))
    return left_out


def text_key(*names: str) -> Callable[[dict[str, Any]], Any]:
    """Return a ``key_of`` for :func:`repeats`: fields ``names``, None unless all are strings."""

    def key_of(item: dict[str, Any]) -> Any:
        values = tuple(item.get(name) for name in names)
        if not all(type(v) is str for v in values):
            return None
        return values[0] if len(values) == 1 else values

    return key_of


def describe(found: Iterable[Duplicate], what: str) -> str:
    """One line on the copies left out of one answer: how many, and the first few."""
    found = list(found)
    identical = sum(d.identical for d in found)
    counts = []
    if identical:
        counts.append(f"{identical:,} identical")
    if len(found) - identical:
        counts.append(f"{len(found) - identical:,} conflicting")
    shown = "; ".join(
        f"{d.table} {d.key} at {d.path} repeats {d.first}"
        + ("" if d.identical else " with other values")
        for d in found[:3]
    )
    more = f"; and {len(found) - 3:,} more" if len(found) > 3 else ""
    return (
        f"{what}: {' and '.join(counts)} repeated {'entry' if len(found) == 1 else 'entries'} "
        f"left out, the first copy of each kept ({shown}{more})"
    )


def settle(
    found: list[Duplicate], duplicates: list[Duplicate] | None, what: str, stacklevel: int
) -> None:
    """Hand the copies left out to the caller's list, or warn once when it gave none."""
    if duplicates is not None:
        duplicates.extend(found)
    elif found:
        warnings.warn(DuplicateEntriesWarning(describe(found, what)), stacklevel=stacklevel + 1)


def count(found: Iterable[Duplicate]) -> dict[str, dict[str, int]]:
    """Count the copies left out by table: ``{"consumers": {"identical": 2, "conflicting": 0}}``."""
    out: dict[str, dict[str, int]] = {}
    for d in found:
        counts = out.setdefault(d.table, {"identical": 0, "conflicting": 0})
        counts["identical" if d.identical else "conflicting"] += 1
    return out

"""The execution ids a listing has shown so far, kept in arrays rather than a dict.

A fetch keeps every execution id of a listing to store each execution once and to name the
repeats. A heavy account lists millions: in a dict, with the id's ``str`` and an ``int``
for where it was first listed, that is about 230 bytes an execution, and the fetch's memory
would grow with the account. Here an id written as a UUID in lowercase (Chift's are) is kept
as its 16 bytes in sorted numpy arrays, with the two 64-bit words of its mark beside them: 32
bytes an execution. Any other id stays in a dict, as before, so every id is told apart exactly.

The arrays are runs merged as they grow (two runs merge when the older is at most twice the
newer), so a lookup searches a few runs and each id is copied a logarithmic number of times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SeenIds"]

_MASK = 2**64 - 1
_NIBBLE = np.full(256, 255, dtype=np.uint8)  # a lowercase hex digit's value; 255 otherwise
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_DASHES = [8, 13, 18, 23]
_DIGITS = [i for i in range(36) if i not in _DASHES]


def _packed(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the 16 bytes of each key (``S16``) and whether it is a lowercase UUID's text.

    Keys that are not are given bytes of no meaning, and False.
    """
    text = [k if len(k) == 36 and k.isascii() else "" for k in keys]
    chars = np.array(text, dtype="S36").view(np.uint8).reshape(len(text), 36)
    nibbles = _NIBBLE[chars[:, _DIGITS]]
    is_uuid = (chars[:, _DASHES] == ord("-")).all(axis=1) & (nibbles != 255).all(axis=1)
    raw = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
    return raw.view("S16").reshape(len(text)), is_uuid


class SeenIds:
    """A mapping from execution id to its mark (an ``int`` of at most 128 bits).

    Only what the fetch needs: :meth:`lookup` many ids at once, :meth:`add` ids not seen yet
    with their marks, and ``len``.

    Examples
    --------
    >>> seen = SeenIds()
    >>> seen.add({"a": 1 << 70 | 5, "b": 7})
    >>> seen.lookup(["b", "c", "a"]) == [7, None, 1 << 70 | 5]
    True
    >>> len(seen)
    2
    """

    def __init__(self) -> None:
        # each run: sorted keys, and the high and low 64 bits of each key's mark
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._other: dict[str, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def lookup(self, keys: Sequence[str]) -> list[int | None]:
        """Return the mark of each key, or None for a key not seen."""
        found: list[int | None] = [None] * len(keys)
        if not keys:
            return found
        packed, is_uuid = _packed(keys)
        if self._other:
            for i in np.flatnonzero(~is_uuid).tolist():
                found[i] = self._other.get(keys[i])
        where = np.flatnonzero(is_uuid)
        wanted = packed[where]
        for run_keys, high, low in self._runs:
            at = np.searchsorted(run_keys, wanted)
            inside = at < len(run_keys)
            hit = np.zeros(len(wanted), dtype=bool)
            hit[inside] = run_keys[at[inside]] == wanted[inside]
            for j in np.flatnonzero(hit).tolist():
                k = int(at[j])
                found[int(where[j])] = int(high[k]) << 64 | int(low[k])
        return found

    def add(self, marks: dict[str, int]) -> None:
        """Add ids not seen yet, each with its mark."""
        if not marks:
            return
        self._count += len(marks)
        keys = list(marks)
        packed, is_uuid = _packed(keys)
        values = list(marks.values())
        for i in np.flatnonzero(~is_uuid).tolist():
            self._other[keys[i]] = values[i]
        where = np.flatnonzero(is_uuid)
        if not len(where):
            return
        high = np.array([values[i] >> 64 for i in where.tolist()], dtype=np.uint64)
        low = np.array([values[i] & _MASK for i in where.tolist()], dtype=np.uint64)
        self._push(packed[where], high, low)

    def _push(self, keys: np.ndarray, high: np.ndarray, low: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], high[order], low[order]))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            newer = self._runs.pop()
            older = self._runs.pop()
            keys = np.concatenate((older[0], newer[0]))
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            high = np.concatenate((older[1], newer[1]))[order]
            low = np.concatenate((older[2], newer[2]))[order]
            del older, newer, order
            self._runs.append((keys, high, low))

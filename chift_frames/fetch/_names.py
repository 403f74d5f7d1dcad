"""The ``--sync`` and ``--consumer`` a user gives, by id or by name, as ids: pure, no I/O.

People know their syncs and consumers by name ("POS → Accounting", "Bakery Dupont"); the API
keys them by id. Each value given is an id the account lists, else the name of exactly one
entry; an unknown or ambiguous value is refused in one line that lists close matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from ..errors import NotFoundError

__all__ = ["resolve_names"]

_SHOWN = 5  # entries named in an error, at most


def resolve_names(
    given: Iterable[str],
    entries: Sequence[tuple[str, str | None]],
    what: str,
    endpoint: str,
) -> list[str]:
    """Return the id of each of ``given``: an id in ``entries``, or the name of one entry.

    Parameters
    ----------
    given : iterable of str
        What the user gave, ids or names, in order.
    entries : sequence of (id, name)
        What the account lists (``GET /syncs`` or ``GET /consumers``).
    what : str
        ``"sync"`` or ``"consumer"``, for the messages.
    endpoint : str
        The request the entries come from, for the error.

    Raises
    ------
    NotFoundError
        For a value that is neither an id nor a name of the account, or the name of
        several entries; one line naming close matches, each ``name (id)``.

    Examples
    --------
    >>> entries = [("s1", "POS → Accounting"), ("s2", "Invoices")]
    >>> resolve_names(["POS → Accounting", "s2"], entries, "sync", "GET /syncs")
    ['s1', 's2']
    """
    ids = {entry_id for entry_id, _ in entries}
    by_name: dict[str, list[str]] = {}
    by_folded: dict[str, list[str]] = {}
    for entry_id, name in entries:
        if name:
            by_name.setdefault(name, []).append(entry_id)
            by_folded.setdefault(name.strip().casefold(), []).append(entry_id)
    out = []
    for value in given:
        if value in ids:
            out.append(value)
            continue
        found = by_name.get(value) or by_folded.get(value.strip().casefold()) or []
        if len(found) == 1:
            out.append(found[0])
            continue
        if found:
            shown = ", ".join(found[:_SHOWN]) + (" ..." if len(found) > _SHOWN else "")
            raise NotFoundError(
                f"{len(found):,} {what}s are named {value!r} ({shown}): give the --{what} by id",
                endpoint=endpoint,
            )
        close = difflib.get_close_matches(value, list(by_name), n=_SHOWN, cutoff=0.5)
        close += [n for n in by_name if value.casefold() in n.casefold() and n not in close]
        if close:
            hint = "close matches: " + _listed(close[:_SHOWN], by_name)
        elif by_name:
            hint = f"its {what}s include: " + _listed(list(by_name)[:_SHOWN], by_name)
        else:
            hint = f"its {what}s: " + (", ".join(sorted(ids)[:_SHOWN]) or "none")
        raise NotFoundError(
            f"no {what} {value!r} in this account, by id or by name; {hint}", endpoint=endpoint
        )
    return out


def _listed(names: list[str], by_name: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} ({', '.join(by_name[name])})" for name in names)

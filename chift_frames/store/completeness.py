"""How whole a snapshot is: partial (its fetch failed in part or stopped), filtered, or whole.

One place decides it, from the manifest alone (its status, the pairs fetched, failed and
expected, and the filters of its fetch), so that every reader that says so (``summary``,
``query``, ``report`` and its page, ``diff``, ``trends``, ``load``) says the same, in one
line. Pure: it reads no file; callers hand it a manifest or the rows of ``list_snapshots``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._shell import resume_command

__all__ = [
    "Completeness",
    "briefs",
    "completeness",
    "completeness_of_listed",
    "failures",
]

_SHOWN_IDS = 3  # ids of each filter shown in a note; the rest are counted


@dataclass(frozen=True)
class Completeness:
    """What a snapshot holds against what its fetch set out to get.

    Attributes
    ----------
    snapshot_id : str
        The snapshot.
    is_partial : bool
        Its status is ``partial``: some pairs failed, or the fetch stopped.
    interrupted : bool
        A partial snapshot whose fetch was stopped (Ctrl-C, an error) rather than finished.
    pairs_ok, pairs_failed : int or None, int
        Pairs fetched, and pairs failed (None: not a fetch, such as ``save``).
    pairs_expected : int or None
        The pairs the fetch set out to get (after its filters), when it recorded them.
    filters : tuple of str
        Every option that narrowed the fetch, as typed on the command line, ids sorted, such
        as ``("--sync 1f2e…", "--consumer 9a8b…")``; empty for a fetch of the whole account.
        Two snapshots with equal ``filters`` hold the same part of the account.
    failed : str
        What failed, and the tables that say so (see :func:`failures`); ``""`` for nothing.
    """

    snapshot_id: str
    is_partial: bool
    interrupted: bool
    pairs_ok: int | None
    pairs_failed: int
    pairs_expected: int | None
    filters: tuple[str, ...]
    failed: str = ""

    @property
    def is_filtered(self) -> bool:
        """Whether the fetch read only some syncs or consumers of the account."""
        return bool(self.filters)

    @property
    def is_whole(self) -> bool:
        """Neither partial nor filtered: the whole account, every pair fetched."""
        return not self.is_partial and not self.is_filtered

    @property
    def filter_text(self) -> str:
        """The filters in one phrase, such as ``--sync s1 --sync s2 (+3 more)``; or ``""``.

        Up to three ids of each option are named; the others are counted.
        """
        shown: list[str] = []
        for flag in dict.fromkeys(option.split(" ", 1)[0] for option in self.filters):
            given = [option for option in self.filters if option.split(" ", 1)[0] == flag]
            shown += given[:_SHOWN_IDS]
            if len(given) > _SHOWN_IDS:
                shown[-1] += f" (+{len(given) - _SHOWN_IDS:,} more)"
        return " ".join(shown)

    @property
    def state(self) -> str:
        """What the snapshot is, such as ``partial`` or ``filtered (--sync s1) and partial``."""
        partial = "interrupted" if self.interrupted else "partial"
        if self.is_filtered:
            filtered = f"filtered ({self.filter_text})"
            return f"{filtered} and {partial}" if self.is_partial else filtered
        return partial if self.is_partial else "complete"

    @property
    def phrase(self) -> str:
        """The state with its verb: ``is partial``, ``was interrupted``, ``is filtered (…)``."""
        verb = "was" if self.interrupted and not self.is_filtered else "is"
        return f"{verb} {self.state}"

    @property
    def expected_text(self) -> str:
        """The pairs expected: ``943``; ``at least 42`` for an interrupted older fetch.

        A fetch records them; for an older manifest they are the pairs fetched and failed,
        a lower bound when the fetch stopped before it tried them all.
        """
        if self.pairs_expected is not None:
            return f"{self.pairs_expected:,}"
        tried = (self.pairs_ok or 0) + self.pairs_failed
        return f"at least {tried:,}" if self.interrupted else f"{tried:,}"

    @property
    def counts(self) -> str:
        """Pairs fetched against pairs expected, such as ``118 of 943 pairs fetched``."""
        done, failed = self.pairs_ok, self.pairs_failed
        if done is None:
            return "its fetch did not finish" if self.is_partial else "not a fetch"
        if not self.is_partial:
            return f"{done:,} {_plural(done, 'pair')} fetched"
        of = self.pairs_expected if self.pairs_expected is not None else done + failed
        errors = f", {self.failed}" if self.failed else ""
        return f"{done:,} of {self.expected_text} {_plural(of, 'pair')} fetched{errors}"

    def resume_command(self, root: str) -> str:
        """Return the command that finishes this snapshot's fetch, quoted for a shell."""
        return resume_command(root, self.snapshot_id)

    def note(self, root: str) -> str | None:
        """Return one line on what the snapshot lacks, or None for a whole one.

        A partial snapshot's line ends with the command that finishes it (``root`` as the
        user typed it, see ``display_root``).

        Examples
        --------
        >>> c = completeness({"snapshot_id": "s1", "status": "partial",
        ...     "info": {"pairs_ok": 8, "pairs_failed": 2, "pairs_expected": 10}})
        >>> c.note("data/acme")
        'snapshot s1 is partial: 8 of 10 pairs fetched, 2 errors (table fetch_errors); \
finish it with: chift-frames fetch --out data/acme --resume s1'
        >>> c = completeness({"snapshot_id": "s2", "status": "complete",
        ...     "info": {"pairs_ok": 5, "filters": {"sync_ids": ["y"], "consumer_ids": []}}})
        >>> c.note("data/acme")
        'snapshot s2 is filtered (--sync y): 5 pairs fetched, only those the filter chose, \
not the whole account'
        """
        if self.is_whole:
            return None
        head = f"snapshot {self.snapshot_id} {self.phrase}: {self.counts}"
        if self.is_partial:
            return f"{head}; finish it with: {self.resume_command(root)}"
        return f"{head}, only those the filter chose, not the whole account"

    @property
    def brief(self) -> str:
        """The snapshot in a few words, for a list: ``s1: partial, 8 of 10 pairs fetched``."""
        return f"{self.snapshot_id}: {self.state}, {self.counts}"


def completeness(manifest: Mapping[str, Any]) -> Completeness:
    """Return how whole the snapshot of ``manifest`` is (a manifest as the store reads it).

    Only ``snapshot_id``, ``status`` and ``info`` are read. A fetch's ``--sync``,
    ``--consumer`` and ``--consumers-status enabled|not_enabled`` make it filtered;
    ``consumers_status="all"`` is the API's default, and no filter.
    """
    info = manifest.get("info") or {}
    is_partial = manifest.get("status") == "partial"
    filters = info.get("filters") or {}
    chosen: list[str] = []
    if isinstance(filters, Mapping):
        chosen += _options("--sync", filters.get("sync_ids"))
        chosen += _options("--consumer", filters.get("consumer_ids"))
        if filters.get("consumers_status") in ("enabled", "not_enabled"):
            chosen.append(f"--consumers-status {filters['consumers_status']}")
    ok, expected = info.get("pairs_ok"), info.get("pairs_expected")
    return Completeness(
        snapshot_id=str(manifest["snapshot_id"]),
        is_partial=is_partial,
        # a resumed fetch keeps the old run's facts: only a partial snapshot was interrupted
        interrupted=is_partial and bool(info.get("interrupted")),
        pairs_ok=None if ok is None else int(ok),
        pairs_failed=int(info.get("pairs_failed") or 0),
        pairs_expected=None if expected is None else int(expected),
        filters=tuple(chosen),
        failed=failures(manifest),
    )


def failures(manifest: Mapping[str, Any]) -> str:
    """Return what a fetch's error tables name, each thing once, and the tables that hold them.

    Empty when nothing failed.

    Examples
    --------
    >>> failures({"info": {"pairs_failed": 0, "executions_failed": 0, "connections_failed": 6},
    ...           "rows": {"fetch_errors": 0, "payload_errors": 6}})
    'the connections of 6 consumers failed (table payload_errors)'
    """
    info = manifest.get("info") or {}
    rows = manifest.get("rows") or {}
    tables = [name for name in ("fetch_errors", "payload_errors") if rows.get(name)]
    shown = tables or ["fetch_errors"]
    where = f" ({_plural(len(shown), 'table')} {' and '.join(shown)})"
    failed = int(info.get("pairs_failed") or 0)
    if "connections_failed" not in info:  # before 0.x, pairs_failed counted every error row
        return f"{failed:,} {_plural(failed, 'error')}{where}" if failed else ""
    parts = [f"{failed:,} {_plural(failed, 'pair')} failed"] if failed else []
    syncs, consumers = int(info.get("executions_failed") or 0), int(info["connections_failed"])
    if syncs:
        parts.append(f"the executions of {syncs:,} {_plural(syncs, 'sync')} failed")
    if consumers:
        parts.append(f"the connections of {consumers:,} {_plural(consumers, 'consumer')} failed")
    if not parts and tables:  # rows that name neither a pair, a sync nor a consumer
        count = sum(rows[t] for t in tables)
        parts.append(f"{count:,} {_plural(count, 'error')}")
    return ", ".join(parts) + where if parts else ""


def completeness_of_listed(snapshots: Any) -> list[Completeness]:
    """Return how whole each snapshot is, in order, from the frame of ``list_snapshots``.

    Any mapping of its ``snapshot_id``, ``status`` and ``info_json`` columns will do.
    """
    return [
        completeness({"snapshot_id": sid, "status": status, "info": json.loads(info)})
        for sid, status, info in zip(
            snapshots["snapshot_id"], snapshots["status"], snapshots["info_json"], strict=True
        )
    ]


def briefs(snapshots: Iterable[Completeness], shown: int = 5) -> str:
    """Return the briefs of ``snapshots`` in one phrase, the first ``shown`` of them named."""
    listed = list(snapshots)
    text = "; ".join(c.brief for c in listed[:shown])
    return text + (f"; and {len(listed) - shown:,} more" if len(listed) > shown else "")


def _options(flag: str, ids: object) -> list[str]:
    if not isinstance(ids, Iterable) or isinstance(ids, str | bytes):
        return []
    return [f"{flag} {i}" for i in sorted({str(i) for i in ids})]


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"

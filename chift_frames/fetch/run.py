"""Fetch a snapshot: list the pairs, run the workers, commit; resume what a run left."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from .._progress import progress_bar
from .._shell import resume_command
from .._version import __version__
from ..client import ChiftClient
from ..errors import (
    NotFoundError,
    PayloadError,
    UnreachableError,
)
from ..flatten import (
    Duplicate,
    flatten_consumers,
    flatten_sync_definitions,
)
from ..schema import to_pandas
from ..store import SnapshotWriter
from ..store.execlog import known_rows, plan_executions
from ..store.manifests import current_manifests, is_part_of
from ._common import CONSUMERS, SYNCS, _is_syncs_list, _iso, _now, _pair_columns, _Raw
from ._names import resolve_names
from ._workers import _Run

log = logging.getLogger(__name__)


@dataclass
class FetchResult:
    """What a fetch left behind.

    ``pairs_failed`` counts the pairs that ``fetch_errors`` and ``payload_errors`` name,
    each once; ``executions_failed`` the syncs whose executions failed, and
    ``connections_failed`` the consumers whose connections failed (rows of those tables
    without a consumer, or without a sync). ``pairs_ok + pairs_failed == pairs`` unless the
    fetch was interrupted. ``duplicates`` counts, by table, the entries left out because a list
    answer repeated them (``{"consumers": {"identical": 2, "conflicting": 0}}``), as the
    manifest's ``info.duplicates`` does.
    """

    snapshot_id: str
    root: Path
    status: str
    pairs: int
    pairs_ok: int
    pairs_failed: int
    errors: pd.DataFrame = field(repr=False)
    executions_failed: int = 0
    connections_failed: int = 0
    payload_errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every pair came back."""
        return self.status == "complete"


def list_pairs(
    syncs: list[dict[str, Any]], sync_ids: Iterable[str] = (), consumer_ids: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Return the (consumer_id, sync_id) pairs a ``GET /syncs`` body names, filtered, in order.

    Raises
    ------
    PayloadError
        When a consumer id is not a non-empty string (naming where in the body).
    """
    want_syncs, want_consumers = set(sync_ids), set(consumer_ids)
    known = {s.get("syncid") for s in syncs}
    for missing in sorted(want_syncs - known):
        log.warning("sync %s is not in GET /syncs; nothing to fetch for it", missing)
    seen: set[tuple[str, str]] = set()
    pairs = []
    for i, sync in enumerate(syncs):
        sync_id = sync["syncid"]
        if want_syncs and sync_id not in want_syncs:
            continue
        for j, consumer_id in enumerate(sync["consumers"]):
            if not isinstance(consumer_id, str) or not consumer_id:
                raise PayloadError(
                    f"a consumer id must be a non-empty string, got {type(consumer_id).__name__}",
                    sync_id=sync_id,
                    path=f"[{i}].consumers[{j}]",
                )
            pair = (consumer_id, sync_id)
            if (want_consumers and consumer_id not in want_consumers) or pair in seen:
                continue
            seen.add(pair)
            pairs.append(pair)
    return pairs


def _ids_of_names(
    syncs: list[dict[str, Any]], consumers: Any, sync_ids: list[str], consumer_ids: list[str]
) -> tuple[list[str], list[str]]:
    """Return the ``--sync`` and ``--consumer`` values as ids: each is an id or a name."""
    sync_entries = [
        (str(s["syncid"]), s.get("name") if isinstance(s.get("name"), str) else None)
        for s in syncs
        if isinstance(s.get("syncid"), str)
    ]
    ids, names = list(consumers["consumer_id"]), list(consumers["name"])
    listed = dict(zip(ids, names, strict=True))
    linked = {c for s in syncs for c in s.get("consumers") or [] if isinstance(c, str)}
    consumer_entries = [*listed.items(), *((c, None) for c in sorted(linked - set(listed)))]
    return (
        sorted(set(resolve_names(sync_ids, sync_entries, "sync", "GET /syncs"))),
        sorted(set(resolve_names(consumer_ids, consumer_entries, "consumer", "GET /consumers"))),
    )


def _check_filters(
    syncs: list[dict[str, Any]], sync_ids: list[str], consumer_ids: list[str]
) -> None:
    """Refuse a ``--sync`` or ``--consumer`` that the account does not have, before writing.

    Raises
    ------
    NotFoundError
        Naming every id that ``GET /syncs`` does not list (a consumer: in none of the syncs
        asked for), and the ids it does list.
    """
    known = [str(s["syncid"]) for s in syncs if isinstance(s.get("syncid"), str)]
    unknown = [s for s in sync_ids if s not in known]
    if unknown:
        raise NotFoundError(
            f"no sync {', '.join(map(repr, unknown))} in this account; its syncs: "
            f"{', '.join(known) or 'none'}",
            endpoint="GET /syncs",
        )
    chosen = [s for s in syncs if not sync_ids or s.get("syncid") in sync_ids]
    linked = {c for s in chosen for c in s.get("consumers") or [] if isinstance(c, str)}
    missing = [c for c in consumer_ids if c not in linked]
    if missing:
        which = "the syncs asked for" if sync_ids else "any sync of this account"
        raise NotFoundError(
            f"consumer {', '.join(map(repr, missing))} is not linked to {which}, so it has "
            "nothing to fetch (GET /syncs lists each sync's consumers; --consumers-status "
            "widens the list)",
            endpoint="GET /syncs",
        )


def _progress(total: int, enabled: bool | None, what: str) -> Any:
    # a pair, a sync's executions or a consumer's connections: each one fetch
    return progress_bar(total, enabled, f"fetching {what}", " fetches")


def fetch_snapshot(
    client: ChiftClient,
    root: str | os.PathLike[str],
    *,
    sync_ids: Iterable[str] = (),
    consumer_ids: Iterable[str] = (),
    consumers_status: str | None = None,
    concurrency: int = 8,
    batch_size: int = 500,
    resume: str | None = None,
    progress: bool | None = None,
    executions_since: datetime | None = None,
    executions_until: datetime | None = None,
    executions: bool = True,
    connections: bool = True,
    connection_data: bool = False,
    on_start: Callable[[str], None] | None = None,
) -> FetchResult:
    """Fetch every (consumer, sync) pair into a new snapshot of the dataset at ``root``.

    Parameters
    ----------
    client : ChiftClient
        The client to fetch with (its ``max_rps`` caps the request rate).
    root : str or path
        The dataset folder.
    sync_ids, consumer_ids : iterable of str
        Only these syncs, only these consumers (default: all).
    consumers_status : {"all", "enabled", "not_enabled"}, optional
        Passed to ``GET /syncs`` to list only consumers who enabled a flow, or only the others.
    concurrency : int, default 8
        Requests in flight at once: the pairs and the executions pages share the workers.
    batch_size : int, default 500
        Responses flattened and written together, at most (an eighth of the pairs when that
        is fewer, but not under 64, so the writing overlaps the fetching).
    resume : str, optional
        Id of an interrupted or partial snapshot: fetch only its pairs still missing or failed,
        with the filters of the first run.
    progress : bool, optional
        Show a progress bar; by default only when standard error is a terminal.
    executions_since : datetime, optional
        Fetch the executions of every sync in scope that started since then, through the
        paged ``GET /syncs/{syncid}/executions`` (default: the last 30 days). The window
        ends when the fetch starts, so runs that begin while the pages are read cannot shift
        them; each execution is kept once. A fetch after an earlier one asks only for the
        executions since that one's window end (less an hour), and again for each run it saw
        still running; the executions it read before stay in the log, stored once
        (``docs/tables.md``). A fetch filtered by consumer reads and keeps its whole window.
    executions_until : datetime, optional
        The end of the executions window (default: when the fetch starts).
    executions : bool, default True
        Whether to fetch executions at all.
    connections : bool, default True
        Whether to fetch the connections of every consumer in scope
        (``GET /consumers/{consumer_id}/connections``), through the same workers.
    connection_data : bool, default False
        Keep each connection's ``data``, which may hold the consumer's own settings, in the
        ``connections`` table and in the raw responses. Without it, ``data`` is left out of
        both (the raw body is stored with every ``data`` set to null).
    on_start : callable, optional
        Called with the snapshot id as soon as the snapshot exists, before the pairs are
        fetched (the CLI prints how to resume it if the run dies).

    Returns
    -------
    FetchResult
        The snapshot id, its status (``complete`` or ``partial``) and the failed pairs.

    Raises
    ------
    AuthError
        When Chift refuses the credentials; what was fetched stays in the snapshot, which
        ``resume`` can finish. An error or an interrupt after the snapshot was created
        carries a note (``add_note``) naming the snapshot and the command that resumes it.
    UnreachableError
        When the API gave no answer at all for the client's ``give_up_after`` seconds: the
        fetch stops there rather than retrying every pair, and saves what it got as a
        partial snapshot (its id in the error's ``snapshot_id``), which ``resume`` finishes.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if consumers_status not in (None, "all", "enabled", "not_enabled"):
        raise ValueError("consumers_status must be all, enabled or not_enabled")
    filters: dict[str, Any] = {
        "sync_ids": sorted(set(sync_ids)),
        "consumer_ids": sorted(set(consumer_ids)),
        "consumers_status": consumers_status,
    }
    lists: dict[str, Any] | None = None
    duplicates: list[Duplicate] = []  # entries the account lists repeat
    if resume is None:
        # the lists come first: bad credentials leave nothing behind
        syncs_body, lists = _fetch_lists(client, consumers_status, duplicates)
        filters["sync_ids"], filters["consumer_ids"] = _ids_of_names(
            syncs_body, lists["consumers"], filters["sync_ids"], filters["consumer_ids"]
        )
        _check_filters(syncs_body, filters["sync_ids"], filters["consumer_ids"])
    writer = SnapshotWriter(
        Path(root), resume, resume=resume is not None, info={"package_version": __version__}
    )
    assert writer.snapshot_id is not None
    if on_start is not None:
        on_start(writer.snapshot_id)
    run = _Run(client, writer, batch_size)
    run.duplicates = duplicates
    done: set[tuple[str, str]] = set()
    try:
        if resume is not None:
            filters = writer.manifest["info"].get("filters", filters)
        writer.manifest["info"]["filters"] = filters
        if lists is not None:
            run.pending = lists  # written once the workers are busy
        else:
            stored = _stored_syncs(writer)
            if stored is None:  # interrupted before the lists were saved
                syncs_body, lists = _fetch_lists(client, filters["consumers_status"], duplicates)
                writer.write(lists)
            else:
                syncs_body = stored
        pairs = list_pairs(syncs_body, filters["sync_ids"], filters["consumer_ids"])
        run.pairs_expected = len(pairs)
        stored_pairs = _pair_columns(writer.read("consumer_syncs"))
        done = set(zip(*stored_pairs, strict=True))
        todo = [p for p in pairs if p not in done]
        log.info("snapshot %s: %d pairs, %d to fetch", writer.snapshot_id, len(pairs), len(todo))
        # Batches of at most an eighth of the pairs: the last one, flattened and written after
        # the last answer, is then short, and a small account gets its writing overlapped too.
        run.batch_size = min(batch_size, max(64, -(-len(todo) // 8)))

        info = writer.manifest["info"]
        executions = info.setdefault("executions", executions)  # a resume keeps the first choice
        until = executions_until or _now()
        if executions and "executions_since" not in info:
            since = executions_since or (until - timedelta(days=30))
            info["executions_since"] = _iso(since)
        if "executions_since" in info and "executions_until" not in info:
            info["executions_until"] = _iso(until)  # the window is pinned once, for resumes too
        run.executions_done = set(info.get("executions_done", []))
        info.setdefault("connections", connections)  # a resume keeps the first choices
        run.connection_data = bool(info.setdefault("connection_data", connection_data))
        connections_wanted: list[str] = []
        if info["connections"]:
            run.connections_done = _connections_done(writer)
            in_scope_consumers = sorted({c for c, _ in pairs})
            connections_wanted = [c for c in in_scope_consumers if c not in run.connections_done]
        wanted: list[str] = []
        if "executions_since" in info:
            in_scope = sorted({s for _, s in pairs})
            wanted = [s for s in in_scope if s not in run.executions_done]
            if not filters["consumer_ids"]:  # a fetch of some consumers keeps its own copy
                _plan_executions(writer, run, in_scope, wanted)
        run.fetch(
            todo,
            concurrency,
            _progress(len(todo) + len(wanted), progress, "pairs and executions"),
            executions=wanted,
            connections=connections_wanted,
            window=(info.get("executions_since", ""), info.get("executions_until", "")),
            consumers=set(filters["consumer_ids"]),
        )
    except BaseException as exc:
        resume_with = resume_command(writer.url, str(writer.snapshot_id))
        try:
            run.finish(done, interrupted=type(exc).__name__)
        except Exception as failed:  # the store failed again: what was staged stays staged
            log.warning("snapshot %s could not be saved as partial: %s", writer.snapshot_id, failed)
            exc.add_note(
                f"Snapshot {writer.snapshot_id} in {writer.url} is not committed; finish it "
                f"with: {resume_with}"
            )
            raise exc from None
        exc.add_note(
            f"Snapshot {writer.snapshot_id} in {writer.url} is saved as partial; finish it "
            f"with: {resume_with}"
        )
        if isinstance(exc, UnreachableError):
            exc.snapshot_id = writer.snapshot_id
        raise
    try:
        status = run.finish(done)
    except BaseException as exc:  # the last batch or the commit failed: all of it is staged
        exc.add_note(
            f"Snapshot {writer.snapshot_id} in {writer.url} is not committed; finish it with: "
            f"{resume_command(writer.url, str(writer.snapshot_id))}"
        )
        raise
    errors = to_pandas(writer.read("fetch_errors"))
    info = writer.manifest["info"]
    return FetchResult(
        writer.snapshot_id,
        writer.path,
        status,
        len(pairs),
        int(info["pairs_ok"]),
        int(info["pairs_failed"]),
        errors,
        executions_failed=int(info["executions_failed"]),
        connections_failed=int(info["connections_failed"]),
        payload_errors=to_pandas(writer.read("payload_errors")),
        duplicates=info.get("duplicates") or {},
    )


EXECUTIONS_OVERLAP = timedelta(hours=1)
"""How far before the last fetch's window end a nightly fetch asks for executions again."""


def _plan_executions(
    writer: SnapshotWriter, run: _Run, in_scope: list[str], wanted: list[str]
) -> None:
    """Ask only for the executions the log lacks, and list the earlier parts that hold the rest.

    The plan is made once, on the first pass, and kept in the manifest for a resume: the
    listings each sync asks for, and the parts of earlier snapshots this one shows.
    """
    info = writer.manifest["info"]
    since = datetime.fromisoformat(info["executions_since"])
    until = datetime.fromisoformat(info["executions_until"])
    if "executions_windows" not in info:
        plans = plan_executions(
            writer.root_handle,
            [
                m
                for m in current_manifests(writer.root_handle)
                if m["snapshot_id"] != writer.snapshot_id
            ],
            in_scope,
            since,
            until,
            EXECUTIONS_OVERLAP,
        )
        parts = [rel for plan in plans.values() for rel in plan.parts]
        writer.refer(
            parts,
            {
                "executions_log": True,
                "executions_windows": {
                    s: [[_iso(lo), _iso(hi)] for lo, hi in plan.windows]
                    for s, plan in plans.items()
                },
                "execution_parts": {
                    rel: meta for plan in plans.values() for rel, meta in plan.part_info.items()
                },
                "executions_base": {s: p.base for s, p in plans.items() if p.base},
                "executions_planned": parts,  # in order: a resume lists them again
            },
        )
    else:  # a resume: the parts of the syncs that failed were left out at the last commit
        writer.refer(info.get("executions_planned") or [], {})
    windows = info["executions_windows"]
    run.windows = {s: [(lo, hi) for lo, hi in windows[s]] for s in wanted if s in windows}
    parts_info = info.get("execution_parts") or {}
    listed = writer.manifest["files"].get("executions", [])
    for sync_id in wanted:
        theirs = [rel for rel in listed if (parts_info.get(rel) or [None])[0] == sync_id]
        theirs = [rel for rel in theirs if not is_part_of(rel, str(writer.snapshot_id))]
        if not theirs:
            continue
        spans = [
            (datetime.fromisoformat(lo), datetime.fromisoformat(hi))
            for lo, hi in windows.get(sync_id, [])
        ]
        rows = known_rows(writer.root_handle, theirs, spans)
        run.known[sync_id] = rows


def _connections_done(writer: SnapshotWriter) -> set[str]:
    """Return the consumers whose connections an earlier pass stored.

    A connections body that broke the spec has a ``payload_errors`` row without a sync; it is
    not done, and is fetched again.
    """
    raw = writer.read("raw_responses", ["consumer_id", "sync_id"])
    stored = {
        c
        for c, s in zip(
            *(raw.column(n).to_pylist() for n in ("consumer_id", "sync_id")), strict=True
        )
        if c is not None and s is None
    }
    bad = writer.read("payload_errors", ["consumer_id", "sync_id"])
    broken = {
        c
        for c, s in zip(
            *(bad.column(n).to_pylist() for n in ("consumer_id", "sync_id")), strict=True
        )
        if s is None
    }
    return stored - broken


def _stored_syncs(writer: SnapshotWriter) -> list[dict[str, Any]] | None:
    raw = writer.read("raw_responses", ["endpoint", "consumer_id", "sync_id", "body"])
    columns = (raw.column(c).to_pylist() for c in ("endpoint", "consumer_id", "sync_id", "body"))
    for endpoint, consumer_id, sync_id, body in zip(*columns, strict=True):
        if consumer_id is None and sync_id is None and _is_syncs_list(endpoint):
            data: list[dict[str, Any]] = json.loads(body)
            return data
    return None


def _fetch_lists(
    client: ChiftClient, consumers_status: str | None, duplicates: list[Duplicate]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fetch ``GET /syncs`` and ``GET /consumers``: the syncs body, and the tables to write.

    The entries either list repeats are kept once, and noted in ``duplicates``.
    """
    raw = _Raw()
    # both at once: the second waits for the token the first asks for, then goes on its own
    # (an error at GET /syncs is the one reported, whatever GET /consumers answers)
    with ThreadPoolExecutor(1, thread_name_prefix="chift-lists") as pool:
        consumers_future = pool.submit(client.get, "/consumers")
        syncs_response = client.get("/syncs", {"consumers_status": consumers_status})
        syncs_body = syncs_response.json()  # an ApiError with the status when it is not JSON
        consumers_response = consumers_future.result()
    syncs_endpoint = SYNCS + (f"?consumers_status={consumers_status}" if consumers_status else "")
    raw.add(syncs_endpoint, None, None, syncs_response.status, _now(), syncs_response.body)
    consumers_body = consumers_response.json()
    raw.add(CONSUMERS, None, None, consumers_response.status, _now(), consumers_response.body)
    tables: dict[str, Any] = {
        **flatten_sync_definitions(syncs_body, duplicates=duplicates),
        "consumers": flatten_consumers(consumers_body, duplicates=duplicates),
        "raw_responses": raw.to_table(),
    }
    return list(syncs_body), tables

"""Fetch a snapshot: every (consumer, sync) pair of an account, through a bounded pool of workers.

The walk: ``GET /syncs`` lists the pairs (each sync names its consumers) while
``GET /consumers`` names the consumers; then each pair's
``GET /consumers/{consumer_id}/syncs/{syncid}`` and every page of each sync's
``GET /syncs/{syncid}/executions`` are fetched by one pool of ``concurrency`` workers (pages
first). Responses are flattened and written in batches as they arrive, so memory stays flat
however many pairs there are and the writing overlaps the fetching; every response is also
kept in ``raw_responses``. A pair that fails after its retries, answers 404, a redirect, a body
that is not JSON or one over a limit becomes a row of ``fetch_errors`` and the run goes on.
Executions are read in a window pinned when the snapshot starts, checked by reading the first
page again, and kept once per ``execution_id``. The snapshot is committed ``complete`` only
when everything came back; otherwise ``partial``, and ``resume`` fetches what is missing.
Ids are URL-quoted (:func:`~chift_frames.client.api_path`); error messages pass the client's
redactor before they are stored.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._version import __version__
from .client import ChiftClient, Response, api_path
from .errors import (
    AuthError,
    ChiftError,
    NotFoundError,
    PartialSnapshotWarning,
    PayloadError,
    StoreError,
)
from .flatten import (
    connection_rows,
    flatten_connections,
    flatten_consumers,
    flatten_executions,
    flatten_sync_definitions,
    flatten_to_arrow,
)
from .schema import TABLES, to_pandas
from .store import SnapshotWriter, Status, list_snapshots, load, snapshot_manifest, to_arrow

__all__ = ["FetchResult", "fetch_snapshot", "rebuild_snapshot"]

log = logging.getLogger(__name__)

SYNCS, CONSUMERS = "GET /syncs", "GET /consumers"
EXECUTIONS_PAGE = 500  # the largest page Chift serves
PAGES_PER_PART = 40  # executions pages flattened and written together
MAX_EXECUTION_PAGES = 2000  # pages read per sync (a million executions): a bound on a bad total
BATCH_BYTES = 64 * 2**20  # bodies flattened and written together, at most (besides the count)
HANDOVER_BYTES = 256 * 2**20  # bodies waiting for this thread, at most (one may always pass)


@dataclass
class FetchResult:
    """What a fetch left behind."""

    snapshot_id: str
    root: Path
    status: str
    pairs: int
    pairs_ok: int
    pairs_failed: int
    errors: pd.DataFrame = field(repr=False)

    @property
    def complete(self) -> bool:
        """Whether every pair came back."""
        return self.status == "complete"


def _pair_endpoint(consumer_id: str, sync_id: str) -> str:
    try:
        return "GET " + api_path("consumers", consumer_id, "syncs", sync_id)
    except ValueError:
        return f"GET /consumers/{consumer_id!r}/syncs/{sync_id!r}"


def _connections_endpoint(consumer_id: str) -> str:
    try:
        return "GET " + api_path("consumers", consumer_id, "connections")
    except ValueError:
        return f"GET /consumers/{consumer_id!r}/connections"


def _now() -> datetime:
    return datetime.now(UTC)


class _Raw:
    """Raw responses of one batch, column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in TABLES["raw_responses"].columns}
        self.bytes = 0

    def add(
        self,
        endpoint: str,
        consumer_id: str | None,
        sync_id: str | None,
        status: int,
        fetched_at: datetime,
        body: bytes,
    ) -> None:
        for key, value in (
            ("endpoint", endpoint),
            ("consumer_id", consumer_id),
            ("sync_id", sync_id),
            ("http_status", status),
            ("fetched_at", fetched_at),
            ("body", body),
        ):
            self.columns[key].append(value)
        self.bytes += len(body)

    def __len__(self) -> int:
        return len(self.columns["endpoint"])

    def to_table(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=TABLES["raw_responses"].schema)


def _error_row(
    consumer_id: str | None,
    sync_id: str | None,
    endpoint: str,
    error: ChiftError,
    occurred_at: datetime,
) -> dict[str, Any]:
    return {
        "consumer_id": consumer_id,
        "sync_id": sync_id,
        "endpoint": endpoint,
        "http_status": error.status,
        "error_code": error.error_code,
        "message": error.message,
        "attempts": error.attempts,
        "occurred_at": occurred_at,
    }


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
    if enabled is None:  # on only for an interactive terminal
        enabled = sys.stderr.isatty()
    if enabled:  # a widget in Jupyter, text in a terminal
        from tqdm.auto import tqdm
    else:  # plain tqdm: tqdm.auto would warn in a notebook without ipywidgets
        from tqdm import tqdm
    return tqdm(
        total=total,
        desc=f"fetching {what}",
        unit=" fetches",  # a pair, a sync's executions or a consumer's connections
        disable=not enabled,
        dynamic_ncols=True,
        leave=False,
    )


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
        them; each execution is kept once.
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
    if resume is None:
        # the lists come first: bad credentials leave nothing behind
        syncs_body, lists = _fetch_lists(client, consumers_status)
        _check_filters(syncs_body, filters["sync_ids"], filters["consumer_ids"])
    writer = SnapshotWriter(
        Path(root), resume, resume=resume is not None, info={"package_version": __version__}
    )
    assert writer.snapshot_id is not None
    if on_start is not None:
        on_start(writer.snapshot_id)
    run = _Run(client, writer, batch_size)
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
                syncs_body, lists = _fetch_lists(client, filters["consumers_status"])
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
        if executions and "executions_since" not in info:
            since = executions_since or (_now() - timedelta(days=30))
            info["executions_since"] = _iso(since)
        if "executions_since" in info and "executions_until" not in info:
            info["executions_until"] = _iso(_now())  # the window is pinned once, for resumes too
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
        resume_with = f"chift-frames fetch --out {writer.path} --resume {writer.snapshot_id}"
        try:
            run.finish(done, interrupted=type(exc).__name__)
        except Exception as failed:  # the store failed again: what was staged stays staged
            log.warning("snapshot %s could not be saved as partial: %s", writer.snapshot_id, failed)
            exc.add_note(
                f"Snapshot {writer.snapshot_id} in {writer.path} is not committed; finish it "
                f"with: {resume_with}"
            )
            raise exc from None
        exc.add_note(
            f"Snapshot {writer.snapshot_id} in {writer.path} is saved as partial; finish it "
            f"with: {resume_with}"
        )
        raise
    try:
        status = run.finish(done)
    except BaseException as exc:  # the last batch or the commit failed: all of it is staged
        exc.add_note(
            f"Snapshot {writer.snapshot_id} in {writer.path} is not committed; finish it with: "
            f"chift-frames fetch --out {writer.path} --resume {writer.snapshot_id}"
        )
        raise
    errors = to_pandas(writer.read("fetch_errors"))
    return FetchResult(
        writer.snapshot_id,
        writer.path,
        status,
        len(pairs),
        len(pairs) - run.failed_count,
        run.failed_count,
        errors,
    )


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pair_columns(table: pa.Table) -> tuple[list[Any], list[Any]]:
    if table.num_rows == 0:
        return [], []
    return table.column("consumer_id").to_pylist(), table.column("sync_id").to_pylist()


def _stored_syncs(writer: SnapshotWriter) -> list[dict[str, Any]] | None:
    raw = writer.read("raw_responses", ["endpoint", "consumer_id", "sync_id", "body"])
    columns = (raw.column(c).to_pylist() for c in ("endpoint", "consumer_id", "sync_id", "body"))
    for endpoint, consumer_id, sync_id, body in zip(*columns, strict=True):
        if consumer_id is None and sync_id is None and _is_syncs_list(endpoint):
            data: list[dict[str, Any]] = json.loads(body)
            return data
    return None


def _is_syncs_list(endpoint: str) -> bool:
    """Whether an account-level raw response (no consumer, no sync) is ``GET /syncs``.

    Only the two account lists are told apart by their endpoint; it names no id.
    """
    return endpoint == SYNCS or endpoint.startswith(SYNCS + "?")


def _fetch_lists(
    client: ChiftClient, consumers_status: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fetch ``GET /syncs`` and ``GET /consumers``: the syncs body, and the tables to write."""
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
        **flatten_sync_definitions(syncs_body),
        "consumers": flatten_consumers(consumers_body),
        "raw_responses": raw.to_table(),
    }
    return list(syncs_body), tables


@dataclass
class _Page:
    """One executions page asked of a worker, and what came back."""

    sync_id: str
    number: int
    verify: bool = False
    endpoint: str = ""
    response: Response | None = None
    items: list[Any] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True)
class _Connections:
    """The connections of one consumer, asked of a worker."""

    consumer_id: str


def _without_data(items: Any) -> Any:
    """Return a connections body with every ``data`` set to null (when it has the shape)."""
    if not isinstance(items, list):
        return items
    return [{**c, "data": None} if isinstance(c, dict) and "data" in c else c for c in items]


@dataclass
class _SyncExecutions:
    """Where the executions of one sync stand: pages expected, received, staged."""

    total: int = -1  # as the first page of the pass said
    pages: int = 0
    received: int = 0
    passes: int = 1
    seen: set[str] = field(default_factory=set)
    group: list[_Page] = field(default_factory=list)
    staged: list[tuple[str, str, int]] = field(default_factory=list)
    failed: bool = False


class _Run:
    """One pass over the pairs and executions to fetch: workers, batches, errors."""

    def __init__(self, client: ChiftClient, writer: SnapshotWriter, batch_size: int) -> None:
        self.client = client
        self.writer = writer
        self.batch_size = batch_size
        self.ok: set[tuple[str, str]] = set()
        self.pairs_expected: int | None = None  # once the pairs to fetch are known
        self.records: list[tuple[str, Any, datetime]] = []
        self.raw = _Raw()
        self.fetch_errors: list[dict[str, Any]] = []
        self.payload_errors: list[pd.DataFrame] = []
        self.failed_count = 0
        self.executions_done: set[str] = set()
        self.window = ("", "")
        self.consumers: set[str] = set()
        self._syncs: dict[str, _SyncExecutions] = {}
        self.pending: dict[str, Any] = {}  # tables to write when the workers have started
        self.connections_done: set[str] = set()
        self.connection_data = False
        # gathered over a batch: one table for many consumers costs far less than one each
        self.connection_rows: dict[str, list[Any]] = _empty_rows("connections")
        self.connection_bodies = 0  # taken in since the last batch (a consumer may have none)

    def _get(self, consumer_id: str, sync_id: str) -> tuple[Response | None, Any]:
        try:
            response = self.client.get(api_path("consumers", consumer_id, "syncs", sync_id))
            return response, response.json()
        except AuthError:
            raise
        except ChiftError as error:
            return None, error
        except ValueError as exc:  # an id that cannot be a path segment
            return None, ChiftError(str(exc), endpoint=_pair_endpoint(consumer_id, sync_id))

    def _get_page(self, page: _Page) -> _Page:
        """Fetch one executions page (in a worker); raise ChiftError when it is unusable."""
        since, until = self.window
        path = api_path("syncs", page.sync_id, "executions")
        query = {"page": page.number, "size": EXECUTIONS_PAGE, "date_from": since}
        if until:
            query["date_to"] = until
        page.endpoint = "GET " + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        response = self.client.get(path, query)
        body = response.json()
        items = body.get("items") if isinstance(body, dict) else None
        total = body.get("total") if isinstance(body, dict) else None
        if not isinstance(items, list) or type(total) is not int or total < 0:
            raise ChiftError(
                "the executions page does not follow the spec (items and total)",
                status=response.status,
                endpoint=page.endpoint,
                attempts=response.attempts,
            )
        page.response, page.items, page.total = response, items, total
        return page

    def _get_connections(self, job: _Connections) -> tuple[Response | None, Any]:
        try:
            response = self.client.get(api_path("consumers", job.consumer_id, "connections"))
            return response, response.json()
        except AuthError:
            raise
        except ChiftError as error:
            return None, error
        except ValueError as exc:  # an id that cannot be a path segment
            return None, ChiftError(str(exc), endpoint=_connections_endpoint(job.consumer_id))

    def _work(self, job: tuple[str, str] | _Page | _Connections) -> tuple[Any, ...]:
        if isinstance(job, _Connections):
            return (job, *self._get_connections(job))
        if isinstance(job, _Page):
            try:
                return (job, self._get_page(job), None)
            except AuthError:
                raise
            except ChiftError as error:
                return (job, None, error)
            except ValueError as exc:  # a sync id that cannot be a path segment
                return (job, None, ChiftError(str(exc), endpoint=f"GET /syncs/{job.sync_id!r}"))
        return (job, *self._get(*job))

    def fetch(
        self,
        todo: list[tuple[str, str]],
        concurrency: int,
        bar: Any,
        *,
        executions: Iterable[str] = (),
        connections: Iterable[str] = (),
        window: tuple[str, str] = ("", ""),
        consumers: set[str] | None = None,
    ) -> None:
        """Fetch ``todo`` and the executions pages with ``concurrency`` worker threads.

        The pairs and the pages share the workers (pages first, so a sync's pages are not
        left for the end); this thread flattens and writes what comes back, while the workers
        go on fetching.
        """
        self.window = window
        self.consumers = consumers or set()
        # (priority, order, job): executions pages before pairs, the sentinels last
        jobs: queue.PriorityQueue[
            tuple[int, int, tuple[str, str] | _Page | _Connections | None]
        ] = queue.PriorityQueue()
        order = itertools.count()
        outstanding = 0

        def submit(job: tuple[str, str] | _Page | _Connections) -> None:
            nonlocal outstanding
            jobs.put((0 if isinstance(job, _Page) else 1, next(order), job))
            outstanding += 1

        for sync_id in executions:
            self._syncs[sync_id] = _SyncExecutions()
            submit(_Page(sync_id, 1))
        for pair in todo:
            submit(pair)
        for consumer_id in connections:
            submit(_Connections(consumer_id))
        # A bounded hand-over: memory stays flat however many pairs there are, and a whole
        # batch fits, so workers keep fetching while this thread flattens and writes one.
        results: queue.Queue[tuple[Any, ...]] = queue.Queue(
            maxsize=max(concurrency * 4, self.batch_size)
        )
        stop = threading.Event()
        budget = _ByteBudget(HANDOVER_BYTES)  # and however large the bodies, a bounded size

        def work() -> None:
            while not stop.is_set():
                job = jobs.get()[2]
                if job is None:
                    return
                try:
                    outcome = self._work(job)
                    size = _body_size(outcome[1])
                    if not budget.take(size, stop):
                        return
                    results.put((*outcome, size, None))
                except BaseException as exc:  # an AuthError, or an interrupt: the run stops
                    results.put((job, None, None, 0, exc))
                    return

        workers = [
            threading.Thread(target=work, name=f"chift-fetch-{i}", daemon=True)
            for i in range(min(concurrency, outstanding))
        ]
        for worker in workers:
            worker.start()
        if self.pending:  # the account lists, written while the first answers are on their way
            self.writer.write(self.pending)
            self.pending = {}
        try:
            while outstanding:
                job, response, result, size, fatal = results.get()
                budget.give(size)
                outstanding -= 1
                if fatal is not None:
                    raise fatal
                if isinstance(job, _Page):
                    for follow in self._page_done(job, response, result):
                        submit(follow)
                    continue
                if isinstance(job, _Connections):
                    self._connections_done(job.consumer_id, response, result)
                    continue
                consumer_id, sync_id = job
                self._collect(consumer_id, sync_id, response, result)
                bar.update(1)
                if len(self.raw) >= self.batch_size or self.raw.bytes >= BATCH_BYTES:
                    self.flush()
                    bar.set_postfix(failed=self.failed_count, refresh=False)
        finally:
            stop.set()
            for _ in workers:
                jobs.put((2, next(order), None))
            bar.close()

    def _page_done(
        self, page: _Page, answer: _Page | None, error: ChiftError | None
    ) -> list[_Page]:
        """Take in one executions page; return the pages to ask next."""
        state = self._syncs[page.sync_id]
        if state.failed:
            return []
        if answer is None:
            assert error is not None
            self._execution_error(page.sync_id, error.endpoint or page.endpoint, error)
            state.failed = True
            return []
        follow: list[_Page] = []
        if page.verify:
            if answer.total == state.total or state.passes >= 2:
                if answer.total != state.total:
                    log.warning(
                        "the executions of sync %s kept changing while read; kept each once",
                        page.sync_id,
                    )
                self._stage_group(page.sync_id, state, [answer])
                return self._sync_done(page.sync_id, state)
            # the window moved under the pages (a server that ignores date_to, or a skewed
            # clock): read them all again; each execution is still kept once
            state.passes += 1
            state.total, state.received = -1, 0
            self._stage_group(page.sync_id, state, [answer])
            return [_Page(page.sync_id, 1)]
        if page.number == 1:
            state.total = answer.total
            state.pages = max(1, -(-answer.total // EXECUTIONS_PAGE)) if answer.items else 1
            if state.pages > MAX_EXECUTION_PAGES:
                message = (
                    f"the sync has {answer.total:,} executions in the window, more than the "
                    f"{MAX_EXECUTION_PAGES * EXECUTIONS_PAGE:,} a fetch reads; fetch a shorter "
                    "window with --executions-since"
                )
                self._execution_error(page.sync_id, answer.endpoint, ChiftError(message))
                state.failed = True
                return []
            follow = [_Page(page.sync_id, n) for n in range(2, state.pages + 1)]
        state.group.append(answer)
        state.received += 1
        group_bytes = sum(len(p.response.body) for p in state.group if p.response is not None)
        if (
            len(state.group) >= PAGES_PER_PART
            or group_bytes >= BATCH_BYTES
            or state.received == state.pages
        ):
            self._stage_group(page.sync_id, state, state.group)
            state.group = []
        if state.received == state.pages and not state.failed:
            # read the first page again: if the total moved, the pages may have shifted
            follow.append(_Page(page.sync_id, 1, verify=True))
        return follow

    def _stage_group(self, sync_id: str, state: _SyncExecutions, pages: list[_Page]) -> None:
        if state.failed:
            return
        raw = _Raw()
        items = []
        for page in pages:
            assert page.response is not None
            raw.add(page.endpoint, None, sync_id, page.response.status, _now(), page.response.body)
            for item in page.items:
                key = item.get("id") if isinstance(item, dict) else None
                if isinstance(key, str):
                    if key in state.seen:
                        continue
                    state.seen.add(key)
                items.append(item)
        try:
            table = flatten_executions(sync_id, items)
        except PayloadError as exc:
            self._execution_error(
                sync_id, pages[0].endpoint, ChiftError(self.client.redactor.text(str(exc)))
            )
            state.failed = True
            return
        if self.consumers:
            table = table.filter(
                pc.is_in(table["consumer_id"], value_set=pa.array(sorted(self.consumers)))
            )
        state.staged += self.writer.stage({"executions": table, "raw_responses": raw.to_table()})

    def _sync_done(self, sync_id: str, state: _SyncExecutions) -> list[_Page]:
        if not state.failed:
            self.executions_done.add(sync_id)
            self.writer.manifest["info"]["executions_done"] = sorted(self.executions_done)
            self.writer.attach(state.staged)
        return []

    def _connections_done(self, consumer_id: str, response: Response | None, result: Any) -> None:
        """Take in one consumer's connections: rows, or a fetch or payload error."""
        endpoint = _connections_endpoint(consumer_id)
        if isinstance(result, ChiftError):
            self.fetch_errors.append(self._error_row(consumer_id, None, endpoint, result))
            self.failed_count += 1
            return
        assert response is not None
        body = response.body if self.connection_data else _dumps(_without_data(result))
        self.raw.add(endpoint, consumer_id, None, response.status, _now(), body)
        try:
            rows = connection_rows(consumer_id, result, keep_data=self.connection_data)
        except PayloadError as exc:
            self.payload_errors.append(_connections_error(consumer_id, exc, self.client))
            self.failed_count += 1
            return
        self.connections_done.add(consumer_id)
        for column, values in rows.items():
            self.connection_rows[column].extend(values)
        self.connection_bodies += 1

    def _execution_error(self, sync_id: str, endpoint: str, error: ChiftError) -> None:
        self.fetch_errors.append(self._error_row(None, sync_id, endpoint, error))
        self.failed_count += 1

    def _error_row(
        self, consumer_id: str | None, sync_id: str | None, endpoint: str, error: ChiftError
    ) -> dict[str, Any]:
        row = _error_row(consumer_id, sync_id, endpoint, error, _now())
        row["message"] = self.client.redactor.text(str(row["message"]))
        return row

    def _collect(
        self, consumer_id: str, sync_id: str, response: Response | None, result: Any
    ) -> None:
        received = _now()
        if isinstance(result, ChiftError):
            endpoint = _pair_endpoint(consumer_id, sync_id)
            self.fetch_errors.append(self._error_row(consumer_id, sync_id, endpoint, result))
            self.failed_count += 1
            return
        assert response is not None
        self.raw.add(
            _pair_endpoint(consumer_id, sync_id),
            consumer_id,
            sync_id,
            response.status,
            received,
            response.body,
        )
        self.records.append((consumer_id, result, received))

    def flush(self) -> None:
        if not self.records and not len(self.raw):
            return
        tables: dict[str, Any] = flatten_to_arrow(self.records, on_error="collect")
        bad = tables.pop("payload_errors")
        if bad.num_rows:
            self.payload_errors.append(to_pandas(bad))
            self.failed_count += bad.num_rows
        self.ok.update(zip(*_pair_columns(tables["consumer_syncs"]), strict=True))
        tables["raw_responses"] = self.raw.to_table()
        if self.connection_bodies:
            tables["connections"] = pa.Table.from_pydict(
                self.connection_rows, schema=TABLES["connections"].schema
            )
        self.writer.write(tables)
        self.records, self.raw = [], _Raw()
        self.connection_rows, self.connection_bodies = _empty_rows("connections"), 0

    def finish(self, done: set[tuple[str, str]], interrupted: str | None = None) -> str:
        """Write the last batch and the error tables, then commit; return the status.

        ``done`` holds the pairs an earlier pass already fetched.
        """
        if self.pending:
            self.writer.write(self.pending)
            self.pending = {}
        self.flush()
        ok = done | self.ok
        # what is done: pairs, syncs' executions (no consumer), consumers' connections (no sync)
        done_keys: set[tuple[str | None, str | None]] = set(ok)
        done_keys |= {(None, sync_id) for sync_id in self.executions_done}
        done_keys |= {(consumer_id, None) for consumer_id in self.connections_done}
        # errors of an earlier pass are kept unless their pair has come back since
        old_fetch = to_pandas(self.writer.read("fetch_errors"))
        old_payload = to_pandas(self.writer.read("payload_errors"))
        fetch_errors = _still_failing(
            [old_fetch, pd.DataFrame(self.fetch_errors, columns=TABLES["fetch_errors"].columns)],
            done_keys,
        )
        payload_errors = _still_failing([old_payload, *self.payload_errors], done_keys)
        self.writer.replace("fetch_errors", _to_table("fetch_errors", fetch_errors))
        self.writer.replace("payload_errors", _to_table("payload_errors", payload_errors))
        failed = len(fetch_errors) + len(payload_errors)
        self.failed_count = failed
        status: Status = "complete" if not failed and interrupted is None else "partial"
        self.writer.commit(
            status,
            pairs_ok=len(ok),
            pairs_failed=failed,
            **({"interrupted": interrupted} if interrupted else {}),
            **({"pairs_expected": self.pairs_expected} if self.pairs_expected is not None else {}),
        )
        return status


def _empty_rows(name: str) -> dict[str, list[Any]]:
    return {column: [] for column in TABLES[name].columns}


class _ByteBudget:
    """Bytes handed from the workers to the writing thread and not yet taken in, bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    def take(self, size: int, stop: threading.Event) -> bool:
        """Wait until ``size`` more bytes fit (one item always fits); False if the run stopped."""
        with self._cond:
            while self.used and self.used + size > self.limit:
                if stop.is_set():
                    return False
                self._cond.wait(0.5)
            self.used += size
            return True

    def give(self, size: int) -> None:
        """Release ``size`` bytes: the writing thread took them in."""
        with self._cond:
            self.used -= size
            self._cond.notify_all()


def _body_size(answer: Any) -> int:
    """Bytes of the body a worker holds: a pair's Response, or an executions page."""
    if isinstance(answer, _Page):
        answer = answer.response
    return len(answer.body) if isinstance(answer, Response) else 0


def _still_failing(parts: list[pd.DataFrame], ok: set[tuple[Any, Any]]) -> pd.DataFrame:
    """Keep the errors whose (consumer, sync) is not in ``ok``, the latest one per pair.

    A consumer of None marks a sync's executions rather than a pair.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    errors = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    errors = errors.where(errors.notna(), None)
    keep = [(c, s) not in ok for c, s in zip(errors.consumer_id, errors.sync_id, strict=True)]
    errors = errors[keep]
    # one row per pair: its latest failure
    return errors.drop_duplicates(["consumer_id", "sync_id"], keep="last").reset_index(drop=True)


def _to_table(name: str, df: pd.DataFrame) -> pa.Table:
    """Convert an error table to arrow, in its schema's column order (the store checks types)."""
    if df.empty:
        return TABLES[name].schema.empty_table()
    return to_arrow(name, df[TABLES[name].columns])


def rebuild_snapshot(
    root: str | os.PathLike[str], snapshot: str = "latest", batch_size: int = 2000
) -> str:
    """Re-derive every table of a snapshot from its raw responses, without the network.

    Writes a new snapshot that replaces the old one and returns its id. Its manifest names
    the snapshot it was rebuilt from (``info.rebuilt_from``) and keeps that fetch's start and
    finish times, so it takes the old one's place: ``latest``, ``all``, :func:`list_snapshots
    <chift_frames.store.list_snapshots>`, ``diff`` and the trends skip the replaced snapshot,
    which stays on disk (readable by its id) until ``prune`` removes it. ``fetch_errors`` is
    copied, since a request that got no answer left nothing to rebuild.
    """
    base = Path(root)
    with warnings.catch_warnings():  # a partial snapshot is rebuilt as partial: no news
        warnings.simplefilter("ignore", PartialSnapshotWarning)
        source = load(base, snapshot, tables=["raw_responses", "fetch_errors"])
    raw = source.raw_responses
    if raw.empty:
        raise StoreError(f"snapshot {snapshot!r} in {base} has no raw responses to rebuild from")
    manifest = snapshot_manifest(base, snapshot)
    source_id = manifest["snapshot_id"]
    current = list_snapshots(base)
    if source_id not in set(current.snapshot_id):
        rebuilds = current[current.info_json.str.contains(f'"rebuilt_from": "{source_id}"')]
        by = ", ".join(rebuilds.snapshot_id) or "another snapshot"
        raise StoreError(
            f"snapshot {source_id!r} in {base} was already rebuilt as {by}: rebuild that one"
        )
    consumers = set(manifest["info"].get("filters", {}).get("consumer_ids") or [])
    writer = SnapshotWriter(
        base,
        info={
            **manifest["info"],
            "package_version": __version__,
            "rebuilt_from": source_id,
            "rebuilt_at": datetime.now(UTC).isoformat(),
        },
        times=(manifest["started_at"], manifest["finished_at"]),
    )
    executions: dict[str, list[Any]] = {}
    lists: dict[str, Any] = {}
    records: list[tuple[str, Any, Any]] = []
    payload_errors = []
    ok: set[tuple[str, str]] = set()
    fetched = list(raw.fetched_at.dt.to_pydatetime())
    columns = zip(
        raw.endpoint.tolist(),
        raw.consumer_id.tolist(),
        raw.sync_id.tolist(),
        raw.http_status.tolist(),
        raw.body.tolist(),
        fetched,
        strict=True,
    )
    # What a response is comes from its consumer_id and sync_id columns, never from parsing
    # its endpoint: a pair has both, an executions page only its sync, a consumer's
    # connections only its consumer, and the two account lists neither (their endpoints name
    # no id).
    connections: list[pa.Table] = []
    keep_data = bool(manifest["info"].get("connection_data", False))
    for endpoint, consumer_id, sync_id, status, body, fetched_at in columns:
        consumer_id = consumer_id if isinstance(consumer_id, str) else None
        sync_id = sync_id if isinstance(sync_id, str) else None
        if consumer_id is not None and sync_id is not None:
            if status == 200:
                records.append((consumer_id, _decode(body), fetched_at))
        elif sync_id is not None:
            page = _decode(body)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise StoreError(
                    f"snapshot {source_id!r}: the raw executions page {endpoint!r} of sync "
                    f"{sync_id!r} has no items to rebuild from"
                )
            executions.setdefault(sync_id, []).extend(items)
        elif consumer_id is not None:  # a consumer's connections
            if status == 200:
                try:
                    connections.append(
                        flatten_connections(consumer_id, _decode(body), keep_data=keep_data)
                    )
                except PayloadError as exc:
                    payload_errors.append(_connections_error(consumer_id, exc))
        elif _is_syncs_list(endpoint):
            lists.update(flatten_sync_definitions(_decode(body)))
        elif endpoint == CONSUMERS:
            lists["consumers"] = flatten_consumers(_decode(body))
        if len(records) >= batch_size:
            payload_errors.append(_write_pairs(writer, records, ok))
            records = []
    payload_errors.append(_write_pairs(writer, records, ok))
    for sync_id, items in executions.items():
        table = flatten_executions(sync_id, _unique_executions(items))
        if consumers:
            table = table.filter(
                pc.is_in(table["consumer_id"], value_set=pa.array(sorted(consumers)))
            )
        writer.write({"executions": table})
    if connections:
        writer.write({"connections": pa.concat_tables(connections)})
    writer.write(lists)
    writer.replace("fetch_errors", _to_table("fetch_errors", source.fetch_errors))
    writer.replace(
        "payload_errors", _to_table("payload_errors", _still_failing(payload_errors, set()))
    )
    writer.replace(
        "raw_responses",
        pa.Table.from_pandas(raw, schema=TABLES["raw_responses"].schema, preserve_index=False),
    )
    failed = len(source.fetch_errors) + sum(len(p) for p in payload_errors)
    writer.commit("complete" if not failed else "partial", pairs_ok=len(ok), pairs_failed=failed)
    assert writer.snapshot_id is not None
    return writer.snapshot_id


def _connections_error(
    consumer_id: str, exc: PayloadError, client: ChiftClient | None = None
) -> pd.DataFrame:
    """Return the ``payload_errors`` row of a connections body that breaks the spec."""
    message = client.redactor.text(exc.message) if client is not None else exc.message
    row = {"consumer_id": consumer_id, "sync_id": None, "path": "connections" + exc.path}
    return pd.DataFrame([{**row, "message": message}])


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(body: bytes) -> Any:
    """Decode a stored body; one that is not JSON is given to flatten as text, to be refused."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")


def _unique_executions(items: list[Any]) -> list[Any]:
    """Keep the first of each execution id (pages read while runs arrived may repeat one)."""
    seen: set[str] = set()
    unique = []
    for item in items:
        key = item.get("id") if isinstance(item, dict) else None
        if isinstance(key, str):
            if key in seen:
                continue
            seen.add(key)
        unique.append(item)
    return unique


def _write_pairs(
    writer: SnapshotWriter, records: list[tuple[str, Any, Any]], ok: set[tuple[str, str]]
) -> pd.DataFrame:
    tables = flatten_to_arrow(records, on_error="collect")
    bad = tables.pop("payload_errors")
    ok.update(zip(*_pair_columns(tables["consumer_syncs"]), strict=True))
    writer.write(tables)
    return to_pandas(bad)

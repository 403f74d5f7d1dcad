"""The pool of workers of one fetch pass: pairs, connections and executions pages, in batches.

Workers send the requests; the calling thread flattens and writes what comes back, while the
workers go on fetching. Memory stays bounded by a batch size and a byte budget.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..client import ChiftClient, Response, api_path
from ..errors import (
    AuthError,
    ChiftError,
    PayloadError,
    UnreachableError,
)
from ..flatten import (
    Duplicate,
    check_request,
    connection_rows,
    flatten_executions,
    flatten_to_arrow,
)
from ..flatten._typed import decode as decode_pair
from ..flatten._unique import count, describe, fingerprint
from ..schema import TABLES, to_pandas
from ..store import SnapshotWriter, Status
from ..store.execlog import Known, not_known
from ._common import (
    EXECUTIONS_PAGE,
    MAX_EXECUTION_PAGES,
    PAGES_PER_PART,
    PART_BYTES,
    PART_ROWS,
    _connections_endpoint,
    _connections_error,
    _dumps,
    _empty_rows,
    _error_row,
    _failure_counts,
    _now,
    _pair_columns,
    _pair_endpoint,
    _pair_error,
    _Raw,
    _still_failing,
    _to_table,
    _without_data,
)
from ._seen import SeenIds

log = logging.getLogger(__name__)


# bodies flattened and written together, at most (besides the count): held decoded, a batch
# takes about four times this, so it is what bounds the fetch's memory on a heavy account
BATCH_BYTES = 16 * 2**20


HANDOVER_BYTES = 32 * 2**20  # answers waiting for this thread, at most (one may always pass)
# an answer is held decoded beside its body: its values take about three times the body
DECODED = 4


@dataclass
class _Page:
    """One executions page asked of a worker, and what came back."""

    sync_id: str
    number: int
    verify: bool = False
    listing: int = 0  # which of the sync's listings (date windows) the page belongs to
    endpoint: str = ""
    response: Response | None = None
    items: list[Any] = field(default_factory=list)
    total: int = 0


@dataclass(frozen=True)
class _Connections:
    """The connections of one consumer, asked of a worker."""

    consumer_id: str


@dataclass
class _Sync:
    """Where the executions of one sync stand across its listings."""

    sync_id: str
    left: int = 1  # listings not done yet
    failed: bool = False
    staged: list[tuple[str, str, int]] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)  # recorded once the sync is done
    # each staged part of the log: [sync_id, latest start, rows] (see store.execlog)
    parts: dict[str, list[Any]] = field(default_factory=dict)
    # executions flattened but not yet written: they fill a part of PART_ROWS (or the rest)
    held: list[pa.Table] = field(default_factory=list)
    # runs the log holds that changed (a run that was running has ended): written apart,
    # once the sync is done, so that a view finds the runs stored twice among a few rows
    again: list[pa.Table] = field(default_factory=list)

    @property
    def held_bytes(self) -> int:
        return sum(t.nbytes for t in (*self.held, *self.again))


@dataclass
class _SyncExecutions:
    """Where one listing of a sync's executions stands: pages expected, received, staged."""

    sync: _Sync
    total: int = -1  # as the first page of the pass said
    pages: int = 0
    received: int = 0
    passes: int = 1
    # execution id -> where it was first listed and a fingerprint of it (see _mark)
    seen: SeenIds = field(default_factory=SeenIds)
    # page number -> a hash of its ids, in this pass: a page that repeats another is caught
    page_ids: dict[int, int] = field(default_factory=dict)
    group: list[_Page] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether a listing of the sync failed: its executions are left out, all of them."""
        return self.sync.failed

    @failed.setter
    def failed(self, value: bool) -> None:
        self.sync.failed = value
        if value:
            self.sync.held, self.sync.again = [], []  # its executions are left out, all

    @property
    def duplicates(self) -> list[Duplicate]:
        return self.sync.duplicates


_MASK = 2**64 - 1


def _mark(passes: int, page: int, index: int, item: dict[str, Any]) -> int:
    """Pack where an execution was first listed, and its fingerprint, in one int.

    A million executions are a million of these: one int each is what memory affords.
    """
    return (((passes << 24 | page) << 16 | index) << 64) | (fingerprint(item) & _MASK)


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
        self.counts: dict[str, int] = {}  # what the error tables name, once finished
        self.duplicates: list[Duplicate] = []  # copies of entries left out, as repeats
        self.executions_done: set[str] = set()
        self.window = ("", "")
        # each sync's listings, (date_from, date_to), when they are not just ``window``
        self.windows: dict[str, list[tuple[str, str]]] = {}
        # the fingerprints of each sync's executions as the log holds them (sorted): one read
        # again unchanged is not stored
        self.known: dict[str, Known] = {}
        self.consumers: set[str] = set()
        self._syncs: dict[tuple[str, int], _SyncExecutions] = {}
        self.pending: dict[str, Any] = {}  # tables to write when the workers have started
        self.connections_done: set[str] = set()
        self.connection_data = False
        # gathered over a batch: one table for many consumers costs far less than one each
        self.connection_rows: dict[str, list[Any]] = _empty_rows("connections")
        self.connection_bodies = 0  # taken in since the last batch (a consumer may have none)

    def _get(self, consumer_id: str, sync_id: str) -> tuple[Response | None, Any]:
        try:
            response = self.client.get(api_path("consumers", consumer_id, "syncs", sync_id))
            # the (redacted) body straight to typed values; one they refuse is decoded as a
            # dict, for the flattening to name what is wrong (or an ApiError: not JSON)
            typed = decode_pair(response.body)
            return response, typed if typed is not None else response.json()
        except (AuthError, UnreachableError):  # the run stops: no pair can be fetched
            raise
        except ChiftError as error:
            return None, error
        except ValueError as exc:  # an id that cannot be a path segment
            return None, ChiftError(str(exc), endpoint=_pair_endpoint(consumer_id, sync_id))

    def _get_page(self, page: _Page) -> _Page:
        """Fetch one executions page (in a worker); raise ChiftError when it is unusable."""
        since, until = self.windows.get(page.sync_id, [self.window])[page.listing]
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
        except (AuthError, UnreachableError):  # the run stops: no pair can be fetched
            raise
        except ChiftError as error:
            return None, error
        except ValueError as exc:  # an id that cannot be a path segment
            return None, ChiftError(str(exc), endpoint=_connections_endpoint(job.consumer_id))

    def _work(self, job: tuple[str, str] | _Page | _Connections) -> tuple[Any, ...]:
        if isinstance(job, _Connections):
            return (job, *self._get_connections(job))
        if isinstance(job, _Page):
            if self._syncs[(job.sync_id, job.listing)].failed:  # a listing of it failed
                return (job, None, None)
            try:
                return (job, self._get_page(job), None)
            except (AuthError, UnreachableError):
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
            listings = self.windows.get(sync_id, [window])
            sync = _Sync(sync_id, left=len(listings))
            for listing in range(len(listings)):
                self._syncs[(sync_id, listing)] = _SyncExecutions(sync)
                submit(_Page(sync_id, 1, listing=listing))
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
                except BaseException as exc:  # an AuthError, the API gone, an interrupt: it stops
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
        state = self._syncs[(page.sync_id, page.listing)]
        if state.failed:
            return []
        if answer is not None and not page.verify:
            repeated = self._repeated_page(state, answer)
            if repeated is not None:
                message = (
                    f"page {answer.number} of the executions repeats page {repeated} (the same "
                    f"{len(answer.items):,} executions): the listing does not advance, so its "
                    "executions are left out; fetch them again with --resume"
                )
                self._execution_error(page.sync_id, answer.endpoint, ChiftError(message))
                state.failed = True
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
                self._check_total(page.sync_id, state, answer)
                return self._sync_done(page.sync_id, state)
            # the window moved under the pages (a server that ignores date_to, or a skewed
            # clock): read them all again; each execution is still kept once
            state.passes += 1
            state.total, state.received = -1, 0
            state.page_ids.clear()
            self._stage_group(page.sync_id, state, [answer])
            return [_Page(page.sync_id, 1, listing=page.listing)]
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
            follow = [
                _Page(page.sync_id, n, listing=page.listing) for n in range(2, state.pages + 1)
            ]
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
            if state.pages == 1:  # a lone page cannot shift under itself
                self._check_total(page.sync_id, state, answer)
                return self._sync_done(page.sync_id, state)
            # read the first page again: if the total moved, the pages may have shifted
            follow.append(_Page(page.sync_id, 1, verify=True, listing=page.listing))
        return follow

    def _check_total(self, sync_id: str, state: _SyncExecutions, answer: _Page) -> None:
        """Fail the sync when its listing ended short of the total it stated."""
        if not state.failed and len(state.seen) < state.total:
            message = (
                f"the executions listing ended short of its total: {len(state.seen):,} "
                f"executions read of the {state.total:,} it stated, so they are left "
                "out; fetch them again with --resume"
            )
            self._execution_error(sync_id, answer.endpoint, ChiftError(message))
            state.failed = True

    def _stage_group(self, sync_id: str, state: _SyncExecutions, pages: list[_Page]) -> None:
        if state.failed:
            return
        raw = _Raw()
        items = []
        ids = [
            key
            for page in pages
            for item in page.items
            if isinstance(item, dict) and isinstance(key := item.get("id"), str)
        ]
        earlier = iter(state.seen.lookup(ids))  # the marks of ids earlier groups listed
        fresh: dict[str, int] = {}  # ids this group lists first
        for page in pages:
            assert page.response is not None
            raw.add(page.endpoint, None, sync_id, page.response.status, _now(), page.response.body)
            for i, item in enumerate(page.items):
                key = item.get("id") if isinstance(item, dict) else None
                if isinstance(key, str):
                    mark = _mark(state.passes, page.number, i, item)
                    first = next(earlier)
                    if first is None:
                        first = fresh.get(key)
                    if first is None:
                        fresh[key] = mark
                        items.append(item)
                    elif first >> 104 == state.passes and not page.verify:
                        # listed twice in one reading of the pages (a page read again to
                        # check, or read again in a second pass, is no repeat of Chift's)
                        at = (first >> 64) & (2**40 - 1)
                        state.duplicates.append(
                            Duplicate(
                                "executions",
                                f"{sync_id!r}, {key!r}",
                                f"page {page.number} [{i}]",
                                f"page {at >> 16} [{at & 0xFFFF}]",
                                (first & _MASK) == (mark & _MASK),
                            )
                        )
                    continue
                items.append(item)
        state.seen.add(fresh)
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
        known = self.known.get(sync_id)
        if known is not None:  # read again as the log holds it: stored once already
            table, again = not_known(table, known)
            if again.any():
                state.sync.again.append(table.filter(pa.array(again)))
                table = table.filter(pa.array(~again))
        state.sync.staged += self.writer.stage({"raw_responses": raw.to_table()})
        if table.num_rows:
            state.sync.held.append(table)
        if sum(t.num_rows for t in state.sync.held) >= PART_ROWS:
            self._write_held(state.sync, state.sync.held)
        else:
            syncs = list({id(s.sync): s.sync for s in self._syncs.values()}.values())
            if sum(s.held_bytes for s in syncs) > PART_BYTES:
                self._write_all_held(max(syncs, key=lambda s: s.held_bytes))

    def _write_all_held(self, sync: _Sync) -> None:
        """Stage what ``sync`` holds: its new executions, then those stored again, apart."""
        self._write_held(sync, sync.held)
        self._write_held(sync, sync.again)

    def _write_held(self, sync: _Sync, held: list[pa.Table]) -> None:
        """Stage the executions of ``sync`` in ``held`` (emptied) as one part of the log."""
        if not held:
            return
        table = pa.concat_tables(held)
        held.clear()
        staged = self.writer.stage({"executions": table})
        for _, rel, rows in staged:
            last = pc.max(table["start"]).as_py()
            sync.parts[rel] = [sync.sync_id, last.isoformat(), rows]
        sync.staged += staged

    def _repeated_page(self, state: _SyncExecutions, answer: _Page) -> int | None:
        """Return the number of an earlier page of this pass that ``answer`` repeats, or None.

        A server that ignores ``page`` answers every page with the same items: the pages
        would never add anything, however many are read.
        """
        if not answer.items:
            return None
        ids = hash(tuple(i.get("id") if isinstance(i, dict) else None for i in answer.items))
        for number, earlier in state.page_ids.items():
            if earlier == ids and number != answer.number:
                return number
        state.page_ids[answer.number] = ids
        return None

    def _sync_done(self, sync_id: str, state: _SyncExecutions) -> list[_Page]:
        sync = state.sync
        sync.left -= 1
        if not sync.failed and not sync.left:  # every listing of the sync is in
            self._write_all_held(sync)
            self.duplicates += sync.duplicates
            self.executions_done.add(sync_id)
            info = self.writer.manifest["info"]
            info["executions_done"] = sorted(self.executions_done)
            if info.get("executions_log"):
                info.setdefault("execution_parts", {}).update(sync.parts)
            self.writer.attach(sync.staged)
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
            rows = connection_rows(
                consumer_id, result, keep_data=self.connection_data, duplicates=self.duplicates
            )
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
        mismatch = check_request(consumer_id, sync_id, result)
        if mismatch is not None:  # an error of the pair asked for, never rows of another
            self.payload_errors.append(_pair_error(mismatch, self.client))
            self.failed_count += 1
            return
        self.records.append((consumer_id, result, received))

    def flush(self) -> None:
        if not self.records and not len(self.raw):
            return
        tables: dict[str, Any] = flatten_to_arrow(self.records, on_error="collect")
        bad = tables.pop("payload_errors")
        if bad.num_rows:
            errors = to_pandas(bad)
            # the bodies were redacted already; a message is what gets printed, so it is too
            errors["message"] = errors["message"].map(self.client.redactor.text)
            self.payload_errors.append(errors)
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
        self.counts = _failure_counts(fetch_errors, payload_errors)
        self.failed_count = self.counts["pairs_failed"]
        info = self.writer.manifest["info"]
        duplicates = info.get("duplicates") or {}  # an earlier pass's, on a resume
        for table, counts in count(self.duplicates).items():
            kept = duplicates.setdefault(table, {"identical": 0, "conflicting": 0})
            for kind, n in counts.items():
                kept[kind] = kept.get(kind, 0) + n
        if self.duplicates:
            log.warning("%s", describe(self.duplicates, "the answers of this fetch"))
        info["duplicates"] = duplicates
        if info.get("executions_log"):
            # a sync whose executions failed shows none, as it would without the log: the
            # earlier parts of its executions are listed again by the resume that fetches it
            parts = info.get("execution_parts") or {}
            planned = info.get("executions_planned") or []
            synced = self.executions_done
            self.writer.refer([p for p in planned if (parts.get(p) or [None])[0] in synced], {})
        status: Status = "complete" if not failed and interrupted is None else "partial"
        self.writer.commit(
            status,
            pairs_ok=len(ok),
            **self.counts,
            **({"interrupted": interrupted} if interrupted else {}),
            **({"pairs_expected": self.pairs_expected} if self.pairs_expected is not None else {}),
        )
        return status


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
    """Bytes a worker's answer holds: a pair's or an executions page's body, and decoded."""
    if isinstance(answer, _Page):
        answer = answer.response
    return len(answer.body) * DECODED if isinstance(answer, Response) else 0

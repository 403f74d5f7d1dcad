"""Fetch a snapshot: every (consumer, sync) pair of an account, through a bounded pool of workers.

The walk: ``GET /syncs`` lists the pairs (each sync names its consumers), ``GET /consumers``
names the consumers, then each pair's ``GET /consumers/{consumer_id}/syncs/{syncid}`` is
fetched by one of ``concurrency`` workers. Responses are flattened and written in batches as
they arrive, so memory stays flat however many pairs there are; every response is also kept
as received in ``raw_responses``. A pair that fails after its retries, or answers 404, becomes
a row of ``fetch_errors`` and the run goes on. The snapshot is committed ``complete`` only when
every pair came back; otherwise ``partial``, and ``resume`` fetches the pairs still missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._version import __version__
from .client import ChiftClient, Response
from .errors import AuthError, ChiftError, PayloadError, StoreError
from .flatten import flatten_consumers, flatten_executions, flatten_syncs, flatten_to_arrow
from .schema import TABLES, to_pandas
from .store import SnapshotWriter, Status, load, snapshot_manifest, to_arrow

__all__ = ["FetchResult", "fetch_snapshot", "rebuild_snapshot"]

log = logging.getLogger(__name__)

SYNCS, CONSUMERS = "GET /syncs", "GET /consumers"
EXECUTIONS_PAGE = 500  # the largest page Chift serves
PAGES_PER_PART = 40  # executions pages flattened and written together


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
    return f"GET /consumers/{consumer_id}/syncs/{sync_id}"


def _now() -> datetime:
    return datetime.now(UTC)


class _Raw:
    """Raw responses of one batch, column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in TABLES["raw_responses"].columns}

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
    """Return the (consumer_id, sync_id) pairs a ``GET /syncs`` body names, filtered, in order."""
    want_syncs, want_consumers = set(sync_ids), set(consumer_ids)
    known = {s.get("syncid") for s in syncs}
    for missing in sorted(want_syncs - known):
        log.warning("sync %s is not in GET /syncs; nothing to fetch for it", missing)
    seen: set[tuple[str, str]] = set()
    pairs = []
    for sync in syncs:
        sync_id = sync["syncid"]
        if want_syncs and sync_id not in want_syncs:
            continue
        for consumer_id in sync["consumers"]:
            pair = (consumer_id, sync_id)
            if (want_consumers and consumer_id not in want_consumers) or pair in seen:
                continue
            seen.add(pair)
            pairs.append(pair)
    return pairs


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
        unit="",
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
        Requests in flight at once.
    batch_size : int, default 500
        Responses flattened and written together.
    resume : str, optional
        Id of an interrupted or partial snapshot: fetch only its pairs still missing or failed,
        with the filters of the first run.
    progress : bool, optional
        Show a progress bar; by default only when standard error is a terminal.
    executions_since : datetime, optional
        Fetch the executions of every sync in scope that started since then, through the
        paged ``GET /syncs/{syncid}/executions`` (default: the last 30 days).
    executions : bool, default True
        Whether to fetch executions at all.

    Returns
    -------
    FetchResult
        The snapshot id, its status (``complete`` or ``partial``) and the failed pairs.

    Raises
    ------
    AuthError
        When Chift refuses the credentials; what was fetched stays in the snapshot, which
        ``resume`` can finish.
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
    writer = SnapshotWriter(
        Path(root), resume, resume=resume is not None, info={"package_version": __version__}
    )
    assert writer.snapshot_id is not None
    if resume is not None:
        filters = writer.manifest["info"].get("filters", filters)
    writer.manifest["info"]["filters"] = filters
    if lists is not None:
        writer.write(lists)
    else:
        stored = _stored_syncs(writer)
        if stored is None:  # interrupted before the lists were saved
            syncs_body, lists = _fetch_lists(client, filters["consumers_status"])
            writer.write(lists)
        else:
            syncs_body = stored
    pairs = list_pairs(syncs_body, filters["sync_ids"], filters["consumer_ids"])
    done = {(c, s) for c, s in zip(*_pair_columns(writer.read("consumer_syncs")), strict=True)}
    todo = [p for p in pairs if p not in done]
    log.info("snapshot %s: %d pairs, %d to fetch", writer.snapshot_id, len(pairs), len(todo))

    run = _Run(client, writer, batch_size)
    info = writer.manifest["info"]
    executions = info.setdefault("executions", executions)  # a resume keeps the first choice
    if executions and "executions_since" not in info:
        since = executions_since or (_now() - timedelta(days=30))
        info["executions_since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run.executions_done = set(info.get("executions_done", []))
    in_scope = sorted({s for _, s in pairs})
    try:
        run.fetch(todo, concurrency, _progress(len(todo), progress, "pairs"))
        if "executions_since" in info:
            wanted = [s for s in in_scope if s not in run.executions_done]
            run.fetch_executions(
                wanted,
                info["executions_since"],
                set(filters["consumer_ids"]),
                concurrency,
                _progress(len(wanted), progress, "syncs' executions"),
            )
    except BaseException as exc:
        run.finish(done, interrupted=type(exc).__name__)
        raise
    status = run.finish(done)
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


def _pair_columns(table: pa.Table) -> tuple[list[Any], list[Any]]:
    if table.num_rows == 0:
        return [], []
    return table.column("consumer_id").to_pylist(), table.column("sync_id").to_pylist()


def _stored_syncs(writer: SnapshotWriter) -> list[dict[str, Any]] | None:
    raw = writer.read("raw_responses", ["endpoint", "body"])
    for endpoint, body in zip(
        *(raw.column(c).to_pylist() for c in ("endpoint", "body")), strict=True
    ):
        if _is_syncs_list(endpoint):
            data: list[dict[str, Any]] = json.loads(body)
            return data
    return None


def _is_syncs_list(endpoint: str) -> bool:
    """Whether a raw response's endpoint is ``GET /syncs`` (with or without its query)."""
    return endpoint == SYNCS or endpoint.startswith(SYNCS + "?")


def _fetch_lists(
    client: ChiftClient, consumers_status: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fetch ``GET /syncs`` and ``GET /consumers``: the syncs body, and the tables to write."""
    raw = _Raw()
    syncs_response = client.get("/syncs", {"consumers_status": consumers_status})
    syncs_endpoint = SYNCS + (f"?consumers_status={consumers_status}" if consumers_status else "")
    raw.add(syncs_endpoint, None, None, syncs_response.status, _now(), syncs_response.body)
    consumers_response = client.get("/consumers")
    raw.add(CONSUMERS, None, None, consumers_response.status, _now(), consumers_response.body)
    syncs_body = syncs_response.json()
    tables = {
        "syncs": flatten_syncs(syncs_body),
        "consumers": flatten_consumers(consumers_response.json()),
        "raw_responses": raw.to_table(),
    }
    return list(syncs_body), tables


class _Run:
    """One pass over the pairs to fetch: workers, batches, errors."""

    def __init__(self, client: ChiftClient, writer: SnapshotWriter, batch_size: int) -> None:
        self.client = client
        self.writer = writer
        self.batch_size = batch_size
        self.ok: set[tuple[str, str]] = set()
        self.records: list[tuple[str, Any, datetime]] = []
        self.raw = _Raw()
        self.fetch_errors: list[dict[str, Any]] = []
        self.payload_errors: list[pd.DataFrame] = []
        self.failed_count = 0
        self.executions_done: set[str] = set()

    def _get(self, consumer_id: str, sync_id: str) -> tuple[Response | None, Any]:
        try:
            response = self.client.get(f"/consumers/{consumer_id}/syncs/{sync_id}")
        except AuthError:
            raise
        except ChiftError as error:
            return None, error
        try:
            return response, response.json()
        except (ValueError, RecursionError) as exc:  # json.loads: RecursionError past ~1000 levels
            bad = ChiftError(
                "the answer nests too deeply to parse"
                if isinstance(exc, RecursionError)
                else "the answer is not JSON",
                status=response.status,
                endpoint=_pair_endpoint(consumer_id, sync_id),
                attempts=response.attempts,
            )
            return response, bad

    def fetch(self, todo: list[tuple[str, str]], concurrency: int, bar: Any) -> None:
        """Fetch ``todo`` with ``concurrency`` worker threads; collect and write in this one."""
        jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        for pair in todo:
            jobs.put(pair)
        # A bounded hand-over: memory stays flat however many pairs there are, and a whole
        # batch fits, so workers keep fetching while this thread flattens and writes one.
        results: queue.Queue[tuple[str, str, Response | None, Any, BaseException | None]] = (
            queue.Queue(maxsize=max(concurrency * 4, self.batch_size))
        )
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                pair = jobs.get()
                if pair is None:
                    return
                try:
                    results.put((*pair, *self._get(*pair), None))
                except BaseException as exc:  # an AuthError, or an interrupt: the run stops
                    results.put((*pair, None, None, exc))
                    return

        workers = [
            threading.Thread(target=work, name=f"chift-fetch-{i}", daemon=True)
            for i in range(min(concurrency, len(todo)))
        ]
        for worker in workers:
            jobs.put(None)
            worker.start()
        try:
            for _ in range(len(todo)):
                consumer_id, sync_id, response, result, fatal = results.get()
                if fatal is not None:
                    raise fatal
                self._collect(consumer_id, sync_id, response, result)
                bar.update(1)
                if len(self.raw) >= self.batch_size:
                    self.flush()
                    bar.set_postfix(failed=self.failed_count, refresh=False)
        finally:
            stop.set()
            bar.close()

    def fetch_executions(
        self, sync_ids: list[str], since: str, consumers: set[str], concurrency: int, bar: Any
    ) -> None:
        """Fetch every page of each sync's executions since ``since``; write them per sync.

        The first page says how many there are; the others are then fetched by
        ``concurrency`` workers at once.
        """
        try:
            with ThreadPoolExecutor(concurrency, thread_name_prefix="chift-pages") as pool:
                for sync_id in sync_ids:
                    self._fetch_sync_executions(sync_id, since, consumers, pool)
                    bar.update(1)
        finally:
            bar.close()

    def _fetch_sync_executions(
        self, sync_id: str, since: str, consumers: set[str], pool: ThreadPoolExecutor
    ) -> None:
        path = f"/syncs/{sync_id}/executions"

        def get_page(page: int) -> tuple[str, Response, list[Any], int]:
            response = self.client.get(
                path, {"page": page, "size": EXECUTIONS_PAGE, "date_from": since}
            )
            body = response.json()
            items, total = body["items"], int(body["total"])
            if not isinstance(items, list):
                raise TypeError("items is not an array")
            endpoint = f"GET {path}?page={page}&size={EXECUTIONS_PAGE}&date_from={since}"
            return endpoint, response, items, total

        # Pages are flattened and staged in groups, so memory stays flat however many
        # executions a sync has; the sync's parts are listed together once every page came.
        staged: list[tuple[str, str, int]] = []
        try:
            first = get_page(1)  # it says how many pages there are
            pages = -(-first[3] // EXECUTIONS_PAGE) if first[2] else 1
            staged += self._stage_executions(sync_id, [first], consumers)
            for start in range(2, pages + 1, PAGES_PER_PART):
                numbers = range(start, min(pages, start + PAGES_PER_PART - 1) + 1)
                group = list(pool.map(get_page, numbers))
                staged += self._stage_executions(sync_id, group, consumers)
        except AuthError:
            raise
        except ChiftError as error:
            self._execution_error(sync_id, error.endpoint or f"GET {path}", error)
            return
        except (ValueError, KeyError, TypeError) as exc:
            message = f"the executions page does not follow the spec ({exc})"
            self._execution_error(sync_id, f"GET {path}", ChiftError(message))
            return
        except PayloadError as exc:
            self._execution_error(sync_id, f"GET {path}", ChiftError(str(exc)))
            return
        self.executions_done.add(sync_id)
        self.writer.manifest["info"]["executions_done"] = sorted(self.executions_done)
        self.writer.attach(staged)

    def _stage_executions(
        self, sync_id: str, answers: list[tuple[str, Response, list[Any], int]], consumers: set[str]
    ) -> list[tuple[str, str, int]]:
        raw = _Raw()
        for endpoint, response, _, _ in answers:
            raw.add(endpoint, None, sync_id, response.status, _now(), response.body)
        table = flatten_executions(sync_id, [i for _, _, items, _ in answers for i in items])
        if consumers:
            table = table.filter(
                pc.is_in(table["consumer_id"], value_set=pa.array(sorted(consumers)))
            )
        return self.writer.stage({"executions": table, "raw_responses": raw.to_table()})

    def _execution_error(self, sync_id: str, endpoint: str, error: ChiftError) -> None:
        self.fetch_errors.append(_error_row(None, sync_id, endpoint, error, _now()))
        self.failed_count += 1

    def _collect(
        self, consumer_id: str, sync_id: str, response: Response | None, result: Any
    ) -> None:
        received = _now()
        if response is not None:
            self.raw.add(
                _pair_endpoint(consumer_id, sync_id),
                consumer_id,
                sync_id,
                response.status,
                received,
                response.body,
            )
        if isinstance(result, ChiftError):
            self.fetch_errors.append(
                _error_row(
                    consumer_id, sync_id, _pair_endpoint(consumer_id, sync_id), result, received
                )
            )
            self.failed_count += 1
            return
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
        self.writer.write(tables)
        self.records, self.raw = [], _Raw()

    def finish(self, done: set[tuple[str, str]], interrupted: str | None = None) -> str:
        """Write the last batch and the error tables, then commit; return the status.

        ``done`` holds the pairs an earlier pass already fetched.
        """
        self.flush()
        ok = done | self.ok
        done_keys = ok | {(None, sync_id) for sync_id in self.executions_done}
        # errors of an earlier pass are kept unless their pair has come back since
        old_fetch = to_pandas(self.writer.read("fetch_errors"))
        old_payload = to_pandas(self.writer.read("payload_errors"))
        fetch_errors = _still_failing(
            [old_fetch, pd.DataFrame(self.fetch_errors, columns=TABLES["fetch_errors"].columns)],
            done_keys,
        )
        payload_errors = _still_failing([old_payload, *self.payload_errors], ok)
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
        )
        return status


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

    Writes a new snapshot (its manifest names the one it was rebuilt from) and returns its
    id; ``fetch_errors`` is copied, since a request that got no answer left nothing to rebuild.
    """
    base = Path(root)
    source = load(base, snapshot, tables=["raw_responses", "fetch_errors"])
    raw = source.raw_responses
    if raw.empty:
        raise StoreError(f"snapshot {snapshot!r} in {base} has no raw responses to rebuild from")
    manifest = snapshot_manifest(base, snapshot)
    source_id = manifest["snapshot_id"]
    consumers = set(manifest["info"].get("filters", {}).get("consumer_ids") or [])
    writer = SnapshotWriter(
        base,
        info={**manifest["info"], "package_version": __version__, "rebuilt_from": source_id},
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
        raw.http_status.tolist(),
        raw.body.tolist(),
        fetched,
        strict=True,
    )
    for endpoint, consumer_id, status, body, fetched_at in columns:
        if _is_syncs_list(endpoint):
            lists["syncs"] = flatten_syncs(json.loads(body))
        elif "/executions?" in endpoint:
            sync_id = endpoint.split("/")[2]
            executions.setdefault(sync_id, []).extend(json.loads(body)["items"])
        elif endpoint == CONSUMERS:
            lists["consumers"] = flatten_consumers(json.loads(body))
        elif status == 200 and isinstance(consumer_id, str):
            # a body the fetch could not parse either: its fetch_errors row is copied below
            with contextlib.suppress(ValueError, RecursionError):
                records.append((consumer_id, json.loads(body), fetched_at))
        if len(records) >= batch_size:
            payload_errors.append(_write_pairs(writer, records, ok))
            records = []
    payload_errors.append(_write_pairs(writer, records, ok))
    for sync_id, items in executions.items():
        table = flatten_executions(sync_id, items)
        if consumers:
            table = table.filter(
                pc.is_in(table["consumer_id"], value_set=pa.array(sorted(consumers)))
            )
        writer.write({"executions": table})
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


def _write_pairs(
    writer: SnapshotWriter, records: list[tuple[str, Any, Any]], ok: set[tuple[str, str]]
) -> pd.DataFrame:
    tables = flatten_to_arrow(records, on_error="collect")
    bad = tables.pop("payload_errors")
    ok.update(zip(*_pair_columns(tables["consumer_syncs"]), strict=True))
    writer.write(tables)
    return to_pandas(bad)

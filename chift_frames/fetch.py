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

import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ._version import __version__
from .client import ChiftClient, Response
from .errors import AuthError, ChiftError, StoreError
from .flatten import flatten_consumers, flatten_syncs, flatten_to_arrow
from .schema import TABLES, to_pandas
from .store import SnapshotWriter, Status, _manifests, load

__all__ = ["FetchResult", "fetch_snapshot", "rebuild_snapshot"]

log = logging.getLogger(__name__)

SYNCS, CONSUMERS = "GET /syncs", "GET /consumers"


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


def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    if enabled is None:  # on only for an interactive terminal
        enabled = sys.stderr.isatty()
    return tqdm(
        total=total,
        desc="fetching pairs",
        unit="pair",
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
    try:
        run.fetch(todo, concurrency, _progress(len(todo), progress))
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
        if endpoint.startswith(SYNCS):
            data: list[dict[str, Any]] = json.loads(body)
            return data
    return None


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

    def _get(self, consumer_id: str, sync_id: str) -> tuple[Response | None, Any]:
        try:
            response = self.client.get(f"/consumers/{consumer_id}/syncs/{sync_id}")
        except AuthError:
            raise
        except ChiftError as error:
            return None, error
        try:
            return response, response.json()
        except ValueError:
            bad = ChiftError(
                "the answer is not JSON",
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
        # errors of an earlier pass are kept unless their pair has come back since
        old_fetch = to_pandas(self.writer.read("fetch_errors"))
        old_payload = to_pandas(self.writer.read("payload_errors"))
        fetch_errors = _still_failing(
            [old_fetch, pd.DataFrame(self.fetch_errors, columns=TABLES["fetch_errors"].columns)], ok
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


def _still_failing(parts: list[pd.DataFrame], ok: set[tuple[str, str]]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    errors = pd.concat(parts, ignore_index=True)
    keep = [(c, s) not in ok for c, s in zip(errors.consumer_id, errors.sync_id, strict=True)]
    errors = errors[keep]
    # one row per pair: its latest failure
    return errors.drop_duplicates(["consumer_id", "sync_id"], keep="last").reset_index(drop=True)


def _to_table(name: str, df: pd.DataFrame) -> pa.Table:
    schema = TABLES[name].schema
    if df.empty:
        return schema.empty_table()
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


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
    source_id = snapshot if snapshot != "latest" else _manifests(base)[-1]["snapshot_id"]
    writer = SnapshotWriter(base, info={"package_version": __version__, "rebuilt_from": source_id})
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
        if endpoint.startswith(SYNCS):
            lists["syncs"] = flatten_syncs(json.loads(body))
        elif endpoint == CONSUMERS:
            lists["consumers"] = flatten_consumers(json.loads(body))
        elif status == 200 and isinstance(consumer_id, str):
            records.append((consumer_id, json.loads(body), fetched_at))
        if len(records) >= batch_size:
            payload_errors.append(_write_pairs(writer, records, ok))
            records = []
    payload_errors.append(_write_pairs(writer, records, ok))
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

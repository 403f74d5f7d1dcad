"""Rebuild a snapshot from its raw responses, with the flattening of this version."""

from __future__ import annotations

import contextlib
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._version import __version__
from ..errors import (
    PartialSnapshotWarning,
    PayloadError,
    StoreError,
)
from ..flatten import (
    Duplicate,
    check_request,
    flatten_connections,
    flatten_consumers,
    flatten_executions,
    flatten_sync_definitions,
    flatten_to_arrow,
)
from ..schema import TABLES, to_pandas
from ..store import (
    SnapshotWriter,
    hold_snapshot,
    list_snapshots,
    load,
    open_root,
    snapshot_manifest,
)
from ..store.manifests import is_part_of
from ._common import (
    CONSUMERS,
    _connections_error,
    _decode,
    _failure_counts,
    _is_syncs_list,
    _pair_columns,
    _pair_error,
    _still_failing,
    _to_table,
)


def rebuild_snapshot(
    root: str | os.PathLike[str], snapshot: str = "latest", batch_size: int = 2000
) -> str:
    """Re-derive every table of a snapshot from its raw responses, without the network.

    Writes a new snapshot that replaces the old one and returns its id. Its manifest names
    the snapshot it was rebuilt from (``info.rebuilt_from``) and keeps that fetch's start and
    finish times, so it takes the old one's place: ``latest``, ``all``, :func:`list_snapshots
    <chift_frames.store.list_snapshots>`, ``diff`` and the trends skip the replaced snapshot,
    which stays on disk (readable by its id) until ``prune`` removes it. ``fetch_errors`` is
    copied, since a request that got no answer left nothing to rebuild. Entries a list answer
    repeated are kept once, as by the fetch; the counts of the fetch (``info.duplicates``)
    are kept.

    The rebuild holds the lock of the snapshot it reads, as its writers do: it is refused
    while a fetch (``--resume``), a prune or another rebuild of that snapshot runs, and none
    of them can start until it is done.
    """
    base = Path(root)
    source_id = str(snapshot_manifest(base, snapshot)["snapshot_id"])
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold_snapshot(open_root(root), source_id, purpose="rebuild"))
        except StoreError as exc:
            raise StoreError(f"cannot rebuild snapshot {source_id!r} now: {exc}") from None
        # read under the lock: what was committed last, and nothing is being added to it
        return _rebuild(base, source_id, batch_size)


def _rebuild(base: Path, snapshot: str, batch_size: int) -> str:
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
    try:
        return _rebuild_into(writer, base, source, manifest, consumers, batch_size)
    finally:
        writer.close()  # a rebuild that fails leaves its own new snapshot uncommitted


def _rebuild_into(
    writer: SnapshotWriter,
    base: Path,
    source: Any,
    manifest: dict[str, Any],
    consumers: set[str],
    batch_size: int,
) -> str:
    source_id = manifest["snapshot_id"]
    raw = source.raw_responses
    executions: dict[str, list[Any]] = {}
    lists: dict[str, Any] = {}
    records: list[tuple[str, Any, Any]] = []
    payload_errors = []
    ok: set[tuple[str, str]] = set()
    repeated: list[Duplicate] = []  # counted by the fetch already, in info.duplicates
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
    # A pair or a consumer's connections that failed is asked again by a resume, which
    # stores its answer again: the last answer is the one the fetch kept.
    last = {
        (c, s if isinstance(s, str) else None): n
        for n, (c, s) in enumerate(zip(raw.consumer_id.tolist(), raw.sync_id.tolist(), strict=True))
        if isinstance(c, str)
    }
    for n, (endpoint, consumer_id, sync_id, status, body, fetched_at) in enumerate(columns):
        consumer_id = consumer_id if isinstance(consumer_id, str) else None
        sync_id = sync_id if isinstance(sync_id, str) else None
        if consumer_id is not None and last[(consumer_id, sync_id)] != n:
            continue
        if consumer_id is not None and sync_id is not None:
            if status == 200:
                payload = _decode(body)
                mismatch = check_request(consumer_id, sync_id, payload)
                if mismatch is not None:
                    payload_errors.append(_pair_error(mismatch))
                else:
                    records.append((consumer_id, payload, fetched_at))
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
                        flatten_connections(
                            consumer_id, _decode(body), keep_data=keep_data, duplicates=repeated
                        )
                    )
                except PayloadError as exc:
                    payload_errors.append(_connections_error(consumer_id, exc))
        elif _is_syncs_list(endpoint):
            lists.update(flatten_sync_definitions(_decode(body), duplicates=repeated))
        elif endpoint == CONSUMERS:
            lists["consumers"] = flatten_consumers(_decode(body), duplicates=repeated)
        if len(records) >= batch_size:
            payload_errors.append(_write_pairs(writer, records, ok))
            records = []
    payload_errors.append(_write_pairs(writer, records, ok))
    logged = bool(manifest["info"].get("executions_log"))
    parts: dict[str, list[Any]] = {}
    if logged:
        # the executions log: the rebuild lists the earlier snapshots' parts its source
        # listed, then its own, re-derived from the pages the source read
        known = manifest["info"].get("execution_parts") or {}
        theirs = [
            rel for rel in manifest["files"].get("executions", []) if not is_part_of(rel, source_id)
        ]
        parts = {rel: known[rel] for rel in theirs if rel in known}
        writer.refer(theirs, {"execution_parts": parts})
    for sync_id, items in executions.items():
        # the pages as read, in order: the first copy of each execution is the fetch's
        table = flatten_executions(sync_id, items, duplicates=repeated)
        if consumers:
            table = table.filter(
                pc.is_in(table["consumer_id"], value_set=pa.array(sorted(consumers)))
            )
        staged = writer.stage({"executions": table})
        writer.attach(staged)
        if logged and table.num_rows:
            last = pc.max(table["start"]).as_py().isoformat()
            parts.update({rel: [sync_id, last, rows] for _, rel, rows in staged})
    if connections:
        writer.write({"connections": pa.concat_tables(connections)})
    writer.write(lists)
    writer.replace("fetch_errors", _to_table("fetch_errors", source.fetch_errors))
    payload_errors_table = _still_failing(payload_errors, set())
    writer.replace("payload_errors", _to_table("payload_errors", payload_errors_table))
    writer.replace(
        "raw_responses",
        pa.Table.from_pandas(raw, schema=TABLES["raw_responses"].schema, preserve_index=False),
    )
    failed = len(source.fetch_errors) + len(payload_errors_table)
    counts = _failure_counts(source.fetch_errors, payload_errors_table)
    if logged:
        writer.manifest["info"]["execution_parts"] = parts
    writer.commit("complete" if not failed else "partial", pairs_ok=len(ok), **counts)
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

"""What the fetch and the rebuild share: endpoints, the raw responses, error rows, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from ..client import ChiftClient, api_path
from ..errors import (
    ChiftError,
    PayloadError,
)
from ..schema import TABLES
from ..store import to_arrow

SYNCS, CONSUMERS = "GET /syncs", "GET /consumers"


EXECUTIONS_PAGE = 500  # the largest page Chift serves


PAGES_PER_PART = 40  # executions pages flattened together (their raw bodies written together)


# an executions part holds at least this many rows (one row group of DuckDB's own size),
# unless its sync has fewer new ones: few files for every query of the log to open and plan
# (a heavy 20,000-pair account's 1.5 million executions were 75 parts of 20,000 rows)
PART_ROWS = 122_880
# the executions held until they fill a part, over every sync, at most: past it, the sync
# holding most is written at once (a part then has fewer rows)
PART_BYTES = 64 * 2**20


MAX_EXECUTION_PAGES = 2000  # pages read per sync (a million executions): a bound on a bad total


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pair_columns(table: pa.Table) -> tuple[list[Any], list[Any]]:
    if table.num_rows == 0:
        return [], []
    return table.column("consumer_id").to_pylist(), table.column("sync_id").to_pylist()


def _is_syncs_list(endpoint: str) -> bool:
    """Whether an account-level raw response (no consumer, no sync) is ``GET /syncs``.

    Only the two account lists are told apart by their endpoint; it names no id.
    """
    return endpoint == SYNCS or endpoint.startswith(SYNCS + "?")


def _without_data(body: Any) -> Any:
    """Return a copy of a connections body with every ``data`` set to null, whatever its shape.

    Any key that reads ``data`` in any letter case (``Data``, ``DATA``), at any depth (an
    ``agent``'s, or inside an object that wraps the list): a body that breaks the spec is
    stored too, and a consumer's settings must not ride along in it. Walked without
    recursion, as deep as the decoder allowed.
    """
    if not isinstance(body, dict | list):
        return body
    root = _copy(body)
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(children):
            if isinstance(key, str) and key.casefold() == "data":
                node[key] = None
            elif isinstance(value, dict | list):
                node[key] = _copy(value)
                stack.append(node[key])
    return root


def _copy(node: dict[str, Any] | list[Any]) -> dict[str, Any] | list[Any]:
    return dict(node) if isinstance(node, dict) else list(node)


def _empty_rows(name: str) -> dict[str, list[Any]]:
    return {column: [] for column in TABLES[name].columns}


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


def _connections_error(
    consumer_id: str, exc: PayloadError, client: ChiftClient | None = None
) -> pd.DataFrame:
    """Return the ``payload_errors`` row of a connections body that breaks the spec."""
    message = client.redactor.text(exc.message) if client is not None else exc.message
    row = {"consumer_id": consumer_id, "sync_id": None, "path": "connections" + exc.path}
    return pd.DataFrame([{**row, "message": message}])


def _pair_error(exc: PayloadError, client: ChiftClient | None = None) -> pd.DataFrame:
    """Return the ``payload_errors`` row of a pair's answer that is not about that pair."""
    message = client.redactor.text(exc.message) if client is not None else exc.message
    row = {"consumer_id": exc.consumer_id, "sync_id": exc.sync_id, "path": exc.path}
    return pd.DataFrame([{**row, "message": message}], columns=TABLES["payload_errors"].columns)


def _failure_counts(fetch_errors: pd.DataFrame, payload_errors: pd.DataFrame) -> dict[str, int]:
    """Count what the error tables name, each thing once, whichever table holds it.

    ``pairs_failed``: the (consumer, sync) pairs; ``executions_failed``: the syncs whose
    executions failed (a row without a consumer); ``connections_failed``: the consumers whose
    connections failed (a row without a sync).
    """
    keys: set[tuple[Any, Any]] = set()
    for df in (fetch_errors, payload_errors):
        if len(df):
            keys.update(
                (c if isinstance(c, str) else None, s if isinstance(s, str) else None)
                for c, s in zip(df.consumer_id, df.sync_id, strict=True)
            )
    return {
        "pairs_failed": sum(c is not None and s is not None for c, s in keys),
        "executions_failed": sum(c is None and s is not None for c, s in keys),
        "connections_failed": sum(c is not None and s is None for c, s in keys),
    }


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _decode(body: bytes) -> Any:
    """Decode a stored body; one that is not JSON is given to flatten as text, to be refused."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")

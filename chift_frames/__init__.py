"""chift_frames: tidy, typed pandas tables of Chift consumer-sync setups, saved as Parquet.

The public surface::

    flatten(records)          pure: consumer-sync responses -> Frames of DataFrames
    save(frames, root)        write one snapshot of a hive-partitioned Parquet dataset
    load(root, snapshot)      read a snapshot (or all) back as Frames
    query(root, sql)          DuckDB SQL over the dataset, every table a view
    ChiftClient               the Chift API: auth, retries, errors (``from_env()``)
    fetch_snapshot(client, root)   every (consumer, sync) pair into a new snapshot
    rebuild_snapshot(root)    re-derive a snapshot's tables from its raw responses
    diff(root)                what changed between two snapshots
    trends(root)              per-snapshot figures across every snapshot, in one SQL pass

The sandbox, an offline stand-in for the Chift API, is ``chift_frames.sandbox.Sandbox``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ApiError,
    AuthError,
    ChiftError,
    ChiftFramesError,
    FilteredSnapshotWarning,
    MissingFieldsWarning,
    NotFoundError,
    PartialSnapshotWarning,
    PayloadError,
    RateLimitError,
    StoreError,
    TransportError,
    UnknownFieldsWarning,
    UnreachableError,
)
from .flatten import flatten, to_canonical_json
from .frames import Frames
from .history import diff
from .schema import TABLES
from .snapshot_trends import trends
from .store import SnapshotWriter, connect, list_snapshots, load, query, save

__all__ = [
    "TABLES",
    "ApiError",
    "AuthError",
    "ChiftClient",
    "ChiftError",
    "ChiftFramesError",
    "FetchResult",
    "FilteredSnapshotWarning",
    "Frames",
    "MissingFieldsWarning",
    "NotFoundError",
    "PartialSnapshotWarning",
    "PayloadError",
    "RateLimitError",
    "SnapshotWriter",
    "StoreError",
    "TransportError",
    "UnknownFieldsWarning",
    "UnreachableError",
    "__version__",
    "connect",
    "diff",
    "fetch_snapshot",
    "flatten",
    "list_snapshots",
    "load",
    "query",
    "rebuild_snapshot",
    "save",
    "to_canonical_json",
    "trends",
]

if TYPE_CHECKING:
    from .client import ChiftClient
    from .fetch import FetchResult, fetch_snapshot, rebuild_snapshot

_LAZY = {
    "ChiftClient": "client",
    "FetchResult": "fetch",
    "fetch_snapshot": "fetch",
    "rebuild_snapshot": "fetch",
}
"""The API client and the fetch, imported when first used (with requests): analysis alone
starts faster."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

"""chift_frames: tidy, typed pandas tables of Chift consumer-sync setups, saved as Parquet.

The public surface::

    flatten(records)          pure: consumer-sync responses -> Frames of DataFrames
    save(frames, root)        write one snapshot of a hive-partitioned Parquet dataset
    load(root, snapshot)      read a snapshot (or all) back as Frames
    query(root, sql)          DuckDB SQL over the dataset, every table a view
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    ApiError,
    AuthError,
    ChiftError,
    ChiftFramesError,
    NotFoundError,
    PayloadError,
    RateLimitError,
    StoreError,
    TransportError,
    UnknownFieldsWarning,
)
from .flatten import flatten, to_canonical_json
from .frames import Frames
from .schema import TABLES
from .store import SnapshotWriter, connect, list_snapshots, load, query, save

try:
    __version__ = version("chift-frames")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "TABLES",
    "ApiError",
    "AuthError",
    "ChiftError",
    "ChiftFramesError",
    "Frames",
    "NotFoundError",
    "PayloadError",
    "RateLimitError",
    "SnapshotWriter",
    "StoreError",
    "TransportError",
    "UnknownFieldsWarning",
    "__version__",
    "connect",
    "flatten",
    "list_snapshots",
    "load",
    "query",
    "save",
    "to_canonical_json",
]

"""The Parquet dataset: the only package that writes or reads it.

Layout under a root (a folder, or a URL such as ``s3://bucket/prefix``)::

    <table>/snapshot_id=<snapshot_id>/part-NNNNN-<hex>.parquet   committed parts only
    _snapshots/<snapshot_id>.json                                the manifest: the commit point
    snapshots/<snapshot_id>.parquet                              one row per committed snapshot
    _staging/<snapshot_id>/…, _locks/<snapshot_id>.json          writers at work

A snapshot exists for readers only once its manifest says it is ``complete`` or ``partial``;
its parts are staged outside the table folders until then, so every folder reader (pandas,
pyarrow, DuckDB, Polars, Spark) sees exactly the committed snapshots too. Readers take the
file lists from checked manifests, never from a directory listing.

``executions`` is a log: a fetch's parts hold only the executions it added or whose state
changed, and its manifest lists the earlier snapshots' parts it still shows (``execlog``).

The modules: ``filesystems`` (local and object stores), ``manifests`` (ids, layout, checks),
``lock`` (one writer per snapshot), ``writer`` (staging and the commit), ``read`` (load),
``duck`` (DuckDB views), ``execlog`` (the executions log), ``lifecycle`` (list, prune, clean,
migrate), ``compaction`` (small parts merged).
"""

from __future__ import annotations

from typing import Any

from .._sql import quote as _sql_str  # noqa: F401 (0.1 names, below)
from .compaction import compact
from .duck import _query_dtype, connect, query  # noqa: F401
from .filesystems import Root, display_root, open_root, upload_file, upload_files, url_under
from .lifecycle import clean, migrate, prune, snapshot_states
from .lock import hold_snapshot
from .manifests import MANIFESTS, READABLE, new_snapshot_id
from .manifests import check_snapshot_id as _check_snapshot_id  # noqa: F401
from .read import SnapshotSpec, list_snapshots, load, snapshot_manifest
from .writer import (
    SnapshotWriter,
    Status,
    _schema,  # noqa: F401
    save,
    to_arrow,
)

# Private names of the 0.1 module store.py (also _query_dtype, _sql_str, _check_snapshot_id,
# _schema above), kept while other modules are rewritten in parallel; nothing new uses them.


def _select(root: Any, snapshot: str) -> list[dict[str, Any]]:
    """0.1's ``_select``: the manifests ``snapshot`` names (use ``read.select``)."""
    from .read import select

    return select(open_root(root), snapshot)


def _manifests(root: Any) -> list[dict[str, Any]]:
    """0.1's ``_manifests``: every readable manifest, oldest first."""
    from .manifests import committed_manifests

    return committed_manifests(open_root(root))


__all__ = [
    "MANIFESTS",
    "READABLE",
    "Root",
    "SnapshotSpec",
    "SnapshotWriter",
    "Status",
    "clean",
    "compact",
    "connect",
    "display_root",
    "hold_snapshot",
    "list_snapshots",
    "load",
    "migrate",
    "new_snapshot_id",
    "open_root",
    "prune",
    "query",
    "save",
    "snapshot_manifest",
    "snapshot_states",
    "to_arrow",
    "upload_file",
    "upload_files",
    "url_under",
]

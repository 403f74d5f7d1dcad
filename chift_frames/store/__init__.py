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

The modules: ``filesystems`` (local and object stores), ``manifests`` (ids, layout, checks),
``lock`` (one writer per snapshot), ``writer`` (staging and the commit), ``read`` (load),
``duck`` (DuckDB views), ``lifecycle`` (list, prune, clean).
"""

from __future__ import annotations

from .duck import connect, query
from .filesystems import Root, display_root, open_root, upload_files
from .lifecycle import clean, migrate, prune, snapshot_states
from .manifests import MANIFESTS, READABLE, new_snapshot_id
from .read import SnapshotSpec, list_snapshots, load, snapshot_manifest
from .writer import SnapshotWriter, Status, save, to_arrow

__all__ = [
    "MANIFESTS",
    "READABLE",
    "Root",
    "SnapshotSpec",
    "SnapshotWriter",
    "Status",
    "clean",
    "connect",
    "display_root",
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
    "upload_files",
]

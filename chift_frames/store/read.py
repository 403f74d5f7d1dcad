"""Reading committed snapshots: the list, one manifest, and tables as pandas or Arrow.

Readers take the file lists from checked manifests (see ``manifests``), never from a
listing, so they see exactly the committed snapshots. Column and row filters are pushed down
to the Parquet files through ``pyarrow.dataset``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .._shell import resume_command
from ..errors import PartialSnapshotWarning, StoreError
from ..frames import Frames
from ..schema import TABLES, to_pandas
from .filesystems import Root, display_root, open_root
from .manifests import committed_manifests, current_manifests

__all__ = ["dataset", "list_snapshots", "load", "snapshot_manifest"]

SnapshotSpec = str  # "latest", "all" or a snapshot id
Filter = tuple[str, str, Any]


def list_snapshots(root: str | os.PathLike[str] | Root) -> pd.DataFrame:
    """Return one row per readable snapshot at ``root``, oldest first.

    A snapshot that a rebuild replaced is left out: its rebuild stands in its place.

    Columns: ``snapshot_id``, ``status`` (complete or partial), ``started_at``,
    ``finished_at``, ``pairs_ok`` and ``pairs_failed`` (for a fetch), ``package_version``,
    one ``*_rows`` column per table, and every fact the writer recorded as JSON (``info_json``).
    """
    facts = ["pairs_ok", "pairs_failed", "package_version"]
    rows = []
    for m in current_manifests(open_root(root)):
        info = m.get("info", {})
        rows.append(
            {
                "snapshot_id": m["snapshot_id"],
                "status": m["status"],
                "started_at": m["started_at"],
                "finished_at": m["finished_at"],
                **{fact: info.get(fact) for fact in facts},
                **{f"{name}_rows": m["rows"].get(name, 0) for name in TABLES},
                "info_json": json.dumps(info, sort_keys=True),
            }
        )
    columns = [
        "snapshot_id",
        "status",
        "started_at",
        "finished_at",
        *facts,
        *[f"{n}_rows" for n in TABLES],
        "info_json",
    ]
    df = pd.DataFrame(rows, columns=columns)
    for fact in ("pairs_ok", "pairs_failed"):
        df[fact] = df[fact].astype("Int64")
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df


def select(root: Root, snapshot: SnapshotSpec) -> list[dict[str, Any]]:
    """Return the manifests ``snapshot`` names: ``latest``, ``all`` or an id."""
    manifests = current_manifests(root)
    if not manifests:
        raise StoreError(f"{root.url} holds no complete snapshot yet")
    if snapshot == "latest":
        return [manifests[-1]]
    if snapshot == "all":
        return manifests
    # a snapshot a rebuild replaced is still readable by its id
    chosen = [m for m in committed_manifests(root) if m["snapshot_id"] == snapshot]
    if not chosen:
        known = ", ".join(m["snapshot_id"] for m in manifests[-5:])
        raise StoreError(f"no snapshot {snapshot!r} in {root.url}; latest ones: {known}")
    return chosen


def snapshot_manifest(root: str | os.PathLike[str], snapshot: str = "latest") -> dict[str, Any]:
    """Return the manifest of a readable snapshot: its status, times, files and fetch facts."""
    return select(open_root(root), snapshot)[0]


def dataset(
    root: Root, name: str, manifests: Sequence[dict[str, Any]], *, with_snapshot_id: bool
) -> ds.Dataset:
    """Return a ``pyarrow.dataset`` over table ``name`` of the given snapshots, files as listed.

    With ``with_snapshot_id`` the dataset has a leading ``snapshot_id`` column, filled from
    each file's snapshot (not from its folder name, so the 0.1 layout reads the same).
    """
    schema = TABLES[name].schema
    paths, partitions = [], []
    for m in manifests:
        for rel in m["files"].get(name, []):
            paths.append(root.full(rel))
            partitions.append(pc.field("snapshot_id") == m["snapshot_id"])
    if with_snapshot_id:
        schema = pa.schema([pa.field("snapshot_id", pa.string(), False), *schema])
    if not paths:
        return ds.dataset(schema.empty_table())
    return ds.FileSystemDataset.from_paths(
        paths,
        schema=schema,
        format=ds.ParquetFileFormat(),
        filesystem=root.fs,
        partitions=partitions if with_snapshot_id else None,
    )


def _expression(filters: Any) -> tuple[Any, set[str]]:
    """Return a pyarrow expression from ``filters``, and the columns it uses."""
    if filters is None:
        return None, set()
    if isinstance(filters, pc.Expression):
        # pyarrow checks the columns of an expression itself, when the table is read
        return filters, {"snapshot_id"} if "snapshot_id" in str(filters) else set()
    if isinstance(filters, tuple):
        filters = [filters]
    if not isinstance(filters, list) or not filters:
        raise StoreError(
            "filters must be a list of (column, op, value) tuples, such as "
            "[('sync_id', '==', 'abc')], or a pyarrow.compute expression"
        )
    terms = filters if isinstance(filters[0], list) else [filters]
    columns = set()
    for term in terms:
        for item in term:
            if not (isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str)):
                raise StoreError(f"filter {item!r} is not a (column, op, value) tuple")
            columns.add(item[0])
    try:
        return pq.filters_to_expression(terms), columns
    except (TypeError, ValueError) as exc:
        raise StoreError(f"filters {filters!r} are not valid: {exc}") from None


def load(
    root: str | os.PathLike[str],
    snapshot: SnapshotSpec = "latest",
    *,
    tables: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    filters: Any = None,
) -> Frames:
    """Read a snapshot of the dataset at ``root`` back as :class:`Frames`.

    Parameters
    ----------
    root : str or path
        The dataset folder or URL written by :func:`save` or ``chift-frames fetch``.
    snapshot : str, default "latest"
        ``"latest"`` (the last one finished), a snapshot id, or ``"all"``: every snapshot
        stacked, with a leading ``snapshot_id`` column.
    tables : iterable of str, optional
        Only these tables; by default every table but ``raw_responses``.
    columns : sequence of str, optional
        Only these columns of each table, in this order (each table must have them all);
        only they are read from the files. ``snapshot_id`` stays first with ``"all"``.
    filters : list of tuples, or pyarrow.compute.Expression, optional
        Only the rows that match, such as ``[("sync_id", "==", "abc")]`` or
        ``[("consumer_id", "in", ["c1", "c2"])]`` (pyarrow's filter syntax: a list of
        tuples is an AND, a list of such lists an OR). Parquet row groups that can't match
        are skipped. Each table must have every column a filter names.

    Returns
    -------
    Frames
        DataFrames equal to what was saved, dtypes included.

    Raises
    ------
    StoreError
        For a missing dataset or snapshot, an unknown table, or a column or filter that a
        table doesn't have.
    """
    base = open_root(root)
    chosen = select(base, snapshot)
    names = (
        list(tables)
        if tables is not None
        else [name for name, table in TABLES.items() if table.loaded_by_default]
    )
    for name in names:
        if name not in TABLES:
            raise StoreError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
    expression, filter_columns = _expression(filters)
    every = snapshot == "all"
    wanted = list(columns) if columns is not None else None
    for name in names:
        have = set(TABLES[name].columns) | ({"snapshot_id"} if every else set())
        missing = sorted(set(wanted or []) - have) + sorted(filter_columns - have)
        if missing:
            raise StoreError(
                f"table {name!r} has no column {', '.join(repr(c) for c in missing)}; "
                "pass tables=[...] to load only the tables that have it"
            )
    out = {}
    for name in names:
        tagged = every or "snapshot_id" in filter_columns
        data = dataset(base, name, chosen, with_snapshot_id=tagged)
        read = wanted
        if read is not None and every:
            read = ["snapshot_id", *[c for c in read if c != "snapshot_id"]]
        elif read is None and not every:
            read = TABLES[name].columns
        try:
            table = data.to_table(columns=read, filter=expression)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise StoreError(f"cannot read table {name!r} as asked: {exc}") from None
        except OSError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot read table {name!r} of {base.url}: {reason}") from None
        out[name] = to_pandas(table)
    for m in chosen:
        if m["status"] == "partial":
            warnings.warn(partial_note(m, display_root(root)), PartialSnapshotWarning, stacklevel=2)
    return Frames(out)


def partial_note(manifest: dict[str, Any], root: str) -> str:
    """Return one line on what a partial snapshot lacks, and the command that finishes it.

    Examples
    --------
    >>> m = {"snapshot_id": "s1", "status": "partial",
    ...      "info": {"pairs_ok": 8, "pairs_failed": 2, "pairs_expected": 10}}
    >>> partial_note(m, "data/acme")
    'snapshot s1 is partial: 8 of 10 pairs fetched, 2 errors (table fetch_errors); finish it \
with: chift-frames fetch --out data/acme --resume s1'
    """
    info = manifest.get("info", {})
    sid = manifest["snapshot_id"]
    done, failed = info.get("pairs_ok"), info.get("pairs_failed") or 0
    expected = info.get("pairs_expected")
    how = "was interrupted" if info.get("interrupted") else "is partial"
    if done is None:
        counts = "its fetch did not finish"
    elif expected is not None:
        counts = f"{done:,} of {expected:,} {_plural(expected, 'pair')} fetched"
    else:
        counts = f"{done:,} {_plural(done, 'pair')} fetched"
    errors = f", {failed:,} {_plural(failed, 'error')} (table fetch_errors)" if failed else ""
    return f"snapshot {sid} {how}: {counts}{errors}; finish it with: {resume_command(root, sid)}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"

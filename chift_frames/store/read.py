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

from ..errors import DamagedPartError, PartialSnapshotWarning, StoreError
from ..frames import Frames
from ..schema import ADDED_COLUMNS, TABLES, to_pandas
from .completeness import completeness
from .execlog import LOG, PART, is_log, shown
from .filesystems import Root, display_root, open_root
from .manifests import committed_manifests, current_manifests, damaged_manifests

__all__ = ["check_parts", "dataset", "list_snapshots", "load", "snapshot_manifest"]

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
    if snapshot not in ("latest", "all"):
        # a snapshot a rebuild replaced is still readable by its id
        chosen = [m for m in committed_manifests(root) if m["snapshot_id"] == snapshot]
        if chosen:
            return chosen
        if snapshot in (damaged := damaged_manifests(root)):
            raise StoreError(
                f"snapshot {snapshot!r} in {root.url} can't be read: {damaged[snapshot]}; "
                f"restore _snapshots/{snapshot}.json from a backup, or set it aside with: "
                f"chift-frames snapshots {root.url} --clean"
            )
    manifests = current_manifests(root)
    if not manifests:
        raise StoreError(f"{root.url} holds no complete snapshot yet")
    if snapshot == "latest":
        return [manifests[-1]]
    if snapshot == "all":
        return manifests
    known = ", ".join(m["snapshot_id"] for m in manifests[-5:])
    raise StoreError(f"no snapshot {snapshot!r} in {root.url}; latest ones: {known}")


def snapshot_manifest(root: str | os.PathLike[str], snapshot: str = "latest") -> dict[str, Any]:
    """Return the manifest of a readable snapshot: its status, times, files and fetch facts."""
    return select(open_root(root), snapshot)[0]


def dataset(
    root: Root,
    name: str,
    manifests: Sequence[dict[str, Any]],
    *,
    with_snapshot_id: bool,
    with_part: bool = False,
) -> ds.Dataset:
    """Return a ``pyarrow.dataset`` over table ``name`` of the given snapshots, files as listed.

    With ``with_snapshot_id`` the dataset has a leading ``snapshot_id`` column, filled from
    each file's snapshot (not from its folder name, so the 0.1 layout reads the same). With
    ``with_part``, a last ``_part`` column holds the position of each row's file in its
    snapshot's list (the executions log shows the row of the file listed last).
    """
    schema = TABLES[name].schema
    paths, partitions = [], []
    for m in manifests:
        for number, rel in enumerate(m["files"].get(name, [])):
            paths.append(root.full(rel))
            partition = pc.field("snapshot_id") == m["snapshot_id"]
            if with_part:
                partition = partition & (pc.field(PART) == number)
            partitions.append(partition)
    if with_snapshot_id:
        schema = pa.schema([pa.field("snapshot_id", pa.string(), False), *schema])
    if with_part:
        schema = pa.schema([*schema, pa.field(PART, pa.int64(), False)])
    if not paths:
        return ds.dataset(schema.empty_table())
    return ds.FileSystemDataset.from_paths(
        paths,
        schema=schema,
        format=ds.ParquetFileFormat(),
        filesystem=root.fs,
        partitions=partitions if with_snapshot_id or with_part else None,
    )


def _part_problem(root: Root, rel: str, name: str) -> str | None:
    """Say what is wrong with part ``rel`` of table ``name``; None when it reads as a part."""
    try:
        found = pq.read_schema(root.full(rel), filesystem=root.fs)
    except FileNotFoundError:
        return "is missing"
    except (OSError, pa.ArrowException) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not root.exists(rel):
            return "is missing"
        return f"is not a readable Parquet file ({reason})"
    return _drift(found, name)


def _drift(found: pa.Schema, name: str) -> str | None:
    """How a part's schema ``found`` differs from table ``name``'s pinned one, if it does."""
    pinned = TABLES[name].schema
    added = ADDED_COLUMNS.get(name, ())
    lost = [f.name for f in pinned if f.name not in found.names and f.name not in added]
    if lost:
        return f"lacks the column{'s' if len(lost) > 1 else ''} {', '.join(lost)}"
    for field in pinned:
        if field.name not in found.names:
            continue  # an added column, which readers show as null
        other = found.field(field.name).type
        if not other.equals(field.type):
            return f"holds column {field.name} as {other}, not {field.type}"
    return None


def lacks_added_columns(root: Root, name: str, rels: Sequence[str]) -> bool:
    """Whether a part of table ``name`` among ``rels`` was saved before one of its columns.

    Such parts lack a column of :data:`~chift_frames.schema.ADDED_COLUMNS`; readers that name
    columns (DuckDB, Spark) then show it as null for the whole snapshot. Reads the footers,
    and only for tables that have added columns. An unreadable part says nothing here: the
    reader that opens it says what is wrong.
    """
    added = ADDED_COLUMNS.get(name, ())
    if not added:
        return False
    for rel in rels:
        try:
            found = pq.read_schema(root.full(rel), filesystem=root.fs)
        except (OSError, pa.ArrowException):
            continue
        if any(column not in found.names for column in added):
            return True
    return False


def columns_with_added_null(name: str, quote: str = '"{}"') -> str:
    """Return a SELECT list of table ``name``'s columns, its added ones as typed nulls.

    For the views of a snapshot whose parts were saved before those columns; the SQL reads
    the same in DuckDB and Spark (``quote`` puts each name in the engine's quotes).
    """
    added = ADDED_COLUMNS.get(name, ())
    columns = []
    for field in TABLES[name].schema:
        column = quote.format(field.name)
        if field.name not in added:
            columns.append(column)
        elif pa.types.is_boolean(field.type):
            columns.append(f"CAST(NULL AS BOOLEAN) AS {column}")
        elif pa.types.is_string(field.type):  # STRING: DuckDB's alias of VARCHAR, Spark's own
            columns.append(f"CAST(NULL AS STRING) AS {column}")
        else:  # pragma: no cover - every added column is a boolean or a string so far
            raise TypeError(f"no SQL type for added column {name}.{field.name} ({field.type})")
    return ", ".join(columns)


def tables_lacking_added(
    root: str | os.PathLike[str] | Root,
    manifest: dict[str, Any],
    tables: Iterable[str] | None = None,
) -> set[str]:
    """Return the tables (of ``tables``, else all) with a part saved before an added column."""
    base = root if isinstance(root, Root) else open_root(root)
    names = ADDED_COLUMNS if tables is None else [t for t in tables if t in ADDED_COLUMNS]
    return {
        name for name in names if lacks_added_columns(base, name, manifest["files"].get(name, []))
    }


def damaged_part(root: Root, name: str, m: dict[str, Any], rel: str, why: str) -> DamagedPartError:
    """Return the error that says part ``rel`` of snapshot ``m`` is damaged, and the way out."""
    sid = m["snapshot_id"]
    return DamagedPartError(
        f"part {rel} of table {name!r}, snapshot {sid!r} in {root.url} {why}; restore it from "
        f"a backup, or re-derive the snapshot with: chift-frames rebuild {root.url} "
        f"--snapshot {sid} (it reads the raw_responses parts), or read another snapshot"
    )


def check_parts(
    root: Root, names: Iterable[str], manifests: Sequence[dict[str, Any]], *, drift: bool = True
) -> None:
    """Raise :class:`DamagedPartError` for the first part of ``names`` that is damaged.

    A part is damaged when it is missing, is not Parquet, or (with ``drift``) lacks a column
    of its table or holds one with another type. Each part's footer is read: on an object
    store, a few at a time.
    """
    from .writer import _each  # the writer's pool of requests

    items = [
        (name, m, rel) for name in names for m in manifests for rel in m["files"].get(name, [])
    ]

    def problem(item: tuple[str, dict[str, Any], str]) -> str | None:
        name, _, rel = item
        if not drift:
            return None if root.exists(rel) else "is missing"
        return _part_problem(root, rel, name)

    for item, why in zip(items, _each(problem, items, root), strict=True):
        if why is not None:
            raise damaged_part(root, *item, why)


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
        table doesn't have. Its subclass :class:`~chift_frames.errors.DamagedPartError` for a
        part file that is missing, unreadable, or lacks a column of its table.
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
        logged = name == LOG and any(is_log(m) for m in chosen)
        tagged = every or "snapshot_id" in filter_columns or logged
        data = dataset(base, name, chosen, with_snapshot_id=tagged, with_part=logged)
        _check_fragments(base, name, chosen, data)
        read = wanted
        if read is not None and every:
            read = ["snapshot_id", *[c for c in read if c != "snapshot_id"]]
        elif read is None and not every:
            read = TABLES[name].columns
        try:
            if logged:
                # each snapshot's newest row of each execution in its window, then the filter
                table = shown(data.to_table(), chosen)
                if expression is not None:
                    table = table.filter(expression)
                table = table.select(read or ["snapshot_id", *TABLES[name].columns])
            else:
                table = data.to_table(columns=read, filter=expression)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            check_parts(base, [name], chosen)  # a damaged part is said as such
            raise StoreError(f"cannot read table {name!r} as asked: {exc}") from None
        except OSError as exc:
            check_parts(base, [name], chosen)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot read table {name!r} of {base.url}: {reason}") from None
        out[name] = to_pandas(table)
    for m in chosen:
        if m["status"] == "partial":
            warnings.warn(partial_note(m, display_root(root)), PartialSnapshotWarning, stacklevel=2)
    return Frames(out, snapshot=_about(chosen))


def _about(chosen: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the facts :class:`Frames` shows of one loaded snapshot (none for several)."""
    if len(chosen) != 1:
        return None
    m = chosen[0]
    return {k: m.get(k) for k in ("snapshot_id", "status", "finished_at")}


def _check_fragments(
    root: Root, name: str, manifests: Sequence[dict[str, Any]], data: ds.Dataset
) -> None:
    """Raise :class:`DamagedPartError` for a part of ``data`` that lacks a column of its table.

    pyarrow would read such a part with the column null: a count that is silently wrong.
    The footers read here are the ones the scan reads next.
    """
    if not isinstance(data, ds.FileSystemDataset):
        return
    rels = [rel for m in manifests for rel in m["files"].get(name, [])]
    owners = [m for m in manifests for _ in m["files"].get(name, [])]
    fragments = list(data.get_fragments())

    def drift(fragment: Any) -> str | None:
        try:
            return _drift(fragment.physical_schema, name)
        except (OSError, pa.ArrowException):
            return ""  # missing or unreadable: told below

    from .writer import _each

    for rel, m, why in zip(rels, owners, _each(drift, fragments, root), strict=True):
        if why == "":
            why = _part_problem(root, rel, name) or "can't be read"
        if why is not None:
            raise damaged_part(root, name, m, rel, why)


def partial_note(manifest: dict[str, Any], root: str) -> str:
    """Return one line on what a partial snapshot lacks, and the command that finishes it.

    The line of :meth:`.completeness.Completeness.note`: a filtered snapshot's names its filter.

    Examples
    --------
    >>> m = {"snapshot_id": "s1", "status": "partial",
    ...      "info": {"pairs_ok": 8, "pairs_failed": 2, "pairs_expected": 10}}
    >>> partial_note(m, "data/acme")
    'snapshot s1 is partial: 8 of 10 pairs fetched, 2 errors (table fetch_errors); finish it \
with: chift-frames fetch --out data/acme --resume s1'
    """
    note = completeness(manifest).note(root)
    return note or f"snapshot {manifest['snapshot_id']} is complete"

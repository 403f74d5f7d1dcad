"""DuckDB over a dataset: every table a view, through the same filesystem objects as load.

Each view reads exactly the files the manifests list. On a local disk DuckDB reads them
with its own Parquet reader, unless a path holds a character DuckDB would take for a glob
(a root named ``gx[12]``): such roots, and object stores, get views over a
``pyarrow.dataset`` registered in DuckDB, read through pyarrow's filesystems, so no path is
ever globbed and no DuckDB extension is ever downloaded. Column and row filters are pushed
down into the Parquet scans either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._sql import quote
from ..errors import StoreError
from ..schema import TABLES, arrow_to_pandas_dtype
from .execlog import LOG, again_parts, is_log, log_window, needs_newest, plain_view_sql, view_sql
from .filesystems import Root, open_root
from .read import (
    SnapshotSpec,
    check_parts,
    columns_with_added_null,
    dataset,
    lacks_added_columns,
    list_snapshots,
    select,
)

__all__ = ["connect", "query"]


def connect(
    root: str | os.PathLike[str],
    snapshot: SnapshotSpec = "latest",
    tables: Iterable[str] | None = None,
) -> Any:
    """Open an in-memory DuckDB connection where every table is a view over the dataset.

    With ``snapshot="all"`` each view stacks every snapshot and has a leading ``snapshot_id``
    column; otherwise it shows one snapshot. The ``snapshots`` view lists the snapshots.
    ``tables`` limits the views to those tables (each view reads its files' footers when it
    is made), for a caller that knows what its queries read. What DuckDB spills goes to the
    user's private spill folder (:func:`chift_frames.engine.spill_folder`), not to DuckDB's
    own ``.tmp`` in the working folder, where anyone could read it.

    Raises
    ------
    ValueError
        When ``tables`` names a table the contract does not have.
    StoreError
        Its subclass :class:`~chift_frames.errors.DamagedPartError` when a part file of a
        view is missing or unreadable, or lacks a column of its table.
        When the spill folder is not the user's alone.
    """
    import duckdb

    from ..engine import spill_folder  # it builds on this package

    names = list(TABLES) if tables is None else list(tables)
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise ValueError(f"no table {', '.join(map(repr, unknown))}; tables: {', '.join(TABLES)}")
    base = open_root(root)
    chosen = select(base, snapshot)
    spill = spill_folder()
    con = duckdb.connect()
    con.execute("SET temp_directory = ?", [spill])
    every = snapshot == "all"
    for name in names:
        if name == LOG and any(is_log(m) for m in chosen):
            _log_view(con, base, chosen, every)
            continue
        native = _native_view(base, name, chosen, every)
        if native is not None:
            try:
                con.execute(native)  # DuckDB opens every file here, and binds the columns
            except duckdb.Error as exc:
                con.close()
                check_parts(base, [name], chosen)  # a damaged part is said as such
                from ..engine import duckdb_failure

                raise duckdb_failure(f"cannot read table {name!r} of {base.url}", exc) from None
        else:
            con.register(name, dataset(base, name, chosen, with_snapshot_id=every))
    con.register("snapshots", list_snapshots(base))
    return con


_GLOB = re.compile(r"[*?\[\]{}]")


def _paths_sql(root: Root, files: list[str]) -> str:
    """Return the SQL list of local parts ``files`` for ``read_parquet``, in the order to read.

    That is the order given, but for a small first part (see :func:`_largest_first`).
    """
    return ", ".join(quote(root.full(f)) for f in _largest_first(root, files))


def _largest_first(root: Root, files: list[str]) -> list[str]:
    """Return local parts ``files``, the largest moved to the front when the first is small.

    DuckDB estimates the rows of a read of several Parquet files as the first file's rows
    times the number of files, and puts the side it believes smaller of each join in its hash
    table. A first part can be tiny (the first page of a sync's executions, as commit 247a0a6
    wrote them; the few pairs of a fetch that died, then resumed): read first, it made 1.4
    million executions look like 37,500 rows, and ``stale_flows`` hashed every execution
    instead of the few thousand flows, and spilled. The largest part (in bytes) goes first
    when the first holds less than half its rows (two footers read); otherwise, or when a
    part cannot be read (the view's read then says what is wrong), the order is kept.
    """
    if len(files) < 2:
        return files
    try:
        sizes = [os.path.getsize(root.full(f)) for f in files]
        largest = files[sizes.index(max(sizes))]
        if largest == files[0]:
            return files
        rows = [pq.read_metadata(root.full(f)).num_rows for f in (files[0], largest)]
    except (OSError, pa.ArrowException):
        return files
    if rows[0] * 2 >= rows[1]:
        return files
    return [largest, *(f for f in files if f != largest)]


def _first_start(root: Root, rel: str) -> datetime | None:
    """Return the earliest ``start`` of local part ``rel``, by its footer, or None.

    None when the footer cannot tell (no statistics, or a part that cannot be read: the
    view's query then says what is wrong with it).
    """
    try:
        meta = pq.read_metadata(root.full(rel))
        column = meta.schema.names.index("start")
        found = []
        for number in range(meta.num_row_groups):
            stats = meta.row_group(number).column(column).statistics
            if stats is None or not stats.has_min_max:
                return None
            found.append(stats.min)
        return min(found) if found else None
    except (OSError, ValueError, TypeError, pa.ArrowException):
        return None


def _at_or_after(moment: datetime | None, since: datetime) -> bool:
    try:
        return moment is not None and moment >= since
    except TypeError:  # a footer without a time zone: the window's test is kept
        return False


def _again_sql(root: Root, chosen: list[dict[str, Any]]) -> str | None:
    """Return a query of the parts that hold the executions stored again, or None.

    Those the snapshots that need the newest-row step name (``AGAIN``): as few and small as
    the runs that changed. None when one of them does not name them (committed before
    ``AGAIN``, or a name it does not list).
    """
    grouped = [m for m in chosen if needs_newest(m)]
    again = [again_parts(m) for m in grouped]
    if any(rels is None for rels in again):
        return None
    selects = [
        _numbered_parts(root, m, rels) for m, rels in zip(grouped, again, strict=True) if rels
    ]
    if selects:
        return " UNION ALL ".join(selects)
    return (  # no execution stored again: the columns the view's step reads, no row
        "SELECT NULL::VARCHAR AS snapshot_id, NULL::BIGINT AS _part, NULL::VARCHAR AS sync_id, "
        'NULL::VARCHAR AS execution_id, NULL::TIMESTAMPTZ AS "start" WHERE false'
    )


def _numbered_parts(root: Root, m: dict[str, Any], files: list[str]) -> str:
    """Return a query of parts ``files`` of log snapshot ``m``, each row with its part.

    A row's ``_part`` is its part's position in the snapshot's list, told by the file's
    name; a name not matched fails the query, rather than losing the row's part.
    """
    listed = m["files"][LOG]
    columns = ", ".join(f'"{c}"' for c in TABLES[LOG].columns)
    cases = " ".join(f"WHEN {quote(root.full(rel))} THEN {listed.index(rel)}" for rel in files)
    return (
        f"SELECT {quote(m['snapshot_id'])} AS snapshot_id, CASE filename {cases} "
        f"ELSE error('a part not listed: ' || filename) END AS _part, {columns} "
        f"FROM read_parquet([{_paths_sql(root, files)}], filename = true)"
    )


def _native_view(root: Root, name: str, chosen: list[dict[str, Any]], every: bool) -> str | None:
    """Return SQL for a view that DuckDB reads with its own Parquet reader, when that is safe.

    That is on a local disk, when no path holds a character DuckDB would take for a glob
    and every snapshot has a part of the table; otherwise None (the view is then a
    pyarrow dataset, a few times slower to scan on small data).
    """
    if not root.local or _GLOB.search(root.base):
        return None
    selects = []
    for m in chosen:
        files = m["files"].get(name, [])
        if not files:  # written before the table existed
            return None
        paths = _paths_sql(root, files)
        prefix = f"{quote(m['snapshot_id'])} AS snapshot_id, " if every else ""
        # the columns named, so that a part that lost one fails here rather than shifting
        # the columns of the view; a column added since some part was saved shows as null
        if lacks_added_columns(root, name, files):
            names = columns_with_added_null(name)
        else:
            names = ", ".join(f'"{c}"' for c in TABLES[name].columns)
        selects.append(f"SELECT {prefix}{names} FROM read_parquet([{paths}])")
    return f'CREATE VIEW "{name}" AS ' + " UNION ALL ".join(selects)


def _log_view(con: Any, root: Root, chosen: list[dict[str, Any]], every: bool) -> None:
    """Make the ``executions`` view of snapshots that keep their executions in the log.

    Each snapshot shows the newest row of each execution in its window (see ``execlog``).
    """
    import duckdb

    columns = ", ".join(f'"{c}"' for c in TABLES[LOG].columns)
    native = root.local and not _GLOB.search(root.base)
    sql = None
    if native and all(m["files"].get(LOG) for m in chosen):
        # one read of each snapshot's parts (two, when some hold rows before its window),
        # when none needs the newest-row step
        sources = []
        first: dict[str, datetime | None] = {}  # each footer read once: "all" lists a part often
        for m in chosen:
            files = m["files"][LOG]
            since = log_window(m)[0] if is_log(m) else None
            for f in files:
                if since is not None and f not in first:
                    first[f] = _first_start(root, f)
            inside = [f for f in files if since is None or _at_or_after(first[f], since)]
            before = [f for f in files if f not in inside]
            sources += [
                (m, f"read_parquet([{_paths_sql(root, group)}])", group is inside)
                for group in (inside, before)
                if group
            ]
        sql = plain_view_sql(LOG, sources, every)
    if sql is None and native and any(m["files"].get(LOG) for m in chosen):
        # one read of each snapshot's parts, each row's part told by its file's name
        parts_sql = " UNION ALL ".join(
            _numbered_parts(root, m, m["files"][LOG]) for m in chosen if m["files"].get(LOG)
        )
        sql = view_sql(LOG, parts_sql, chosen, every, _again_sql(root, chosen))
    if sql is None:  # through pyarrow's filesystems: no path is globbed, no extension downloaded
        con.register(
            "_executions_parts", dataset(root, LOG, chosen, with_snapshot_id=True, with_part=True)
        )
        parts_sql = f"SELECT snapshot_id, _part, {columns} FROM _executions_parts"
        sql = view_sql(LOG, parts_sql, chosen, every)
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        con.close()
        check_parts(root, [LOG], chosen)  # a damaged part is said as such
        from ..engine import duckdb_failure

        raise duckdb_failure(f"cannot read table {LOG!r} of {root.url}", exc) from None


def query(
    root: str | os.PathLike[str], sql: str, *, snapshot: SnapshotSpec = "latest"
) -> pd.DataFrame:
    """Run DuckDB SQL over the dataset at ``root`` and return the result as a DataFrame.

    Every table of the contract is a view (see :func:`connect`), so SQL can join them freely.
    DuckDB runs with the settings of :func:`chift_frames.engine.settings` (its memory limit
    and spill folder, from ``CHIFT_FRAMES_MEMORY_LIMIT`` and the like) and in UTC.

    Raises
    ------
    StoreError
        When the dataset can't be read, or DuckDB rejects or fails the query (its message,
        in one line).

    Examples
    --------
    A typical question, which consumers left values unmapped::

        query("data/demo", "SELECT consumer_id, count(*) AS unmapped FROM mapping_values "
                           "WHERE NOT is_mapped GROUP BY ALL ORDER BY unmapped DESC")
    """
    import duckdb

    from ..engine import configure, duckdb_failure, run_with_room  # it builds on this package

    con = connect(root, snapshot)
    try:
        _refuse_changes(con, sql)
        # the memory limit and spill folder of every analysis; rows in the order a query
        # without ORDER BY reads them, as a user of DuckDB expects
        configure(con, keep_order=True)

        def run(c: Any) -> pa.Table | None:
            result = c.sql(sql)
            if result is None:
                return None
            # DuckDB 2 renamed fetch_arrow_table() to to_arrow_table()
            fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
            return fetch()

        try:
            table = run_with_room(con, run)
            if table is None:
                return pd.DataFrame()
        except (duckdb.Error, pa.ArrowException) as exc:
            raise duckdb_failure("the query failed", exc, con) from None
        df: pd.DataFrame = table.to_pandas(types_mapper=_query_dtype)
        return df
    finally:
        con.close()


# DuckDB's statement types that read and change nothing (MULTI: a PIVOT, which DuckDB
# runs as a type it creates in this connection alone, and a SELECT)
_READING = ("SELECT", "EXPLAIN", "MULTI")


def _refuse_changes(con: Any, sql: str) -> None:
    """Refuse SQL that is not a query: it could change the dataset's views or write files.

    DuckDB's parser says what each statement is (DROP, CREATE, ATTACH, COPY, INSERT, SET,
    PRAGMA, CALL...); a SELECT (``WITH``, ``FROM``, ``VALUES``, ``DESCRIBE``, ``SUMMARIZE``,
    ``PIVOT`` included) and a plain EXPLAIN run, nothing else.
    """
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"the query failed: {' '.join(str(exc).split())}") from None
    if not statements:
        raise StoreError("the query holds no SQL statement: give a SELECT")
    for statement in statements:
        kind = str(statement.type).rsplit(".", 1)[-1]
        text = " ".join(str(statement.query).split()).upper()
        if kind not in _READING or text.startswith("EXPLAIN ANALYZE"):
            what = "EXPLAIN ANALYZE" if kind == "EXPLAIN" else kind
            raise StoreError(
                f"query runs SELECT statements only, not {what}, which could change the "
                "dataset's views or write files; for your own tables, open the views with "
                "chift_frames.connect"
            )


def _query_dtype(type_: pa.DataType) -> object | None:
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(type_):
        return pd.api.types.pandas_dtype(str(type_).replace("int", "Int").replace("uInt", "UInt"))
    return arrow_to_pandas_dtype(type_)

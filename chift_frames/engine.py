"""DuckDB connections for analysis: settings that let big inputs spill, and in-memory frames.

Every connection the analysis code opens goes through :func:`configure`, so a report over an
account larger than the machine's memory spills to disk instead of failing. The dataset's own
views come from :func:`chift_frames.store.connect`; this module adds :func:`connect_frames`,
which shows an in-memory :class:`~chift_frames.frames.Frames` under the same view names, and
:func:`open_source`, which opens either. It reads no Parquet file itself.

Settings, each an argument, else an environment variable, else a default for a laptop:

- ``memory_limit`` (``CHIFT_FRAMES_MEMORY_LIMIT``, default ``"256MB"``): how much memory
  DuckDB may use before it spills, in DuckDB's words (``"512MB"``, ``"4GB"``, ``"50%"``).
  The default keeps a command's memory nearly flat from 2,000 to 200,000 pairs; raise it
  on a machine with memory to spare, and big reports spill less and run faster.
- ``temp_directory`` (``CHIFT_FRAMES_TEMP_DIRECTORY``, default a ``chift_frames_duckdb``
  folder in the system's temporary folder): where it spills.
- ``threads`` (``CHIFT_FRAMES_THREADS``, default DuckDB's own: one per core).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import StoreError
from .frames import Frames
from .schema import TABLES

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "Source",
    "configure",
    "connect_frames",
    "duckdb_failure",
    "fetch_arrow",
    "frame_to_arrow",
    "open_source",
    "opened_here",
    "settings",
]

DEFAULT_MEMORY_LIMIT = "256MB"
"""DuckDB's memory limit unless told otherwise. Past it, joins, aggregates and sorts spill to
``temp_directory``, so the memory a command takes barely grows with the account."""

Source = Frames | str | os.PathLike[str]
"""What an analysis reads: in-memory :class:`Frames`, or a dataset folder."""


def settings(
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> dict[str, str | int]:
    """Return the DuckDB settings :func:`configure` applies: arguments, else environment.

    Examples
    --------
    >>> settings(memory_limit="2GB", temp_directory="/tmp/spill")["memory_limit"]
    '2GB'
    """
    out: dict[str, str | int] = {
        "memory_limit": memory_limit
        or os.environ.get("CHIFT_FRAMES_MEMORY_LIMIT")
        or DEFAULT_MEMORY_LIMIT,
        "temp_directory": str(
            temp_directory
            or os.environ.get("CHIFT_FRAMES_TEMP_DIRECTORY")
            or Path(tempfile.gettempdir()) / "chift_frames_duckdb"
        ),
    }
    given_threads = threads or os.environ.get("CHIFT_FRAMES_THREADS")
    if given_threads:
        try:
            out["threads"] = int(given_threads)
        except ValueError:
            raise StoreError(
                f"CHIFT_FRAMES_THREADS must be a whole number, not {given_threads!r}"
            ) from None
    return out


def configure(con: Any, *, keep_order: bool = False, **options: Any) -> Any:
    """Apply :func:`settings` to DuckDB connection ``con`` and return it.

    Sets ``memory_limit`` and ``temp_directory`` (so that big joins and sorts spill), the
    time zone to UTC (timestamps come back as UTC, as in the tables), and turns off the
    progress bar. Unless ``keep_order``, DuckDB need not keep rows in the order they were
    read, which spares memory: every report orders its result itself, where a user's
    ad hoc query may not. ``options`` are those of :func:`settings`.

    Raises
    ------
    StoreError
        When DuckDB refuses a setting (a memory limit it cannot read, for example).
    """
    import duckdb

    chosen = settings(**options)
    try:
        con.execute("SET memory_limit = ?", [str(chosen["memory_limit"])])
        con.execute("SET temp_directory = ?", [str(chosen["temp_directory"])])
        if "threads" in chosen:
            con.execute(f"SET threads = {int(chosen['threads'])}")
        con.execute("SET TimeZone = 'UTC'")
        if not keep_order:
            con.execute("SET preserve_insertion_order = false")
    except duckdb.Error as exc:
        raise StoreError(f"cannot apply the DuckDB settings {chosen}: {exc}") from None
    # no progress bar in the CLI's output; Jupyter without ipywidgets refuses the change
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    return con


_DAMAGED_PART = ("Failed to read file", "schema mismatch", "magic bytes", "No files found")


def duckdb_failure(what: str, exc: BaseException, con: Any = None) -> StoreError:
    r"""Return the error to raise for ``exc`` from DuckDB: ``what``, then why, in one line.

    DuckDB's own message runs over several lines of advice for its SQL users; this keeps its
    first line. When DuckDB ran out of memory, it says how to give it more, with the limit of
    connection ``con`` when given (else the one :func:`settings` would apply).

    Examples
    --------
    >>> import duckdb
    >>> exc = duckdb.OutOfMemoryException("Out of Memory Error: no room\n\nPossible solutions:")
    >>> print(duckdb_failure("report x failed in DuckDB", exc))  # doctest: +ELLIPSIS
    report x failed in DuckDB: Out of Memory Error: no room; raise DuckDB's memory limit ...
    """
    import duckdb

    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    message = f"{what}: {lines[0] if lines else type(exc).__name__}"
    if ".parquet" in message and any(sign in message for sign in _DAMAGED_PART):
        # a part file that changed under the manifest (the views open them lazily)
        message += (
            "; that part of the dataset is damaged: restore it from a backup, or re-derive "
            "its snapshot with chift-frames rebuild DIR --snapshot ID"
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        limit = settings()["memory_limit"]
        if con is not None:
            with contextlib.suppress(duckdb.Error):
                limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
        message += (
            f"; raise DuckDB's memory limit (now {limit}) with --memory-limit or "
            "CHIFT_FRAMES_MEMORY_LIMIT, such as 2GB, or give it a spill folder with more room "
            "(--temp-directory, CHIFT_FRAMES_TEMP_DIRECTORY)"
        )
    return StoreError(message)


def frame_to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Table ``name`` of some frames as arrow, typed by its pinned schema where it can be."""
    schema = TABLES[name].schema
    if list(df.columns) == schema.names:
        try:
            return pa.Table.from_pandas(df, schema=schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
            pass  # hand-made frames with looser dtypes: let arrow infer, then cast below
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    extra = [c for c in table.column_names if c not in schema.names]
    fields = [pa.field(f.name, f.type) for f in schema]
    fields += [table.schema.field(c) for c in extra]
    return pa.Table.from_arrays(
        columns + [table.column(c) for c in extra], schema=pa.schema(fields)
    )


def connect_frames(frames: Mapping[str, pd.DataFrame], **options: Any) -> Any:
    """Open a configured DuckDB connection where each table of ``frames`` is a view.

    Every table of :data:`~chift_frames.schema.TABLES` gets a view of that name, as
    :func:`chift_frames.store.connect` gives over a dataset; a table missing from ``frames``
    is an empty table of its pinned schema. The DataFrames are handed to DuckDB through
    Arrow (pyarrow-backed columns without a copy). ``options`` go to :func:`configure`.
    """
    import duckdb

    con = configure(duckdb.connect(), **options)
    for name, table in TABLES.items():
        empty = name not in frames
        con.register(
            name, table.schema.empty_table() if empty else frame_to_arrow(name, frames[name])
        )
    return con


_OPENED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The connections :func:`open_source` opened (and closes): nobody else changes what they see."""


def opened_here(con: Any) -> bool:
    """Whether :func:`open_source` opened ``con``, so that what it shows cannot change.

    A helper table computed on such a connection stays right until it closes; on a
    connection the caller opened (and may change), it must be computed again.
    """
    return con in _OPENED


@contextmanager
def open_source(
    source: Any, snapshot: str = "latest", *, tables: Iterable[str] | None = None, **options: Any
) -> Iterator[Any]:
    """Open a configured DuckDB connection over ``source``; close it on leaving.

    Parameters
    ----------
    source : Frames or str or path or DuckDB connection
        In-memory frames (``snapshot`` is then ignored), a dataset folder, or a connection
        opened by this module, used as it is and left open.
    snapshot : str, default "latest"
        The snapshot of a dataset: ``"latest"``, a snapshot id or ``"all"``.
    tables : iterable of str, optional
        Over a dataset, the only tables to make views of (all by default).
    **options
        DuckDB settings, as for :func:`configure`.
    """
    if hasattr(source, "execute") and not isinstance(source, Mapping | str | os.PathLike):
        yield source  # a connection the caller opened, and closes
        return
    if isinstance(source, Mapping):
        con = connect_frames(source, **options)
    else:
        from .store import connect

        con = configure(connect(source, snapshot, tables), **options)
    _OPENED.add(con)
    try:
        yield con
    finally:
        con.close()


def fetch_arrow(result: Any) -> pa.Table:
    """Return a DuckDB relation's rows as an arrow table (any DuckDB version)."""
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    table: pa.Table = fetch()
    return table

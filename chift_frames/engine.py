"""DuckDB connections for analysis: settings that let big inputs spill, and in-memory frames.

Every connection the analysis code opens goes through :func:`configure`, so a report over an
account larger than the machine's memory spills to disk instead of failing. The dataset's own
views come from :func:`chift_frames.store.connect`; this module adds :func:`connect_frames`,
which shows an in-memory :class:`~chift_frames.frames.Frames` under the same view names, and
:func:`open_source`, which opens either. It reads no Parquet file itself.

Settings, each an argument, else an environment variable, else a default for a laptop:

- ``memory_limit`` (``CHIFT_FRAMES_MEMORY_LIMIT``, default ``"256MiB"``): how much memory
  DuckDB may use before it spills, in DuckDB's words (``"512MB"``, ``"4GB"``, ``"50%"``).
  The default keeps a command's memory nearly flat from 2,000 to 200,000 pairs, on every
  account shape; a report query that still runs out of it (state that cannot spill) runs
  once more with the machine's room, a quarter of its memory (see :func:`memory_room`).
  A limit you set is never raised.
- ``temp_directory`` (``CHIFT_FRAMES_TEMP_DIRECTORY``, default ``chift_frames/duckdb`` in
  the user's cache folder, ``$XDG_CACHE_HOME`` or ``~/.cache``): where it spills. What
  spills holds the account's data, so the folder must be the user's alone: a connection
  creates it (mode 0700) when missing, and refuses one that another user owns or can reach.
- ``threads`` (``CHIFT_FRAMES_THREADS``, default DuckDB's own: one per core).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from .errors import StoreError
from .frames import Frames
from .schema import TABLES

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "Source",
    "configure",
    "connect_frames",
    "default_temp_directory",
    "duckdb_failure",
    "fetch_arrow",
    "frame_to_arrow",
    "memory_available",
    "memory_room",
    "open_source",
    "opened_here",
    "private_folder",
    "run_with_room",
    "settings",
    "spill_folder",
]

DEFAULT_MEMORY_LIMIT = "256MiB"
"""DuckDB's memory limit unless told otherwise. Past it, joins, aggregates and sorts spill to
``temp_directory``, so the memory a command takes barely grows with the account."""

ROOM_SHARE = 4
"""A query that runs out of :data:`DEFAULT_MEMORY_LIMIT` gets one ``ROOM_SHARE``-th of the
memory available (see :func:`memory_room`)."""
ROOM_CEILING = 4 * 2**30


def memory_available() -> int | None:
    """Return the bytes of memory this process may use: the machine's, or its container's.

    The smaller of the physical memory and a cgroup limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``); None where neither can be read.
    """
    sizes = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(ValueError, OSError):
            text = Path(path).read_text(encoding="ascii").strip()
            if text.isdigit() and 0 < int(text) < 2**60:  # "max", or v1's "no limit"
                sizes.append(int(text))
    return min(sizes) if sizes else None


def memory_room(available: int | None = None) -> str | None:
    """Return the memory limit for a query that ran out of the default one, or None.

    A quarter of the memory available (the machine's, or its container's), at most 4 GiB:
    on an 8 GB machine, 2 GiB. None when that is no more than the default limit (a small
    machine, or one whose memory can't be read): there is no room to give.

    Examples
    --------
    >>> memory_room(8 * 2**30), memory_room(64 * 2**30), memory_room(2**30)
    ('2048MiB', '4096MiB', None)
    """
    if available is None:
        available = memory_available()
    if available is None:
        return None
    room = min(available // ROOM_SHARE, ROOM_CEILING)
    return f"{room // 2**20}MiB" if room > 256 * 2**20 else None


Source = Frames | str | os.PathLike[str]
"""What an analysis reads: in-memory :class:`Frames`, or a dataset folder."""


_SPILL_OPTIONS = "--temp-directory or CHIFT_FRAMES_TEMP_DIRECTORY"


def default_temp_directory() -> Path:
    """Return DuckDB's spill folder unless told otherwise: ``chift_frames/duckdb`` in the cache.

    The cache folder is ``$XDG_CACHE_HOME`` when it is an absolute path, else ``~/.cache``;
    without a home folder, a ``chift_frames-<uid>`` folder in the system's temporary folder.
    Nothing is created here: :func:`configure` creates the folder, private, when it spills.
    """
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if cache and os.path.isabs(cache):
        return Path(cache) / "chift_frames" / "duckdb"
    try:
        return Path.home() / ".cache" / "chift_frames" / "duckdb"
    except RuntimeError:  # no $HOME and no password entry
        uid = getattr(os, "getuid", lambda: "user")()
        return Path(tempfile.gettempdir()) / f"chift_frames-{uid}" / "duckdb"


def private_folder(path: str | os.PathLike[str]) -> str:
    """Return folder ``path`` resolved, created if missing, once sure it is the user's alone.

    DuckDB writes what it spills (rows of the account's tables) as files anyone may read
    (mode 0644), so the folder is what keeps them private: each missing part of ``path``
    is created with mode 0700. An existing folder that another user owns, or that other
    users may enter (any permission for group or others), is refused, as is one inside a
    folder that another user owns or can write to (without the sticky bit of ``/tmp``),
    since they could swap it. Symbolic links are resolved, so what DuckDB is given cannot
    be pointed elsewhere afterwards. On Windows, where there are no such modes, the folder
    is only created.

    Raises
    ------
    StoreError
        When the folder cannot be created, or is not private; the message says what to do.
    """
    folder = Path(os.path.realpath(Path(path).expanduser()))
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for part in reversed(missing):
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made meanwhile by someone else: checked below like any existing folder
        except OSError as exc:
            raise StoreError(
                f"cannot create DuckDB's spill folder {folder}: {exc.strerror or exc}; "
                f"give another with {_SPILL_OPTIONS}"
            ) from None
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return str(folder)
    me = getuid()
    try:
        info = os.stat(folder)
    except OSError as exc:
        raise StoreError(
            f"cannot use DuckDB's spill folder {folder}: {exc.strerror or exc}; give another "
            f"with {_SPILL_OPTIONS}"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"DuckDB's spill folder {folder} is not a folder; give another with {_SPILL_OPTIONS}"
        )
    if info.st_uid != me:
        raise StoreError(
            f"DuckDB's spill folder {folder} belongs to another user (uid {info.st_uid}), who "
            f"could read what it spills; give a folder of your own with {_SPILL_OPTIONS}"
        )
    if info.st_mode & 0o077:
        raise StoreError(
            f"DuckDB's spill folder {folder} is open to other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}), who could read what it spills: chmod 700 it, or "
            f"give another with {_SPILL_OPTIONS}"
        )
    for parent in folder.parents:
        info = os.stat(parent)
        if info.st_uid not in (me, 0):
            raise StoreError(
                f"DuckDB's spill folder {folder} is inside {parent}, which belongs to another "
                f"user (uid {info.st_uid}), who could swap it; give another with {_SPILL_OPTIONS}"
            )
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            raise StoreError(
                f"DuckDB's spill folder {folder} is inside {parent}, which other users can "
                f"write to (mode {stat.S_IMODE(info.st_mode):04o}), so they could swap it; give "
                f"another with {_SPILL_OPTIONS}"
            )
    return str(folder)


def _chosen_temp_directory(given: str | os.PathLike[str] | None) -> str:
    return str(given or os.environ.get("CHIFT_FRAMES_TEMP_DIRECTORY") or default_temp_directory())


def spill_folder(temp_directory: str | os.PathLike[str] | None = None) -> str:
    """Return the folder DuckDB spills to, private and ready (see :func:`private_folder`).

    It is ``temp_directory``, else ``CHIFT_FRAMES_TEMP_DIRECTORY``, else
    :func:`default_temp_directory`: the folder of :func:`settings`.
    """
    return private_folder(_chosen_temp_directory(temp_directory))


def _chosen_memory_limit(memory_limit: str | None) -> str | None:
    """Return the memory limit someone chose: the argument, else the environment, else None."""
    return memory_limit or os.environ.get("CHIFT_FRAMES_MEMORY_LIMIT") or None


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
        "memory_limit": _chosen_memory_limit(memory_limit) or DEFAULT_MEMORY_LIMIT,
        "temp_directory": _chosen_temp_directory(temp_directory),
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

    Sets ``memory_limit`` and ``temp_directory`` (so that big joins and sorts spill, into
    a folder that is the user's alone: see :func:`private_folder`), the time zone to UTC
    (timestamps come back as UTC, as in the tables), and turns off the progress bar.
    Unless ``keep_order``, DuckDB need not keep rows in the order they were read, which
    spares memory: every report orders its result itself, where a user's ad hoc query may
    not. ``options`` are those of :func:`settings`.

    Raises
    ------
    StoreError
        When DuckDB refuses a setting (a memory limit it cannot read, for example), or the
        spill folder is not private.
    """
    import duckdb

    chosen = settings(**options)
    spill = private_folder(str(chosen["temp_directory"]))
    # the default only when no one chose a limit: one chosen equal to it is still theirs
    if _chosen_memory_limit(options.get("memory_limit")) is None:
        _DEFAULT_LIMIT.add(con)
    else:
        _DEFAULT_LIMIT.discard(con)
    try:
        con.execute("SET memory_limit = ?", [str(chosen["memory_limit"])])
        con.execute("SET temp_directory = ?", [spill])
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


# connections whose limit no one chose (DEFAULT_MEMORY_LIMIT, as neither argument nor
# environment set one)
_DEFAULT_LIMIT: weakref.WeakSet[Any] = weakref.WeakSet()


def run_with_room(con: Any, run: Callable[[Any], T]) -> T:
    """Return ``run(con)``, run once more with :func:`memory_room` if it ran out of memory.

    Only when no one chose ``con``'s limit (:data:`DEFAULT_MEMORY_LIMIT`), which keeps
    every command lean on the accounts it suits: a query whose state cannot spill (a list
    of every outlier of a very common value, say) gets the machine's room instead of
    failing. A limit the user set is theirs, even one equal to the default: it is never
    raised. The connection keeps the larger limit afterwards.
    """
    import duckdb

    try:
        return run(con)
    except duckdb.OutOfMemoryException:
        room = memory_room() if con in _DEFAULT_LIMIT else None
        if room is None:
            raise
    # a warning, which the CLI prints once per command: the command takes more memory than
    # its default says, and the user may want to choose the limit themselves
    log.warning(
        "DuckDB ran out of its default memory limit (%s); ran the query again with %s, a "
        "quarter of the memory available. Choose the limit with --memory-limit or "
        "CHIFT_FRAMES_MEMORY_LIMIT",
        DEFAULT_MEMORY_LIMIT,
        room,
    )
    con.execute("SET memory_limit = ?", [room])
    _DEFAULT_LIMIT.discard(con)
    return run(con)


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

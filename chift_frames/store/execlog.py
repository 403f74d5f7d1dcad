"""The executions log: each execution stored once across snapshots, and each snapshot's view.

A fetch stores in its own ``executions/snapshot_id=<id>/`` parts only the executions it read
that the log did not hold as they are: new ones, and those whose state changed (a run that
was ``running`` has ended). Its manifest says ``info.executions_log`` and lists, in
``files["executions"]``, the parts of earlier snapshots that still hold executions of its
window, then its own, oldest first; ``info.execution_parts`` names the sync and the latest
``start`` of each, so that the next fetch knows which to list again.

What a snapshot shows (through :func:`~chift_frames.store.load`, the DuckDB views, ``query``
and every report) is, of the rows its parts hold, the newest row of each
``(sync_id, execution_id)`` (the one in the part listed last) whose ``start`` is not before
its window's (``info.executions_since``): what a fetch of the whole window would have
stored. A snapshot without ``executions_log`` (written by ``save``, an older version, or a
fetch filtered by consumer) shows its parts as they are.

This module reads manifests and parts; it never writes (the writer, the fetch, ``prune``
and :func:`migrate_log` do, through the commit protocol and the snapshot locks).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .._sql import quote
from ..errors import StoreError
from ..schema import TABLES
from .filesystems import Root
from .manifests import STAGING, all_manifests, parse_json

__all__ = [
    "AGAIN",
    "LOG",
    "Known",
    "Plan",
    "Shown",
    "again_parts",
    "is_log",
    "known_fingerprints",
    "known_rows",
    "lists_once",
    "log_window",
    "needs_newest",
    "newest",
    "not_known",
    "part_listers",
    "plain_view_sql",
    "plan_executions",
    "referenced_parts",
    "shown_counts",
    "view_sql",
]

log = logging.getLogger(__name__)

LOG = "executions"
KEY = ("sync_id", "execution_id")
PART = "_part"  # the position of a row's part in its snapshot's list: the newest wins
ONCE = "executions_once"
"""The manifest's ``info`` key that says, when true, that the parts a log snapshot lists hold
each execution of its window once (counted when it was committed): its view then keeps every
row of its window, with no newest-row step (a grouping of every execution by its key)."""
AGAIN = "executions_again"
"""The manifest's ``info`` key that lists, of the parts a log snapshot lists, those that hold
the newest row of an execution listed more than once (counted when it was committed). A
fetch writes the runs it stores again (they changed) in parts of their own, so these are few
and small: the view finds the executions stored again among their rows, not by grouping
every execution by its key."""

# a run found still running is asked again on its own: its start, a second either side
REFRESH_PAD = timedelta(seconds=1)
# past this many runs still running in a sync, they are asked again in one listing, from the
# earliest one on: a request each would cost more than the executions it skips
MAX_REFRESH = 50


def is_log(manifest: dict[str, Any]) -> bool:
    """Whether a snapshot shows its executions through the log (see the module's docstring)."""
    return bool((manifest.get("info") or {}).get("executions_log"))


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def log_window(manifest: dict[str, Any]) -> tuple[datetime, datetime]:
    """Return the window a log snapshot shows: its first and last ``start``, both included.

    Raises
    ------
    StoreError
        When the manifest does not say its window.
    """
    info = manifest.get("info") or {}
    try:
        return _moment(info["executions_since"]), _moment(info["executions_until"])
    except (KeyError, TypeError, ValueError):
        raise StoreError(
            f"snapshot {manifest.get('snapshot_id')!r} keeps its executions in the log but its "
            "manifest has no valid executions_since and executions_until"
        ) from None


# -- reading one snapshot's view ---------------------------------------------------------------


def newest(table: pa.Table, by: Sequence[str] = KEY) -> pa.Table:
    """Keep the row of each key ``by`` from the part listed last (column ``_part``), in order.

    Rows keep the order they were read in; the ``_part`` column stays.
    """
    if table.num_rows == 0:
        return table
    keys = list(by)
    table = table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    last = table.select([*keys, PART]).group_by(keys).aggregate([(PART, "max")])
    joined = table.join(last, keys=keys)
    joined = joined.filter(pc.equal(joined[PART], joined[f"{PART}_max"]))
    return joined.sort_by("_row").drop_columns(["_row", f"{PART}_max"])


def shown(table: pa.Table, manifests: Sequence[dict[str, Any]]) -> pa.Table:
    """Return what ``manifests`` show of ``table``: rows with ``snapshot_id`` and ``_part``.

    Per log snapshot, the newest row of each execution in its window; a snapshot outside the
    log, its rows as they are (as its own view shows them). Rows keep their order.
    """
    logged = pa.array([m["snapshot_id"] for m in manifests if is_log(m)], pa.string())
    in_log = pc.is_in(table["snapshot_id"], value_set=logged)
    order = "_shown_order"
    table = table.append_column(order, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    logs = newest(table.filter(in_log), ("snapshot_id", *KEY)).select(table.column_names)
    table = pa.concat_tables([logs.cast(table.schema), table.filter(pc.invert(in_log))])
    table = table.sort_by(order).drop_columns([order])
    keep = None
    for m in manifests:
        mine = pc.equal(table["snapshot_id"], m["snapshot_id"])
        if is_log(m):
            since, _ = log_window(m)
            start = table["start"]
            mine = pc.and_(mine, pc.greater_equal(start, pa.scalar(since, start.type)))
        keep = mine if keep is None else pc.or_(keep, mine)
    return table.filter(keep) if keep is not None else table


def _ts(moment: datetime) -> str:
    return "TIMESTAMPTZ '" + moment.astimezone(UTC).isoformat() + "'"


def lists_once(manifest: dict[str, Any]) -> bool:
    """Whether log snapshot ``manifest`` lists each execution of its window once (``ONCE``)."""
    return is_log(manifest) and (manifest.get("info") or {}).get(ONCE) is True


def again_parts(manifest: dict[str, Any]) -> list[str] | None:
    """Return the parts log snapshot ``manifest`` names in ``AGAIN``, or None.

    None when it names none it can be trusted with: a snapshot committed before ``AGAIN``,
    or a list that is not one of parts the snapshot lists (a manifest edited by hand).
    """
    again = (manifest.get("info") or {}).get(AGAIN)
    listed = manifest["files"].get(LOG, [])
    if isinstance(again, list) and all(rel in listed for rel in again):
        return again
    return None


def needs_newest(manifest: dict[str, Any]) -> bool:
    """Whether ``manifest``'s view needs the newest-row step.

    That is a log snapshot that may list an execution more than once; a snapshot outside the
    log shows its rows as they are.
    """
    return is_log(manifest) and not lists_once(manifest)


def view_sql(
    name: str,
    parts_sql: str,
    manifests: Sequence[dict[str, Any]],
    every: bool,
    again_sql: str | None = None,
) -> str:
    """Return ``CREATE VIEW`` SQL for the executions that ``manifests`` show.

    ``parts_sql`` is a query of every listed row, with ``snapshot_id`` and ``_part``. The
    windows are typed literals (a view binds no parameter), made from checked datetimes.
    ``again_sql``, when every snapshot that needs the newest-row step says which of its
    parts hold the executions stored again (``AGAIN``), is the same query of those parts'
    rows alone: the executions stored again are found among them.
    """
    columns = ", ".join(f'p."{c}"' for c in TABLES[LOG].columns)
    prefix = "p.snapshot_id, " if every else ""
    windows = []
    for m in manifests:
        if is_log(m):
            since, _ = log_window(m)
            sid = quote(m["snapshot_id"])
            windows.append(f"({sid}, {_ts(since)})")
    window_cte = (
        "windows (snapshot_id, since) AS (VALUES " + ", ".join(windows) + "),\n"
        if windows
        else "windows AS (SELECT NULL::VARCHAR AS snapshot_id, NULL::TIMESTAMPTZ AS since "
        "WHERE false),\n"
    )
    head = (
        f'CREATE VIEW "{name}" AS\n'
        f"WITH listed AS NOT MATERIALIZED ({parts_sql}),\n"
        f"{window_cte}"
        "in_window AS NOT MATERIALIZED (\n"
        "    SELECT l.* FROM listed AS l LEFT JOIN windows AS w ON w.snapshot_id = l.snapshot_id\n"
        '    WHERE w.snapshot_id IS NULL OR l."start" >= w.since\n'
        ")"
    )
    # a snapshot outside the log shows its rows as they are
    grouped = [m["snapshot_id"] for m in manifests if needs_newest(m)]
    if not grouped:  # each execution is listed once: every row of the windows is shown
        return f"{head}\nSELECT {prefix}{columns} FROM in_window AS p"
    shown = (
        f"SELECT {prefix}{columns} FROM in_window AS p\n"
        "LEFT JOIN stored_again AS s\n"
        "    ON s.snapshot_id = p.snapshot_id AND s.sync_id = p.sync_id\n"
        "    AND s.execution_id = p.execution_id\n"
        "WHERE s.last_part IS NULL OR s.last_part <= p._part"
    )
    if again_sql is not None:
        # the newest row of each execution stored more than once is in a part AGAIN names:
        # rows of an execution those parts hold are kept from the last of them on
        return (
            f"{head},\n"
            "stored_again AS MATERIALIZED (\n"
            "    SELECT a.snapshot_id, a.sync_id, a.execution_id, max(a._part) AS last_part\n"
            f"    FROM ({again_sql}) AS a JOIN windows AS w ON w.snapshot_id = a.snapshot_id\n"
            '    WHERE a."start" >= w.since\n'
            "    GROUP BY a.snapshot_id, a.sync_id, a.execution_id\n"
            ")\n" + shown
        )
    # an execution stored again (its state changed) is shown from the part listed last; the
    # window's test comes first: every row of an execution has the same start. Nearly every
    # execution is stored once, so only the rows whose key's hash repeats are grouped by the
    # key itself: a hash collision only adds rows to that grouping, never removes one. Only
    # the snapshots whose manifests do not say they list each execution once are grouped
    ids = ", ".join(map(quote, grouped))
    return (
        f"{head},\n"
        "repeated_hashes AS MATERIALIZED (\n"
        "    SELECT hash(snapshot_id, sync_id, execution_id) AS key_hash FROM in_window\n"
        f"    WHERE snapshot_id IN ({ids})\n"
        "    GROUP BY key_hash HAVING count(*) > 1\n"
        "),\n"
        "stored_again AS MATERIALIZED (\n"
        "    SELECT snapshot_id, sync_id, execution_id, max(_part) AS last_part\n"
        "    FROM in_window\n"
        "    WHERE hash(snapshot_id, sync_id, execution_id)\n"
        "        IN (SELECT key_hash FROM repeated_hashes)\n"
        "    GROUP BY snapshot_id, sync_id, execution_id HAVING count(*) > 1\n"
        ")\n" + shown
    )


def plain_view_sql(
    name: str, sources: Sequence[tuple[dict[str, Any], str, bool]], every: bool
) -> str | None:
    """Return ``CREATE VIEW`` SQL for snapshots none of which needs the newest-row step.

    ``sources`` holds, for each snapshot, one or two relations of its listed parts' rows
    (one ``read_parquet`` each): its manifest, the relation, and whether every row of it is
    known to be in the window (then it is not tested: DuckDB takes a tested relation for a
    fifth of its rows, and may then build a join's hash table on the executions rather
    than on the far smaller side). A log snapshot that lists each execution once (``ONCE``)
    shows its rows from its window's start on; a snapshot outside the log, all its rows.

    A few relations rather than the union of one per part that :func:`view_sql` needs to
    know each row's part: DuckDB reads the parts in parallel and estimates their rows from
    their footers. Returns None when some snapshot needs the newest-row step.
    """
    if not sources or any(needs_newest(m) for m, _, _ in sources):
        return None
    columns = ", ".join(f'"{c}"' for c in TABLES[LOG].columns)
    selects = []
    for m, source, inside in sources:
        sid = quote(m["snapshot_id"])
        prefix = f"{sid} AS snapshot_id, " if every else ""
        tested = is_log(m) and not inside
        where = f' WHERE "start" >= {_ts(log_window(m)[0])}' if tested else ""
        selects.append(f"SELECT {prefix}{columns} FROM {source}{where}")
    return f'CREATE VIEW "{name}" AS ' + " UNION ALL ".join(selects)


COUNT_MEMORY = "64MiB"
"""DuckDB's memory limit for counting a snapshot's executions when it is committed: the
distinct ids of a large account's executions are partitioned and spilled rather than held,
so the count adds little to the fetch's peak (a query that still runs out of it gets
:func:`~chift_frames.engine.memory_room`)."""


class Shown(NamedTuple):
    """What a log snapshot's parts show (see :func:`shown_counts`)."""

    executions: int  # distinct (sync_id, execution_id) from the window's start on
    rows: int  # the rows that hold them
    again: list[int]  # the positions of the parts holding the newest row of one listed twice

    def info(self, files: Sequence[str]) -> dict[str, Any]:
        """Return the manifest's ``ONCE`` and ``AGAIN`` for the parts ``files`` counted."""
        return {ONCE: self.executions == self.rows, AGAIN: [files[k] for k in self.again]}


def shown_counts(root: Root, paths: Sequence[str], since: datetime) -> Shown:
    """Count the executions that parts ``paths`` (full paths) show from ``since`` on, and rows.

    Returns the distinct ``(sync_id, execution_id)`` and the rows that hold them: equal when
    no execution is listed twice, so that a view of the parts needs no newest-row step (see
    ``ONCE``). Also the positions, in ``paths``, of the parts that hold the newest row of an
    execution listed more than once (see ``AGAIN``). Counted in DuckDB at
    :data:`COUNT_MEMORY`, spilling what does not fit in it; local parts are read by DuckDB's
    own Parquet reader, which reads only the columns it needs.
    """
    if not paths:
        return Shown(0, 0, [])
    import duckdb

    from ..engine import configure, memory_room

    con = configure(duckdb.connect(), memory_limit=COUNT_MEMORY)
    try:
        if root.local:
            source = "(SELECT *, list_position(?, filename) - 1 AS _part FROM "
            source += "read_parquet(?, filename = true))"
            params: list[Any] = [list(paths), list(paths), since]
        else:  # DuckDB reads only the columns the count needs, through the projection
            con.register("parts", _numbered_dataset(root, paths))
            source, params = "parts", [since]
        sql = (
            "SELECT count(*), coalesce(sum(n), 0), list(DISTINCT last) FILTER (WHERE n > 1) "
            "FROM (SELECT sync_id, execution_id, count(*) AS n, max(_part) AS last "
            f'FROM {source} WHERE "start" >= ? GROUP BY sync_id, execution_id)'
        )
        try:
            found = con.execute(sql, params).fetchone()
        except duckdb.OutOfMemoryException:
            con.execute("SET memory_limit = ?", [memory_room() or "1GiB"])
            found = con.execute(sql, params).fetchone()
    finally:
        con.close()
    if not found:
        return Shown(0, 0, [])
    return Shown(int(found[0]), int(found[1]), sorted(int(k) for k in found[2] or []))


# -- planning a fetch ------------------------------------------------------------------------


@dataclass
class Plan:
    """What a fetch reads of one sync's executions, and what it lists from earlier snapshots.

    ``windows``: the ``(date_from, date_to)`` listings to ask, oldest first (the whole window
    when no earlier snapshot holds the sync's executions). ``parts``: the parts of earlier
    snapshots the new one lists, oldest first, and ``part_info`` what the manifest says of
    each. ``base``: the snapshot the plan builds on, if any.
    """

    sync_id: str
    windows: list[tuple[datetime, datetime]]
    parts: list[str] = field(default_factory=list)
    part_info: dict[str, list[str]] = field(default_factory=dict)
    base: str | None = None


def _part_info(manifest: dict[str, Any]) -> dict[str, list[str]]:
    found = (manifest.get("info") or {}).get("execution_parts") or {}
    return found if isinstance(found, dict) else {}


def plan_executions(
    root: Root,
    manifests: Sequence[dict[str, Any]],
    sync_ids: Iterable[str],
    since: datetime,
    until: datetime,
    overlap: timedelta,
) -> dict[str, Plan]:
    """Plan the executions a fetch asks for, sync by sync, from the log so far.

    For each sync, the base is the latest of ``manifests`` (current snapshots, oldest first)
    that keeps its executions in the log, fetched that sync's executions whole, and covers
    the start of the new window. The fetch then asks only for executions since the base's
    window end less ``overlap``, and again for each run the base saw still running (so its
    final state is read), and lists the base's parts that hold executions of the new window.
    Without a base, it asks for the whole window.
    """
    plans = {}
    for sync_id in sync_ids:
        plans[sync_id] = _plan_sync(root, manifests, sync_id, since, until, overlap)
    return plans


def _base(
    manifests: Sequence[dict[str, Any]], sync_id: str, since: datetime
) -> dict[str, Any] | None:
    for m in reversed(manifests):
        info = m.get("info") or {}
        if not is_log(m) or sync_id not in (info.get("executions_done") or []):
            continue
        try:
            base_since, _ = log_window(m)
        except StoreError:
            continue
        if base_since > since:
            return None  # it does not hold the start of the window asked for
        return dict(m)
    return None


def _plan_sync(
    root: Root,
    manifests: Sequence[dict[str, Any]],
    sync_id: str,
    since: datetime,
    until: datetime,
    overlap: timedelta,
) -> Plan:
    whole = Plan(sync_id, [(since, until)])
    base = _base(manifests, sync_id, since)
    if base is None:
        return whole
    _, base_until = log_window(base)
    if base_until <= since:
        return whole
    info = _part_info(base)
    listed = base["files"].get(LOG, [])
    if any(rel not in info for rel in listed):
        return whole  # a part the base says nothing of: read the window again
    parts = []
    for rel in listed:
        part_sync, last_start = info[rel][0], info[rel][1]
        if part_sync == sync_id and last_start and _moment(last_start) >= since:
            parts.append(rel)
    main_from = max(since, base_until - overlap)
    running = _still_running(root, parts, since, main_from)
    if len(running) > MAX_REFRESH:
        main_from, running = max(since, running[0] - REFRESH_PAD), []
    windows: list[tuple[datetime, datetime]] = []
    for start in running:
        lo, hi = max(since, start - REFRESH_PAD), start + REFRESH_PAD
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], hi))
        else:
            windows.append((lo, hi))
    if windows and main_from <= windows[-1][1]:
        windows[-1] = (windows[-1][0], until)
    else:
        windows.append((main_from, until))
    return Plan(
        sync_id,
        windows,
        parts,
        {rel: list(info[rel]) for rel in parts},
        base["snapshot_id"],
    )


def _parts_dataset(root: Root, parts: Sequence[str]) -> ds.Dataset:
    """Return parts ``parts`` (relative to ``root``) as one dataset, with ``_part``."""
    return _numbered_dataset(root, [root.full(rel) for rel in parts])


def _numbered_dataset(root: Root, paths: Sequence[str]) -> ds.Dataset:
    """Return the parts at full ``paths`` as one dataset, with ``_part``.

    A row's ``_part`` is its part's position in ``paths``.
    """
    schema = pa.schema([*TABLES[LOG].schema, pa.field(PART, pa.int64(), False)])
    return ds.FileSystemDataset.from_paths(
        list(paths),
        schema=schema,
        format=ds.ParquetFileFormat(),
        filesystem=root.fs,
        partitions=[pc.field(PART) == k for k in range(len(paths))],
    )


def _still_running(
    root: Root, parts: Sequence[str], since: datetime, before: datetime
) -> list[datetime]:
    """Return the sorted starts of the runs ``parts`` show still running, before ``before``."""
    if not parts:
        return []
    data = _parts_dataset(root, parts)
    start = pc.field("start")
    kind = TABLES[LOG].schema.field("start").type
    in_window = (start >= pa.scalar(since, kind)) & (start < pa.scalar(before, kind))
    columns = [*KEY, "start", "end", PART]
    # the few runs some part shows running, then every row of theirs: their newest row says
    # whether they still are (a window's every row would hold the whole log in memory)
    running = data.to_table(columns=["execution_id"], filter=in_window & pc.field("end").is_null())
    if running.num_rows == 0:
        return []
    ids = pc.unique(running["execution_id"])
    rows = data.to_table(columns=columns, filter=in_window & pc.field("execution_id").isin(ids))
    rows = newest(rows)
    rows = rows.filter(pc.is_null(rows["end"]))
    return sorted(rows.column("start").to_pylist())


class Known(NamedTuple):
    """What a fetch knows of one sync's executions in the log, as sorted 64-bit hashes.

    ``rows``: the fingerprint of each execution's newest row (every column, a null equal to
    a null). ``keys``: the hash of each execution's key. About 16 bytes a run rather than
    the rows: a nightly fetch of a large account reads hundreds of thousands of runs again,
    and holding them as rows for the whole fetch made its memory grow with the account.
    """

    rows: np.ndarray
    keys: np.ndarray


_NONE = Known(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64))


def known_rows(
    root: Root, parts: Sequence[str], windows: Sequence[tuple[datetime, datetime]]
) -> Known:
    """Fingerprint the newest row, in ``parts``, of each execution ``windows`` will list again.

    A fetch stores an execution it reads again only if this row differs from it (see
    :func:`not_known`).
    """
    if not parts or not windows:
        return _NONE
    schema = TABLES[LOG].schema
    kind = schema.field("start").type
    start = pc.field("start")
    test = None
    for lo, hi in windows:
        one = (start >= pa.scalar(lo, kind)) & (start <= pa.scalar(hi, kind))
        test = one if test is None else test | one
    keys, rows, order = [], [], []
    for number, rel in enumerate(parts):  # oldest first, each part's rows in their order
        data = ds.dataset(root.full(rel), schema=schema, format="parquet", filesystem=root.fs)
        for batch in data.to_batches(filter=test):
            if batch.num_rows:
                key, row = _fingerprints(pa.Table.from_batches([batch]))
                keys.append(key)
                rows.append(row)
                order.append(np.full(batch.num_rows, number, dtype=np.int64))
    if not keys:
        return _NONE
    return _newest_fingerprints(np.concatenate(keys), np.concatenate(rows), np.concatenate(order))


def _newest_fingerprints(keys: np.ndarray, rows: np.ndarray, parts: np.ndarray) -> Known:
    """Of each key's rows (in the order read), keep the one from the last part, read last."""
    at = np.arange(len(keys), dtype=np.int64)
    order = np.lexsort((at, parts, keys))
    ordered = keys[order]
    last = np.append(ordered[1:] != ordered[:-1], True)
    return Known(np.unique(rows[order][last]), ordered[last])


def known_fingerprints(known: pa.Table) -> Known:
    """Fingerprint rows ``known`` (one sync's) as :func:`known_rows` does the parts' rows.

    An ``execution_id`` held twice (a part written by hand) counts by its last row.
    """
    if known.num_rows == 0:
        return _NONE
    keys, rows = _fingerprints(known.select(TABLES[LOG].columns))
    return _newest_fingerprints(keys, rows, np.zeros(known.num_rows, dtype=np.int64))


_HASHER = threading.local()


def _fingerprints(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's key hash and whole-row hash (DuckDB's 64-bit ``hash``), in order.

    Two rows equal in every column, a null equal to a null, have the same row hash; two
    rows that differ have the same one with a chance of about 2^-64. Hashed in this
    thread's own DuckDB connection (made once: a new one costs 15 ms).
    """
    con = getattr(_HASHER, "con", None)
    if con is None:
        import duckdb

        con = _HASHER.con = duckdb.connect()  # preserves the rows' order, as projections do
    columns = ", ".join(f'"{c}"' for c in table.column_names)
    keys = ", ".join(f'"{c}"' for c in KEY)
    found = con.from_arrow(table).project(f"hash({keys}) AS k, hash({columns}) AS h").fetchnumpy()
    return np.asarray(found["k"], dtype=np.uint64), np.asarray(found["h"], dtype=np.uint64)


def _among(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return np.asarray(sorted_values[at] == values)


def not_known(table: pa.Table, known: Known) -> tuple[pa.Table, np.ndarray]:
    """Return the rows of ``table`` that ``known`` does not hold as they are, in order.

    ``known`` is what the log holds of one sync (as :func:`known_rows` and
    :func:`known_fingerprints` give it). A row is known when its fingerprint (its every
    column, a null equal to a null) is among ``known.rows``. A row with a NaN is never
    known, as a NaN is not equal to itself. Compared in numpy: a nightly fetch may read
    again hundreds of thousands of runs it holds.

    Also returns, for each row returned, whether its execution is in the log (a run that
    changed, stored again) rather than new: the fetch writes those apart, so that a view
    finds the executions stored twice among a few rows (see ``AGAIN``).
    """
    if table.num_rows == 0 or len(known.keys) == 0:
        return table, np.zeros(table.num_rows, dtype=bool)
    keys, rows = _fingerprints(table)
    held = _among(known.rows, rows)
    for name in table.column_names:
        if pa.types.is_floating(table.schema.field(name).type):
            held &= ~pc.fill_null(pc.is_nan(table[name]), False).to_numpy(zero_copy_only=False)
    return table.filter(pa.array(~held)), _among(known.keys, keys[~held])


# -- what prune and clean must keep ------------------------------------------------------------


def referenced_parts(root: Root, but: str | None = None) -> set[str]:
    """Every executions part that a snapshot (other than ``but``) lists, or a writer at work.

    A part of a snapshot being pruned that another still lists stays on disk, as does one
    that a partial snapshot planned to list (``info.executions_planned``: the parts of a
    sync whose executions failed, which its resume lists again).
    """
    return {rel for rel, ids in part_listers(root).items() if ids - {but}}


def part_listers(root: Root) -> dict[str, set[str]]:
    """Map each executions part that a snapshot or a writer at work lists to their ids.

    See :func:`referenced_parts`; a writer at work counts under its snapshot's id too.
    """
    found: dict[str, set[str]] = {}
    for m in all_manifests(root):
        rels = list(m["files"].get(LOG, []))
        planned = (m.get("info") or {}).get("executions_planned")
        if isinstance(planned, list):
            rels += [p for p in planned if isinstance(p, str)]
        for rel in rels:
            found.setdefault(rel, set()).add(m["snapshot_id"])
    for sid in root.entries(STAGING):
        rel = f"{STAGING}/{sid}/state.json"
        if not root.exists(rel):
            continue
        try:
            state = parse_json(root.read(rel), rel)
        except StoreError:
            continue
        files = state.get("files") if isinstance(state, dict) else None
        if isinstance(files, dict) and isinstance(files.get(LOG), list):
            for p in files[LOG]:
                if isinstance(p, str):
                    found.setdefault(p, set()).add(sid)
    return found

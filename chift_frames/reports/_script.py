"""Each report's SQL as one statement that runs as printed, its inputs bound as literals.

A report's query (``sql/<name>.sql``) reads the dataset's tables and, for some reports, small
relations chift_frames computes when it runs them: the parameters (``success_statuses``,
``report_parameters``), ``one_apis``, the monitoring states, and the cron expansions, which
need Python (cronsim). :func:`report_script` writes those relations as CTEs of literals
(``VALUES``) ahead of the query's own, so that the printed text is one ``WITH ... SELECT``
statement: pasted into ``chift-frames query``, DuckDB, or (with ``dialect=``) another engine
over one-snapshot views, it returns what the report returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from .._sql import quote
from ..engine import open_source
from ..errors import ChiftFramesError
from ..store.execlog import again_parts, is_log, lists_once
from ._query import Relation, report_sql, run_sql, success_relation, with_limit
from .flows import CRON_STRINGS_SQL, cron_firings, cron_messages
from .monitoring import READS_MONITORING_STATES, one_apis_relation
from .runs import SUCCESS_STATUSES, stale_parameters

__all__ = ["NEEDS_DATA", "report_inputs", "report_script"]

NEEDS_DATA = frozenset({"schedule_heatmap", "cron_problems", "stale_flows"})
"""The reports whose printed SQL reads the dataset first: the cron schedules of its timer
flows (expanded in Python), or the snapshot's time that stands for "now"."""

_NOW_SQL = """
SELECT coalesce(
    (SELECT max(fetched_at) FROM consumer_syncs), (SELECT max(start) FROM executions)
) AS now
"""


def report_inputs(
    name: str,
    source: Any = None,
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
    success_statuses: Sequence[str] = SUCCESS_STATUSES,
    window: pd.Timedelta | str = "2D",
    now: pd.Timestamp | str | datetime | None = None,
    read: Callable[[str], list[Any]] | None = None,
) -> list[Relation]:
    """Return the relations report ``name`` reads besides the dataset's tables, computed.

    ``source`` (a dataset folder, frames or a connection, with ``snapshot``) is read only
    for the reports of :data:`NEEDS_DATA`: the cron schedules, and the time that stands for
    "now" in :func:`~chift_frames.reports.stale_flows` when ``now`` is not given. ``read``,
    when given, reads them instead: it runs a DuckDB query over the snapshot's views (in the
    engine of its choice) and returns the query's first column.

    Raises
    ------
    ChiftFramesError
        When the report needs the dataset and ``source`` is None.
    """
    if name in ("monitoring_states", *READS_MONITORING_STATES):
        return [one_apis_relation(one_apis)]
    if name in ("flow_runs", "consumer_flow_runs"):
        return [success_relation(success_statuses)]
    if name not in NEEDS_DATA:
        return []
    if read is not None:
        return _data_inputs(name, read, success_statuses, window, now)
    if source is None:
        raise ChiftFramesError(
            f"report {name}'s SQL binds what it reads from the dataset: give the dataset"
        )
    with open_source(source, snapshot) as con:
        return _data_inputs(
            name,
            lambda sql: run_sql(con, name, sql=sql).column(0).to_pylist(),
            success_statuses,
            window,
            now,
        )


def _data_inputs(
    name: str,
    read: Callable[[str], list[Any]],
    success_statuses: Sequence[str],
    window: pd.Timedelta | str,
    now: pd.Timestamp | str | datetime | None,
) -> list[Relation]:
    if name == "schedule_heatmap":
        return [cron_firings(None, read(CRON_STRINGS_SQL))]
    if name == "cron_problems":
        return [cron_messages(None, read(CRON_STRINGS_SQL))]
    if now is None:
        now = read(_NOW_SQL)[0]
    return [success_relation(success_statuses), stale_parameters(window, now)]


def report_script(
    name: str,
    source: Any = None,
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
    top: int | None = None,
    success_statuses: Sequence[str] = SUCCESS_STATUSES,
    window: pd.Timedelta | str = "2D",
    now: pd.Timestamp | str | datetime | None = None,
    read: Callable[[str], list[Any]] | None = None,
) -> str:
    """Return report ``name``'s SQL as one DuckDB statement that runs as it is.

    What the query reads besides the dataset's tables comes first, as CTEs of literals
    bound to the values the report would use (see :func:`report_inputs`); for the funnel and
    consumer health, the monitoring states too. Run over views that show one snapshot
    (``chift-frames query``, :func:`chift_frames.connect`, or the views of
    :func:`~chift_frames.reports.snapshot_views`), it returns the report's rows.

    Parameters
    ----------
    name : str
        A report of :data:`~chift_frames.reports.REPORTS`.
    source : str or path or Frames, optional
        The dataset, read only by the reports of :data:`NEEDS_DATA`.
    snapshot : str, default "latest"
        The snapshot of ``source`` those read.
    one_apis, top, success_statuses, window, now
        As the report takes them.
    read : callable, optional
        Reads the dataset instead of ``source``, as for :func:`report_inputs`.

    Raises
    ------
    KeyError
        When there is no report of that name.
    ChiftFramesError
        When the report needs the dataset and ``source`` is None.

    Examples
    --------
    >>> print(report_script("flow_runs").split("WITH ")[1].splitlines()[0])
    success_statuses AS (
    """
    sql = report_sql(name)
    if name in ("unmapped_by_consumer", "unmapped_by_mapping"):
        sql = with_limit(sql, top)
    inputs = report_inputs(
        name,
        source,
        snapshot=snapshot,
        one_apis=one_apis,
        success_statuses=success_statuses,
        window=window,
        now=now,
        read=read,
    )
    ctes = [_cte(r.name, r.query(), r.about) for r in inputs]
    if name in READS_MONITORING_STATES:
        states = report_sql("monitoring_states").rstrip().rstrip(";")
        ctes.append(
            _cte(
                "monitoring_states",
                states,
                "the report monitoring_states, which this query reads",
                materialized=True,
            )
        )
    if not ctes:
        return sql
    lines = sql.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if not line.startswith("--"))
    if not lines[at].startswith("WITH "):  # every report's query is a WITH ... SELECT
        raise AssertionError(f"report {name}'s SQL does not start with WITH")
    head = "".join(lines[:at])
    note = (
        "-- The CTEs up to the report's own hold what chift_frames computes for it, bound to\n"
        "-- the values the report used; run over views that show one snapshot.\n"
    )
    rest = lines[at][len("WITH ") :] + "".join(lines[at + 1 :])
    return head + note + "WITH " + ",\n".join(ctes) + ",\n" + rest


def _cte(name: str, query: str, about: str, *, materialized: bool = False) -> str:
    body = "\n".join(f"    {line}" if line else "" for line in query.strip().splitlines())
    hint = "MATERIALIZED " if materialized else ""
    comment = f"    -- {about}\n" if about else ""
    return f"{name} AS {hint}(\n{comment}{body}\n)"


FILE_DIALECTS = ("duckdb", "spark")
"""The dialects whose views read the dataset's Parquet folders themselves."""


def report_tables(name: str) -> list[str]:
    """Return the dataset's tables report ``name``'s SQL reads, in the contract's order."""
    from ..schema import TABLES

    sql = report_sql(name)
    if name in READS_MONITORING_STATES:
        sql += report_sql("monitoring_states")
    code = "\n".join(line.split("--")[0] for line in sql.splitlines())
    return [t for t in TABLES if re.search(rf"\b(FROM|JOIN)\s+{t}\b", code)]


def snapshot_views(
    root: str,
    snapshot_id: str,
    tables: Iterable[str],
    *,
    dialect: str = "duckdb",
    manifest: dict[str, Any] | None = None,
    lacking: Collection[str] = (),
) -> str:
    """Return the statements that create one view per table over one snapshot of a dataset.

    The dataset's table folders hold every snapshot (``<table>/snapshot_id=<id>/``); the
    reports expect views that show one. For DuckDB and Spark, ``root`` is the dataset's folder
    or URL as that engine reaches it, and each view reads the snapshot's folder; for the
    other dialects, ``root`` is the schema that holds one external table per table folder (every
    snapshot, partitioned by ``snapshot_id``, as ``docs/readers.md`` creates them), and each
    view keeps the snapshot's rows. A snapshot that keeps its executions in the log
    (``manifest`` says so) gets an ``executions`` view over the parts it lists (for the
    other dialects, the rows of the folders it lists), the newest row of each execution from
    its window on.
    The tables of ``lacking`` have parts saved before some of their columns
    existed (:func:`chift_frames.store.read.lacks_added_columns` tells): their views show
    those columns as null.
    """
    from ..schema import TABLES
    from ..store.manifests import check_snapshot_id, part_folder
    from ..store.read import columns_with_added_null

    check_snapshot_id(snapshot_id, legacy=True)
    out = []
    for name in tables:
        if name == "executions" and manifest is not None and is_log(manifest):
            out.append(log_view(root, manifest, dialect))
        elif dialect == "duckdb":
            path = quote(f"{root.rstrip('/')}/{part_folder(name, snapshot_id)}/*.parquet")
            if name in lacking:  # parts of an earlier version, maybe beside newer ones
                body = f"SELECT {columns_with_added_null(name)} FROM read_parquet({path}, "
                body += "hive_partitioning = false, union_by_name = true)"
            else:
                body = f"SELECT * FROM read_parquet({path}, hive_partitioning = false)"
            out.append(f"CREATE OR REPLACE VIEW {name} AS\n{body};")
        elif dialect == "spark":
            path = f"{root.rstrip('/')}/{part_folder(name, snapshot_id)}".replace("`", "``")
            columns = columns_with_added_null(name, "`{}`") if name in lacking else "*"
            body = f"SELECT {columns} FROM parquet.`{path}`"
            out.append(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS\n{body};")
        else:
            columns = ", ".join(f'"{c}"' for c in TABLES[name].schema.names)
            schema = ".".join(f'"{part}"' for part in root.split("."))
            body = f"SELECT {columns}\nFROM {schema}.{name}\nWHERE snapshot_id = " + quote(
                snapshot_id
            )
            out.append(f"CREATE OR REPLACE VIEW {name} AS\n{body};")
    return "\n".join(out) + "\n"


def log_view(root: str, manifest: dict[str, Any], dialect: str) -> str:
    """Return the ``executions`` view of a snapshot that keeps its executions in the log.

    It reads the parts the manifest lists, in order, and keeps the newest row of each
    execution whose ``start`` is in the snapshot's window (see ``store.execlog``).
    """
    from ..schema import TABLES
    from ..store.execlog import log_window

    since, _ = log_window(manifest)
    names = TABLES["executions"].columns
    external = dialect not in ("duckdb", "spark")
    columns = ", ".join(f"`{c}`" if dialect == "spark" else f'"{c}"' for c in names)
    listed_parts = manifest["files"].get("executions", [])
    selects = []
    if external:
        # the external table holds every stored row, under the snapshot whose folder has it:
        # the folders the manifest lists, in order, and the syncs its parts hold
        folders = list(dict.fromkeys(rel.split("/")[1].split("=", 1)[1] for rel in listed_parts))
        info = manifest["info"].get("execution_parts") or {}
        syncs = sorted({info[rel][0] for rel in listed_parts if rel in info})
        order = " ".join(f"WHEN {quote(f)} THEN {n}" for n, f in enumerate(folders))
        schema = ".".join(f'"{part}"' for part in root.split("."))
        where = "snapshot_id IN (" + ", ".join(map(quote, folders)) + ")"
        if syncs and all(rel in info for rel in listed_parts):
            where += " AND sync_id IN (" + ", ".join(map(quote, syncs)) + ")"
        selects.append(
            f"SELECT CASE snapshot_id {order} END AS _part, {columns}\n"
            f"    FROM {schema}.executions WHERE {where}"
        )
    for number, rel in enumerate(listed_parts if not external else []):
        path = f"{root.rstrip('/')}/{rel}"
        source = (
            "parquet.`" + path.replace("`", "``") + "`"
            if dialect == "spark"
            else f"read_parquet({quote(path)}, hive_partitioning = false)"
        )
        selects.append(f"SELECT {number} AS _part, {columns} FROM {source}")
    moment = "TIMESTAMP" if dialect == "spark" else "TIMESTAMPTZ"
    start = "`start`" if dialect == "spark" else '"start"'
    keep = ", ".join(f"p.{c}" for c in columns.split(", "))
    create = "CREATE OR REPLACE TEMPORARY VIEW" if dialect == "spark" else "CREATE OR REPLACE VIEW"
    listed = "\n    UNION ALL ".join(selects)  # a committed snapshot lists a part at least
    since_sql = f"{moment} {quote(since.isoformat())}"
    view = (
        f"{create} executions AS\n"
        f"WITH listed AS (\n    {listed}\n)\n"
        f"SELECT {keep}\nFROM listed AS p\n"
        f"WHERE p.{start} >= {since_sql}"
    )
    if lists_once(manifest) and not external:
        # the parts it lists hold each execution once: no newest-row step (the external
        # table's folders may hold more than the parts it lists)
        return view + ";"
    # each execution listed more than once is kept from its last part on: its last part
    # found by grouping, then joined (a correlated NOT EXISTS ran Spark out of memory)
    again = again_parts(manifest)
    if not external and again is not None:
        # those executions are among the rows of the parts AGAIN names: the engines read
        # only those parts for the step
        numbers = ", ".join(str(listed_parts.index(rel)) for rel in again) or "NULL"
        where, having = f"_part IN ({numbers}) AND {start} >= {since_sql}", ""
    else:
        where, having = f"{start} >= {since_sql}", " HAVING count(*) > 1"
    return (
        f"{create} executions AS\n"
        f"WITH listed AS (\n    {listed}\n),\n"
        "again AS (\n"
        "    SELECT sync_id, execution_id, max(_part) AS last_part FROM listed\n"
        f"    WHERE {where}\n"
        f"    GROUP BY sync_id, execution_id{having}\n"
        ")\n"
        f"SELECT {keep}\nFROM listed AS p\n"
        "LEFT JOIN again AS a ON a.sync_id = p.sync_id AND a.execution_id = p.execution_id\n"
        f"WHERE p.{start} >= {since_sql}\n"
        "  AND (a.last_part IS NULL OR a.last_part <= p._part);"
    )

"""Run a report's SQL over a source and hand back a typed DataFrame; nothing else.

A report's query lives in ``sql/<name>.sql``, names the views :func:`chift_frames.query`
offers, and binds its parameters (``$top``, ``$success_statuses``...). DuckDB computes; only
the result becomes pandas, with the dtypes each report pins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import pandas as pd
import pyarrow as pa

from .._sql import quote
from ..engine import duckdb_failure, fetch_arrow, open_source, run_with_room
from ._spark import SparkLike, run_spark_report

STRING = pd.StringDtype("pyarrow")
INT = pd.Int64Dtype()
FLOAT = pd.Float64Dtype()
BOOL = pd.BooleanDtype()
UTC = pd.DatetimeTZDtype("us", "UTC")
IDS = "object"  # sorted Python lists of str

Source = Any  # Frames, a dataset folder, an open DuckDB connection (see ``open_source``), or
# a SparkSource


def report_sql(name: str) -> str:
    """Return the SQL of report ``name``, as kept in ``chift_frames/reports/sql/``.

    Raises
    ------
    KeyError
        When there is no report of that name.
    """
    resource = files("chift_frames.reports") / "sql" / f"{name}.sql"
    if not re.fullmatch(r"[a-z][a-z_]*", name) or not resource.is_file():
        raise KeyError(f"no report {name!r}")
    return resource.read_text(encoding="utf-8")


_ARROW_TYPES = {
    "BIGINT": pa.int64(),
    "VARCHAR": pa.string(),
    "TIMESTAMPTZ": pa.timestamp("us", "UTC"),
}


@dataclass(frozen=True)
class Relation:
    """A small relation a report reads besides the dataset's tables, computed by chift_frames.

    The reports' parameters (``success_statuses``, ``report_parameters``), the API of each
    ``one_api`` number (``one_apis``) and the cron expansions (``cron_firings``,
    ``cron_messages``) are relations: registered on the connection when a report runs, and
    written out as a CTE of literals when its SQL is printed, so both read the same rows.

    ``columns`` pairs each column's name with its SQL type: ``BIGINT``, ``VARCHAR`` or
    ``TIMESTAMPTZ``.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...]
    about: str = ""

    def arrow(self) -> pa.Table:
        """Return the rows as an arrow table of the columns' types."""
        return pa.table(
            {
                column: pa.array([row[i] for row in self.rows], _ARROW_TYPES[type_])
                for i, (column, type_) in enumerate(self.columns)
            }
        )

    def query(self) -> str:
        """Return a DuckDB query of literals that gives the relation's rows, typed."""
        names = [column for column, _ in self.columns]
        if not self.rows:
            typed = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in self.columns)
            return f"SELECT {typed} WHERE 1 = 0"
        if len(self.rows) == 1:
            typed = ", ".join(
                f"CAST({literal(v)} AS {t}) AS {c}"
                for v, (c, t) in zip(self.rows[0], self.columns, strict=True)
            )
            return f"SELECT {typed}"
        typed = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in self.columns)
        values = ",\n    ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in self.rows)
        return f"SELECT {typed}\nFROM (VALUES\n    {values}\n) AS t({', '.join(names)})"


def literal(value: Any) -> str:
    """Return ``value`` (None, int, str or an aware datetime) as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return "'" + value.astimezone(dt.UTC).isoformat(sep=" ") + "'"
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"no SQL literal for {value!r}")


def register(con: Any, relations: Iterable[Relation]) -> None:
    """Register each of ``relations`` on DuckDB connection ``con`` under its name."""
    for relation in relations:
        con.register(relation.name, relation.arrow())


def success_relation(statuses: Sequence[str]) -> Relation:
    """Return the relation ``success_statuses (status)``: the statuses counted as success."""
    return Relation(
        "success_statuses",
        (("status", "VARCHAR"),),
        tuple((s,) for s in dict.fromkeys(statuses)),
        "the execution statuses counted as a success",
    )


def with_limit(sql: str, top: int | None) -> str:
    """Return ``sql`` with ``LIMIT top`` added when ``top`` is a positive number."""
    return sql.rstrip().rstrip(";") + f"\nLIMIT {int(top)}\n" if top else sql


def has_table(source: Source, snapshot: str, name: str) -> bool:
    """Whether ``source`` holds table ``name``.

    A dataset's snapshot always does (a table written without rows is an empty file), as
    does a connection opened over one; in-memory frames may leave tables out.
    """
    if isinstance(source, Mapping):
        return name in source
    return True


def to_frame(table: pa.Table, columns: Mapping[str, Any]) -> pd.DataFrame:
    """Return arrow ``table`` as a DataFrame of ``columns``, in that order, with those dtypes."""
    out = {}
    for name, dtype in columns.items():
        column = table.column(name)
        if dtype == IDS:
            out[name] = pd.Series(
                [list(v) if v is not None else [] for v in column.to_pylist()], dtype=object
            )
        elif dtype == UTC:
            out[name] = pd.Series(column.to_pandas(), dtype=UTC)
        else:
            out[name] = pd.Series(column.to_pandas(types_mapper=_mapper), dtype=dtype)
    return pd.DataFrame(out, columns=list(columns)).reset_index(drop=True)


def _mapper(type_: pa.DataType) -> object | None:
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return STRING
    if pa.types.is_integer(type_):
        return INT
    if pa.types.is_floating(type_):
        return FLOAT
    if pa.types.is_boolean(type_):
        return BOOL
    return None


def run_sql(
    con: Any, name: str, params: Mapping[str, Any] | None = None, sql: str | None = None
) -> pa.Table:
    """Run report ``name``'s SQL (or ``sql``) on ``con`` with bound ``params``; return arrow."""
    import duckdb

    text = report_sql(name) if sql is None else sql
    try:
        return run_with_room(con, lambda c: fetch_arrow(c.sql(text, params=dict(params or {}))))
    except duckdb.Error as exc:
        raise duckdb_failure(f"report {name} failed in DuckDB", exc, con) from None


def run_report(
    source: Source,
    snapshot: str,
    name: str,
    columns: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    prepare: Callable[[Any], None] | None = None,
    sql: str | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Run report ``name`` (or ``sql``) over ``source`` and return its typed DataFrame.

    ``prepare`` registers helper tables on the connection first (the cron expansions). Over a
    :class:`~chift_frames.reports.SparkSource`, Spark runs the report's printed Spark SQL
    instead, its inputs bound to ``inputs`` (the report's parameters, as
    :func:`~chift_frames.reports.report_script` takes them).
    """
    if isinstance(source, SparkLike):
        return run_spark_report(source, snapshot, name, columns, inputs or {})
    with open_source(source, snapshot) as con:
        if prepare is not None:
            prepare(con)
        table = run_sql(con, name, params, sql)
    sink = _ARROW_SINK.get()
    if sink is not None:  # its rows go to the sink; the caller reads them from there
        frame = to_frame(table.slice(0, 0), columns)
        sink.append((frame, table, columns))
        return frame
    return to_frame(table, columns)


ArrowResult = tuple[pd.DataFrame, pa.Table, Mapping[str, Any]]
"""A report's DataFrame without rows, its rows as DuckDB gave them, and its columns' dtypes
(see :func:`arrow_results`)."""

_ARROW_SINK: ContextVar[list[ArrowResult] | None] = ContextVar("_ARROW_SINK", default=None)


@contextmanager
def arrow_results() -> Iterator[list[ArrowResult]]:
    """Collect the rows of the reports run inside, as Arrow, rather than as DataFrames.

    While it is active, each report run over DuckDB returns its DataFrame without rows, and
    appends it, its rows and its columns' dtypes to the list yielded: the report files are
    written from Arrow, with no round trip through pandas. The caller checks that what a
    report returned is that DataFrame (a report that changed it would be written wrong). A
    report run by Spark is not collected (it returns its DataFrame as always).
    """
    sink: list[ArrowResult] = []
    token = _ARROW_SINK.set(sink)
    try:
        yield sink
    finally:
        _ARROW_SINK.reset(token)

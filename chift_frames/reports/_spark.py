"""Run the reports on Spark: each report's printed Spark SQL, over one snapshot's views.

A report on Spark is the statement ``chift-frames report DIR --sql NAME --dialect spark``
prints: the report's DuckDB SQL with what chift_frames computes for it bound as CTEs of
literals (:func:`~chift_frames.reports.report_script`), translated by sqlglot and the
project's rules (:mod:`._dialects`), and run over temporary views that show one snapshot
(:func:`._script.snapshot_views`). There is no second implementation: the same text gives
the same rows, and the result gets the dtypes the DuckDB run pins. What a script reads from
the dataset before it is written (the cron schedules, the snapshot's time) Spark reads too;
chift_frames itself reads only the snapshots' manifests. Only each result reaches the driver.

This module starts no cluster: it runs on the session it is given, or on a local one. It
imports pyspark only when a report runs, so the package works without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from ..errors import ChiftFramesError

__all__ = [
    "SparkSource",
    "compute_spark_reports",
    "local_spark",
    "spark_session",
    "spark_snapshot",
]

logger = logging.getLogger(__name__)

_INSTALL_PYSPARK = "pip install 'chift-frames[spark]'"


@dataclass(frozen=True)
class SparkSource:
    """A dataset whose reports Spark computes instead of DuckDB.

    Give it to any report (``reports.flow_runs(SparkSource(root, spark))``), with
    ``snapshot=`` as for a dataset folder: ``"latest"`` is the latest complete snapshot (a
    snapshot a rebuild replaced is skipped), or a snapshot id. The DataFrame has the
    columns, dtypes, values and order of the DuckDB run.

    Parameters
    ----------
    root : str or path
        The dataset's folder or URL as chift_frames reaches it: its manifests say which
        snapshots there are.
    spark : pyspark.sql.SparkSession, optional
        The session to run on, such as a cluster's. By default, the active session, else a
        local one (``local[*]``, UI off, UTC), left running as pyspark's ``getOrCreate``
        leaves it.
    spark_root : str, optional
        The dataset as Spark reaches it, when that differs from ``root`` (``s3a://bucket/ds``
        for ``s3://bucket/ds``, a mount point...). By default ``root``.

    Examples
    --------
    >>> from chift_frames import reports
    >>> source = reports.SparkSource("data/demo", spark_root="s3a://bucket/demo")
    >>> source.spark_path()
    's3a://bucket/demo'
    """

    root: str | os.PathLike[str]
    spark: Any = None
    spark_root: str | None = None

    def spark_path(self) -> str:
        """Return the dataset's folder as Spark reads it (a local folder made absolute)."""
        where = self.spark_root if self.spark_root is not None else os.fspath(self.root)
        return where if "://" in where else os.path.abspath(where)


def _pyspark_sql() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise ChiftFramesError(
            f"the Spark engine needs pyspark, which is not installed: {_INSTALL_PYSPARK}"
        ) from None
    return pyspark.sql


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise ChiftFramesError(
            "a local Spark session needs Java (17 or later), and none is on PATH or in "
            "JAVA_HOME: install one (e.g. apt-get install openjdk-17-jre-headless), or give "
            "the reports your own SparkSession"
        )


def local_spark(cores: int | str = "*") -> Any:
    """Return a local SparkSession (``local[cores]``), as the reports use when given none.

    The UI is off, the driver listens on 127.0.0.1 only, and the SQL time zone is UTC. If
    the process already has a SparkContext, pyspark's ``getOrCreate`` returns a session on it.

    Raises
    ------
    ChiftFramesError
        When pyspark is not installed, or no Java runtime is found.
    """
    sql = _pyspark_sql()
    _check_java()
    # the driver's services on the loopback only: nothing of the account's data is served to
    # the network (the user's own SPARK_LOCAL_IP wins)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with warnings.catch_warnings():  # pyspark's note on pandas 3: the reports use arrow
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        builder = sql.SparkSession.builder
    session = (
        builder.master(f"local[{cores}]")
        .appName("chift-frames")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(_shuffle_partitions(cores)))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _shuffle_partitions(cores: int | str) -> int:
    # one machine: a few partitions per core, not the 200 sized for a cluster, each of which
    # costs a task per shuffle however small the account
    return 2 * (os.cpu_count() or 1) if cores == "*" else 2 * int(cores)


@contextmanager
def spark_session(spark: Any = None) -> Iterator[Any]:
    """Yield ``spark``, else the active session, else a local one stopped on leaving.

    What ``chift-frames report DIR --engine spark`` runs on: a session that someone else
    started (a notebook's, a cluster's) is used and left running; only one started here is
    stopped.

    Raises
    ------
    ChiftFramesError
        When a local session is needed and pyspark or Java is missing.
    """
    if spark is not None:
        yield spark
        return
    active = _pyspark_sql().SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = local_spark()
    try:
        yield session
    finally:
        session.stop()


def spark_snapshot(root: str | os.PathLike[str], snapshot: str = "latest") -> str:
    """Return the id of the snapshot the Spark engine reads: the latest complete, or ``snapshot``.

    A snapshot a rebuild replaced is never the latest (its rebuild stands in its place), but
    stays readable by its id.

    Raises
    ------
    ChiftFramesError
        When ``snapshot`` is ``"all"``, or the dataset holds no complete snapshot.
    StoreError
        When there is no snapshot of that id.
    """
    from ..store import list_snapshots, snapshot_manifest

    if snapshot == "all":
        raise ChiftFramesError("a report reads one snapshot: give its id, or leave it out")
    if snapshot != "latest":
        return str(snapshot_manifest(root, snapshot)["snapshot_id"])
    listed = list_snapshots(root)
    complete = listed[listed.status == "complete"].snapshot_id
    if not len(complete):
        raise ChiftFramesError(f"{os.fspath(root)} holds no complete snapshot to report on")
    return str(complete.iloc[-1])


class _SparkRun:
    """Views over one snapshot on a session of their own, and the reports run over them."""

    def __init__(
        self,
        session: Any,
        snapshot_id: str,
        root: str,
        manifest: dict[str, Any],
        lacking: Collection[str] = (),
    ):
        self.session = session
        self.snapshot_id = snapshot_id
        self.root = root
        self._manifest = manifest  # a log snapshot's executions view reads the parts it lists
        self._files: Mapping[str, Any] = manifest["files"]
        self._views: set[str] = set()
        self._lacking = lacking  # tables with parts saved before an added column

    def views(self, tables: list[str]) -> None:
        """Create the temporary views of ``tables`` not made yet, as ``--views`` prints them."""
        from ..schema import TABLES
        from ._script import snapshot_views

        todo = [t for t in tables if t not in self._views]
        with_files = [t for t in todo if self._files.get(t)]
        statements = snapshot_views(
            self.root,
            self.snapshot_id,
            with_files,
            dialect="spark",
            manifest=self._manifest,
            lacking=self._lacking,
        )
        for statement in statements.split(";\n"):
            if statement.strip():
                self._sql("views", statement)
        for name in todo:
            if name not in with_files:  # a table the snapshot predates: no rows, its columns
                self._empty(name, TABLES[name].schema)
            self._views.add(name)

    def _empty(self, name: str, schema: pa.Schema) -> None:
        columns = ", ".join(f"CAST(NULL AS {_spark_type(f.type)}) AS `{f.name}`" for f in schema)
        statement = f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT {columns} WHERE 1 = 0"
        self._sql("views", statement)

    def drop_views(self) -> None:
        """Drop the views this run made."""
        for name in self._views:
            self.session.catalog.dropTempView(name)
        self._views.clear()

    def _sql(self, name: str, statement: str) -> Any:
        from pyspark.errors import PySparkException

        try:
            return self.session.sql(statement)
        except PySparkException as exc:
            raise _failure(name, exc, self.root) from None

    def arrow(self, name: str, statement: str) -> pa.Table:
        """Return the rows of Spark SQL ``statement`` as arrow, instants in UTC."""
        from pyspark.errors import PySparkException

        frame = self._sql(name, statement)
        try:
            to_arrow = getattr(frame, "toArrow", None)  # pyspark 4; 3.5 goes through pandas
            table = to_arrow() if to_arrow else pa.Table.from_pandas(frame.toPandas())
        except PySparkException as exc:
            raise _failure(name, exc, self.root) from None
        for i, field in enumerate(table.schema):
            if pa.types.is_timestamp(field.type) and field.type.tz is None:  # in UTC: see open
                table = table.set_column(i, field.name, table.column(i).cast(_UTC))
        return table

    def read(self, sql: str) -> list[Any]:
        """Run a DuckDB query over the views on Spark; return its first column."""
        from ._dialects import to_dialect

        statement = to_dialect(sql, "spark", pretty=False).strip().rstrip(";")
        return list(self.arrow("inputs", statement).column(0).to_pylist())

    def report(
        self, name: str, columns: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> pd.DataFrame:
        """Run report ``name``'s printed Spark SQL; return it with the dtypes ``columns`` pins."""
        from ._dialects import to_dialect
        from ._query import to_frame
        from ._script import report_script, report_tables

        self.views(report_tables(name))
        script = report_script(name, snapshot=self.snapshot_id, read=self.read, **inputs)
        statement = to_dialect(script, "spark", pretty=False).strip().rstrip(";")
        logger.debug("report %s on Spark over snapshot %s", name, self.snapshot_id)
        return to_frame(self.arrow(f"report {name}", statement), columns)


_UTC = pa.timestamp("us", "UTC")


def _spark_type(type_: pa.DataType) -> str:
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "STRING"
    if pa.types.is_integer(type_):
        return "BIGINT"
    if pa.types.is_floating(type_):
        return "DOUBLE"
    if pa.types.is_boolean(type_):
        return "BOOLEAN"
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
        return "BINARY"
    if pa.types.is_timestamp(type_):
        return "TIMESTAMP"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return f"ARRAY<{_spark_type(type_.value_type)}>"
    if pa.types.is_struct(type_):
        fields = ", ".join(f"`{f.name}`: {_spark_type(f.type)}" for f in type_)
        return f"STRUCT<{fields}>"
    raise TypeError(f"no Spark type for {type_}")


def _failure(name: str, exc: Exception, root: str) -> ChiftFramesError:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    hint = ""
    if "PATH_NOT_FOUND" in first:
        hint = "; give the dataset as Spark reaches it (SparkSource(spark_root=...), --views)"
    return ChiftFramesError(f"{name} failed on Spark over {root}: {first}{hint}")


SparkLike = SparkSource | _SparkRun


@contextmanager
def open_spark(source: SparkLike, snapshot: str = "latest") -> Iterator[_SparkRun]:
    """Yield a run over one snapshot of ``source``: views on a session of its own.

    The views live on ``spark.newSession()``, which shares the cluster but not the temporary
    views or the SQL settings of the caller's session, so a caller's own views of the same
    names are left alone; its SQL time zone is UTC. A run passed in is used as it is.
    """
    if isinstance(source, _SparkRun):
        yield source
        return
    from ..store import snapshot_manifest
    from ..store.read import tables_lacking_added

    snapshot_id = spark_snapshot(source.root, snapshot)
    manifest = snapshot_manifest(source.root, snapshot_id)
    session = source.spark if source.spark is not None else _default_session()
    work = _own_session(session)
    previous = work.conf.get("spark.sql.session.timeZone")
    work.conf.set("spark.sql.session.timeZone", "UTC")
    lacking = tables_lacking_added(source.root, manifest)
    run = _SparkRun(work, snapshot_id, source.spark_path(), manifest, lacking)
    try:
        yield run
    finally:
        run.drop_views()
        work.conf.set("spark.sql.session.timeZone", previous)


def _own_session(session: Any) -> Any:
    """Return a new session on ``session``'s cluster with its SQL settings (storage keys...).

    Where there is no new session to have (Spark Connect), ``session`` itself.
    """
    try:
        work = session.newSession()
    except Exception:
        return session
    settings = getattr(session.conf, "getAll", None)  # pyspark 4: the settings made at run time
    if callable(settings):
        settings = settings()
    for key, value in (settings or {}).items():
        try:
            work.conf.set(key, value)
        except Exception:  # a static setting, or the cluster's own: the new session has it
            logger.debug("setting %s not copied to the reports' Spark session", key)
    return work


def _default_session() -> Any:
    active = _pyspark_sql().SparkSession.getActiveSession()
    return active if active is not None else local_spark()


def run_spark_report(
    source: SparkLike,
    snapshot: str,
    name: str,
    columns: Mapping[str, Any],
    inputs: Mapping[str, Any],
) -> pd.DataFrame:
    """Run report ``name`` on Spark over ``source``; what a report function does for Spark."""
    with open_spark(source, snapshot) as run:
        return run.report(name, columns, inputs)


def compute_spark_reports(
    source: SparkSource,
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run every report of :data:`~chift_frames.reports.REPORTS` on Spark over one snapshot.

    As :func:`chift_frames.export.compute_reports` does in DuckDB, with the same DataFrames;
    the reports share one set of views.

    Parameters
    ----------
    source : SparkSource
        The dataset, and the session to run on.
    snapshot : str, default "latest"
        The latest complete snapshot, or a snapshot id.
    one_apis : mapping of int to str, optional
        The API of each ``one_api`` number, for the reports of
        :data:`~chift_frames.reports.USES_ONE_APIS`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Each report by its name, in the order of ``REPORTS``.
    """
    from . import REPORTS, USES_ONE_APIS

    with open_spark(source, snapshot) as run:
        return {
            name: report(run, one_apis=one_apis) if name in USES_ONE_APIS else report(run)
            for name, report in REPORTS.items()
        }

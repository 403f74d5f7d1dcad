"""The reports computed on Spark (``SparkSource``, ``report --engine spark``) equal DuckDB's.

Every report, on the demo and on a random world, gives the DataFrame DuckDB gives: same
columns, dtypes, values and order. One local Spark session (``local[1]``) serves the module;
the command runs once in its own process, where it starts and stops a local session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import fetch_snapshot, list_snapshots
from chift_frames.cli import main
from chift_frames.export import compute_reports
from chift_frames.fetch.rebuild import rebuild_snapshot
from chift_frames.reports import (
    REPORTS,
    SparkSource,
    flow_runs,
    stale_flows,
    unmapped_by_consumer,
)
from chift_frames.reports._spark import compute_spark_reports, spark_snapshot
from chift_frames.sandbox import Faults, Sandbox
from chift_frames.world import World
from tests.components import require
from tests.test_fetch import client_for

ONE_APIS = {1: "Accounting"}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "30", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A skewed random world: two fetches, the first rebuilt (so replaced), then a partial one.

    Returns the dataset and the id of the snapshot the Spark engine reads by default: the
    second fetch, the latest complete one.
    """
    root = tmp_path_factory.mktemp("world")
    world = World(consumers=12, syncs=3, seed=29, shape="skewed")
    with Sandbox(world) as sandbox:
        first = fetch_snapshot(client_for(sandbox), root, progress=False)
        sandbox.evolve()
        second = fetch_snapshot(client_for(sandbox), root, progress=False)
    rebuild_snapshot(root, first.snapshot_id)  # written last, yet it stands where the first was
    with Sandbox(world, faults=Faults(fail_pairs=0.3)) as sandbox:
        third = fetch_snapshot(client_for(sandbox, max_attempts=2), root, progress=False)
    assert third.status == "partial"
    return root, second.snapshot_id


def assert_same_reports(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(want) == list(REPORTS)
    for name in REPORTS:
        try:
            pd.testing.assert_frame_equal(got[name], want[name])
        except AssertionError as exc:
            raise AssertionError(f"report {name}: {exc}") from None


def test_every_report_on_spark_equals_duckdb_on_the_demo(demo_dir: Path, spark: Any) -> None:
    got = compute_spark_reports(SparkSource(demo_dir, spark), one_apis=ONE_APIS)
    want = compute_reports(demo_dir, one_apis=ONE_APIS)
    assert sum(len(df) for df in want.values()) > 500  # every report has something to compare
    assert_same_reports(got, want)


def test_every_report_on_spark_equals_duckdb_on_a_random_world(
    world_dir: tuple[Path, str], spark: Any
) -> None:
    root, latest_complete = world_dir
    got = compute_spark_reports(SparkSource(str(root), spark))
    want = compute_reports(root, snapshot=latest_complete)
    assert_same_reports(got, want)


def test_spark_reads_the_latest_complete_snapshot_not_a_replaced_or_partial_one(
    world_dir: tuple[Path, str],
) -> None:
    root, latest_complete = world_dir
    listed = list_snapshots(root)
    assert listed.status.iloc[-1] == "partial"  # the latest, which the Spark engine skips
    assert len(os.listdir(root / "_snapshots")) > len(listed)  # the replaced one is still there
    assert spark_snapshot(root) == latest_complete
    assert spark_snapshot(root, str(listed.snapshot_id.iloc[-1])) == listed.snapshot_id.iloc[-1]


def test_a_report_given_a_spark_source_takes_its_parameters(demo_dir: Path, spark: Any) -> None:
    source = SparkSource(demo_dir, spark)
    snapshot = str(list_snapshots(demo_dir).snapshot_id.iloc[0])  # the older one, by its id
    pd.testing.assert_frame_equal(
        unmapped_by_consumer(source, 3, snapshot=snapshot),
        unmapped_by_consumer(demo_dir, 3, snapshot=snapshot),
    )
    statuses = ("success", "running")
    got = flow_runs(source, statuses)
    pd.testing.assert_frame_equal(got, flow_runs(demo_dir, statuses))
    assert (got.success_count > flow_runs(demo_dir).success_count).any()
    kwargs: dict[str, Any] = {"window": "6h", "now": "2030-01-01T00:00:00Z"}
    pd.testing.assert_frame_equal(stale_flows(source, **kwargs), stale_flows(demo_dir, **kwargs))


def test_the_callers_own_views_and_settings_are_left_alone(demo_dir: Path, spark: Any) -> None:
    spark.sql("CREATE OR REPLACE TEMPORARY VIEW flows AS SELECT 'mine' AS flow_id")
    try:
        spark.conf.set("spark.sql.session.timeZone", "Europe/Brussels")
        got = flow_runs(SparkSource(demo_dir, spark))
        assert spark.conf.get("spark.sql.session.timeZone") == "Europe/Brussels"
        assert [row.flow_id for row in spark.table("flows").collect()] == ["mine"]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        spark.catalog.dropTempView("flows")
    pd.testing.assert_frame_equal(got, flow_runs(demo_dir))


def test_tables_a_snapshot_predates_read_as_empty_on_spark_as_in_duckdb(
    demo_dir: Path, spark: Any
) -> None:
    from chift_frames import Frames
    from chift_frames.reports._spark import _SparkRun
    from chift_frames.schema import TABLES, empty_frame

    # a manifest that lists no file for any table, as an old snapshot lacks the newer tables
    run = _SparkRun(
        spark.newSession(), "20260105T080000000000Z", str(demo_dir), manifest={"files": {}}
    )
    empty = Frames({name: empty_frame(name) for name in TABLES})
    try:
        for name, report in REPORTS.items():
            want = report(empty)
            pd.testing.assert_frame_equal(report(run), want, obj=name)
            assert len(want) == (168 if name == "schedule_heatmap" else 0)
    finally:
        run.drop_views()


def test_a_dataset_folder_with_quotes_and_backticks_stays_a_path(
    world_dir: tuple[Path, str], tmp_path: Path, spark: Any
) -> None:
    import shutil

    root = tmp_path / "a`b'c d"
    shutil.copytree(world_dir[0], root)
    pd.testing.assert_frame_equal(
        flow_runs(SparkSource(root, spark)), flow_runs(root, snapshot=world_dir[1])
    )


class _Builder:
    """Stands in for ``SparkSession.builder``: records the settings, gives a recording session."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}
        self.sessions: list[Any] = []

    def master(self, master: str) -> _Builder:
        self.settings["master"] = master
        return self

    def appName(self, name: str) -> _Builder:  # noqa: N802  (pyspark's name)
        return self

    def config(self, key: str, value: str) -> _Builder:
        self.settings[key] = value
        return self

    def getOrCreate(self) -> Any:  # noqa: N802
        from types import SimpleNamespace

        session = SimpleNamespace(stopped=False, sparkContext=SimpleNamespace())
        session.sparkContext.setLogLevel = lambda level: None
        session.stop = lambda: setattr(session, "stopped", True)
        self.sessions.append(session)
        return session


def test_the_command_starts_a_local_session_on_the_loopback_and_stops_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pyspark.sql import SparkSession

    from chift_frames.reports import _spark
    from chift_frames.reports._spark import spark_session

    builder = _Builder()
    monkeypatch.setattr(SparkSession, "builder", builder)
    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.setattr(_spark, "_check_java", lambda: None)  # no JVM starts here
    monkeypatch.setenv("SPARK_LOCAL_IP", "unset")
    monkeypatch.delenv("SPARK_LOCAL_IP")  # undone as it was, whatever the command sets
    with spark_session() as session:
        assert not session.stopped
    assert session.stopped and builder.sessions == [session]
    assert builder.settings["master"] == "local[*]"
    assert builder.settings["spark.ui.enabled"] == "false"
    assert builder.settings["spark.sql.session.timeZone"] == "UTC"
    assert builder.settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
    # a session someone else started is used, and left running
    mine = builder.getOrCreate()
    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: mine))
    with spark_session() as session:
        assert session is mine
    with spark_session(mine) as session:
        assert session is mine
    assert not mine.stopped and len(builder.sessions) == 2


def test_report_engine_spark_writes_the_files_duckdb_writes(
    world_dir: tuple[Path, str], tmp_path: Path
) -> None:
    require("java")
    root, latest_complete = world_dir
    by_spark, by_duckdb = tmp_path / "spark", tmp_path / "duckdb"
    command = [sys.executable, "-m", "chift_frames", "report", str(root), "--engine", "spark"]
    done = subprocess.run(
        [*command, "--out", str(by_spark), "--one-api", "1=Accounting"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Reports of snapshot {latest_complete} in " in done.stdout
    args = ["report", str(root), "--snapshot", latest_complete, "--out", str(by_duckdb)]
    assert main([*args, "--one-api", "1=Accounting"]) == 0
    files = sorted(p.name for p in by_duckdb.iterdir())
    assert files == sorted(p.name for p in by_spark.iterdir())
    assert files == sorted(f"{name}.parquet" for name in REPORTS)
    for name in files:
        pd.testing.assert_frame_equal(
            pd.read_parquet(by_spark / name), pd.read_parquet(by_duckdb / name)
        )


def test_report_engine_spark_without_pyspark_says_how_to_install_it(
    demo_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as when it is not installed
    assert main(["report", str(demo_dir), "--engine", "spark", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "pip install 'chift-frames[spark]'" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_report_engine_spark_without_java_says_to_install_it(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert main(["report", str(demo_dir), "--engine", "spark", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "needs Java" in err and "install one" in err
    assert not (tmp_path / "x").exists()


def test_engine_is_refused_with_sql(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["report", str(demo_dir), "--sql", "flow_runs", "--engine", "spark"]
    assert main(args) != 0
    assert "--dialect" in capsys.readouterr().err

"""Every report's Spark SQL, as `report --sql NAME --dialect spark --views ROOT` prints it, run
in pyspark (local) over the dataset's folders, equals the report DuckDB computes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chift_frames import list_snapshots
from chift_frames.cli import main
from chift_frames.reports import REPORTS, USES_ONE_APIS


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "30"]) == 0
    return out


def plain(value: Any) -> Any:
    """A value as both engines can be compared on: lists, UTC instants, None for missing."""
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 9)
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_spark_dialect_gives_every_report_in_pyspark(
    demo_dir: Path, spark: Any, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    given = ["--one-api", "1=Accounting"] if name in USES_ONE_APIS else []
    args = ["report", str(demo_dir), "--sql", name, "--dialect", "spark"]
    assert main([*args, "--views", str(demo_dir), *given]) == 0
    script = capsys.readouterr().out
    statements = [s for s in script.split(";\n") if s.strip()]
    for statement in statements[:-1]:
        spark.sql(statement)
    got = spark.sql(statements[-1].rstrip().rstrip(";"))
    listed = list_snapshots(demo_dir)
    latest = str(listed[listed.status == "complete"].snapshot_id.iloc[-1])
    kwargs = {"one_apis": {1: "Accounting"}} if given else {}
    want = REPORTS[name](demo_dir, snapshot=latest, **kwargs)
    assert got.columns == list(want.columns)
    assert [[plain(v) for v in row] for row in got.collect()] == [
        [plain(v) for v in row] for row in want.astype(object).values.tolist()
    ]


def test_spark_lists_the_first_100_outliers_as_duckdb_does(tmp_path: Path, spark: Any) -> None:
    from chift_frames import save
    from chift_frames.reports import SparkSource, consensus_targets

    from .test_reports import many_outliers

    save(many_outliers(), tmp_path)
    want = consensus_targets(tmp_path)
    got = consensus_targets(SparkSource(str(tmp_path), spark))
    assert max(len(ids) for ids in got.outlier_consumer_ids) == 100
    pd.testing.assert_frame_equal(got, want)

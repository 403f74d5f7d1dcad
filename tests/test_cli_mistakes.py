"""Every subcommand with its common mistakes: one clear line, the right exit status, no
traceback; and ``--help`` everywhere."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames.cli import EXIT_USAGE, build_parser, main
from chift_frames.errors import StoreError
from tests.sandbox_env import point_at


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


# Common mistakes per subcommand: (arguments, exit status). Usage errors (a missing or
# malformed argument) exit 64; a well-formed request that cannot be done exits 1.
MISTAKES: dict[str, list[tuple[list[str], int]]] = {
    "demo": [(["--consumers", "many"], 64), (["--concurrency", "0"], 64), (["--nope"], 64)],
    "fetch": [
        ([], 64),  # --out is required
        (["--out", "{dir}", "--concurrency", "0"], 64),
        (["--out", "{dir}", "--executions-since", "yesterday"], 64),
        (["--out", "{dir}", "--deadline", "soon"], 64),
        (["--out", "{dir}"], 1),  # no credentials in the environment
    ],
    "sandbox": [
        (["--port", "http"], 64),
        (["--rate-429", "2"], 64),
        (["--fail-pairs", "-0.5"], 64),
        (["--port", "99999"], 64),
        (["--host", "0.0.0.0"], 64),
        (["--rate-429", "0.6", "--rate-drop", "0.6"], 1),
    ],
    "rebuild": [([], 64), (["{dir}"], 1), (["{dir}", "--snapshot", "nope"], 1)],
    "summary": [([], 64), (["{dir}"], 1), (["{dir}", "--snapshot", "all"], 1)],
    "query": [
        (["{dir}"], 64),
        (["{dir}", "SELECT 1", "--format", "xml"], 64),
        (["{dir}", "SELECT 1", "--max-rows", "-1"], 64),
        (["{dir}", "SELECT 1"], 1),
    ],
    "diff": [([], 64), (["{dir}"], 1), (["{dir}", "--rows", "some"], 64)],
    "report": [([], 64), (["{dir}"], 1), (["{dir}", "--sql", "nope"], 1)],
    "prune": [
        ([], 64),
        (["{dir}"], 64),
        (["{dir}", "--keep-last", "0"], 64),
        (["{dir}", "--keep-last", "1"], 1),
    ],
    "snapshots": [([], 64), (["{dir}", "--nope"], 64)],
}


def test_every_subcommand_has_its_mistakes_listed() -> None:
    assert set(MISTAKES) == set(subcommands())


@pytest.mark.parametrize(
    ("command", "args", "status"),
    [(c, a, s) for c, cases in MISTAKES.items() for a, s in cases],
)
def test_a_mistake_is_one_clear_line_and_no_traceback(
    command: str,
    args: list[str],
    status: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.startswith("CHIFT_"):
            monkeypatch.delenv(key)
    argv = [command, *[a.replace("{dir}", str(tmp_path / "empty")) for a in args]]
    if status == EXIT_USAGE:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == EXIT_USAGE
        err = capsys.readouterr().err
        assert err.startswith("usage: chift-frames ")
        last = err.splitlines()[-1]  # an unknown option is the top parser's to report
        assert last.startswith((f"chift-frames {command}: error: ", "chift-frames: error: "))
    else:
        assert main(argv) == status
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("chift-frames: error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "url",
    ["htp://api.chift.eu", "api.chift.eu", "http://example.com", "https://"],
)
def test_a_bad_base_url_is_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "CHIFT_CLIENT_ID": "id",
        "CHIFT_CLIENT_SECRET": "secret",
        "CHIFT_ACCOUNT_ID": "acc",
        "CHIFT_BASE_URL": url,
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["fetch", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("chift-frames: error: "), err
    assert "secret" not in err


def test_usage_errors_exit_64_from_the_installed_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chift_frames", "query"], capture_output=True, text=True
    )
    assert done.returncode == 64
    assert "the following arguments are required: dir, sql" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_command_and_option_has_help() -> None:
    for name, parser in subcommands().items():
        assert parser.description, name
        formatter = parser._get_formatter()
        for action in parser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"
            default = action.default
            # 0 and 0.0 are defaults to show (`0 in (False,)` is True: compare by identity)
            hidden = default is None or default is False or default in ([], argparse.SUPPRESS)
            if action.option_strings and not hidden:
                shown = formatter._expand_help(action)
                assert "default: " in shown, (name, action.dest, shown)


def test_every_command_help_lists_its_exit_statuses() -> None:
    for name, parser in subcommands().items():
        help_text = parser.format_help()
        assert "exit status:" in help_text, name
        for line in ("0    ", "1    an error", "64   a usage error"):
            assert f"\n  {line}" in help_text, (name, line)


def test_fetch_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["fetch", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for line in ("0    done", "1    an error", "2    the snapshot is partial", "64   a usage"):
        assert line in out
    assert "130  interrupted" in out


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "20", "--quiet"]) == 0
    return out


@pytest.mark.parametrize(
    "args",
    [
        ["report", "{dir}", "--out", "{out}"],
        ["summary", "{dir}"],
        ["diff", "{dir}"],
        ["query", "{dir}", "SELECT consumer_id, count(*) FROM mapping_values GROUP BY ALL"],
    ],
    ids=lambda args: args[0],
)
def test_running_out_of_duckdbs_memory_says_how_to_give_it_more(
    args: list[str],
    two_snapshots: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the command hands --memory-limit to DuckDB through the environment: restored after
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "256MB")
    argv = [a.replace("{dir}", str(two_snapshots)).replace("{out}", str(tmp_path)) for a in args]
    assert main([*argv, "--memory-limit", "1MB"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Out of Memory Error" in err, err
    assert "raise DuckDB's memory limit (now 976.5 KiB) with --memory-limit" in err
    assert "Possible solutions" not in err and "SET memory_limit" not in err


@pytest.mark.parametrize("name", ["consensus_targets", "consumer_health"])
def test_a_report_out_of_the_default_limit_runs_again_with_the_machines_room(
    name: str,
    two_snapshots: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import chift_frames.engine as engine
    from chift_frames import reports

    expected = getattr(reports, name)(two_snapshots)
    monkeypatch.delenv("CHIFT_FRAMES_MEMORY_LIMIT", raising=False)
    # a default too small for the report, and a machine with room to give
    monkeypatch.setattr(engine, "DEFAULT_MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(engine, "memory_room", lambda available=None: "1GB")
    with caplog.at_level("WARNING", logger="chift_frames"):
        pd.testing.assert_frame_equal(getattr(reports, name)(two_snapshots), expected)
    # the user hears of it: the command took more than its default limit
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert said and all("ran the query again with 1GB" in m for m in said), said
    assert "--memory-limit" in said[0]
    # no room on the machine: the one-line error, naming the default limit
    monkeypatch.setattr(engine, "memory_room", lambda available=None: None)
    with pytest.raises(StoreError, match=r"Out of Memory Error.*raise DuckDB's memory limit"):
        getattr(reports, name)(two_snapshots)
    # a limit the user set is never raised
    monkeypatch.setattr(engine, "memory_room", lambda available=None: "1GB")
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(engine, "DEFAULT_MEMORY_LIMIT", "256MiB")
    with pytest.raises(StoreError, match="Out of Memory Error"):
        getattr(reports, name)(two_snapshots)
    # nor one that the user chose equal to the default (`--memory-limit 256MiB`)
    monkeypatch.setattr(engine, "DEFAULT_MEMORY_LIMIT", "1MB")
    with pytest.raises(StoreError, match="Out of Memory Error"):
        getattr(reports, name)(two_snapshots)


def test_a_command_that_needed_more_than_its_default_limit_says_so_once(
    two_snapshots: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import chift_frames.engine as engine

    monkeypatch.delenv("CHIFT_FRAMES_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(engine, "DEFAULT_MEMORY_LIMIT", "1MB")
    monkeypatch.setattr(engine, "memory_room", lambda available=None: "1GB")
    assert main(["report", str(two_snapshots), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "ran out of its default memory limit" in line]
    assert len(said) == 1, err  # many queries ran again: the warning is printed once
    assert said[0].startswith("chift-frames: warning: DuckDB ran out of its default memory")
    assert "with 1GB" in said[0] and "--memory-limit" in said[0]


ODD_VALUES = ["-1", "0", "1e309", "99999999999999999999", "banana", "", "nan"]


ODD_TEXTS = ["", " ", "-1"]


def option_cases() -> list[Any]:
    """Every option that takes a value, of every command, with the odd values to give it."""
    return [
        pytest.param(
            name,
            action.option_strings[-1],
            ODD_TEXTS if getattr(action.type, "__name__", "_text") == "_text" else ODD_VALUES,
            id=f"{name} {action.option_strings[-1]}",
        )
        for name, parser in subcommands().items()
        for action in parser._actions
        if action.option_strings and action.nargs is None and action.choices is None
    ]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("odd") / "demo"
    assert main(["demo", "--out", str(out), "--consumers", "6", "--syncs", "1", "--quiet"]) == 0
    return out


@pytest.mark.parametrize(("command", "option", "values"), option_cases())
def test_no_value_of_any_option_gives_a_traceback(
    command: str,
    option: str,
    values: list[str],
    small_demo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Negative, zero, huge, non-numeric and empty values: a result, or one line and 1 or 64."""
    from chift_frames.sandbox import Sandbox
    from chift_frames.world import World

    def stop(self: Sandbox) -> None:
        raise KeyboardInterrupt  # as Ctrl-C does, once the sandbox is up

    monkeypatch.setattr(Sandbox, "serve_forever", stop)
    failed_threads: list[str] = []  # a worker's traceback is one too
    monkeypatch.setattr(threading, "excepthook", lambda a: failed_threads.append(repr(a)))
    monkeypatch.chdir(tmp_path)  # whatever a command writes lands here
    data = str(small_demo)
    base = {
        "demo": ["--out", "d", "--consumers", "2", "--syncs", "1", "--quiet"],
        "fetch": ["--out", "f", "--quiet"],
        "sandbox": ["--port", "0"],
        "rebuild": [data],
        "summary": [data],
        "query": [data, "SELECT count(*) AS n FROM consumers"],
        "diff": [data],
        "report": [data, "--out", "r"],
        "prune": [data, "--keep-last", "5", "--dry-run"],
        "snapshots": [data],
    }[command]
    with Sandbox(World(consumers=3, syncs=1, seed=2)) as sandbox:
        point_at(monkeypatch, sandbox)
        for value in values:
            if command == "rebuild" and value in ("0", "1"):
                continue  # a rebuild of a snapshot named 0 or 1 is as good as any
            try:
                status = main([command, *base, option, value])
            except SystemExit as exit_:
                status = exit_.code  # type: ignore[assignment]
            err = capsys.readouterr().err
            assert status in (0, 1, 2, 64), (value, status, err)
            assert "Traceback" not in err, (value, err)
            assert not failed_threads, (value, failed_threads)
            if status == 1:  # one line says what is wrong
                assert err.count("chift-frames: error: ") == 1, (value, err)
            if value == "":  # never taken for the current folder, or for "not given"
                assert status == 64, (value, status, err)


def test_a_store_out_of_reach_is_one_line_without_a_hint_to_install_fsspec(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import pyarrow.fs as pafs

    from chift_frames.store import filesystems

    def unresolved(uri: str) -> None:
        raise OSError(
            "When resolving region for bucket 'b': AWS Error NETWORK_CONNECTION during "
            "HeadBucket operation: curlCode: 6, Could not resolve hostname"
        )

    # pyarrow's types are immutable: the module sees a stand-in whose from_uri fails offline
    stand_in = SimpleNamespace(**{name: getattr(pafs, name) for name in dir(pafs)})
    stand_in.FileSystem = SimpleNamespace(from_uri=unresolved)
    monkeypatch.setattr(filesystems, "pafs", stand_in)
    assert main(["summary", "s3://b/p"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chift-frames: error: cannot reach s3://b/p: When resolving region")
    assert "fsspec" not in err and len(err.strip().splitlines()) == 1


def test_a_gcs_root_gives_up_retrying_in_seconds_not_minutes() -> None:
    """Offline, pyarrow's GCS client retries each call for 15 minutes, silently, by default."""
    from chift_frames.store.filesystems import GCS_RETRY_LIMIT, open_root

    root = open_root("gs://bucket/lake")
    _, (options,) = root.fs.__reduce__()
    assert options["retry_time_limit"] == GCS_RETRY_LIMIT
    assert GCS_RETRY_LIMIT.total_seconds() <= 30

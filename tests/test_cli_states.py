"""What the command line says about partial and interrupted snapshots, unknown ids, and
what it prints for people to read."""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chift_frames import PartialSnapshotWarning, list_snapshots, load
from chift_frames.cli import main
from chift_frames.fetch._workers import _Run
from chift_frames.sandbox import Sandbox
from chift_frames.world import World
from tests.sandbox_env import point_at

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
WORLD = World(consumers=40, syncs=2, seed=13)


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch):
    with Sandbox(WORLD) as sandbox:
        point_at(monkeypatch, sandbox, clean=True)
        yield sandbox


def _ctrl_c_at_pair(at: int) -> Callable[..., Any]:
    """Return a ``_Run._get`` that raises KeyboardInterrupt at pair ``at``, as Ctrl-C does."""
    calls = {"n": 0}
    original_get = _Run._get

    def interrupted_get(self: _Run, consumer_id: str, sync_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt  # in the middle of the pairs
        return original_get(self, consumer_id, sync_id)

    return interrupted_get


def test_ctrl_c_prints_the_resume_command_and_summary_load_say_interrupted(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Run, "_get", _ctrl_c_at_pair(30))
    out = str(tmp_path)
    assert main(["fetch", "--out", out, "--quiet", "--concurrency", "1"]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    (snapshot_id,) = list_snapshots(tmp_path).snapshot_id
    resume = f"chift-frames fetch --out {out} --resume {snapshot_id}"
    assert "Traceback" not in err
    assert "chift-frames: interrupted" in err
    assert err.count(resume) == 2  # at the start, and when interrupted
    done = int(list_snapshots(tmp_path).pairs_ok.iloc[0])
    assert 0 < done < WORLD.pair_count
    note = (
        f"snapshot {snapshot_id} was interrupted: {done:,} of {WORLD.pair_count:,} pairs "
        f"fetched; finish it with: {resume}"
    )
    assert main(["summary", out]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"Snapshot {snapshot_id} in {out} (partial, finished ")
    assert printed[1] == f"Note: {note}"
    with pytest.warns(PartialSnapshotWarning) as caught:
        frames = load(tmp_path, tables=["consumer_syncs"])
    assert [str(w.message) for w in caught] == [note]
    assert len(frames.consumer_syncs) == done


def test_a_partial_fetch_prints_its_errors_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(consumers=8, syncs=2, seed=4)
    victims = list(world.pairs())[:2]
    answer = world.consumer_sync
    world.consumer_sync = lambda c, s: None if (c, s) in victims else answer(c, s)  # type: ignore[method-assign]
    with Sandbox(world) as sandbox:
        point_at(monkeypatch, sandbox)
        assert main(["fetch", "--out", str(tmp_path), "--quiet"]) == 2
    out = capsys.readouterr().out
    for consumer_id, _ in victims:
        assert out.count(consumer_id) == 1  # the error table is printed once
    assert f"is partial: 2 of {world.pair_count} pairs failed. What failed (table " in out
    names = {c["consumerid"]: c["name"] for c in world.consumer_items()}
    table = out.split("What failed", 1)[1]
    for consumer_id, _ in victims:  # the consumer's name beside its id
        (row,) = [ln for ln in table.splitlines() if consumer_id in ln]
        assert names[consumer_id] in row
    assert "Note: snapshot " in out and f"{world.pair_count - 2} of {world.pair_count} pairs" in out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--sync", "[GET /syncs] no sync 'no-such-sync' in this account, by id or by name; "),
        (
            "--consumer",
            "[GET /consumers] no consumer 'no-such-sync' in this account, by id or by name; ",
        ),
    ],
)
def test_an_id_the_account_does_not_have_is_one_line(
    option: str,
    message: str,
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fetch", "--out", str(tmp_path), option, "no-such-sync", "--quiet"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("chift-frames: error: " + message)
    assert "complete" not in captured.out
    assert not list(tmp_path.rglob("*.parquet"))  # nothing written


def test_query_says_how_many_rows_and_cuts_long_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chift_frames import flatten, save

    save(flatten([]), tmp_path)
    sql = "SELECT i, repeat('x', 100) AS long FROM range(3) AS t(i)"
    assert main(["query", str(tmp_path), sql, "--max-rows", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "(3 rows; the first 2 shown: --max-rows N shows more, --format csv or json gives them all)"
    )
    assert len(lines) == 4 and all(len(line) < 60 for line in lines[:3])
    assert lines[1].split() == ["0", "x" * 39 + "…"]
    assert main(["query", str(tmp_path), "SELECT 1 AS one"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "(1 row)"


@pytest.mark.parametrize("folder", ["demo", "my demo>x; y"])
def test_the_demo_next_lines_work_as_printed(
    folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "chift-frames").touch()  # as after the Quick start
    monkeypatch.setattr("sys.argv", [".venv/bin/chift-frames"])
    assert main(["demo", "--out", folder, "--consumers", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    lines = out.split("\nNext:\n")[1].splitlines()
    assert lines[-1] == (
        '  .venv/bin/pip install -e ".[notebooks]" && .venv/bin/jupyter lab '
        "notebooks/explore_syncs.ipynb   # Jupyter is in the notebooks extra"
    )
    commands = [line.strip() for line in lines[:-1]]
    assert all(c.startswith(".venv/bin/chift-frames ") for c in commands)
    for command in commands:  # each runs as printed (the shell's quotes taken off)
        argv = shlex.split(command)[1:]
        assert argv[1] == folder, command  # the folder comes back whole
        assert main(argv) == 0, command
    assert (tmp_path / folder / "report.html").is_file()
    printed = capsys.readouterr().out
    assert "POS → Accounting" in printed and "What changed from" in printed


def _interrupted_fetch(out: str, monkeypatch: pytest.MonkeyPatch, at: int = 30) -> str:
    """Fetch until Ctrl-C at pair ``at``: a partial snapshot; return its id."""
    with monkeypatch.context() as patched:  # the environment of sandbox_env stays
        patched.setattr(_Run, "_get", _ctrl_c_at_pair(at))
        assert main(["fetch", "--out", out, "--quiet", "--concurrency", "1"]) == 130
    return str(list_snapshots(out).snapshot_id.iloc[-1])


@pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")
def test_a_rebuild_never_replaces_a_snapshot_being_written(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chift_frames import SnapshotWriter

    out = str(tmp_path)
    sid = _interrupted_fetch(out, monkeypatch)
    done = int(list_snapshots(tmp_path).pairs_ok.iloc[0])
    assert done < WORLD.pair_count
    capsys.readouterr()
    # a resume of it runs (its writer holds the snapshot): the rebuild is refused, in one line
    resume = SnapshotWriter(tmp_path, sid, resume=True)
    assert main(["rebuild", out, "--snapshot", sid]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"chift-frames: error: cannot rebuild snapshot '{sid}' now: ")
    assert "being written by another writer" in line
    resume.close()
    assert list_snapshots(tmp_path).snapshot_id.tolist() == [sid]  # nothing replaced it
    assert main(["fetch", "--out", out, "--resume", sid, "--quiet"]) == 0
    assert main(["prune", out, "--keep-last", "5"]) == 0
    assert list_snapshots(tmp_path).pairs_ok.tolist() == [WORLD.pair_count]
    # a rebuild now replaces the finished snapshot, and nothing resumes what it replaced
    assert main(["rebuild", out, "--snapshot", sid]) == 0
    (rebuilt,) = list_snapshots(tmp_path).snapshot_id
    assert rebuilt != sid
    assert len(load(tmp_path, tables=["consumer_syncs"]).consumer_syncs) == len(
        load(tmp_path, sid, tables=["consumer_syncs"]).consumer_syncs
    )


@pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")
def test_a_snapshot_resumed_after_its_rebuild_takes_its_place_again(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = str(tmp_path)
    sid = _interrupted_fetch(out, monkeypatch)
    assert main(["rebuild", out, "--snapshot", sid]) == 0
    (rebuilt,) = list_snapshots(tmp_path).snapshot_id
    assert rebuilt != sid
    # the partial snapshot is finished after its rebuild: the rebuild holds less, and goes
    assert main(["fetch", "--out", out, "--resume", sid, "--quiet"]) == 0
    assert list_snapshots(tmp_path).snapshot_id.tolist() == [sid]
    assert main(["snapshots", out]) == 0
    assert "which was resumed after this rebuild of it" in capsys.readouterr().out
    assert main(["prune", out, "--keep-last", "5"]) == 0
    assert list_snapshots(tmp_path).pairs_ok.tolist() == [WORLD.pair_count]
    assert not (tmp_path / "_snapshots" / f"{rebuilt}.json").exists()
    assert (tmp_path / "_snapshots" / f"{sid}.json").exists()


@pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")
def test_fetch_and_resume_go_on_beside_a_damaged_manifest(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = str(tmp_path)
    sid = _interrupted_fetch(out, monkeypatch)
    good = (tmp_path / "_snapshots" / f"{sid}.json").read_bytes()
    (tmp_path / "_snapshots" / "torn.json").write_bytes(good[: len(good) // 3])
    capsys.readouterr()
    assert main(["fetch", "--out", out, "--resume", sid, "--quiet"]) == 0
    assert main(["fetch", "--out", out, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "chift-frames: warning: skipping snapshot torn: " in err
    snapshots = list_snapshots(tmp_path)
    assert snapshots.status.tolist() == ["complete", "complete"]
    assert snapshots.pairs_ok.tolist() == [WORLD.pair_count] * 2


# -- commands to paste: each argument quoted, so a root with a space or a > comes back whole ----

ODD_ROOT = "my data>out; x"


def _pasted(text: str, after: str = "finish it with: ") -> list[str]:
    """The command a line prints after ``after``, as a POSIX shell splits it."""
    return shlex.split(text.split(after, 1)[1])


def test_ctrl_c_summary_snapshots_and_the_page_print_commands_that_paste_back(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chift_frames.export import render_html
    from chift_frames.store import snapshot_states

    original_get = _Run._get
    monkeypatch.setattr(_Run, "_get", _ctrl_c_at_pair(30))
    root = str(tmp_path / ODD_ROOT)
    assert main(["fetch", "--out", root, "--quiet", "--concurrency", "1"]) == 130
    monkeypatch.setattr(_Run, "_get", original_get)
    (snapshot_id,) = list_snapshots(root).snapshot_id
    expected = ["chift-frames", "fetch", "--out", root, "--resume", snapshot_id]
    lines = [line for line in capsys.readouterr().err.splitlines() if "finish it with: " in line]
    assert len(lines) == 2  # at the start, and the Ctrl-C note
    assert [_pasted(line) for line in lines] == [expected, expected]
    assert main(["summary", root]) == 0
    (note,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Note: ")]
    assert _pasted(note) == expected
    (step,) = snapshot_states(root).next_step  # what `chift-frames snapshots` lists
    assert shlex.split(step) == expected
    page = render_html(root)
    code = page.split("Finish it with <code>", 1)[1].split("</code>", 1)[0]
    assert shlex.split(html.unescape(code)) == expected
    assert main(expected[1:]) == 0  # and the command does what it says
    assert list_snapshots(root).status.tolist() == ["complete"]


def test_a_partial_fetch_prints_a_command_that_pastes_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(consumers=4, syncs=2, seed=4)
    victim = next(iter(world.pairs()))
    answer = world.consumer_sync
    world.consumer_sync = lambda c, s: None if (c, s) == victim else answer(c, s)  # type: ignore[method-assign]
    root = str(tmp_path / ODD_ROOT)
    with Sandbox(world) as sandbox:
        point_at(monkeypatch, sandbox)
        assert main(["fetch", "--out", root, "--quiet"]) == 2
    (snapshot_id,) = list_snapshots(root).snapshot_id
    (line,) = [
        ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Fetch them again")
    ]
    assert _pasted(line, "with: ")[1:] == ["fetch", "--out", root, "--resume", snapshot_id]


def test_a_crashed_writer_lists_commands_that_paste_back(tmp_path: Path) -> None:
    from chift_frames import flatten, save
    from chift_frames.store import SnapshotWriter, snapshot_states

    root = str(tmp_path / ODD_ROOT)
    save(flatten([]), root)
    crashed = SnapshotWriter(root, "crashed")
    crashed.close()  # as if the process died
    step = snapshot_states(root).set_index("snapshot_id").next_step["crashed"]
    resume, drop = step.split("  (or drop it: ")
    assert shlex.split(resume) == ["chift-frames", "fetch", "--out", root, "--resume", "crashed"]
    assert shlex.split(drop.removesuffix(")")) == ["chift-frames", "snapshots", root, "--clean"]


def test_the_sandbox_prints_an_export_line_that_pastes_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self) -> None:
        raise KeyboardInterrupt  # as Ctrl-C does, once the lines are printed

    monkeypatch.setattr(Sandbox, "serve_forever", interrupted)
    args = ["sandbox", "--port", "0", "--client-id", "me & you>x", "--client-secret", "s"]
    assert main(args) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "export " in ln]
    words = shlex.split(line)
    assert words[0] == "export"
    variables = dict(word.split("=", 1) for word in words[1:])
    assert variables["CHIFT_CLIENT_ID"] == "me & you>x"
    assert variables["CHIFT_CLIENT_SECRET"] == "<the --client-secret you gave>"  # no redirect
    assert variables["CHIFT_ACCOUNT_ID"] and variables["CHIFT_BASE_URL"].startswith("http://")


def test_resume_commands_start_with_the_program_the_user_ran(
    tmp_path: Path,
    sandbox_env: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run as venv/bin/chift-frames (not on PATH): the Ctrl-C note and the exit-2 line agree."""
    import sys

    from chift_frames import _cli_print, cli

    monkeypatch.setattr(cli, "_command_prefix", _cli_print._command_prefix)  # the real guess
    program = tmp_path / "venv" / "bin" / "chift-frames"
    program.parent.mkdir(parents=True)
    program.touch()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["venv/bin/chift-frames"])
    original_get = _Run._get
    monkeypatch.setattr(_Run, "_get", _ctrl_c_at_pair(30))
    assert main(["fetch", "--out", "data", "--quiet", "--concurrency", "1"]) == 130
    monkeypatch.setattr(_Run, "_get", original_get)
    err = capsys.readouterr().err
    (snapshot_id,) = list_snapshots(tmp_path / "data").snapshot_id
    resume = f"venv/bin/chift-frames fetch --out data --resume {snapshot_id}"
    assert err.count(resume) == 2, err  # at the start, and when interrupted
    assert " chift-frames fetch" not in err.replace(resume, "")
    # the same program in what summary and snapshots say about it
    assert main(["summary", "data"]) == 0
    assert resume in capsys.readouterr().out


def test_ctrl_c_during_the_demo_says_to_run_the_demo_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Run, "_get", _ctrl_c_at_pair(10))
    out = str(tmp_path / "demo")
    args = ["demo", "--out", out, "--consumers", "20", "--quiet", "--concurrency", "1"]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "--resume" not in err, err
    (line,) = [ln for ln in err.splitlines() if "run the demo again" in ln]
    assert "the demo's sandbox is gone" in line
    again = shlex.split(line.split("run the demo again: ", 1)[1])
    assert again[1:] == ["demo", "--out", out, "--consumers", "20", "--concurrency", "1", "--quiet"]


def test_sync_and_consumer_are_taken_by_name_too(
    tmp_path: Path, sandbox_env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sync = WORLD.sync_items()[0]
    consumer_id = next(c for c, s in WORLD.pairs() if s == sync["syncid"])
    name = next(c["name"] for c in WORLD.consumer_items() if c["consumerid"] == consumer_id)
    out = str(tmp_path)
    args = ["fetch", "--out", out, "--sync", sync["name"], "--consumer", name.upper(), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    frames = load(tmp_path, tables=["consumer_syncs"])
    assert frames.consumer_syncs[["consumer_id", "sync_id"]].values.tolist() == [
        [consumer_id, sync["syncid"]]
    ]
    capsys.readouterr()
    # a slip: one line, with the names that come close
    assert main(["fetch", "--out", out, "--sync", "POS -> Acounting", "--quiet"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no sync 'POS -> Acounting' in this account, by id or by name; close matches: " in line
    assert sync["name"] == "POS → Accounting" and f"POS → Accounting ({sync['syncid']})" in line


def test_a_name_shared_by_two_entries_is_refused_with_their_ids() -> None:
    from chift_frames.errors import NotFoundError
    from chift_frames.fetch._names import resolve_names

    entries = [("c1", "Bakery"), ("c2", "Bakery"), ("c3", "Bistro")]
    assert resolve_names(["bistro", "c2"], entries, "consumer", "GET /consumers") == ["c3", "c2"]
    with pytest.raises(NotFoundError, match=r"2 consumers are named 'Bakery' \(c1, c2\): give"):
        resolve_names(["Bakery"], entries, "consumer", "GET /consumers")

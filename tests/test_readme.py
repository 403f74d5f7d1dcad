"""The README's examples run: every Python block and the shell query, on a fresh demo."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from chift_frames.cli import main
from tests.sandbox_env import point_at

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("readme") / "demo"
    assert main(["demo", "--out", str(out), "--consumers", "40", "--quiet"]) == 0
    return out


def sample_records() -> list[tuple[str, dict]]:
    folder = ROOT / "data" / "samples" / "consumer_syncs"
    return [
        (path.stem.split("__")[0], json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.json"))
    ]


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", README))))
def test_python_examples_run(index: int, demo: Path, tmp_path: Path) -> None:
    block = re.findall(r"```python\n(.*?)```", README, re.S)[index]
    code = block.replace('"data/demo"', repr(str(demo))).replace(
        '"data/mine"', repr(str(tmp_path / "mine"))
    )
    exec(compile(code, f"README.md python block {index}", "exec"), {"records": sample_records()})


def test_the_first_question_is_answered_by_the_query(demo: Path, capsys) -> None:
    command = re.search(r"\.venv/bin/chift-frames query data/demo \"(.*?)\"", README, re.S)
    assert command is not None
    sql = command.group(1)
    assert main(["query", str(demo), sql, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"consumer", "mapping_name", "unmapped", "missing_values"} <= set(rows[0])
    for row in rows:  # every value left unmapped, A-Z
        missing = row["missing_values"].split(", ")
        assert len(missing) == row["unmapped"] and missing == sorted(missing), row
    assert shlex.split(f'"{sql}"')  # it is one shell word


def test_the_tour_shows_monitoring_states_labels_and_the_definition_join() -> None:
    blocks = "\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    assert "reports.monitoring_states(" in blocks and "source_label" in blocks
    assert "sync_mapping_labels" in blocks and "m.sub_mapping_name = v.sub_mapping_name" in blocks
    assert "`sync_id`, `name` and `sub_mapping_name`" in README


def readme_commands() -> list[list[str]]:
    """Every chift-frames command after the Quick start that runs as printed, in order.

    The shell blocks' commands, and the inline ones that name a folder of the tour
    (``chift-frames diff data/demo``); synopses with placeholders (``DIR``) are checked
    against the parser instead.
    """
    after = README.split("## A short tour", 1)[1]
    commands = []
    pattern = r"```sh\n(.*?)```|`((?:\.venv/bin/)?chift-frames [^`]+)`"
    for block, span in re.findall(pattern, after, re.S):
        lines = block.splitlines() if block else [span]
        pending = ""
        for line in lines:
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            pending = ""
            placeholder = re.search(r"\b[A-Z][A-Z_]+\b", span)  # DIR, SNAPSHOT_ID
            runs = block or ("data/" in span and not placeholder)
            if words and words[0].endswith("chift-frames") and runs:
                commands.append(words)
    return commands


def test_every_readme_command_runs_as_printed(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import shutil

    from chift_frames.sandbox import Sandbox
    from chift_frames.world import World

    commands = readme_commands()
    assert {c[1] for c in commands} >= {"query", "report", "fetch", "diff", "rebuild"}
    shutil.copytree(demo, tmp_path / "data" / "demo")
    monkeypatch.chdir(tmp_path)  # where the user is after the Quick start
    with Sandbox(World(consumers=6, syncs=2, seed=3)) as sandbox:
        point_at(monkeypatch, sandbox, clean=True)  # the export line of "Fetching your own account"
        for words in commands:
            status = main(words[1:])
            err = capsys.readouterr().err
            assert status == 0, (shlex.join(words), err)
    assert (tmp_path / "data" / "demo" / "report.html").exists()


def test_the_command_table_names_every_command_and_only_options_it_has() -> None:
    import argparse

    from chift_frames.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    table = re.findall(r"^\| `chift-frames (\w+) ([^`]*)` \|", README, re.M)
    assert {name for name, _ in table} == set(sub.choices)
    for name, synopsis in table:
        given = set(re.findall(r"(?<![\w-])--[\w-]+", synopsis))
        known = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert given <= known, (name, given - known)
    snapshots = dict(table)["snapshots"]
    assert "--dry-run" in snapshots  # with --clean: say what it would drop

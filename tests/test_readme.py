"""The README's examples run: every Python block and the shell query, on a fresh demo."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from chift_frames.cli import main

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
    assert shlex.split(f'"{sql}"')  # it is one shell word


def test_the_tour_shows_monitoring_states_labels_and_the_definition_join() -> None:
    blocks = "\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    assert "reports.monitoring_states(" in blocks and "source_label" in blocks
    assert "sync_mapping_labels" in blocks and "m.sub_mapping_name = v.sub_mapping_name" in blocks
    assert "`sync_id`, `name` and `sub_mapping_name`" in README

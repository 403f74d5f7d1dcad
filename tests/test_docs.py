"""The documentation lists exactly the tables and columns of the pinned schemas."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from chift_frames import TABLES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "tables.md"


def documented() -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `(\w+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), [])
            continue
        row = re.match(r"\| `(\w+)` \|", line)
        if row and current is not None:
            current.append(row.group(1))
    return tables


def test_docs_list_exactly_the_columns_of_the_schemas() -> None:
    assert documented() == {name: table.columns for name, table in TABLES.items()}


def test_every_column_has_a_description() -> None:
    for table in TABLES.values():
        for column in table.columns:
            assert len(table.describe(column)) > 10, f"{table.name}.{column}"


def test_docs_are_generated_from_the_schemas() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_tables_doc
    finally:
        sys.path.pop(0)
    assert DOC.read_text(encoding="utf-8") == gen_tables_doc.render(), (
        "docs/tables.md is stale: run .venv/bin/python scripts/gen_tables_doc.py"
    )


def test_readme_quick_start_has_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in commands:
        assert command.strip() in ci, f".ci/run does not run {command!r}"


def test_the_cli_runs_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chift_frames", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout


def test_every_test_the_security_page_names_exists() -> None:
    """docs/security.md's threat table names its tests: each must be a test in that file."""
    named: list[tuple[str, str]] = []
    for line in (ROOT / "docs" / "security.md").read_text(encoding="utf-8").splitlines():
        current = None
        for path, name in re.findall(r"`(tests/\w+\.py)?::(\w+)", line):
            current = path or current
            assert current, f"{name} names no file: {line[:80]}"
            named.append((current, name))
    assert len(named) > 30
    for path, name in named:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} does not exist"

"""Tests that need a component outside pip skip on a fresh machine, and fail under .ci/run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.components import ALL, COMPONENTS

NEEDS = textwrap.dedent(
    """
    from tests.components import require

    def test_needs_it():
        require({component!r})
    """
)


def _pytest_without_components(tmp_path: Path, component: str, **env: str) -> str:
    (tmp_path / "test_needs.py").write_text(NEEDS.format(component=component))
    # a PATH with only Python on it: no chromium, java, azurite-blob
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    environ = {k: v for k, v in os.environ.items() if k != ALL}
    environ.update(PATH=str(bin_dir), PYTHONPATH=str(Path(__file__).parent.parent), **env)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rsf", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=120,
    )
    return done.stdout


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_a_missing_component_skips_and_says_how_to_get_it(tmp_path: Path, component: str) -> None:
    out = _pytest_without_components(tmp_path, component)
    how = COMPONENTS[component][1]
    assert "1 skipped" in out, out
    assert "SKIPPED" in out and how in out, out


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_asking_for_every_component_fails_without_it(tmp_path: Path, component: str) -> None:
    out = _pytest_without_components(tmp_path, component, **{ALL: "1"})
    assert "1 failed" in out, out
    assert COMPONENTS[component][1] in out, out

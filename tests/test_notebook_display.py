"""In Jupyter: long fetches and reports show progress; list columns display as lists."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from chift_frames import ChiftClient, fetch_snapshot
from chift_frames.export import compute_reports
from chift_frames.sandbox import Sandbox
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"


@pytest.fixture
def in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a Jupyter kernel: IPython's shell has a kernel, and stderr is no terminal."""
    kernel = SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: kernel))


def test_a_fetch_and_the_reports_show_progress_in_a_notebook(
    in_a_kernel: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        Sandbox(World(consumers=4, syncs=1, seed=5)) as sandbox,
        ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url) as client,
    ):
        fetch_snapshot(client, tmp_path)  # progress left to its default
    assert "fetching pairs and executions" in capsys.readouterr().err
    compute_reports(tmp_path)
    assert "computing reports" in capsys.readouterr().err


def test_no_progress_outside_a_notebook_and_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        Sandbox(World(consumers=2, syncs=1, seed=5)) as sandbox,
        ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url) as client,
    ):
        fetch_snapshot(client, tmp_path)
    compute_reports(tmp_path)
    assert capsys.readouterr().err == ""

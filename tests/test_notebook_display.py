"""In Jupyter: long fetches and reports show progress; list columns display as lists."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from chift_frames import ChiftClient, fetch_snapshot, load
from chift_frames.export import compute_reports
from chift_frames.sandbox import Sandbox
from chift_frames.schema import STRING_LIST, to_pandas
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


def test_a_list_column_shows_its_cells_as_lists_in_text_and_in_jupyter(tmp_path: Path) -> None:
    table = pa.table({"source_ids": pa.array([["CAT-01", "CAT-02"], None, []], STRING_LIST)})
    df = to_pandas(table)
    assert df.to_string().splitlines()[1].split(None, 1)[1] == "['CAT-01', 'CAT-02']"
    assert "<td>['CAT-01', 'CAT-02']</td>" in df._repr_html_()
    assert "'CAT-01' 'CAT-02'" not in repr(df) + df._repr_html_()
    # Only the display differs: the dtype equals pandas' own both ways round, and operations hold.
    plain = pd.ArrowDtype(STRING_LIST)
    assert df.source_ids.dtype == plain and plain == df.source_ids.dtype
    assert df.source_ids.list.len().fillna(-1).tolist() == [2, -1, 0]
    assert pa.Table.from_pandas(df, preserve_index=False).equals(table)
    pd.testing.assert_frame_equal(df, table.to_pandas(types_mapper=pd.ArrowDtype))
    assert "['CAT-01', 'CAT-02']" in repr(pd.concat([df, df]).iloc[2:])


def test_the_list_columns_of_a_loaded_snapshot_show_as_lists(tmp_path: Path) -> None:
    with (
        Sandbox(World(consumers=4, syncs=1, seed=5)) as sandbox,
        ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url) as client,
    ):
        fetch_snapshot(client, tmp_path, progress=False)
    frames = load(tmp_path)
    lists = [
        (name, column)
        for name, df in frames.items()
        for column in df.columns
        if isinstance(df[column].dtype, pd.ArrowDtype) and len(df[column].dropna())
    ]
    assert lists, "the sandbox's snapshot has a list column with values"
    for name, column in lists:
        cells = frames[name][column].dropna()
        cell = cells[cells.list.len() > 1].iloc[0]
        with pd.option_context("display.max_colwidth", None):
            shown = frames[name][[column]].to_string(index=False)
        assert str(list(cell)) in shown, (name, column)

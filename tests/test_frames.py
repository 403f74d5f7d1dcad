"""Frames as a notebook shows it: the snapshot it came from, and its tables with their rows."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from chift_frames import Frames, fetch_snapshot, load
from chift_frames.sandbox import Sandbox
from chift_frames.world import World
from tests.test_fetch import client_for


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.rows and self.lasttag in {"td", "th", "code"}:
            self.rows[-1].append(data)


def test_a_loaded_snapshot_shows_its_id_status_time_and_tables(tmp_path: Path) -> None:
    with Sandbox(World(seed=3, consumers=4)) as sandbox:
        fetch_snapshot(client_for(sandbox), tmp_path / "d", progress=False)
    frames = load(tmp_path / "d")
    about = frames.snapshot
    assert about is not None and about["status"] == "complete"
    text = repr(frames)
    assert text.splitlines()[0].startswith(f"Frames(snapshot {about['snapshot_id']} (complete, ")
    flows = next(line for line in text.splitlines() if line.strip().startswith("flows "))
    assert flows.split()[1:] == [f"{len(frames.flows):,}", "rows"]

    cells = _Cells()
    cells.feed(frames._repr_html_())
    assert about["snapshot_id"] in "".join(cells.text)
    body = {row[0]: row[1:] for row in cells.rows[1:]}
    assert list(body) == list(frames)
    for name, df in frames.items():
        assert body[name] == [f"{len(df):,}", f"{len(df.columns):,}"], name


def test_one_row_is_a_row_and_html_is_escaped() -> None:
    frames = Frames({"a<b>": pd.DataFrame({"x": [1]}), "flows": pd.DataFrame({"x": [1, 2]})})
    assert repr(frames).splitlines()[1:3] == [
        "  a<b>           1 row",
        "  flows          2 rows",
    ]
    assert "<code>a&lt;b&gt;</code>" in frames._repr_html_()
    assert frames.snapshot is None

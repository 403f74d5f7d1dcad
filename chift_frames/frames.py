"""``Frames``: the tables of one flatten, load or report, as a read-only mapping of DataFrames."""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

__all__ = ["Frames"]


class Frames(Mapping[str, pd.DataFrame]):
    """Tables by name, reachable as ``frames["flows"]`` or ``frames.flows``.

    Parameters
    ----------
    tables : Mapping[str, pandas.DataFrame]
        The DataFrames, in the order they should be listed.
    snapshot : dict, optional
        What :func:`chift_frames.load` read: ``snapshot_id``, ``status`` and
        ``finished_at`` (an ISO time) of the snapshot, shown by ``repr`` and in Jupyter.

    Examples
    --------
    >>> import pandas as pd
    >>> frames = Frames({"flows": pd.DataFrame({"flow_id": ["f1"]})})
    >>> frames.flows.flow_id.tolist()
    ['f1']
    >>> list(frames)
    ['flows']
    >>> frames
    Frames(
      flows          1 row
    )
    """

    def __init__(
        self, tables: Mapping[str, pd.DataFrame], *, snapshot: Mapping[str, Any] | None = None
    ) -> None:
        self._tables = dict(tables)
        self._snapshot = dict(snapshot) if snapshot else None

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The snapshot these tables were loaded from (id, status, time), or None."""
        return dict(self._snapshot) if self._snapshot else None

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r}; tables: {', '.join(self._tables)}") from None

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._tables[name]
        except KeyError:
            raise AttributeError(f"no table {name!r}; tables: {', '.join(self._tables)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._tables))

    def row_counts(self) -> dict[str, int]:
        """Return the number of rows of each table."""
        return {name: len(df) for name, df in self._tables.items()}

    def _about(self) -> str:
        """One line on the snapshot, such as ``snapshot 2026… (complete, 2026-12-07 02:04 UTC)``."""
        if not self._snapshot:
            return ""
        facts = [str(self._snapshot.get("status") or "")]
        when = self._snapshot.get("finished_at")
        if when:
            stamp = pd.Timestamp(when)
            stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
            facts.append(stamp.strftime("%Y-%m-%d %H:%M UTC"))
        detail = ", ".join(f for f in facts if f)
        return f"snapshot {self._snapshot.get('snapshot_id')}" + (f" ({detail})" if detail else "")

    def __repr__(self) -> str:
        width = max((len(n) for n in self._tables), default=0)
        lines = [
            f"  {n:<{width}}  {len(df):>9,} {_rows(len(df))}" for n, df in self._tables.items()
        ]
        about = self._about()
        head = f"Frames({about}" if about else "Frames("
        return head + "\n" + "\n".join(lines) + "\n)" if lines else head + ")"

    def _repr_html_(self) -> str:
        """Jupyter's view: the snapshot, then a table of the tables with their rows and columns."""
        body = "".join(
            f"<tr><td style='text-align:left'><code>{html.escape(name)}</code></td>"
            f"<td>{len(df):,}</td><td>{len(df.columns):,}</td></tr>"
            for name, df in self._tables.items()
        )
        about = self._about()
        caption = f"<p>{html.escape(about)}</p>" if about else ""
        return (
            f"<div><strong>Frames</strong>{caption}"
            "<table><thead><tr><th style='text-align:left'>table</th><th>rows</th>"
            f"<th>columns</th></tr></thead><tbody>{body}</tbody></table></div>"
        )


def _rows(count: int) -> str:
    return "row" if count == 1 else "rows"

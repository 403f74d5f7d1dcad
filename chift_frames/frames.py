"""``Frames``: the tables of one flatten, load or report, as a read-only mapping of DataFrames."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pandas as pd

__all__ = ["Frames"]


class Frames(Mapping[str, pd.DataFrame]):
    """Tables by name, reachable as ``frames["flows"]`` or ``frames.flows``.

    Parameters
    ----------
    tables : Mapping[str, pandas.DataFrame]
        The DataFrames, in the order they should be listed.

    Examples
    --------
    >>> import pandas as pd
    >>> frames = Frames({"flows": pd.DataFrame({"flow_id": ["f1"]})})
    >>> frames.flows.flow_id.tolist()
    ['f1']
    >>> list(frames)
    ['flows']
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self._tables = dict(tables)

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

    def __repr__(self) -> str:
        width = max((len(n) for n in self._tables), default=0)
        lines = [f"  {n:<{width}}  {len(df):>9,} rows" for n, df in self._tables.items()]
        return "Frames(\n" + "\n".join(lines) + "\n)" if lines else "Frames()"

"""DuckDB over a dataset: every table a view, through the same filesystem objects as load.

Each view is a ``pyarrow.dataset`` over the files the manifests list, registered in DuckDB:
no path is handed to DuckDB as a glob (a root named ``gx[12]`` reads its own folder only),
object stores are read through pyarrow's filesystems, and no DuckDB extension is ever
downloaded. DuckDB still pushes column and row filters down into the Parquet scans.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import pyarrow as pa

from ..errors import StoreError
from ..schema import TABLES, arrow_to_pandas_dtype
from .filesystems import open_root
from .read import SnapshotSpec, dataset, list_snapshots, select

__all__ = ["connect", "query"]


def connect(root: str | os.PathLike[str], snapshot: SnapshotSpec = "latest") -> Any:
    """Open an in-memory DuckDB connection where every table is a view over the dataset.

    With ``snapshot="all"`` each view stacks every snapshot and has a leading ``snapshot_id``
    column; otherwise it shows one snapshot. The ``snapshots`` view lists the snapshots.
    """
    import duckdb

    base = open_root(root)
    chosen = select(base, snapshot)
    con = duckdb.connect()
    for name in TABLES:
        con.register(name, dataset(base, name, chosen, with_snapshot_id=snapshot == "all"))
    con.register("snapshots", list_snapshots(base))
    return con


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def query(
    root: str | os.PathLike[str], sql: str, *, snapshot: SnapshotSpec = "latest"
) -> pd.DataFrame:
    """Run DuckDB SQL over the dataset at ``root`` and return the result as a DataFrame.

    Every table of the contract is a view (see :func:`connect`), so SQL can join them freely.

    Raises
    ------
    StoreError
        When the dataset can't be read, or DuckDB rejects or fails the query (its message,
        in one line).

    Examples
    --------
    A typical question, which consumers left values unmapped::

        query("data/demo", "SELECT consumer_id, count(*) AS unmapped FROM mapping_values "
                           "WHERE NOT is_mapped GROUP BY ALL ORDER BY unmapped DESC")
    """
    import duckdb

    con = connect(root, snapshot)
    try:
        try:
            result = con.sql(sql)
            if result is None:
                return pd.DataFrame()
            # DuckDB 2 renamed fetch_arrow_table() to to_arrow_table()
            fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
            table = fetch()
        except (duckdb.Error, pa.ArrowException) as exc:
            raise StoreError(f"the query failed: {_one_line(exc)}") from None
        df: pd.DataFrame = table.to_pandas(types_mapper=_query_dtype)
        return df
    finally:
        con.close()


def _query_dtype(type_: pa.DataType) -> object | None:
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(type_):
        return pd.api.types.pandas_dtype(str(type_).replace("int", "Int").replace("uInt", "UInt"))
    return arrow_to_pandas_dtype(type_)

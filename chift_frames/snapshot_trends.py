"""Trends: how setups, their completion and the values left to map move across snapshots.

One SQL pass over every readable snapshot (views that stack them); only the figures become
pandas. Snapshots that are partial or filtered are marked, and warned of, in one line each.
"""

from __future__ import annotations

import os
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .engine import duckdb_failure, fetch_arrow, open_source, run_with_room
from .errors import FilteredSnapshotWarning, PartialSnapshotWarning
from .reports._query import to_frame
from .store.completeness import Completeness, briefs, completeness_of_listed

__all__ = ["TRENDS_SQL", "trends"]

_STRING = pd.StringDtype("pyarrow")

TRENDS_SQL = """
-- How do setups, their completion and the values left to map move from snapshot to snapshot?
-- Grain: one row per snapshot and sync, oldest snapshot first; syncs named as in the latest
-- snapshot that has them (a sync may be renamed between fetches).
WITH per_snapshot AS (
    SELECT
        snapshot_id, sync_id,
        count(*) AS setup_count,
        count(*) FILTER (WHERE status = 'active') AS active_count,
        count(*) FILTER (WHERE enabled_flow_count > 0) AS with_flows_count,
        sum(value_count) AS value_count,
        sum(unmapped_count) AS unmapped_value_count
    FROM consumer_syncs
    GROUP BY snapshot_id, sync_id
),
latest_names AS (
    SELECT cs.sync_id, arg_max(cs.sync_name, s.finished_at) AS sync_name
    FROM consumer_syncs AS cs JOIN snapshots AS s USING (snapshot_id)
    GROUP BY cs.sync_id
)
SELECT
    CAST(p.snapshot_id AS VARCHAR) AS snapshot_id,
    CAST(s.finished_at AS TIMESTAMPTZ) AS finished_at,
    CAST(p.sync_id AS VARCHAR) AS sync_id,
    CAST(n.sync_name AS VARCHAR) AS sync_name,
    CAST(p.setup_count AS BIGINT) AS setup_count,
    CAST(p.active_count AS BIGINT) AS active_count,
    CAST(p.active_count AS DOUBLE) / nullif(p.setup_count, 0) AS active_share,
    CAST(p.with_flows_count AS BIGINT) AS with_flows_count,
    CAST(p.value_count AS BIGINT) AS value_count,
    CAST(p.unmapped_value_count AS BIGINT) AS unmapped_value_count
FROM per_snapshot AS p
JOIN snapshots AS s USING (snapshot_id)
LEFT JOIN latest_names AS n USING (sync_id)
ORDER BY s.finished_at, p.snapshot_id, n.sync_name NULLS LAST, p.sync_id
"""
"""The query behind :func:`trends`, over views that stack snapshots (``snapshot="all"``)."""

_TRENDS_COLUMNS = {
    "snapshot_id": _STRING,
    "finished_at": pd.DatetimeTZDtype("us", "UTC"),
    "is_partial": pd.BooleanDtype(),
    "is_filtered": pd.BooleanDtype(),
    "sync_id": _STRING,
    "sync_name": _STRING,
    "setup_count": pd.Int64Dtype(),
    "active_count": pd.Int64Dtype(),
    "active_share": pd.Float64Dtype(),
    "with_flows_count": pd.Int64Dtype(),
    "value_count": pd.Int64Dtype(),
    "unmapped_value_count": pd.Int64Dtype(),
}


def trends(root: str | os.PathLike[str]) -> pd.DataFrame:
    """How do setups, completion and unmapped values move from snapshot to snapshot?

    One SQL pass over every readable snapshot of the dataset (:data:`TRENDS_SQL`): DuckDB
    reads only the columns it needs of ``consumer_syncs``, so thirty snapshots of a large
    account take little memory; no snapshot is loaded into pandas.

    Parameters
    ----------
    root : str or path
        The dataset folder.

    Warns
    -----
    PartialSnapshotWarning
        When a snapshot is partial: its setups drop, and syncs may vanish, for no change.
    FilteredSnapshotWarning
        When some snapshots are filtered and others not, or filtered otherwise.

    Returns
    -------
    pandas.DataFrame
        One row per (snapshot, sync) with setups, oldest snapshot first, then by sync name:

        - ``snapshot_id``, ``finished_at``: the snapshot, and when its fetch finished
        - ``is_partial``, ``is_filtered``: the snapshot is partial (some pairs failed, or its
          fetch stopped), or filtered (``--sync``, ``--consumer``, ``--consumers-status``):
          its figures count only what it holds
        - ``sync_id``, ``sync_name``: the name of the latest snapshot that has the sync
        - ``setup_count``: consumer-sync setups; ``active_count``, ``active_share``: those
          complete (``status == "active"``), and their share
        - ``with_flows_count``: setups with at least one enabled flow
        - ``value_count``, ``unmapped_value_count``: source values, and those left unmapped
    """
    import duckdb

    with open_source(root, "all") as con:
        try:
            table = run_with_room(con, lambda c: fetch_arrow(c.sql(TRENDS_SQL)))
            listed = fetch_arrow(con.sql("SELECT snapshot_id, status, info_json FROM snapshots"))
        except duckdb.Error as exc:
            raise duckdb_failure("trends failed in DuckDB", exc, con) from None
    scopes = completeness_of_listed(listed.to_pydict())
    _warn_trends(scopes)
    partial = {c.snapshot_id for c in scopes if c.is_partial}
    filtered = {c.snapshot_id for c in scopes if c.is_filtered}
    ids = table.column("snapshot_id")
    table = table.add_column(2, "is_partial", pc.is_in(ids, pa.array(sorted(partial), pa.string())))
    table = table.add_column(
        3, "is_filtered", pc.is_in(ids, pa.array(sorted(filtered), pa.string()))
    )
    return to_frame(table, _TRENDS_COLUMNS)


def _is_are(count: int) -> str:
    return "is" if count == 1 else "are"


def _warn_trends(scopes: list[Completeness]) -> None:
    """Warn, one line each, of partial snapshots and of filtered ones among others."""
    total = len(scopes)
    partial = [c for c in scopes if c.is_partial]
    if partial:
        warnings.warn(
            f"trends: {len(partial):,} of {total:,} snapshots {_is_are(len(partial))} partial; "
            f"their figures count only the pairs fetched (column is_partial): {briefs(partial)}",
            PartialSnapshotWarning,
            stacklevel=3,
        )
    filtered = [c for c in scopes if c.is_filtered]
    if filtered and len({c.filters for c in scopes}) > 1:  # all filtered alike skews nothing
        warnings.warn(
            f"trends: {len(filtered):,} of {total:,} snapshots {_is_are(len(filtered))} filtered; "
            "their figures count only the pairs their filter chose (column is_filtered): "
            f"{briefs(filtered)}",
            FilteredSnapshotWarning,
            stacklevel=3,
        )

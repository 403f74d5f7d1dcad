"""History: what changed between two snapshots (:func:`diff`), and trends across all of them.

DuckDB does the work, with SQL joins between snapshots over the dataset's views; only the
change tables and the trend figures become pandas.

Every change table has a ``change`` column. Values, flows and columns are matched by what
they are (sync, mapping name, sub-mapping name, source id; flow id; datastore and column
name), never by position, and only for pairs present in both snapshots: a pair that comes or
goes is one row of ``pair_changes``, not a flood of value changes.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import pyarrow as pa

from .engine import configure, fetch_arrow, frame_to_arrow, open_source
from .errors import StoreError
from .frames import Frames
from .reports._query import to_frame
from .schema import TABLES
from .store import list_snapshots

__all__ = ["CHANGE_SQL", "CHANGE_TABLES", "diff", "diff_frames", "pick_snapshots", "trends"]

PAIR = ["consumer_id", "sync_id"]
_STRING = pd.StringDtype("pyarrow")

CHANGE_TABLES: dict[str, list[str]] = {
    "pair_changes": [*PAIR, "change"],
    "status_changes": [*PAIR, "field", "change", "before", "after"],
    "value_changes": [
        *PAIR,
        "mapping_name",
        "sub_mapping_name",
        "source_id",
        "change",
        "target_before",
        "target_after",
    ],
    "flow_changes": [*PAIR, "flow_id", "change", "before", "after"],
    "column_changes": [
        *PAIR,
        "flow_id",
        "datastore_name",
        "column_name",
        "change",
        "type_before",
        "type_after",
    ],
}
"""Each change table and its columns (all strings)."""


# Each change table is one query over the views of ``store.connect(root, "all")``, where every
# table has a leading ``snapshot_id``: paste it into ``chift-frames query DIR --snapshot all``
# with $before and $after replaced by two snapshot ids. A key's first row wins (by position).

_COMMON_PAIRS = """
before_pairs AS (
    SELECT DISTINCT consumer_id, sync_id FROM consumer_syncs WHERE snapshot_id = $before
),
after_pairs AS (
    SELECT DISTINCT consumer_id, sync_id FROM consumer_syncs WHERE snapshot_id = $after
),
common_pairs AS (
    SELECT consumer_id, sync_id FROM before_pairs
    INTERSECT
    SELECT consumer_id, sync_id FROM after_pairs
)"""

CHANGE_SQL: dict[str, str] = {
    "pair_changes": f"""
-- Which (consumer, sync) setups appeared or disappeared between the two snapshots?
-- Grain: one row per pair in only one of them.
WITH {_COMMON_PAIRS}
SELECT
    CAST(coalesce(b.consumer_id, a.consumer_id) AS VARCHAR) AS consumer_id,
    CAST(coalesce(b.sync_id, a.sync_id) AS VARCHAR) AS sync_id,
    CAST(CASE WHEN a.consumer_id IS NULL THEN 'removed' ELSE 'added' END AS VARCHAR) AS change
FROM before_pairs AS b
FULL JOIN after_pairs AS a ON a.consumer_id = b.consumer_id AND a.sync_id = b.sync_id
WHERE a.consumer_id IS NULL OR b.consumer_id IS NULL
ORDER BY change, consumer_id, sync_id
""",
    "status_changes": f"""
-- Which setups in both snapshots changed status, enabled or status_details?
-- Grain: one row per pair and field that changed; fields in that order, then pairs.
WITH {_COMMON_PAIRS},
before_setups AS (
    SELECT consumer_id, sync_id, status, enabled, status_details
    FROM consumer_syncs WHERE snapshot_id = $before
    QUALIFY row_number() OVER (PARTITION BY consumer_id, sync_id) = 1
),
after_setups AS (
    SELECT consumer_id, sync_id, status, enabled, status_details
    FROM consumer_syncs WHERE snapshot_id = $after
    QUALIFY row_number() OVER (PARTITION BY consumer_id, sync_id) = 1
),
field_values AS (
    SELECT b.consumer_id, b.sync_id, 1 AS field_order, 'status' AS field,
        CAST(b.status AS VARCHAR) AS before, CAST(a.status AS VARCHAR) AS after
    FROM before_setups AS b JOIN after_setups AS a USING (consumer_id, sync_id)
    UNION ALL
    SELECT b.consumer_id, b.sync_id, 2, 'enabled',
        CAST(b.enabled AS VARCHAR), CAST(a.enabled AS VARCHAR)
    FROM before_setups AS b JOIN after_setups AS a USING (consumer_id, sync_id)
    UNION ALL
    SELECT b.consumer_id, b.sync_id, 3, 'status_details',
        CAST(b.status_details AS VARCHAR), CAST(a.status_details AS VARCHAR)
    FROM before_setups AS b JOIN after_setups AS a USING (consumer_id, sync_id)
)
SELECT
    CAST(consumer_id AS VARCHAR) AS consumer_id,
    CAST(sync_id AS VARCHAR) AS sync_id,
    CAST(field AS VARCHAR) AS field,
    CAST(
        CASE WHEN before IS NULL THEN 'set' WHEN after IS NULL THEN 'cleared' ELSE 'changed' END
        AS VARCHAR
    ) AS change,
    before,
    after
FROM field_values
WHERE before IS DISTINCT FROM after
ORDER BY field_order, consumer_id, sync_id
""",
    "value_changes": f"""
-- Which mapping values were added, removed or retargeted in setups in both snapshots?
-- Grain: one row per pair, mapping, sub-mapping and source id that changed.
-- A full join of the two snapshots' values: DuckDB spills joins and windows to disk, so
-- this runs within the memory limit at any size (a grouping of both would not).
WITH {_COMMON_PAIRS},
before_values AS (
    SELECT v.consumer_id, v.sync_id, v.mapping_name, v.sub_mapping_name, v.source_id, v.target_id
    FROM mapping_values AS v JOIN common_pairs USING (consumer_id, sync_id)
    WHERE v.snapshot_id = $before AND v.source_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY v.consumer_id, v.sync_id, v.mapping_name, v.sub_mapping_name, v.source_id
        ORDER BY v.mapping_index, v.value_index
    ) = 1
),
after_values AS (
    SELECT v.consumer_id, v.sync_id, v.mapping_name, v.sub_mapping_name, v.source_id, v.target_id
    FROM mapping_values AS v JOIN common_pairs USING (consumer_id, sync_id)
    WHERE v.snapshot_id = $after AND v.source_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY v.consumer_id, v.sync_id, v.mapping_name, v.sub_mapping_name, v.source_id
        ORDER BY v.mapping_index, v.value_index
    ) = 1
),
compared AS (
    SELECT
        coalesce(b.consumer_id, a.consumer_id) AS consumer_id,
        coalesce(b.sync_id, a.sync_id) AS sync_id,
        coalesce(b.mapping_name, a.mapping_name) AS mapping_name,
        coalesce(b.sub_mapping_name, a.sub_mapping_name) AS sub_mapping_name,
        coalesce(b.source_id, a.source_id) AS source_id,
        CASE
            WHEN a.consumer_id IS NULL THEN 'removed'
            WHEN b.consumer_id IS NULL THEN 'added'
            WHEN b.target_id IS DISTINCT FROM a.target_id THEN 'retargeted'
        END AS change,
        b.target_id AS target_before,
        a.target_id AS target_after
    FROM before_values AS b
    FULL JOIN after_values AS a
        ON a.consumer_id = b.consumer_id AND a.sync_id = b.sync_id
        AND a.mapping_name = b.mapping_name AND a.sub_mapping_name = b.sub_mapping_name
        AND a.source_id = b.source_id
)
SELECT
    CAST(consumer_id AS VARCHAR) AS consumer_id,
    CAST(sync_id AS VARCHAR) AS sync_id,
    CAST(mapping_name AS VARCHAR) AS mapping_name,
    CAST(sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(source_id AS VARCHAR) AS source_id,
    CAST(change AS VARCHAR) AS change,
    CAST(target_before AS VARCHAR) AS target_before,
    CAST(target_after AS VARCHAR) AS target_after
FROM compared
WHERE change IS NOT NULL
ORDER BY consumer_id, sync_id, mapping_name, sub_mapping_name, source_id
""",
    "flow_changes": f"""
-- Which flows were enabled, disabled, or changed trigger or settings, in setups in both?
-- Grain: one row per pair, flow and kind of change. A trigger reads "type id cronschedule".
WITH {_COMMON_PAIRS},
before_flows AS (
    SELECT
        f.consumer_id, f.sync_id, f.flow_id,
        trim(f.trigger_type || ' ' || f.trigger_id || ' ' || coalesce(f.cronschedule, ''))
            AS trigger,
        f."values" AS settings
    FROM flows AS f JOIN common_pairs USING (consumer_id, sync_id)
    WHERE f.snapshot_id = $before
    QUALIFY row_number() OVER (PARTITION BY f.consumer_id, f.sync_id, f.flow_id) = 1
),
after_flows AS (
    SELECT
        f.consumer_id, f.sync_id, f.flow_id,
        trim(f.trigger_type || ' ' || f.trigger_id || ' ' || coalesce(f.cronschedule, ''))
            AS trigger,
        f."values" AS settings
    FROM flows AS f JOIN common_pairs USING (consumer_id, sync_id)
    WHERE f.snapshot_id = $after
    QUALIFY row_number() OVER (PARTITION BY f.consumer_id, f.sync_id, f.flow_id) = 1
),
changes AS (
    SELECT a.consumer_id, a.sync_id, a.flow_id, 'enabled' AS change,
        NULL AS before, NULL AS after
    FROM after_flows AS a ANTI JOIN before_flows AS b USING (consumer_id, sync_id, flow_id)
    UNION ALL
    SELECT b.consumer_id, b.sync_id, b.flow_id, 'disabled', NULL, NULL
    FROM before_flows AS b ANTI JOIN after_flows AS a USING (consumer_id, sync_id, flow_id)
    UNION ALL
    SELECT b.consumer_id, b.sync_id, b.flow_id, 'trigger_changed', b.trigger, a.trigger
    FROM before_flows AS b JOIN after_flows AS a USING (consumer_id, sync_id, flow_id)
    WHERE b.trigger IS DISTINCT FROM a.trigger
    UNION ALL
    SELECT b.consumer_id, b.sync_id, b.flow_id, 'settings_changed', b.settings, a.settings
    FROM before_flows AS b JOIN after_flows AS a USING (consumer_id, sync_id, flow_id)
    WHERE b.settings IS DISTINCT FROM a.settings
)
SELECT
    CAST(consumer_id AS VARCHAR) AS consumer_id,
    CAST(sync_id AS VARCHAR) AS sync_id,
    CAST(flow_id AS VARCHAR) AS flow_id,
    CAST(change AS VARCHAR) AS change,
    CAST(before AS VARCHAR) AS before,
    CAST(after AS VARCHAR) AS after
FROM changes
ORDER BY consumer_id, sync_id, flow_id, change
""",
    "column_changes": f"""
-- Which datastore columns were added, removed or retyped, in flows enabled in both?
-- Grain: one row per pair, flow, datastore name and column name that changed.
-- One pass over both snapshots' columns, grouped by what a column is (its first row wins).
WITH {_COMMON_PAIRS},
common_flows AS (
    SELECT consumer_id, sync_id, flow_id
    FROM flows JOIN common_pairs USING (consumer_id, sync_id)
    WHERE snapshot_id = $before
    INTERSECT
    SELECT consumer_id, sync_id, flow_id
    FROM flows JOIN common_pairs USING (consumer_id, sync_id)
    WHERE snapshot_id = $after
),
compared AS (
    SELECT
        c.consumer_id, c.sync_id, c.flow_id, c.datastore_name, c.name AS column_name,
        count(*) FILTER (WHERE c.snapshot_id = $before) > 0 AS in_before,
        count(*) FILTER (WHERE c.snapshot_id = $after) > 0 AS in_after,
        arg_min_null(c.type, (c.datastore_index, c.column_index))
            FILTER (WHERE c.snapshot_id = $before) AS type_before,
        arg_min_null(c.type, (c.datastore_index, c.column_index))
            FILTER (WHERE c.snapshot_id = $after) AS type_after
    FROM datastore_columns AS c
    JOIN common_flows AS f
        ON f.consumer_id = c.consumer_id AND f.sync_id = c.sync_id AND f.flow_id = c.flow_id
    WHERE c.snapshot_id IN ($before, $after)
    GROUP BY c.consumer_id, c.sync_id, c.flow_id, c.datastore_name, c.name
)
SELECT
    CAST(consumer_id AS VARCHAR) AS consumer_id,
    CAST(sync_id AS VARCHAR) AS sync_id,
    CAST(flow_id AS VARCHAR) AS flow_id,
    CAST(datastore_name AS VARCHAR) AS datastore_name,
    CAST(column_name AS VARCHAR) AS column_name,
    CAST(
        CASE
            WHEN NOT in_after THEN 'removed'
            WHEN NOT in_before THEN 'added'
            WHEN type_before IS DISTINCT FROM type_after THEN 'retyped'
        END AS VARCHAR
    ) AS change,
    CAST(type_before AS VARCHAR) AS type_before,
    CAST(type_after AS VARCHAR) AS type_after
FROM compared
WHERE NOT in_before OR NOT in_after OR type_before IS DISTINCT FROM type_after
ORDER BY consumer_id, sync_id, flow_id, datastore_name, column_name
""",
}
"""The query behind each change table, over views that stack snapshots (``snapshot="all"``)."""

_DIFF_TABLES = ("consumer_syncs", "mapping_values", "flows", "datastore_columns")


def _diff_on(con: Any, before: str, after: str) -> Frames:
    import duckdb

    out = {}
    for name, sql in CHANGE_SQL.items():
        try:
            table = fetch_arrow(con.sql(sql, params={"before": before, "after": after}))
        except duckdb.Error as exc:
            raise StoreError(f"diff: {name} failed in DuckDB: {exc}") from None
        out[name] = to_frame(table, dict.fromkeys(CHANGE_TABLES[name], _STRING))
    return Frames(out)


def diff_frames(before: Frames, after: Frames) -> Frames:
    """Compare two snapshots' tables and say what changed, pair by pair.

    DuckDB runs the queries of :data:`CHANGE_SQL` over both snapshots' tables, registered
    through Arrow; a table missing from either is taken as empty.

    Parameters
    ----------
    before, after : Frames
        Two snapshots, as :func:`chift_frames.load` gives them.

    Returns
    -------
    Frames
        ``pair_changes`` (added, removed), ``status_changes`` (field status, enabled or
        status_details: set, cleared, changed), ``value_changes`` (added, removed, retargeted),
        ``flow_changes`` (enabled, disabled, trigger_changed, settings_changed) and
        ``column_changes`` (added, removed, retyped), as listed in :data:`CHANGE_TABLES`.
    """
    import duckdb

    con = configure(duckdb.connect())
    try:
        for name in _DIFF_TABLES:
            for side, frames in (("before", before), ("after", after)):
                df = frames[name] if name in frames else TABLES[name].schema.empty_table()
                table = df if isinstance(df, pa.Table) else frame_to_arrow(name, df)
                con.register(f"_{side}_{name}", table)
            con.execute(
                f'CREATE TEMP VIEW "{name}" AS '
                f"SELECT 'before' AS snapshot_id, * FROM \"_before_{name}\" "
                f"UNION ALL SELECT 'after' AS snapshot_id, * FROM \"_after_{name}\""
            )
        return _diff_on(con, "before", "after")
    finally:
        con.close()


def pick_snapshots(
    root: str | os.PathLike[str], before: str | None = None, after: str | None = None
) -> tuple[str, str]:
    """Return the (before, after) snapshot ids that :func:`diff` compares.

    ``after`` defaults to the latest complete snapshot, ``before`` to the latest complete
    snapshot finished before ``after`` (a partial snapshot is compared only when named).

    Raises
    ------
    StoreError
        When a named snapshot does not exist, or there is nothing to compare with.
    """
    snapshots = list_snapshots(root)  # oldest first
    ids = snapshots.snapshot_id.tolist()
    complete = snapshots[snapshots.status == "complete"].snapshot_id.tolist()
    for given in (before, after):
        if given is not None and given not in ids:
            raise StoreError(f"no snapshot {given!r} in {root}")
    if after is None:
        if not complete:
            raise StoreError(f"{root} holds no complete snapshot to compare")
        after = complete[-1]
    if before is None:
        earlier = [s for s in ids[: ids.index(after)] if s in complete]
        if not earlier:
            raise StoreError(
                f"{root} holds no complete snapshot before {after!r} to compare it with; "
                "fetch again, or name one with before="
            )
        before = earlier[-1]
    return before, after


def diff(
    root: str | os.PathLike[str], before: str | None = None, after: str | None = None
) -> Frames:
    """Say what changed between two snapshots of the dataset at ``root``.

    Parameters
    ----------
    root : str or path
        The dataset folder.
    before, after : str, optional
        Snapshot ids; by default the two latest complete snapshots (see
        :func:`pick_snapshots`).

    Returns
    -------
    Frames
        The change tables of :func:`diff_frames`.

    Raises
    ------
    StoreError
        When there are not two snapshots to compare.
    """
    before, after = pick_snapshots(root, before, after)
    with open_source(root, "all") as con:
        return _diff_on(con, before, after)


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

    Returns
    -------
    pandas.DataFrame
        One row per (snapshot, sync) with setups, oldest snapshot first, then by sync name:

        - ``snapshot_id``, ``finished_at``: the snapshot, and when its fetch finished
        - ``sync_id``, ``sync_name``: the name of the latest snapshot that has the sync
        - ``setup_count``: consumer-sync setups; ``active_count``, ``active_share``: those
          complete (``status == "active"``), and their share
        - ``with_flows_count``: setups with at least one enabled flow
        - ``value_count``, ``unmapped_value_count``: source values, and those left unmapped
    """
    import duckdb

    with open_source(root, "all") as con:
        try:
            table = fetch_arrow(con.sql(TRENDS_SQL))
        except duckdb.Error as exc:
            raise StoreError(f"trends failed in DuckDB: {exc}") from None
    return to_frame(table, _TRENDS_COLUMNS)

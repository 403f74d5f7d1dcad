"""History: what changed between two snapshots (:func:`diff`); trends are in ``snapshot_trends.py``.

DuckDB does the work, with SQL joins between snapshots over the dataset's views; only the
change tables and the trend figures become pandas.

Every change table has a ``change`` column. Values, flows and columns are matched by what
they are (sync, mapping name, sub-mapping name, source id; flow id; datastore and column
name), never by position, and only for pairs present in both snapshots: a pair that comes or
goes is one row of ``pair_changes``, not a flood of value changes.
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from typing import Any

import pandas as pd
import pyarrow as pa

from .engine import (
    configure,
    duckdb_failure,
    fetch_arrow,
    frame_to_arrow,
    open_source,
    run_with_room,
)
from .errors import FilteredSnapshotWarning, PartialSnapshotWarning, StoreError
from .frames import Frames
from .reports._query import to_frame
from .schema import TABLES
from .store import display_root, list_snapshots, snapshot_manifest
from .store.completeness import Completeness, completeness, completeness_of_listed

__all__ = [
    "CHANGE_SQL",
    "CHANGE_TABLES",
    "diff",
    "diff_frames",
    "diff_notes",
    "pick_snapshots",
]

PAIR = ["consumer_id", "consumer_name", "sync_id", "sync_name"]
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
    "flow_changes": [*PAIR, "flow_id", "flow_name", "change", "before", "after"],
    "column_changes": [
        *PAIR,
        "flow_id",
        "flow_name",
        "datastore_name",
        "column_name",
        "change",
        "type_before",
        "type_after",
    ],
    "connection_changes": [
        "consumer_id",
        "consumer_name",
        "connection_id",
        "connection_name",
        "api",
        "integration",
        "change",
        "before",
        "after",
    ],
}
"""Each change table and its columns (all strings); names sit beside the ids they name."""


# Each change table is one query over the views of ``store.connect(root, "all")``, where every
# table has a leading ``snapshot_id``: paste it into ``chift-frames query DIR --snapshot all``
# with $before and $after replaced by two snapshot ids. A key's first row wins (by position).
# Names come from the later snapshot, else the earlier one (a removed thing keeps its name).

_NAMES = """
consumer_names AS (
    SELECT consumer_id, arg_max(name, snapshot_id = $after) AS consumer_name
    FROM consumers WHERE snapshot_id IN ($before, $after)
    GROUP BY consumer_id
),
sync_names AS (
    SELECT sync_id, arg_max(sync_name, snapshot_id = $after) AS sync_name
    FROM consumer_syncs WHERE snapshot_id IN ($before, $after)
    GROUP BY sync_id
),
flow_names AS (
    SELECT sync_id, flow_id, arg_max(name, snapshot_id = $after) AS flow_name
    FROM sync_flows WHERE snapshot_id IN ($before, $after)
    GROUP BY sync_id, flow_id
)"""


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

_VALUE_KEY = "consumer_id, sync_id, mapping_name, sub_mapping_name, source_id"


def _changed(name: str, table: str, keys: str, hashed: str, among: str, where: str = "") -> str:
    """Return the CTE ``name``: the ``keys`` of ``among`` whose rows of ``table`` may differ.

    A fingerprint of each key's rows on each side, their count and the sum of their hashes
    (of ``hashed``, positions included), in one pass and a group per key: equal prints mean
    the same rows in the same places, so only the other keys need comparing row by row.
    """
    return f"""{name}_prints AS (
    SELECT
        {keys},
        count(*) FILTER (WHERE snapshot_id = $before) AS before_count,
        sum(row_hash) FILTER (WHERE snapshot_id = $before) AS before_print,
        count(*) FILTER (WHERE snapshot_id = $after) AS after_count,
        sum(row_hash) FILTER (WHERE snapshot_id = $after) AS after_print
    FROM (
        SELECT {keys}, snapshot_id, hash({hashed}) AS row_hash
        FROM {table}
        WHERE snapshot_id IN ($before, $after){where}
    )
    GROUP BY {keys}
),
{name} AS (
    SELECT {keys}
    FROM {name}_prints JOIN {among} USING ({keys})
    WHERE before_count <> after_count OR before_print IS DISTINCT FROM after_print
)"""


# the pairs in both snapshots whose values may differ: only their rows are compared
_CHANGED_PAIRS = _changed(
    "changed_pairs",
    "mapping_values",
    "consumer_id, sync_id",
    "mapping_name, sub_mapping_name, source_id, target_id, mapping_index, value_index",
    "common_pairs",
    " AND source_id IS NOT NULL",
)


def _first_values(side: str) -> str:
    """Return the CTEs that keep each value key's first row of snapshot ``$<side>``.

    They end in ``<side>_values``, and read only the pairs of ``changed_pairs``: most pairs
    of an account are the same from one fetch to the next, and a pair whose values hash to
    the same sum, count and positions included, has no value change to find (20,000 heavy
    pairs: 48 s to 6 s). Nearly every key occurs once in a snapshot: rows whose pair gives
    the source one value (``source_repeats`` false) pass as they are, and only the rest
    (repeated keys, and every key of a snapshot saved before that column) are ranked by
    position, by their whole key. Ranking every row by five strings cost three times as much
    (1.7 s against 0.5 s at 20,000 pairs).
    """
    return f"""{side}_rows AS NOT MATERIALIZED (
    -- read by both branches below: kept, it would not spill (out of memory at 256 MiB)
    SELECT
        v.consumer_id, v.sync_id, v.mapping_name, v.sub_mapping_name, v.source_id, v.target_id,
        v.mapping_index, v.value_index, v.source_repeats
    FROM mapping_values AS v JOIN changed_pairs USING (consumer_id, sync_id)
    WHERE v.snapshot_id = ${side} AND v.source_id IS NOT NULL
),
{side}_values AS (
    SELECT {_VALUE_KEY}, target_id
    FROM {side}_rows
    WHERE source_repeats IS FALSE
    UNION ALL
    SELECT {_VALUE_KEY}, target_id
    FROM {side}_rows
    WHERE source_repeats IS NOT FALSE
    QUALIFY row_number() OVER (
        PARTITION BY {_VALUE_KEY}
        ORDER BY mapping_index, value_index
    ) = 1
)"""


_VALUE_CHANGE_ROWS = f"""
-- The value changes, ids only, in setups in both snapshots. A null or '' target is
-- unmapped, so a change between the two is no change.
-- Each side keeps a key's first value (by position); a full join of the two sides then
-- compares them. Joins spill to disk, so this runs within the memory limit at any size (a
-- grouping of both sides would not).
WITH {_COMMON_PAIRS}, {_CHANGED_PAIRS},
{_first_values("before")},
{_first_values("after")},
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
            WHEN nullif(b.target_id, '') IS NULL AND nullif(a.target_id, '') IS NULL THEN NULL
            WHEN nullif(b.target_id, '') IS NULL THEN 'mapped'
            WHEN nullif(a.target_id, '') IS NULL THEN 'unmapped'
            WHEN b.target_id <> a.target_id THEN 'retargeted'
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
    consumer_id, sync_id, mapping_name, sub_mapping_name, source_id, change, target_before,
    target_after
FROM compared
WHERE change IS NOT NULL"""
"""The value changes, ids only and in no order: as many rows as the account has values
changed (a million when a fetch maps most values of 50,000 pairs at once)."""


def _value_changes_shown(rows: str) -> str:
    """Return the query that names and orders the value changes of ``rows``.

    ``rows`` is :data:`_VALUE_CHANGE_ROWS` as a subquery, or a table that holds its result:
    :func:`_diff_on` keeps it in a temporary table first, because DuckDB does not fit a big
    join followed by a sort in one query within a small memory limit (at 200,000 heavy
    pairs, 256 MiB: out of memory), where each alone spills.
    """
    return f"""
-- Which mapping values were added or removed, got mapped, got unmapped, or were retargeted
-- (mapped to another target)?
-- Grain: one row per pair, mapping, sub-mapping and source id that changed.
WITH {_NAMES}
SELECT
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(c.mapping_name AS VARCHAR) AS mapping_name,
    CAST(c.sub_mapping_name AS VARCHAR) AS sub_mapping_name,
    CAST(c.source_id AS VARCHAR) AS source_id,
    CAST(c.change AS VARCHAR) AS change,
    CAST(c.target_before AS VARCHAR) AS target_before,
    CAST(c.target_after AS VARCHAR) AS target_after
FROM {rows} AS c
LEFT JOIN consumer_names AS cn USING (consumer_id)
LEFT JOIN sync_names AS sn USING (sync_id)
ORDER BY c.consumer_id, c.sync_id, c.mapping_name, c.sub_mapping_name, c.source_id
"""


_STAGED = {"value_changes": (_VALUE_CHANGE_ROWS, _value_changes_shown)}
"""The change tables that :func:`_diff_on` computes in two steps: their rows, kept in a
temporary table, and the function that gives the query naming and ordering that table's rows."""


CHANGE_SQL: dict[str, str] = {
    "pair_changes": f"""
-- Which (consumer, sync) setups appeared or disappeared between the two snapshots?
-- Grain: one row per pair in only one of them.
WITH {_COMMON_PAIRS}, {_NAMES},
compared AS (
    SELECT
        coalesce(b.consumer_id, a.consumer_id) AS consumer_id,
        coalesce(b.sync_id, a.sync_id) AS sync_id,
        CASE WHEN a.consumer_id IS NULL THEN 'removed' ELSE 'added' END AS change
    FROM before_pairs AS b
    FULL JOIN after_pairs AS a ON a.consumer_id = b.consumer_id AND a.sync_id = b.sync_id
    WHERE a.consumer_id IS NULL OR b.consumer_id IS NULL
)
SELECT
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(c.change AS VARCHAR) AS change
FROM compared AS c
LEFT JOIN consumer_names AS cn USING (consumer_id)
LEFT JOIN sync_names AS sn USING (sync_id)
ORDER BY c.change, c.consumer_id, c.sync_id
""",
    "status_changes": f"""
-- Which setups in both snapshots changed status, enabled or status_details?
-- Grain: one row per pair and field that changed; fields in that order, then pairs.
WITH {_COMMON_PAIRS}, {_NAMES},
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
    CAST(f.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(f.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(f.field AS VARCHAR) AS field,
    CAST(
        CASE
            WHEN f.before IS NULL THEN 'set' WHEN f.after IS NULL THEN 'cleared' ELSE 'changed'
        END AS VARCHAR
    ) AS change,
    f.before,
    f.after
FROM field_values AS f
LEFT JOIN consumer_names AS cn USING (consumer_id)
LEFT JOIN sync_names AS sn USING (sync_id)
WHERE f.before IS DISTINCT FROM f.after
ORDER BY f.field_order, f.consumer_id, f.sync_id
""",
    "value_changes": _value_changes_shown(f"(\n{_VALUE_CHANGE_ROWS}\n)"),
    "flow_changes": f"""
-- Which flows were enabled, disabled, or changed trigger or settings, in setups in both?
-- Grain: one row per pair, flow and kind of change. A trigger reads "type id cronschedule".
WITH {_COMMON_PAIRS}, {_NAMES},
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
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(c.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(c.change AS VARCHAR) AS change,
    CAST(c.before AS VARCHAR) AS before,
    CAST(c.after AS VARCHAR) AS after
FROM changes AS c
LEFT JOIN consumer_names AS cn USING (consumer_id)
LEFT JOIN sync_names AS sn USING (sync_id)
LEFT JOIN flow_names AS fn USING (sync_id, flow_id)
ORDER BY c.consumer_id, c.sync_id, c.flow_id, c.change
""",
    "column_changes": f"""
-- Which datastore columns were added, removed or retyped, in flows enabled in both?
-- Grain: one row per pair, flow, datastore name and column name that changed.
-- Flows whose columns' fingerprint differs are grouped by what a column is (its first row
-- wins); the others have no change to find.
WITH {_COMMON_PAIRS}, {_NAMES},
common_flows AS (
    SELECT consumer_id, sync_id, flow_id
    FROM flows JOIN common_pairs USING (consumer_id, sync_id)
    WHERE snapshot_id = $before
    INTERSECT
    SELECT consumer_id, sync_id, flow_id
    FROM flows JOIN common_pairs USING (consumer_id, sync_id)
    WHERE snapshot_id = $after
),
{
        _changed(
            "changed_flows",
            "datastore_columns",
            "consumer_id, sync_id, flow_id",
            "datastore_name, name, type, datastore_index, column_index",
            "common_flows",
        )
    },
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
    JOIN changed_flows AS f
        ON f.consumer_id = c.consumer_id AND f.sync_id = c.sync_id AND f.flow_id = c.flow_id
    WHERE c.snapshot_id IN ($before, $after)
    GROUP BY c.consumer_id, c.sync_id, c.flow_id, c.datastore_name, c.name
)
SELECT
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.sync_id AS VARCHAR) AS sync_id,
    CAST(sn.sync_name AS VARCHAR) AS sync_name,
    CAST(c.flow_id AS VARCHAR) AS flow_id,
    CAST(fn.flow_name AS VARCHAR) AS flow_name,
    CAST(c.datastore_name AS VARCHAR) AS datastore_name,
    CAST(c.column_name AS VARCHAR) AS column_name,
    CAST(
        CASE
            WHEN NOT c.in_after THEN 'removed'
            WHEN NOT c.in_before THEN 'added'
            WHEN c.type_before IS DISTINCT FROM c.type_after THEN 'retyped'
        END AS VARCHAR
    ) AS change,
    CAST(c.type_before AS VARCHAR) AS type_before,
    CAST(c.type_after AS VARCHAR) AS type_after
FROM compared AS c
LEFT JOIN consumer_names AS cn USING (consumer_id)
LEFT JOIN sync_names AS sn USING (sync_id)
LEFT JOIN flow_names AS fn USING (sync_id, flow_id)
WHERE NOT c.in_before OR NOT c.in_after OR c.type_before IS DISTINCT FROM c.type_after
ORDER BY c.consumer_id, c.sync_id, c.flow_id, c.datastore_name, c.column_name
""",
    "connection_changes": f"""
-- Which connections were added or removed, or changed status or local agent status, for
-- consumers with setups in both snapshots (a fetch reads the connections of those only)?
-- Grain: one row per consumer, connection and kind of change; a status change reads before
-- and after (active, inactive; up, down).
WITH {_NAMES},
common_consumers AS (
    SELECT consumer_id FROM consumer_syncs WHERE snapshot_id = $before
    INTERSECT
    SELECT consumer_id FROM consumer_syncs WHERE snapshot_id = $after
),
before_connections AS (
    SELECT c.consumer_id, c.connection_id, c.name, c.api, c.integration, c.status,
        c.agent_status
    FROM connections AS c JOIN common_consumers USING (consumer_id)
    WHERE c.snapshot_id = $before
    QUALIFY row_number() OVER (PARTITION BY c.consumer_id, c.connection_id) = 1
),
after_connections AS (
    SELECT c.consumer_id, c.connection_id, c.name, c.api, c.integration, c.status,
        c.agent_status
    FROM connections AS c JOIN common_consumers USING (consumer_id)
    WHERE c.snapshot_id = $after
    QUALIFY row_number() OVER (PARTITION BY c.consumer_id, c.connection_id) = 1
),
changes AS (
    SELECT a.consumer_id, a.connection_id, a.name, a.api, a.integration,
        1 AS change_order, 'added' AS change, NULL AS before, a.status AS after
    FROM after_connections AS a
    ANTI JOIN before_connections AS b USING (consumer_id, connection_id)
    UNION ALL
    SELECT b.consumer_id, b.connection_id, b.name, b.api, b.integration,
        2, 'removed', b.status, NULL
    FROM before_connections AS b
    ANTI JOIN after_connections AS a USING (consumer_id, connection_id)
    UNION ALL
    SELECT a.consumer_id, a.connection_id, a.name, a.api, a.integration,
        3, 'status_changed', b.status, a.status
    FROM before_connections AS b JOIN after_connections AS a USING (consumer_id, connection_id)
    WHERE b.status IS DISTINCT FROM a.status
    UNION ALL
    SELECT a.consumer_id, a.connection_id, a.name, a.api, a.integration,
        4, 'agent_status_changed', b.agent_status, a.agent_status
    FROM before_connections AS b JOIN after_connections AS a USING (consumer_id, connection_id)
    WHERE b.agent_status IS DISTINCT FROM a.agent_status
)
SELECT
    CAST(c.consumer_id AS VARCHAR) AS consumer_id,
    CAST(cn.consumer_name AS VARCHAR) AS consumer_name,
    CAST(c.connection_id AS VARCHAR) AS connection_id,
    CAST(c.name AS VARCHAR) AS connection_name,
    CAST(c.api AS VARCHAR) AS api,
    CAST(c.integration AS VARCHAR) AS integration,
    CAST(c.change AS VARCHAR) AS change,
    CAST(c.before AS VARCHAR) AS before,
    CAST(c.after AS VARCHAR) AS after
FROM changes AS c
LEFT JOIN consumer_names AS cn USING (consumer_id)
ORDER BY c.consumer_id, c.connection_id, c.change_order
""",
}
"""The query behind each change table, over views that stack snapshots (``snapshot="all"``)."""

_DIFF_TABLES = (
    "consumer_syncs",
    "mapping_values",
    "flows",
    "datastore_columns",
    "consumers",
    "sync_flows",
    "connections",
)


def _diff_on(con: Any, before: str, after: str) -> Frames:
    import duckdb

    params = {"before": before, "after": after}
    out = {}
    for name, sql in CHANGE_SQL.items():
        try:
            if name in _STAGED:
                rows, shown = _STAGED[name]
                kept = f"_{name}_rows"
                keep = f"CREATE OR REPLACE TEMP TABLE {kept} AS {rows}"
                run_with_room(con, partial(_execute, keep, params))
                try:
                    table = run_with_room(con, partial(_arrow_of, shown(kept), params))
                finally:
                    con.execute(f"DROP TABLE IF EXISTS {kept}")
            else:
                table = run_with_room(con, partial(_arrow_of, sql, params))
        except duckdb.Error as exc:
            raise duckdb_failure(f"diff: {name} failed in DuckDB", exc, con) from None
        out[name] = to_frame(table, dict.fromkeys(CHANGE_TABLES[name], _STRING))
    return Frames(out)


def diff_frames(before: Frames, after: Frames) -> Frames:
    """Compare two snapshots' tables and say what changed, pair by pair.

    DuckDB runs the queries of :data:`CHANGE_SQL` over both snapshots' tables, registered
    through Arrow; a table missing from either is taken as empty. ``value_changes`` runs in
    two steps, its rows kept in a temporary table first (see :func:`_value_changes_shown`),
    with the same result as its one query.

    Parameters
    ----------
    before, after : Frames
        Two snapshots, as :func:`chift_frames.load` gives them.

    Returns
    -------
    Frames
        ``pair_changes`` (added, removed), ``status_changes`` (field status, enabled or
        status_details: set, cleared, changed), ``value_changes`` (added, removed; mapped:
        unmapped before; unmapped: mapped before; retargeted: mapped to another target, where
        a null or ``''`` target is unmapped), ``flow_changes`` (enabled, disabled,
        trigger_changed, settings_changed), ``column_changes`` (added, removed, retyped) and
        ``connection_changes`` (added, removed, status_changed, agent_status_changed: the
        connections of consumers in both snapshots), as listed in :data:`CHANGE_TABLES`.
        Each has the names beside the ids: ``consumer_name``, ``sync_name``, ``flow_name``
        (and ``connection_name``), from the later snapshot when it has them.
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

    By default, the two latest complete, unfiltered snapshots (fetched without ``--sync``,
    ``--consumer`` or ``--consumers-status``); when there are not two, the two latest
    complete snapshots filtered alike. ``after`` alone: ``before`` is the latest complete
    snapshot before it, filtered as it is. A partial snapshot, or a filtered one next to
    unfiltered ones, is compared only when named (:func:`diff_notes` says what that skews).

    Raises
    ------
    StoreError
        When a named snapshot does not exist, or there is nothing to compare with.
    """
    snapshots = list_snapshots(root)  # oldest first
    ids = snapshots.snapshot_id.tolist()
    scope = {c.snapshot_id: c for c in completeness_of_listed(snapshots)}
    complete = [s for s in ids if not scope[s].is_partial]
    for given in (before, after):
        if given is not None and given not in ids:
            raise StoreError(f"no snapshot {given!r} in {root}")
    if after is None:
        if not complete:
            raise StoreError(f"{root} holds no complete snapshot to compare")
        unfiltered = [s for s in complete if not scope[s].is_filtered]
        if len(unfiltered) >= 2 or (unfiltered and before is not None):
            after = unfiltered[-1]
        else:  # fewer than two whole fetches: the latest snapshot with one filtered alike
            paired = [s for s in complete if _alike_before(s, ids, complete, scope)]
            after = paired[-1] if paired and before is None else complete[-1]
    if before is None:
        earlier = _alike_before(after, ids, complete, scope)
        if not earlier:
            filters = scope[after].filter_text
            alike = f", filtered as it is ({filters})," if filters else ""
            raise StoreError(
                f"{root} holds no complete snapshot before {after!r}{alike} to compare it with; "
                "fetch again, or name one with before="
            )
        before = earlier[-1]
    return before, after


def _alike_before(
    after: str, ids: list[str], complete: list[str], scope: dict[str, Completeness]
) -> list[str]:
    """Return the complete snapshots before ``after`` (oldest first) filtered as it is."""
    filters = scope[after].filters
    return [s for s in ids[: ids.index(after)] if s in complete and scope[s].filters == filters]


def diff_notes(
    root: str | os.PathLike[str], before: str, after: str, *, picked: bool = False
) -> list[tuple[type[Warning] | None, str]]:
    """Say, one line each, what the completeness of two snapshots does to their diff.

    A partial side lacks pairs, which then look removed (or added); a filtered side next to
    an unfiltered one, or one filtered otherwise, makes the difference partly the filter.

    Parameters
    ----------
    root : str or path
        The dataset folder.
    before, after : str
        The snapshot ids compared.
    picked : bool, default False
        Whether :func:`pick_snapshots` chose both: the first line then names them.

    Returns
    -------
    list of (warning class or None, str)
        Each line, with the warning :func:`diff` gives for it (None: no skew, only a fact).
    """
    where = display_root(root)
    b, a = (completeness(snapshot_manifest(root, sid)) for sid in (before, after))
    notes: list[tuple[type[Warning] | None, str]] = []
    if picked:
        alike = f"filtered alike ({a.filter_text})" if a.is_filtered else "unfiltered"
        notes.append(
            (None, f"comparing the two latest complete, {alike} snapshots: {before} and {after}")
        )
    for side, c, looks in (("earlier", b, "added"), ("later", a, "removed")):
        if c.is_partial:
            notes.append(
                (
                    PartialSnapshotWarning,
                    f"the {side} snapshot {c.snapshot_id} {c.phrase}: {c.counts}, so the pairs it "
                    f"lacks show as {looks}; finish it with: {c.resume_command(where)}",
                )
            )
    if b.filters != a.filters:
        if not b.is_filtered or not a.is_filtered:
            f, u = (a, b) if a.is_filtered else (b, a)
            looks = "removed" if f is a else "added"
            text = (
                f"snapshot {f.snapshot_id} is filtered ({f.filter_text}) and {u.snapshot_id} "
                f"is not: the pairs outside the filter show as {looks}, so the difference is "
                "partly the filter"
            )
        else:
            text = (
                f"snapshots {before} ({b.filter_text}) and {after} ({a.filter_text}) are "
                "filtered differently: the difference is partly the filters"
            )
        notes.append((FilteredSnapshotWarning, text))
    elif a.is_filtered and not picked:
        notes.append(
            (
                None,
                f"both snapshots are filtered ({a.filter_text}): the changes cover only the pairs "
                "the filter chose",
            )
        )
    return notes


def _arrow_of(sql: str, params: dict[str, Any], con: Any) -> pa.Table:
    return fetch_arrow(con.sql(sql, params=params))


def _execute(sql: str, params: dict[str, Any], con: Any) -> None:
    con.execute(sql, params)


def diff(
    root: str | os.PathLike[str], before: str | None = None, after: str | None = None
) -> Frames:
    """Say what changed between two snapshots of the dataset at ``root``.

    Parameters
    ----------
    root : str or path
        The dataset folder.
    before, after : str, optional
        Snapshot ids; by default the two latest complete, unfiltered snapshots (see
        :func:`pick_snapshots`).

    Returns
    -------
    Frames
        The change tables of :func:`diff_frames`.

    Warns
    -----
    PartialSnapshotWarning
        When a snapshot compared is partial: the pairs it lacks look removed (or added).
    FilteredSnapshotWarning
        When one snapshot is filtered and the other is not, or is filtered otherwise.

    Raises
    ------
    StoreError
        When there are not two snapshots to compare.
    """
    before, after = pick_snapshots(root, before, after)
    for category, note in diff_notes(root, before, after):
        if category is not None:
            warnings.warn(f"diff: {note}", category, stacklevel=2)
    with open_source(root, "all") as con:
        changes = _diff_on(con, before, after)
    if not all(_fetched_connections(root, sid) for sid in (before, after)):
        # a fetch with --no-connections has none: that is no change, not every one removed
        table = changes["connection_changes"]
        changes = Frames({**changes, "connection_changes": table.iloc[0:0]})
    return changes


def _fetched_connections(root: str | os.PathLike[str], snapshot_id: str) -> bool:
    info = snapshot_manifest(root, snapshot_id).get("info", {})
    return bool(info.get("connections", True))

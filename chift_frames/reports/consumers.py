"""Reports on consumers: where each stands with each sync, and who left most unmapped.

Also the short summary printed after a fetch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..engine import open_source
from ._query import (
    BOOL,
    FLOAT,
    INT,
    STRING,
    UTC,
    Source,
    has_table,
    report_sql,
    run_report,
    run_sql,
    with_limit,
)
from .monitoring import OneApis, register_monitoring_states

__all__ = ["Summary", "consumer_health", "summarise", "unmapped_by_consumer", "unmapped_by_mapping"]

_HEALTH_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING,
    "consumer_name": STRING,
    "sync_id": STRING,
    "sync_name": STRING,
    "status": STRING,
    "status_details": STRING,
    "state": STRING,
    "state_note": STRING,
    "enabled": BOOL,
    "value_count": INT,
    "unmapped_count": INT,
    "mapped_share": FLOAT,
    "skipped_mapping_count": INT,
    "enabled_flow_count": INT,
    "last_error_at": UTC,
    "last_error_http_status": INT,
    "last_error_code": STRING,
    "last_error_message": STRING,
}

_BY_CONSUMER_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING,
    "consumer_name": STRING,
    "sync_id": STRING,
    "sync_name": STRING,
    "status": STRING,
    "unmapped_count": INT,
    "value_count": INT,
}

# these two predate the house rules: their ``consumers`` count is int64
_BY_MAPPING_COLUMNS: dict[str, Any] = {
    "sync_name": STRING,
    "mapping_name": STRING,
    "sub_mapping_name": STRING,
    "consumers": "int64",
    "consumers_incomplete": INT,
    "unmapped_values": INT,
}


def consumer_health(
    frames: Source, *, one_apis: OneApis = None, snapshot: str = "latest"
) -> pd.DataFrame:
    """Where does each consumer stand with each sync, and did fetching its setup fail?

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot. With a ``consumers`` table, consumers get their name; with a
        ``fetch_errors`` table, each pair gets its latest fetch error (by ``occurred_at``).
    one_apis : mapping of int to str, optional
        The API of each ``one_api`` number, for the monitoring states (see
        :func:`~chift_frames.reports.monitoring_states`).
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (consumer, sync) of ``consumer_syncs``, plus one per pair that only has a
        fetch error (its setup columns null), ordered by sync name, sync id and consumer id:

        - ``consumer_id``, ``consumer_name``, ``sync_id``, ``sync_name``
        - ``status``, ``status_details``: as in ``consumer_syncs``
        - ``state``, ``state_note``: the pair's monitoring state and its note, as
          :func:`~chift_frames.reports.monitoring_states` gives them (null for a pair that
          only has a fetch error)
        - ``enabled``: as in ``consumer_syncs``
        - ``value_count``, ``unmapped_count``: source values, and those left unmapped (values,
          not consumers)
        - ``mapped_share``: mapped values / values; null when there are no values
        - ``skipped_mapping_count``, ``enabled_flow_count``: as in ``consumer_syncs``
        - ``last_error_at``, ``last_error_http_status``, ``last_error_code``,
          ``last_error_message``: the pair's latest fetch error; null when it has none (or the
          snapshot has no ``fetch_errors``). Errors not tied to a pair are left out.
    """
    return run_report(
        frames,
        snapshot,
        "consumer_health",
        _HEALTH_COLUMNS,
        prepare=lambda con: register_monitoring_states(con, one_apis),
        inputs={"one_apis": one_apis},
    )


def unmapped_by_consumer(
    frames: Source, top: int | None = None, *, snapshot: str = "latest"
) -> pd.DataFrame:
    """Which consumers left the most source values unmapped, and in which syncs?

    One row per (consumer, sync) with at least one unmapped value, most unmapped first, with
    the consumer's name when the snapshot has a ``consumers`` table.
    """
    columns = dict(_BY_CONSUMER_COLUMNS)
    if not has_table(frames, snapshot, "consumers"):
        del columns["consumer_name"]
    sql = with_limit(report_sql("unmapped_by_consumer"), top)
    return run_report(
        frames, snapshot, "unmapped_by_consumer", columns, sql=sql, inputs={"top": top}
    )


def unmapped_by_mapping(
    frames: Source, top: int | None = None, *, snapshot: str = "latest"
) -> pd.DataFrame:
    """Which mappings are left incomplete by the most consumers?

    One row per (sync, mapping, sub-mapping): consumers concerned, consumers with at least
    one unmapped value, and unmapped values in all.
    """
    sql = with_limit(report_sql("unmapped_by_mapping"), top)
    return run_report(
        frames, snapshot, "unmapped_by_mapping", _BY_MAPPING_COLUMNS, sql=sql, inputs={"top": top}
    )


@dataclass(frozen=True)
class Summary:
    """The short summary the CLI prints after a fetch."""

    rows: dict[str, int]
    pairs: int
    incomplete: int
    top_consumers: pd.DataFrame
    top_mappings: pd.DataFrame
    errors: pd.DataFrame


_SUMMARY_SQL = """
-- How many setups are there, and how many are not active?
-- Grain: one row.
SELECT
    CAST(count(*) AS BIGINT) AS pair_count,
    CAST(count(*) FILTER (WHERE status <> 'active') AS BIGINT) AS incomplete_count
FROM consumer_syncs
"""


def _row_counts(con: Any, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    counts = " UNION ALL ".join(
        f'SELECT {i} AS i, count(*) AS n FROM "{name}"' for i, name in enumerate(names)
    )
    table = run_sql(con, "summary", sql=counts)
    rows = dict(zip(table.column("i").to_pylist(), table.column("n").to_pylist(), strict=True))
    return {name: int(rows[i]) for i, name in enumerate(names)}


def summarise(frames: Source, top: int = 5, *, snapshot: str = "latest") -> Summary:
    """Which setups are incomplete, who has the most unmapped values, and what failed?

    Every figure is computed by DuckDB over the snapshot (a dataset folder, or in-memory
    frames); only the top rows and the error tables become pandas, so the summary of a large
    account takes little memory.
    """
    from ..schema import TABLES
    from ..store import load, snapshot_manifest

    if isinstance(frames, Mapping):
        names = list(frames)
    else:
        names = [name for name, table in TABLES.items() if table.loaded_by_default]
    rows: dict[str, int] | None = None
    read = None
    one_snapshot = not isinstance(frames, Mapping) and not hasattr(frames, "execute")
    if one_snapshot and snapshot != "all":
        # over one snapshot of a dataset, the rows per table are its manifest's, and only what
        # the queries below read gets a view: this summary closes every fetch
        manifest = snapshot_manifest(frames, snapshot)
        snapshot = str(manifest["snapshot_id"])  # found once: counts and figures agree
        rows = {name: int(manifest["rows"].get(name, 0)) for name in names}
        read = ("consumer_syncs", "consumers", "mappings")
    with open_source(frames, snapshot, tables=read) as con:
        if rows is None:
            rows = _row_counts(con, names)
        figures = run_sql(con, "summary", sql=_SUMMARY_SQL)
        pairs, incomplete = (figures.column(i)[0].as_py() for i in range(2))
        top_consumers = unmapped_by_consumer(con, top)
        if not has_table(frames, snapshot, "consumers"):
            top_consumers = top_consumers.drop(columns="consumer_name")
        top_mappings = unmapped_by_mapping(con, top)
    error_names = [t for t in ("fetch_errors", "payload_errors") if t in names]
    if isinstance(frames, Mapping):
        error_tables = [frames[t] for t in error_names]
    else:
        loaded = load(frames, snapshot, tables=error_names)
        error_tables = [loaded[t] for t in error_names]
    errors = pd.concat(error_tables, ignore_index=True) if error_tables else pd.DataFrame()
    return Summary(
        rows=rows,
        pairs=int(pairs),
        incomplete=int(incomplete),
        top_consumers=top_consumers,
        top_mappings=top_mappings,
        errors=errors,
    )

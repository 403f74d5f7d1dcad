"""Reports: the questions people bring to a snapshot, each a DuckDB query; pandas gets answers.

Each report is one readable SQL query (``chift_frames/reports/sql/<name>.sql``, printed by
:func:`report_sql` and ``chift-frames report DIR --sql NAME``) over the same views
:func:`chift_frames.query` offers, and a Python function of the same name that runs it over
either in-memory :class:`~chift_frames.frames.Frames` or a dataset folder (with
``snapshot=``), and returns the result as a DataFrame. DuckDB does the work, streaming the
Parquet files and spilling to disk when it must (see :mod:`chift_frames.engine`); only the
result becomes pandas. :data:`REPORTS` lists the reports by the file name each is saved under.
Adding a report is a fixed recipe: its query, a function in the module of its theme, a line
in :data:`REPORTS`, a test.

Given a :class:`SparkSource` (a dataset and a SparkSession) instead, a report runs on Spark:
the statement ``report --sql NAME --dialect spark`` prints, over views of one snapshot, with
the same DataFrame as a result (see :mod:`._spark`).

The modules, one per theme: :mod:`.onboarding`, :mod:`.consumers`, :mod:`.monitoring`,
:mod:`.mappings`, :mod:`.flows`, :mod:`.datastores`, :mod:`.runs`.

What the reports share:

- A sync is shown by ``sync_id`` and ``sync_name``; a consumer by ``consumer_id`` and
  ``consumer_name``, which is null unless the snapshot holds a ``consumers`` table.
- ``*_count`` columns are ``Int64`` and count distinct consumers, unless the docstring says
  otherwise; ``*_share`` columns are ``Float64`` in [0, 1], null when there is nothing to
  divide by. Strings are ``string[pyarrow]``.
- Lists of ids are object columns holding sorted Python lists of ``str`` (empty, never null),
  so every report can be written with ``DataFrame.to_parquet`` and read back with
  ``pandas.read_parquet``.
- Rows come in the order each docstring gives, whatever order the pairs were fetched in.
- A snapshot with no rows gives the same columns, with the same dtypes, and no rows (except
  :func:`schedule_heatmap`, which always has its 168 hours).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ._query import report_sql
from ._script import report_script
from ._spark import SparkSource
from .consumers import (
    Summary,
    consumer_health,
    summarise,
    unmapped_by_consumer,
    unmapped_by_mapping,
)
from .datastores import datastore_inventory
from .flows import REFERENCE_WEEK_START, cron_problems, flow_adoption, schedule_heatmap
from .mappings import consensus_targets, mapping_completeness, unmapped_sources
from .monitoring import (
    MONITORING_STATES,
    flows_not_enabled,
    monitoring_states,
    parse_one_apis,
)
from .onboarding import ONBOARDING_STEPS, onboarding_funnel, onboarding_steps
from .runs import SUCCESS_STATUSES, consumer_flow_runs, flow_runs, stale_flows

__all__ = [
    "MONITORING_STATES",
    "ONBOARDING_STEPS",
    "REFERENCE_WEEK_START",
    "REPORTS",
    "SUCCESS_STATUSES",
    "USES_ONE_APIS",
    "SparkSource",
    "Summary",
    "consensus_targets",
    "consumer_flow_runs",
    "consumer_health",
    "cron_problems",
    "datastore_inventory",
    "flow_adoption",
    "flow_runs",
    "flows_not_enabled",
    "mapping_completeness",
    "monitoring_states",
    "onboarding_funnel",
    "onboarding_steps",
    "parse_one_apis",
    "report_script",
    "report_sql",
    "schedule_heatmap",
    "stale_flows",
    "summarise",
    "unmapped_by_consumer",
    "unmapped_by_mapping",
    "unmapped_sources",
]

REPORTS: dict[str, Callable[..., pd.DataFrame]] = {
    "onboarding_funnel": onboarding_funnel,
    "onboarding_steps": onboarding_steps,
    "consumer_health": consumer_health,
    "monitoring_states": monitoring_states,
    "mapping_completeness": mapping_completeness,
    "unmapped_sources": unmapped_sources,
    "consensus_targets": consensus_targets,
    "flow_adoption": flow_adoption,
    "flows_not_enabled": flows_not_enabled,
    "schedule_heatmap": schedule_heatmap,
    "cron_problems": cron_problems,
    "datastore_inventory": datastore_inventory,
    "unmapped_by_consumer": unmapped_by_consumer,
    "unmapped_by_mapping": unmapped_by_mapping,
    "flow_runs": flow_runs,
    "consumer_flow_runs": consumer_flow_runs,
    "stale_flows": stale_flows,
}
"""Every report, by the file name it is saved under (snake_case), in canonical order."""

USES_ONE_APIS = frozenset({"monitoring_states", "onboarding_funnel", "consumer_health"})
"""The reports that take ``one_apis=`` (the API of each ``one_api`` number)."""

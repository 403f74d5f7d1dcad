"""Reports on executions: how flows actually run, and which have not succeeded lately."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from ._query import (
    FLOAT,
    INT,
    STRING,
    UTC,
    Relation,
    Source,
    register,
    run_report,
    success_relation,
)

__all__ = ["SUCCESS_STATUSES", "consumer_flow_runs", "flow_runs", "stale_flows"]

SUCCESS_STATUSES = ("success",)
"""Execution statuses counted as a success. Chift documents no list of statuses: every report
below takes ``success_statuses`` to change it."""

_FLOW_RUN_COLUMNS: dict[str, Any] = {
    "sync_id": STRING, "sync_name": STRING, "flow_id": STRING, "flow_name": STRING,
    "run_count": INT, "success_count": INT, "failure_count": INT, "running_count": INT,
    "success_share": FLOAT, "duration_p50_s": FLOAT, "duration_p90_s": FLOAT,
    "duration_p99_s": FLOAT, "last_started_at": UTC,
}  # fmt: skip

_CONSUMER_RUN_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING, "consumer_name": STRING, "sync_id": STRING, "sync_name": STRING,
    "flow_id": STRING, "flow_name": STRING, "run_count": INT, "success_count": INT,
    "failure_count": INT, "running_count": INT, "success_share": FLOAT,
    "last_started_at": UTC, "last_success_at": UTC,
}  # fmt: skip

_STALE_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING, "consumer_name": STRING, "sync_id": STRING, "sync_name": STRING,
    "flow_id": STRING, "flow_name": STRING, "trigger_type": STRING, "enabled_on": UTC,
    "last_success_at": UTC, "hours_since_success": FLOAT,
}  # fmt: skip


def flow_runs(
    frames: Source,
    success_statuses: tuple[str, ...] = SUCCESS_STATUSES,
    *,
    snapshot: str = "latest",
) -> pd.DataFrame:
    """How often does each flow run, how often does it succeed, and how long does it take?

    One row per (sync, flow) with executions: runs, successes, failures (finished runs that
    did not succeed), runs still going, the success rate among finished runs, the 50th, 90th
    and 99th percentiles of the duration in seconds, and the last start. Rows by sync name,
    then flow name.
    """
    relations = [success_relation(success_statuses)]
    return run_report(
        frames,
        snapshot,
        "flow_runs",
        _FLOW_RUN_COLUMNS,
        prepare=lambda con: register(con, relations),
        inputs={"success_statuses": success_statuses},
    )


def consumer_flow_runs(
    frames: Source,
    success_statuses: tuple[str, ...] = SUCCESS_STATUSES,
    *,
    snapshot: str = "latest",
) -> pd.DataFrame:
    """For each consumer and flow: how many runs, how many succeeded, and when was the last success?

    One row per (consumer, sync, flow) with executions; lowest success rate first.
    """
    relations = [success_relation(success_statuses)]
    return run_report(
        frames,
        snapshot,
        "consumer_flow_runs",
        _CONSUMER_RUN_COLUMNS,
        prepare=lambda con: register(con, relations),
        inputs={"success_statuses": success_statuses},
    )


def stale_flows(
    frames: Source,
    window: pd.Timedelta | str = "2D",
    now: pd.Timestamp | str | None = None,
    success_statuses: tuple[str, ...] = SUCCESS_STATUSES,
    *,
    snapshot: str = "latest",
) -> pd.DataFrame:
    """Which consumers' enabled flows have not succeeded within the window?

    One row per enabled flow (from ``flows``) whose last successful execution is older than
    ``window`` before ``now``, or that has none among the fetched executions. ``now`` is, by
    default, the latest ``fetched_at`` of the snapshot, else the latest execution start (no
    clock is read); with neither, only the flows without any success are listed. Longest
    without a success first. A snapshot fetched without executions lists every enabled flow:
    it cannot tell runs it did not fetch from runs that never happened.
    """
    relations = [success_relation(success_statuses), stale_parameters(window, now)]
    return run_report(
        frames,
        snapshot,
        "stale_flows",
        _STALE_COLUMNS,
        prepare=lambda con: register(con, relations),
        inputs={"window": window, "now": now, "success_statuses": success_statuses},
    )


def stale_parameters(
    window: pd.Timedelta | str = "2D", now: pd.Timestamp | str | datetime | None = None
) -> Relation:
    """Return the relation ``report_parameters (now, window_us)`` :func:`stale_flows` reads."""
    reference = None
    if now is not None:
        stamp = pd.Timestamp(now)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        reference = stamp.to_pydatetime()
    window_us = int(pd.Timedelta(window) / pd.Timedelta(microseconds=1))
    return Relation(
        "report_parameters",
        (("now", "TIMESTAMPTZ"), ("window_us", "BIGINT")),
        ((reference, window_us),),
        "the reference time (null: the snapshot's latest fetched_at) and the window",
    )

"""Reports on onboarding: how far consumers get in setting up each sync."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._query import FLOAT, INT, STRING, Source, run_report
from .monitoring import OneApis, register_monitoring_states

__all__ = ["ONBOARDING_STEPS", "onboarding_funnel", "onboarding_steps"]

ONBOARDING_STEPS = ("linked", "active", "enabled")
"""The steps of the onboarding funnel, in order; each keeps the consumers of the step before."""

_STEP_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "step_index": INT,
    "step": STRING,
    "consumer_id": STRING,
    "consumer_name": STRING,
}

_FUNNEL_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "linked_count": INT,
    "active_count": INT,
    "enabled_count": INT,
    "active_share": FLOAT,
    "enabled_share": FLOAT,
    "inactive_count": INT,
    "top_inactive_reason": STRING,
    "top_inactive_reason_count": INT,
    "no_connection_count": INT,
    "connection_failed_count": INT,
    "mapping_incomplete_count": INT,
    "configuration_incomplete_count": INT,
    "state_active_count": INT,
    "state_unknown_count": INT,
}


def onboarding_steps(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which consumers reached each step of a sync's onboarding?

    The long form of :func:`onboarding_funnel`: the consumers behind its counts. The steps are
    ``linked`` (the consumer has a consumer-sync row), ``active`` (``status == "active"``: the
    setup is complete) and ``enabled`` (active, with at least one enabled flow). Each step keeps
    only consumers of the step before, so a consumer reaching ``enabled`` has three rows.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, as given by :func:`chift_frames.flatten` or :func:`chift_frames.load`.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, step, consumer): ``sync_id``, ``sync_name``, ``step_index``
        (0, 1, 2), ``step``, ``consumer_id``, ``consumer_name``; ordered by sync name, sync id,
        step and consumer id.

    Examples
    --------
    >>> from chift_frames import flatten
    >>> frames = flatten([
    ...     ("c1", {"syncid": "s1", "sync_name": "POS", "status": "active",
    ...             "link_createdon": "2026-01-05T08:00:00Z"}),
    ...     ("c2", {"syncid": "s1", "sync_name": "POS", "link_createdon": "2026-01-06T08:00:00Z"}),
    ... ])
    >>> onboarding_steps(frames)[["step", "consumer_id"]]
         step consumer_id
    0  linked          c1
    1  linked          c2
    2  active          c1
    """
    return run_report(frames, snapshot, "onboarding_steps", _STEP_COLUMNS)


def onboarding_funnel(
    frames: Source, *, one_apis: OneApis = None, snapshot: str = "latest"
) -> pd.DataFrame:
    """How far do consumers get in setting up each sync, and what stops the others?

    Counts the consumers at each step of :data:`ONBOARDING_STEPS`: ``linked`` (a consumer-sync
    row), ``active`` (setup complete) and ``enabled`` (active, with at least one enabled
    flow). The counts never grow from one step to the next. The consumers themselves are in
    :func:`onboarding_steps`.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot. When it holds a ``syncs`` table, syncs no consumer is linked to appear too,
        with zero counts.
    one_apis : mapping of int to str, optional
        The API of each ``one_api`` number, for the monitoring states (see
        :func:`~chift_frames.reports.monitoring_states`).
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per sync, ordered by sync name then id:

        - ``sync_id``, ``sync_name``
        - ``linked_count``, ``active_count``, ``enabled_count``: consumers at each step
        - ``active_share``, ``enabled_share``: the same as shares of ``linked_count``
        - ``inactive_count``: linked consumers whose setup is not active
        - ``top_inactive_reason``: the ``status_details`` most inactive setups give (a tie goes
          to the first A-Z); null when none gives one
        - ``top_inactive_reason_count``: consumers giving it (0 when none)
        - ``no_connection_count``, ``connection_failed_count``, ``mapping_incomplete_count``,
          ``configuration_incomplete_count``, ``state_active_count``: consumers in each state of
          :func:`~chift_frames.reports.monitoring_states` (``state_active_count`` for ``active``:
          set up, and able to run); ``state_unknown_count``: those whose state the data
          cannot tell. The six add up to ``linked_count``.

    Examples
    --------
    >>> from chift_frames import flatten
    >>> frames = flatten([
    ...     ("c1", {"syncid": "s1", "sync_name": "POS", "status": "active",
    ...             "link_createdon": "2026-01-05T08:00:00Z"}),
    ...     ("c2", {"syncid": "s1", "sync_name": "POS", "status_details": "No connection",
    ...             "link_createdon": "2026-01-06T08:00:00Z"}),
    ... ])
    >>> onboarding_funnel(frames).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'sync_id': 's1', 'sync_name': 'POS', 'linked_count': 2, 'active_count': 1,
     'enabled_count': 0, 'active_share': 0.5, 'enabled_share': 0.0, 'inactive_count': 1,
     'top_inactive_reason': 'No connection', 'top_inactive_reason_count': 1,
     'no_connection_count': 0, 'connection_failed_count': 0, 'mapping_incomplete_count': 0,
     'configuration_incomplete_count': 0, 'state_active_count': 0, 'state_unknown_count': 2}
    """
    return run_report(
        frames,
        snapshot,
        "onboarding_funnel",
        _FUNNEL_COLUMNS,
        prepare=lambda con: register_monitoring_states(con, one_apis),
        inputs={"one_apis": one_apis},
    )

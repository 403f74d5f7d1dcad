"""Reports on flows: which flows consumers enable, and when their timers fire.

Cron expressions are the one thing SQL cannot read: the distinct cron strings of the timer
flows (a few hundred, whatever the account's size) are expanded in Python with cronsim and
handed to the query as the small tables ``cron_firings`` and ``cron_messages``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from cronsim import CronSim, CronSimError

from ._query import FLOAT, IDS, INT, STRING, Relation, Source, register, run_report, run_sql

__all__ = [
    "REFERENCE_WEEK_START",
    "cron_problems",
    "flow_adoption",
    "schedule_heatmap",
]

_ADOPTION_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "flow_id": STRING,
    "flow_name": STRING,
    "linked_count": INT,
    "enabled_count": INT,
    "enabled_share": FLOAT,
    "timer_count": INT,
    "event_count": INT,
}


def flow_adoption(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which flows do the consumers of each sync enable, and with which triggers?

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot. With the ``sync_flows`` table a fetch writes, the flows a sync offers
        that no consumer enabled appear too, with zero counts; without it, only flows some
        consumer enabled.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, flow), ordered by sync name, sync id, flow name and flow id:

        - ``sync_id``, ``sync_name``, ``flow_id``
        - ``flow_name``: the sync's own name for the flow (``sync_flows``), else the name most
          consumers show
        - ``linked_count``: consumers linked to the sync
        - ``enabled_count``, ``enabled_share``: consumers who enabled the flow, and their share
          of ``linked_count``
        - ``timer_count``, ``event_count``: of those, consumers whose trigger is a timer, or an
          event
    """
    return run_report(frames, snapshot, "flow_adoption", _ADOPTION_COLUMNS)


REFERENCE_WEEK_START = datetime(2026, 1, 5)
"""Monday 5 January 2026, 00:00 UTC: the week :func:`schedule_heatmap` lays cron firings on."""

_WEEK_END = REFERENCE_WEEK_START + timedelta(days=7)
_NO_CRON = "timer trigger without a cron schedule"

_Firings = tuple[tuple[int, int, int], ...]

CRON_STRINGS_SQL = """
-- The distinct cron strings of the timer flows (null for a timer without one).
SELECT DISTINCT CAST(cronschedule AS VARCHAR) AS cronschedule
FROM flows
WHERE trigger_type = 'timer'
"""
"""The query of the distinct cron strings of the timer flows, which the cron relations expand."""


@lru_cache(maxsize=4096)
def _cron_firings(expr: str) -> tuple[_Firings, str | None]:
    """``((day_of_week, hour, firings), ...)`` over the reference week, or the parser's message.

    Cron is read in UTC by cronsim, which follows Debian's cron (5 fields, or 6 with seconds
    first). A schedule that parses but never fires within the week gives no firings.
    """
    try:
        moments = CronSim(expr, REFERENCE_WEEK_START - timedelta(seconds=1))
    except CronSimError as exc:
        return (), str(exc)
    slots: Counter[tuple[int, int]] = Counter()
    for moment in moments:  # cronsim stops by itself when nothing fires for 50 years
        if moment >= _WEEK_END:
            break
        slots[moment.weekday(), moment.hour] += 1
    return tuple((day, hour, n) for (day, hour), n in sorted(slots.items())), None


def _cron_strings(con: Any) -> list[str | None]:
    strings: list[str | None] = run_sql(con, "cron", sql=CRON_STRINGS_SQL).column(0).to_pylist()
    return strings


def cron_firings(con: Any, strings: list[str | None] | None = None) -> Relation:
    """Return ``cron_firings``: each distinct timer cron string expanded over the week.

    ``(cronschedule, day_of_week, hour, firings)``, from the timer flows ``con`` shows (or
    from ``strings``, the rows of :data:`CRON_STRINGS_SQL` another engine read); a string
    that does not parse has no rows.
    """
    if strings is None:
        strings = _cron_strings(con)
    rows = tuple(
        (expr, day, hour, n)
        for expr in sorted(s for s in strings if s is not None)
        for day, hour, n in _cron_firings(expr)[0]
    )
    return Relation(
        "cron_firings",
        (
            ("cronschedule", "VARCHAR"),
            ("day_of_week", "BIGINT"),
            ("hour", "BIGINT"),
            ("firings", "BIGINT"),
        ),
        rows,
        "each timer cron schedule's firings per hour of the reference week (cronsim, UTC)",
    )


def cron_messages(con: Any, strings: list[str | None] | None = None) -> Relation:
    """Return ``cron_messages (cronschedule, message)``: the timer schedules that fail.

    One row per distinct cron string of the timer flows ``con`` shows (or of ``strings``, as
    for :func:`cron_firings`) that does not parse (null for a timer without one), with the
    parser's message.
    """
    if strings is None:
        strings = _cron_strings(con)
    ordered = sorted(s for s in strings if s is not None) + [None] * (None in strings)
    bad = tuple(
        (expr, message)
        for expr in ordered
        if (message := _NO_CRON if expr is None else _cron_firings(expr)[1]) is not None
    )
    return Relation(
        "cron_messages",
        (("cronschedule", "VARCHAR"), ("message", "VARCHAR")),
        bad,
        "each timer cron schedule that does not parse (cronsim), with why",
    )


_HEATMAP_COLUMNS: dict[str, Any] = {
    "day_of_week": INT,
    "day_name": STRING,
    "hour": INT,
    "firing_count": INT,
    "consumer_count": INT,
}


def schedule_heatmap(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """At which hours of the week do the consumers' timer flows fire?

    Every enabled flow with a ``timer`` trigger fires on its ``cronschedule``, read in UTC
    and laid over one reference week (:data:`REFERENCE_WEEK_START`, a Monday, for seven days),
    so the result does not depend on when it is computed. A schedule firing less often than
    weekly (``0 0 1 * *``) counts only if it fires in that week. Schedules that do not parse
    are left out: :func:`cron_problems` lists them.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        Always 168 rows, one per (day of week, hour), Monday 00:00 first:

        - ``day_of_week``: 0 for Monday to 6 for Sunday
        - ``day_name``: ``Monday`` to ``Sunday``
        - ``hour``: 0 to 23 (UTC)
        - ``firing_count``: firings in that hour, summed over every consumer's timer flow
        - ``consumer_count``: consumers with at least one firing in that hour

    Examples
    --------
    >>> from chift_frames import flatten
    >>> flow = {"id": "f1", "name": "Daily export", "values": {},
    ...         "trigger": {"id": "t1", "type": "timer", "cronschedule": "*/30 5 * * 1-5"}}
    >>> frames = flatten([("c1", {"syncid": "s1", "sync_name": "POS", "status": "active",
    ...     "link_createdon": "2026-01-05T08:00:00Z", "enabled_flows": [flow]})])
    >>> heat = schedule_heatmap(frames)
    >>> heat[heat.firing_count > 0].head(2)
        day_of_week day_name  hour  firing_count  consumer_count
    5             0   Monday     5             2               1
    29            1  Tuesday     5             2               1
    >>> int(heat.firing_count.sum())
    10
    """
    return run_report(
        frames,
        snapshot,
        "schedule_heatmap",
        _HEATMAP_COLUMNS,
        prepare=lambda con: register(con, [cron_firings(con)]),
    )


_CRON_PROBLEM_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "flow_id": STRING,
    "flow_name": STRING,
    "cronschedule": STRING,
    "message": STRING,
    "consumer_count": INT,
    "consumer_ids": IDS,
}


def cron_problems(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which timer flows have a cron schedule that cannot be read, and for whom?

    A schedule is read by the same parser as :func:`schedule_heatmap` (cronsim, Debian cron
    syntax, in UTC); a timer trigger with no schedule at all is listed too.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, flow, cron schedule) that does not parse, ordered by sync name, sync
        id, flow name, flow id and schedule:

        - ``sync_id``, ``sync_name``, ``flow_id``, ``flow_name``
        - ``cronschedule``: the schedule as given; null when the trigger has none
        - ``message``: why it does not parse, in the parser's words (``Bad minute``...)
        - ``consumer_count``, ``consumer_ids``: the consumers whose flow has that schedule

    Examples
    --------
    >>> from chift_frames import flatten
    >>> flow = {"id": "f1", "name": "Invoices sync", "values": {},
    ...         "trigger": {"id": "t1", "type": "timer", "cronschedule": "bad cron"}}
    >>> frames = flatten([("c1", {"syncid": "s1", "sync_name": "Invoicing", "status": "active",
    ...     "link_createdon": "2026-01-05T08:00:00Z", "enabled_flows": [flow]})])
    >>> cron_problems(frames).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'sync_id': 's1', 'sync_name': 'Invoicing', 'flow_id': 'f1', 'flow_name': 'Invoices sync',
     'cronschedule': 'bad cron', 'message': 'Wrong number of fields', 'consumer_count': 1,
     'consumer_ids': ['c1']}
    """
    return run_report(
        frames,
        snapshot,
        "cron_problems",
        _CRON_PROBLEM_COLUMNS,
        prepare=lambda con: register(con, [cron_messages(con)]),
    )

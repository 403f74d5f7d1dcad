"""Reports on monitoring: each setup's state as Chift's back office shows it, and idle flows.

The state needs to know which unified API each ``one_api`` number of a sync's connections is,
which Chift does not document: the caller says it (``one_apis={1: "Accounting", ...}``), and
the query reads it from the small relation ``one_apis (one_api, api)`` registered on the
connection, empty unless given.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..engine import duckdb_failure, opened_here, run_with_room
from ..errors import ChiftFramesError
from ._query import IDS, INT, STRING, Relation, Source, report_sql, run_report

__all__ = [
    "MONITORING_STATES",
    "flows_not_enabled",
    "monitoring_states",
    "one_apis_relation",
    "parse_one_apis",
    "register_monitoring_states",
]

MONITORING_STATES = (
    "no connection",
    "connection failed",
    "mapping incomplete",
    "configuration incomplete",
    "active",
)
"""The states of :func:`monitoring_states`, in the order the rule tries them."""

OneApis = Mapping[int, str] | None

_STATE_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING,
    "consumer_name": STRING,
    "sync_id": STRING,
    "sync_name": STRING,
    "state": STRING,
    "chift_state": STRING,
    "status": STRING,
    "status_details": STRING,
    "missing_apis": IDS,
    "failed_apis": IDS,
    "open_value_count": INT,
    "note": STRING,
}

_NOT_ENABLED_COLUMNS: dict[str, Any] = {
    "consumer_id": STRING,
    "consumer_name": STRING,
    "sync_id": STRING,
    "sync_name": STRING,
    "flow_id": STRING,
    "flow_name": STRING,
    "flow_description": STRING,
}


def parse_one_apis(texts: list[str]) -> dict[int, str]:
    """Read ``NUMBER=API`` texts (as ``--one-api 1=Accounting`` gives them) into a mapping.

    Raises
    ------
    ChiftFramesError
        When a text is not a whole number, ``=``, and an API name, or a number comes twice.

    Examples
    --------
    >>> parse_one_apis(["1=Accounting", "2 = Point of Sale"])
    {1: 'Accounting', 2: 'Point of Sale'}
    """
    out: dict[int, str] = {}
    for text in texts:
        number, sep, api = text.partition("=")
        try:
            one_api = int(number.strip())
        except ValueError:
            one_api = None
        if not sep or one_api is None or not api.strip():
            raise ChiftFramesError(f"--one-api {text!r}: expected NUMBER=API, such as 1=Accounting")
        if one_api in out and out[one_api] != api.strip():
            raise ChiftFramesError(f"--one-api {text!r}: one_api {one_api} is given twice")
        out[one_api] = api.strip()
    return out


def one_apis_relation(one_apis: OneApis) -> Relation:
    """Return the relation ``one_apis (one_api, api)``: the API of each number given.

    Raises
    ------
    ChiftFramesError
        When ``one_apis`` maps something other than whole numbers to API names.
    """
    items = sorted((one_apis or {}).items())
    for number, api in items:
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(api, str):
            raise ChiftFramesError(
                f"one_apis must map whole numbers to API names, not {number!r}: {api!r}"
            )
    return Relation(
        "one_apis",
        (("one_api", "BIGINT"), ("api", "VARCHAR")),
        tuple(items),
        "which API each sync_connections.one_api number is (--one-api N=API)",
    )


_STATES_OF: weakref.WeakKeyDictionary[Any, tuple[tuple[int, str], ...]] = (
    weakref.WeakKeyDictionary()
)
"""The ``one_apis`` each connection's ``monitoring_states`` table was computed with."""


def register_monitoring_states(con: Any, one_apis: OneApis = None) -> None:
    """Register ``one_apis`` and the table ``monitoring_states`` on DuckDB connection ``con``.

    The reports that use the state (the onboarding funnel, consumer health) read this table,
    so the rule lives in one query: ``sql/monitoring_states.sql``. On a connection that
    :func:`~chift_frames.engine.open_source` opened it is computed once per ``one_apis``:
    the reports of one run share it; on the caller's own connection, at every call. A table,
    not a view: joined and sorted as a view, the rule's lists ran out of DuckDB's memory at
    200,000 pairs.
    """
    table = one_apis_relation(one_apis).arrow()
    key = tuple(sorted((one_apis or {}).items()))
    if opened_here(con) and _STATES_OF.get(con) == key:
        return  # computed on this connection, whose data cannot have changed since
    import duckdb

    con.register("one_apis", table)
    sql = report_sql("monitoring_states")
    try:
        run_with_room(
            con, lambda c: c.execute(f"CREATE OR REPLACE TEMP TABLE monitoring_states AS {sql}")
        )
    except duckdb.Error as exc:
        raise duckdb_failure("report monitoring_states failed in DuckDB", exc, con) from None
    _STATES_OF[con] = key


_STATES_IN_ORDER = (
    "SELECT * FROM monitoring_states ORDER BY sync_name NULLS LAST, sync_id, consumer_id"
)
"""The report from the table of the states (in the order of ``sql/monitoring_states.sql``):
computed once for the three reports of a run that show it."""


READS_MONITORING_STATES = frozenset({"onboarding_funnel", "consumer_health"})
"""The reports whose query reads the view ``monitoring_states`` (and so ``one_apis``)."""


def monitoring_states(
    frames: Source, *, one_apis: OneApis = None, snapshot: str = "latest"
) -> pd.DataFrame:
    """Which state is each setup in, as Chift's back office sorts them?

    The rule, first match wins (from Chift's monitoring guide and its POS sync
    troubleshooting page):

    1. ``no connection``: an API the sync requires (its ``sync_connections``) has no
       connection of the consumer;
    2. ``connection failed``: no connection of a required API is ``active`` with its local
       agent up (a connection without an agent counts as up);
    3. ``mapping incomplete``: a mapping value that is not hidden has no target;
    4. ``configuration incomplete``: Chift's ``status`` of the setup is not ``active``;
    5. ``active``.

    Chift does not say which API a ``one_api`` number is: ``one_apis`` does. For a number it
    does not name (all of them by default), every connection of the consumer counts for that
    requirement, so a consumer with any working connection passes steps 1 and 2 for it, and
    ``note`` says so. Where the data cannot decide, it never guesses: when rules 1 and 2
    cannot be tried (the consumer's connections could not be fetched, the snapshot holds no
    connection at all, or the sync has no ``sync_connections``), the state is null and
    ``note`` says why; an open mapping still shows in ``open_value_count``.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot, with the ``connections`` and sync definition tables a fetch writes.
    one_apis : mapping of int to str, optional
        The API name (as in ``connections.api``) of each ``one_api`` number, such as
        ``{1: "Accounting", 2: "Point of Sale"}``. Empty by default.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (consumer, sync) of ``consumer_syncs``, ordered by sync name, sync id and
        consumer id:

        - ``consumer_id``, ``consumer_name``, ``sync_id``, ``sync_name``
        - ``state``: one of :data:`MONITORING_STATES`, or null when it cannot be told
        - ``chift_state``: Chift's own: ``active`` when ``status`` is, else
          ``status_details`` in lower case when it names a state, else null
        - ``status``, ``status_details``: as Chift gives them
        - ``missing_apis``, ``failed_apis``: the required APIs with no connection, and those
          whose connections all fail (``one_api N`` for a number ``one_apis`` does not name)
        - ``open_value_count``: values that are neither mapped nor hidden
        - ``note``: where the data cannot tell states apart, or disagrees with Chift; null
          when there is nothing to say
    """
    return run_report(
        frames,
        snapshot,
        "monitoring_states",
        _STATE_COLUMNS,
        prepare=lambda con: register_monitoring_states(con, one_apis),
        sql=_STATES_IN_ORDER,
        inputs={"one_apis": one_apis},
    )


def flows_not_enabled(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which flows do a consumer's active syncs offer that it has not switched on?

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot with the ``sync_flows`` table a fetch writes (without it there is nothing
        to compare with, and no rows).
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (consumer, sync, flow) the sync offers and the consumer has not enabled,
        for setups whose ``status`` is ``active`` (an inactive setup has every flow still to
        come), ordered by sync name, sync id, consumer id, flow name and flow id:
        ``consumer_id``, ``consumer_name``, ``sync_id``, ``sync_name``, ``flow_id``,
        ``flow_name``, ``flow_description``.
    """
    return run_report(frames, snapshot, "flows_not_enabled", _NOT_ENABLED_COLUMNS)

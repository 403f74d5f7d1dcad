"""Reports: pure functions from a snapshot's :class:`Frames` to DataFrames. No I/O, no clock.

Each function answers one question people bring to a snapshot; the first line of its docstring
says which. :data:`REPORTS` lists the reports by the file name each is saved under.

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

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from cronsim import CronSim, CronSimError

from .frames import Frames

__all__ = [
    "ONBOARDING_STEPS",
    "REFERENCE_WEEK_START",
    "REPORTS",
    "SUCCESS_STATUSES",
    "Summary",
    "consensus_targets",
    "consumer_flow_runs",
    "consumer_health",
    "cron_problems",
    "datastore_inventory",
    "flow_adoption",
    "flow_runs",
    "mapping_completeness",
    "onboarding_funnel",
    "onboarding_steps",
    "schedule_heatmap",
    "stale_flows",
    "summarise",
    "unmapped_by_consumer",
    "unmapped_by_mapping",
    "unmapped_sources",
]


def unmapped_by_consumer(frames: Frames, top: int | None = None) -> pd.DataFrame:
    """Which consumers left the most source values unmapped, and in which syncs?

    One row per (consumer, sync) with at least one unmapped value, most unmapped first, with
    the consumer's name when the snapshot has a ``consumers`` table.
    """
    cs = frames.consumer_syncs
    out = cs.loc[
        cs.unmapped_count > 0,
        ["consumer_id", "sync_id", "sync_name", "status", "unmapped_count", "value_count"],
    ]
    if "consumers" in frames:
        names = frames["consumers"][["consumer_id", "name"]].rename(
            columns={"name": "consumer_name"}
        )
        out = out.merge(names, on="consumer_id", how="left")
        out = out[["consumer_id", "consumer_name", *out.columns[1:-1]]]
    out = out.sort_values(["unmapped_count", "consumer_id"], ascending=[False, True])
    return (out.head(top) if top else out).reset_index(drop=True)


def unmapped_by_mapping(frames: Frames, top: int | None = None) -> pd.DataFrame:
    """Which mappings are left incomplete by the most consumers?

    One row per (sync, mapping, sub-mapping): consumers concerned, consumers with at least
    one unmapped value, and unmapped values in all.
    """
    m = frames.mappings.merge(
        frames.consumer_syncs[["consumer_id", "sync_id", "sync_name"]],
        on=["consumer_id", "sync_id"],
    )
    out = (
        m.assign(incomplete=m.unmapped_count > 0)
        .groupby(["sync_name", "name", "sub_mapping_name"], dropna=False)
        .agg(
            consumers=("consumer_id", "nunique"),
            consumers_incomplete=("incomplete", "sum"),
            unmapped_values=("unmapped_count", "sum"),
        )
        .reset_index()
        .rename(columns={"name": "mapping_name"})
    )
    out = out[out.unmapped_values > 0].sort_values(
        ["unmapped_values", "mapping_name"], ascending=[False, True]
    )
    return (out.head(top) if top else out).reset_index(drop=True)


@dataclass(frozen=True)
class Summary:
    """The short summary the CLI prints after a fetch."""

    rows: dict[str, int]
    pairs: int
    incomplete: int
    top_consumers: pd.DataFrame
    top_mappings: pd.DataFrame
    errors: pd.DataFrame


def summarise(frames: Frames, top: int = 5) -> Summary:
    """Which setups are incomplete, who has the most unmapped values, and what failed?"""
    cs = frames.consumer_syncs
    error_tables = [frames[t] for t in ("fetch_errors", "payload_errors") if t in frames]
    errors = pd.concat(error_tables, ignore_index=True) if error_tables else pd.DataFrame()
    return Summary(
        rows=frames.row_counts(),
        pairs=len(cs),
        incomplete=int((cs.status != "active").sum()),
        top_consumers=unmapped_by_consumer(frames, top),
        top_mappings=unmapped_by_mapping(frames, top),
        errors=errors,
    )


# -- shared helpers ------------------------------------------------------------------------------

_STRING = pd.StringDtype("pyarrow")
_INT = pd.Int64Dtype()
_FLOAT = pd.Float64Dtype()
_BOOL = pd.BooleanDtype()
_UTC = pd.DatetimeTZDtype("us", "UTC")
_IDS = "object"  # sorted Python lists of str

_Key = tuple[Hashable, ...]


def _shape(df: pd.DataFrame, columns: dict[str, Any]) -> pd.DataFrame:
    """Return ``columns`` of ``df``, in that order and with those dtypes, indexed from 0."""
    out = pd.DataFrame({name: df[name].astype(dtype) for name, dtype in columns.items()})
    return out.reset_index(drop=True)


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    """``part / whole`` as Float64; null where ``whole`` is 0 or null (never NaN)."""
    whole = whole.astype(_FLOAT).fillna(0)
    return part.astype(_FLOAT) / whole.mask(whole == 0)


def _top(df: pd.DataFrame, keys: list[str], value: str, count: str) -> pd.DataFrame:
    """Keep, per ``keys``, the row of highest ``count``; a tie goes to the first ``value`` A-Z."""
    ordered = df.sort_values(
        [*keys, count, value], ascending=[*(True for _ in keys), False, True], kind="stable"
    )
    return ordered.drop_duplicates(keys)


def _lists(df: pd.DataFrame, keys: list[str], column: str) -> dict[_Key, list[str]]:
    """Sorted distinct values of ``column`` per ``keys``, as Python lists."""
    lists: dict[_Key, list[str]] = {}
    ordered = df[[*keys, column]].dropna(subset=[column]).drop_duplicates()
    for *key, value in ordered.sort_values(column, kind="stable").itertuples(index=False):
        lists.setdefault(tuple(key), []).append(str(value))
    return lists


def _lookup(df: pd.DataFrame, keys: list[str], lists: dict[_Key, list[str]]) -> list[list[str]]:
    """Return the list of each row of ``df`` (a fresh empty one when its key has none)."""
    return [list(lists.get(key, ())) for key in zip(*(df[k] for k in keys), strict=True)]


def _sync_names(frames: Frames) -> pd.DataFrame:
    """One ``(sync_id, sync_name)`` row per sync of the snapshot.

    The name is the one the consumer-sync responses give; the ``syncs`` table, when present,
    adds the syncs no consumer response mentions.
    """
    names = frames.consumer_syncs[["sync_id", "sync_name"]].astype(_STRING)
    if "syncs" in frames:
        listed = frames["syncs"][["sync_id", "name"]].astype(_STRING)
        names = pd.concat([names, listed.rename(columns={"name": "sync_name"})])
    return names.drop_duplicates("sync_id").reset_index(drop=True)


def _with_sync_name(df: pd.DataFrame, frames: Frames) -> pd.DataFrame:
    return df.drop(columns="sync_name", errors="ignore").merge(
        _sync_names(frames), on="sync_id", how="left"
    )


def _with_consumer_name(df: pd.DataFrame, frames: Frames) -> pd.DataFrame:
    if "consumers" not in frames:
        return df.assign(consumer_name=pd.Series(pd.NA, index=df.index, dtype=_STRING))
    names = (
        frames["consumers"][["consumer_id", "name"]]
        .astype(_STRING)
        .drop_duplicates("consumer_id")
        .rename(columns={"name": "consumer_name"})
    )
    return df.merge(names, on="consumer_id", how="left")


def _flow_names(frames: Frames) -> pd.DataFrame:
    """One ``(sync_id, flow_id, flow_name)`` row per flow: the name most consumers show."""
    keys = ["sync_id", "flow_id"]
    counts = frames.flows.groupby([*keys, "name"]).consumer_id.nunique().reset_index(name="n")
    top = _top(counts, keys, "name", "n")
    return top[[*keys, "name"]].rename(columns={"name": "flow_name"})


# -- onboarding ----------------------------------------------------------------------------------

ONBOARDING_STEPS = ("linked", "active", "enabled")
"""The steps of the onboarding funnel, in order; each keeps the consumers of the step before."""

_STEP_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "step_index": _INT,
    "step": _STRING,
    "consumer_id": _STRING,
    "consumer_name": _STRING,
}


def onboarding_steps(frames: Frames) -> pd.DataFrame:
    """Which consumers reached each step of a sync's onboarding?

    The long form of :func:`onboarding_funnel`: the consumers behind its counts. The steps are
    ``linked`` (the consumer has a consumer-sync row), ``active`` (``status == "active"``: the
    setup is complete) and ``enabled`` (active, with at least one enabled flow). Each step keeps
    only consumers of the step before, so a consumer reaching ``enabled`` has three rows.

    Parameters
    ----------
    frames : Frames
        A snapshot, as given by :func:`chift_frames.flatten` or :func:`chift_frames.load`.

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
    cs = frames.consumer_syncs
    active = (cs.status == "active").fillna(False)
    enabled = active & (cs.enabled_flow_count > 0).fillna(False)
    linked = pd.Series(True, index=cs.index)
    parts = [
        cs.loc[mask.to_numpy(dtype=bool), ["sync_id", "consumer_id"]].assign(
            step_index=i, step=step
        )
        for i, (step, mask) in enumerate(
            zip(ONBOARDING_STEPS, (linked, active, enabled), strict=True)
        )
    ]
    steps = pd.concat(parts, ignore_index=True).drop_duplicates(
        ["sync_id", "step_index", "consumer_id"]
    )
    steps = _with_consumer_name(_with_sync_name(steps, frames), frames)
    steps = steps.sort_values(["sync_name", "sync_id", "step_index", "consumer_id"], kind="stable")
    return _shape(steps, _STEP_COLUMNS)


_FUNNEL_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "linked_count": _INT,
    "active_count": _INT,
    "enabled_count": _INT,
    "active_share": _FLOAT,
    "enabled_share": _FLOAT,
    "inactive_count": _INT,
    "top_inactive_reason": _STRING,
    "top_inactive_reason_count": _INT,
}


def onboarding_funnel(frames: Frames) -> pd.DataFrame:
    """How far do consumers get in setting up each sync, and what stops the others?

    Counts the consumers at each step of :data:`ONBOARDING_STEPS`: ``linked`` (a consumer-sync
    row), ``active`` (setup complete) and ``enabled`` (active, with at least one enabled
    flow). The counts never grow from one step to the next. The consumers themselves are in
    :func:`onboarding_steps`.

    Parameters
    ----------
    frames : Frames
        A snapshot. When it holds a ``syncs`` table, syncs no consumer is linked to appear too,
        with zero counts.

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
     'top_inactive_reason': 'No connection', 'top_inactive_reason_count': 1}
    """
    steps = onboarding_steps(frames)
    out = _sync_names(frames)
    for step in ONBOARDING_STEPS:
        counts = steps[steps.step == step].groupby("sync_id").size()
        out[f"{step}_count"] = out.sync_id.map(counts).fillna(0).astype(_INT)
    out["active_share"] = _share(out.active_count, out.linked_count)
    out["enabled_share"] = _share(out.enabled_count, out.linked_count)
    out["inactive_count"] = out.linked_count - out.active_count

    cs = frames.consumer_syncs
    inactive = cs[(cs.status != "active").fillna(True).to_numpy(dtype=bool)]
    reasons = (
        inactive.dropna(subset=["status_details"])
        .groupby(["sync_id", "status_details"])
        .consumer_id.nunique()
        .reset_index(name="n")
    )
    top = _top(reasons, ["sync_id"], "status_details", "n").set_index("sync_id")
    out["top_inactive_reason"] = out.sync_id.map(top.status_details)
    out["top_inactive_reason_count"] = out.sync_id.map(top.n).fillna(0)
    return _shape(out.sort_values(["sync_name", "sync_id"], kind="stable"), _FUNNEL_COLUMNS)


# -- consumers -----------------------------------------------------------------------------------

_HEALTH_COLUMNS = {
    "consumer_id": _STRING,
    "consumer_name": _STRING,
    "sync_id": _STRING,
    "sync_name": _STRING,
    "status": _STRING,
    "status_details": _STRING,
    "enabled": _BOOL,
    "value_count": _INT,
    "unmapped_count": _INT,
    "mapped_share": _FLOAT,
    "skipped_mapping_count": _INT,
    "enabled_flow_count": _INT,
    "last_error_at": _UTC,
    "last_error_http_status": _INT,
    "last_error_code": _STRING,
    "last_error_message": _STRING,
}

_LAST_ERROR = {
    "occurred_at": "last_error_at",
    "http_status": "last_error_http_status",
    "error_code": "last_error_code",
    "message": "last_error_message",
}


def consumer_health(frames: Frames) -> pd.DataFrame:
    """Where does each consumer stand with each sync, and did fetching its setup fail?

    Parameters
    ----------
    frames : Frames
        A snapshot. With a ``consumers`` table, consumers get their name; with a
        ``fetch_errors`` table, each pair gets its latest fetch error (by ``occurred_at``).

    Returns
    -------
    pandas.DataFrame
        One row per (consumer, sync) of ``consumer_syncs``, plus one per pair that only has a
        fetch error (its setup columns null), ordered by sync name, sync id and consumer id:

        - ``consumer_id``, ``consumer_name``, ``sync_id``, ``sync_name``
        - ``status``, ``status_details``, ``enabled``: as in ``consumer_syncs``
        - ``value_count``, ``unmapped_count``: source values, and those left unmapped (values,
          not consumers)
        - ``mapped_share``: mapped values / values; null when there are no values
        - ``skipped_mapping_count``, ``enabled_flow_count``: as in ``consumer_syncs``
        - ``last_error_at``, ``last_error_http_status``, ``last_error_code``,
          ``last_error_message``: the pair's latest fetch error; null when it has none (or the
          snapshot has no ``fetch_errors``). Errors not tied to a pair are left out.
    """
    cs = frames.consumer_syncs
    out = cs[[c for c in _HEALTH_COLUMNS if c in cs.columns]].assign(
        mapped_share=_share(cs.value_count - cs.unmapped_count, cs.value_count)
    )
    if "fetch_errors" in frames:
        errors = frames["fetch_errors"]
        errors = errors[(errors.consumer_id.notna() & errors.sync_id.notna()).to_numpy(bool)]
        last = (
            errors.assign(
                consumer_id=errors.consumer_id.astype(_STRING),
                sync_id=errors.sync_id.astype(_STRING),
                occurred_at=pd.to_datetime(errors.occurred_at, utc=True),
            )
            .sort_values("occurred_at", kind="stable", na_position="first")
            .drop_duplicates(["consumer_id", "sync_id"], keep="last")
        )
        keys = ["consumer_id", "sync_id"]
        last = last[[*keys, *_LAST_ERROR]].rename(columns=_LAST_ERROR)
        # A left merge plus the pairs only errors know of, rather than an outer merge: pandas
        # cannot outer-merge on several empty string[pyarrow] keys that hold no arrow chunk.
        seen = pd.MultiIndex.from_frame(cs[keys])
        error_only = last[~pd.MultiIndex.from_frame(last[keys]).isin(seen)]
        out = pd.concat([out.merge(last, on=keys, how="left"), error_only], ignore_index=True)
    else:
        out = out.assign(**dict.fromkeys(_LAST_ERROR.values()))
    out = _with_consumer_name(_with_sync_name(out, frames), frames)
    out = out.sort_values(["sync_name", "sync_id", "consumer_id"], kind="stable")
    return _shape(out, _HEALTH_COLUMNS)


# -- mappings ------------------------------------------------------------------------------------

_MAPPING_KEYS = ["sync_id", "mapping_name", "sub_mapping_name"]
_SOURCE_KEYS = [*_MAPPING_KEYS, "source_id"]

_COMPLETENESS_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "mapping_name": _STRING,
    "sub_mapping_name": _STRING,
    "consumer_count": _INT,
    "complete_count": _INT,
    "complete_share": _FLOAT,
    "value_count": _INT,
    "mapped_count": _INT,
    "mapped_share": _FLOAT,
}


def mapping_completeness(frames: Frames) -> pd.DataFrame:
    """How complete is each mapping across the consumers who have it?

    Parameters
    ----------
    frames : Frames
        A snapshot.

    Returns
    -------
    pandas.DataFrame
        One row per (sync, mapping, sub-mapping) some consumer has (a skipped mapping is not
        had), ordered by sync name, sync id, mapping and sub-mapping:

        - ``sync_id``, ``sync_name``, ``mapping_name``, ``sub_mapping_name``
        - ``consumer_count``: consumers with the mapping
        - ``complete_count``, ``complete_share``: those with no unmapped value (a mapping
          without values is complete), and their share of ``consumer_count``
        - ``value_count``, ``mapped_count``: source values across those consumers, and the
          mapped ones (values, not consumers)
        - ``mapped_share``: ``mapped_count / value_count``; null when there are no values
    """
    m = frames.mappings.rename(columns={"name": "mapping_name"})
    per_consumer = (
        m.groupby([*_MAPPING_KEYS, "consumer_id"], sort=False)
        .agg(value_count=("value_count", "sum"), unmapped_count=("unmapped_count", "sum"))
        .reset_index()
    )
    out = (
        per_consumer.assign(complete=per_consumer.unmapped_count == 0)
        .groupby(_MAPPING_KEYS, sort=False)
        .agg(
            consumer_count=("consumer_id", "size"),
            complete_count=("complete", "sum"),
            value_count=("value_count", "sum"),
            unmapped_count=("unmapped_count", "sum"),
        )
        .reset_index()
    )
    out["complete_share"] = _share(out.complete_count, out.consumer_count)
    out["mapped_count"] = out.value_count - out.unmapped_count
    out["mapped_share"] = _share(out.mapped_count, out.value_count)
    out = _with_sync_name(out, frames).sort_values(
        ["sync_name", "sync_id", "mapping_name", "sub_mapping_name"], kind="stable"
    )
    return _shape(out, _COMPLETENESS_COLUMNS)


_UNMAPPED_SOURCE_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "mapping_name": _STRING,
    "sub_mapping_name": _STRING,
    "source_id": _STRING,
    "unmapped_consumer_count": _INT,
    "consumer_count": _INT,
    "unmapped_share": _FLOAT,
}


def unmapped_sources(frames: Frames) -> pd.DataFrame:
    """Which source values do consumers leave unmapped most often?

    A source is left unmapped by a consumer when one of its values with that ``source_id``
    has no target (``is_mapped`` false). Values without a ``source_id`` are left out; hidden
    values are kept.

    Parameters
    ----------
    frames : Frames
        A snapshot.

    Returns
    -------
    pandas.DataFrame
        One row per (sync, mapping, sub-mapping, source id) left unmapped by at least one
        consumer, most often unmapped first (by count, then share, then the key columns):

        - ``sync_id``, ``sync_name``, ``mapping_name``, ``sub_mapping_name``, ``source_id``
        - ``unmapped_consumer_count``: consumers who left it unmapped
        - ``consumer_count``: consumers whose mapping lists that source
        - ``unmapped_share``: ``unmapped_consumer_count / consumer_count``
    """
    v = frames.mapping_values
    v = v[v.source_id.notna().to_numpy(bool)]
    per_consumer = (
        v.assign(unmapped=~v.is_mapped.astype(bool))
        .groupby([*_SOURCE_KEYS, "consumer_id"], sort=False)
        .unmapped.any()
        .reset_index()
    )
    out = (
        per_consumer.groupby(_SOURCE_KEYS, sort=False)
        .agg(consumer_count=("consumer_id", "size"), unmapped_consumer_count=("unmapped", "sum"))
        .reset_index()
    )
    out = out[out.unmapped_consumer_count > 0]
    out = out.assign(unmapped_share=_share(out.unmapped_consumer_count, out.consumer_count))
    out = _with_sync_name(out, frames).sort_values(
        ["unmapped_consumer_count", "unmapped_share", "sync_name", "sync_id", *_SOURCE_KEYS[1:]],
        ascending=[False, False, True, True, True, True, True],
        kind="stable",
    )
    return _shape(out, _UNMAPPED_SOURCE_COLUMNS)


_CONSENSUS_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "mapping_name": _STRING,
    "sub_mapping_name": _STRING,
    "source_id": _STRING,
    "consumer_count": _INT,
    "consensus_target_id": _STRING,
    "consensus_count": _INT,
    "consensus_share": _FLOAT,
    "target_count": _INT,
    "outlier_count": _INT,
    "outlier_consumer_ids": _IDS,
}


def consensus_targets(frames: Frames) -> pd.DataFrame:
    """Which target do most consumers map each source to, and who maps it elsewhere?

    Only mapped values with a ``source_id`` count. A consumer counts once per source: should
    its mapping list the source twice with different targets, its most frequent target (the
    first A-Z on a tie) stands for it, so ``consensus_count + outlier_count ==
    consumer_count``.

    Parameters
    ----------
    frames : Frames
        A snapshot.

    Returns
    -------
    pandas.DataFrame
        One row per (sync, mapping, sub-mapping, source id) some consumer mapped, ordered by
        sync name, sync id, mapping, sub-mapping and source id:

        - ``sync_id``, ``sync_name``, ``mapping_name``, ``sub_mapping_name``, ``source_id``
        - ``consumer_count``: consumers who mapped the source
        - ``consensus_target_id``: the target most of them chose (a tie goes to the first A-Z)
        - ``consensus_count``, ``consensus_share``: consumers who chose it, and their share of
          ``consumer_count``
        - ``target_count``: distinct targets chosen
        - ``outlier_count``, ``outlier_consumer_ids``: the consumers who chose another target
    """
    v = frames.mapping_values
    v = v[(v.is_mapped.astype(bool) & v.source_id.notna()).to_numpy(bool)]
    chosen = v.groupby([*_SOURCE_KEYS, "consumer_id", "target_id"]).size().reset_index(name="n")
    chosen = _top(chosen, [*_SOURCE_KEYS, "consumer_id"], "target_id", "n")
    by_target = chosen.groupby([*_SOURCE_KEYS, "target_id"]).size().reset_index(name="n")
    consensus = _top(by_target, _SOURCE_KEYS, "target_id", "n").rename(
        columns={"target_id": "consensus_target_id", "n": "consensus_count"}
    )
    out = (
        chosen.groupby(_SOURCE_KEYS)
        .agg(consumer_count=("consumer_id", "size"), target_count=("target_id", "nunique"))
        .reset_index()
        .merge(consensus, on=_SOURCE_KEYS)
    )
    out["consensus_share"] = _share(out.consensus_count, out.consumer_count)
    with_consensus = chosen.merge(consensus, on=_SOURCE_KEYS)
    outliers = with_consensus[
        (with_consensus.target_id != with_consensus.consensus_target_id).to_numpy(bool)
    ]
    out["outlier_consumer_ids"] = _lookup(
        out, _SOURCE_KEYS, _lists(outliers, _SOURCE_KEYS, "consumer_id")
    )
    out["outlier_count"] = out.outlier_consumer_ids.map(len)
    out = _with_sync_name(out, frames).sort_values(
        ["sync_name", "sync_id", *_SOURCE_KEYS[1:]], kind="stable"
    )
    return _shape(out, _CONSENSUS_COLUMNS)


# -- flows ---------------------------------------------------------------------------------------

_ADOPTION_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "flow_id": _STRING,
    "flow_name": _STRING,
    "linked_count": _INT,
    "enabled_count": _INT,
    "enabled_share": _FLOAT,
    "timer_count": _INT,
    "event_count": _INT,
}


def flow_adoption(frames: Frames) -> pd.DataFrame:
    """Which flows do the consumers of each sync enable, and with which triggers?

    Parameters
    ----------
    frames : Frames
        A snapshot. Only flows some consumer enabled appear: a snapshot does not list the
        flows a sync defines.

    Returns
    -------
    pandas.DataFrame
        One row per (sync, flow), ordered by sync name, sync id, flow name and flow id:

        - ``sync_id``, ``sync_name``, ``flow_id``
        - ``flow_name``: the name most consumers show for the flow
        - ``linked_count``: consumers linked to the sync
        - ``enabled_count``, ``enabled_share``: consumers who enabled the flow, and their share
          of ``linked_count``
        - ``timer_count``, ``event_count``: of those, consumers whose trigger is a timer, or an
          event
    """
    f = frames.flows
    keys = ["sync_id", "flow_id"]
    out = f.groupby(keys).consumer_id.nunique().reset_index(name="enabled_count")
    out = out.merge(_flow_names(frames), on=keys, how="left")
    for kind in ("timer", "event"):
        of_kind = f[(f.trigger_type == kind).fillna(False).to_numpy(bool)]
        counts = of_kind.groupby(keys).consumer_id.nunique().reset_index(name=f"{kind}_count")
        out = out.merge(counts, on=keys, how="left")
        out[f"{kind}_count"] = out[f"{kind}_count"].fillna(0)
    linked = frames.consumer_syncs.groupby("sync_id").consumer_id.nunique()
    out["linked_count"] = out.sync_id.map(linked).fillna(0).astype(_INT)
    out["enabled_share"] = _share(out.enabled_count, out.linked_count)
    out = _with_sync_name(out, frames).sort_values(
        ["sync_name", "sync_id", "flow_name", "flow_id"], kind="stable"
    )
    return _shape(out, _ADOPTION_COLUMNS)


REFERENCE_WEEK_START = datetime(2026, 1, 5)
"""Monday 5 January 2026, 00:00 UTC: the week :func:`schedule_heatmap` lays cron firings on."""

_WEEK_END = REFERENCE_WEEK_START + timedelta(days=7)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NO_CRON = "timer trigger without a cron schedule"

_Firings = tuple[tuple[int, int, int], ...]


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


def _timers(frames: Frames) -> pd.DataFrame:
    f = frames.flows
    return f[(f.trigger_type == "timer").fillna(False).to_numpy(bool)]


_HEATMAP_COLUMNS = {
    "day_of_week": _INT,
    "day_name": _STRING,
    "hour": _INT,
    "firing_count": _INT,
    "consumer_count": _INT,
}


def schedule_heatmap(frames: Frames) -> pd.DataFrame:
    """At which hours of the week do the consumers' timer flows fire?

    Every enabled flow with a ``timer`` trigger fires on its ``cronschedule``, read in UTC
    and laid over one reference week (:data:`REFERENCE_WEEK_START`, a Monday, for seven days),
    so the result does not depend on when it is computed. A schedule firing less often than
    weekly (``0 0 1 * *``) counts only if it fires in that week. Schedules that do not parse
    are left out: :func:`cron_problems` lists them.

    Parameters
    ----------
    frames : Frames
        A snapshot.

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
    timers = _timers(frames)
    timers = timers[timers.cronschedule.notna().to_numpy(bool)]
    slot_rows = [
        (expr, day, hour, n)
        for expr in timers.cronschedule.unique()
        for day, hour, n in _cron_firings(str(expr))[0]
    ]
    slots = pd.DataFrame(
        {
            "cronschedule": pd.array([r[0] for r in slot_rows], dtype=_STRING),
            "day_of_week": pd.array([r[1] for r in slot_rows], dtype="int64"),
            "hour": pd.array([r[2] for r in slot_rows], dtype="int64"),
            "firings": pd.array([r[3] for r in slot_rows], dtype="int64"),
        }
    )
    fired = (
        timers[["consumer_id", "cronschedule"]]
        .merge(slots, on="cronschedule")
        .groupby(["day_of_week", "hour"])
        .agg(firing_count=("firings", "sum"), consumer_count=("consumer_id", "nunique"))
        .reset_index()
    )
    grid = pd.DataFrame(
        {
            "day_of_week": [day for day in range(7) for _ in range(24)],
            "hour": [hour for _ in range(7) for hour in range(24)],
        }
    )
    out = grid.merge(fired, on=["day_of_week", "hour"], how="left")
    out["day_name"] = out.day_of_week.map(dict(enumerate(_DAY_NAMES)))
    out = out.fillna({"firing_count": 0, "consumer_count": 0})
    return _shape(out, _HEATMAP_COLUMNS)


_CRON_PROBLEM_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "flow_id": _STRING,
    "flow_name": _STRING,
    "cronschedule": _STRING,
    "message": _STRING,
    "consumer_count": _INT,
    "consumer_ids": _IDS,
}


def cron_problems(frames: Frames) -> pd.DataFrame:
    """Which timer flows have a cron schedule that cannot be read, and for whom?

    A schedule is read by the same parser as :func:`schedule_heatmap` (cronsim, Debian cron
    syntax, in UTC); a timer trigger with no schedule at all is listed too.

    Parameters
    ----------
    frames : Frames
        A snapshot.

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
    timers = _timers(frames)
    messages = [
        _NO_CRON if pd.isna(expr) else _cron_firings(str(expr))[1] for expr in timers.cronschedule
    ]
    bad = timers.assign(message=pd.array(messages, dtype=_STRING))
    bad = bad[bad.message.notna().to_numpy(bool)]
    keys = ["sync_id", "flow_id", "cronschedule"]
    out = (
        bad.groupby(keys, dropna=False)
        .agg(message=("message", "first"), consumer_count=("consumer_id", "nunique"))
        .reset_index()
    )
    out["consumer_ids"] = _lookup(out, keys, _lists(bad, keys, "consumer_id"))
    out = out.merge(_flow_names(frames), on=["sync_id", "flow_id"], how="left")
    out = _with_sync_name(out, frames).sort_values(
        ["sync_name", "sync_id", "flow_name", "flow_id", "cronschedule"], kind="stable"
    )
    return _shape(out, _CRON_PROBLEM_COLUMNS)


# -- datastores ----------------------------------------------------------------------------------

_INVENTORY_COLUMNS = {
    "sync_id": _STRING,
    "sync_name": _STRING,
    "flow_id": _STRING,
    "flow_name": _STRING,
    "datastore_name": _STRING,
    "column_name": _STRING,
    "consumer_count": _INT,
    "types": _IDS,
    "type_count": _INT,
    "common_type": _STRING,
    "type_disagrees": _BOOL,
    "outlier_count": _INT,
    "outlier_consumer_ids": _IDS,
}


def datastore_inventory(frames: Frames) -> pd.DataFrame:
    """Which datastore columns do the consumers' flows define, and do their types agree?

    Parameters
    ----------
    frames : Frames
        A snapshot.

    Returns
    -------
    pandas.DataFrame
        One row per (sync, flow, datastore name, column name), ordered by sync name, sync id,
        flow name, flow id, datastore name and the column's first position:

        - ``sync_id``, ``sync_name``, ``flow_id``, ``flow_name``, ``datastore_name``,
          ``column_name``
        - ``consumer_count``: consumers whose flow defines the column
        - ``types``, ``type_count``: the distinct types seen (a sorted list), and how many
        - ``common_type``: the type most consumers use (a tie goes to the first A-Z)
        - ``type_disagrees``: whether more than one type is seen
        - ``outlier_count``, ``outlier_consumer_ids``: consumers using any other type
    """
    c = frames.datastore_columns.rename(columns={"name": "column_name"})
    keys = ["sync_id", "flow_id", "datastore_name", "column_name"]
    by_type = c.groupby([*keys, "type"]).consumer_id.nunique().reset_index(name="n")
    common = _top(by_type, keys, "type", "n")[[*keys, "type"]].rename(
        columns={"type": "common_type"}
    )
    out = (
        c.groupby(keys)
        .agg(
            consumer_count=("consumer_id", "nunique"),
            type_count=("type", "nunique"),
            position=("column_index", "min"),
        )
        .reset_index()
        .merge(common, on=keys)
    )
    out["types"] = _lookup(out, keys, _lists(c, keys, "type"))
    out["type_disagrees"] = out.type_count > 1
    with_common = c.merge(common, on=keys)
    outliers = with_common[(with_common.type != with_common.common_type).to_numpy(bool)]
    out["outlier_consumer_ids"] = _lookup(out, keys, _lists(outliers, keys, "consumer_id"))
    out["outlier_count"] = out.outlier_consumer_ids.map(len)
    out = out.merge(_flow_names(frames), on=["sync_id", "flow_id"], how="left")
    out = _with_sync_name(out, frames).sort_values(
        ["sync_name", "sync_id", "flow_name", "flow_id", "datastore_name", "position"],
        kind="stable",
    )
    return _shape(out, _INVENTORY_COLUMNS)


# -- the registry --------------------------------------------------------------------------------

# -- executions ----------------------------------------------------------------------------------

SUCCESS_STATUSES = ("success",)
"""Execution statuses counted as a success. Chift documents no list of statuses: every report
below takes ``success_statuses`` to change it."""


def _executions(frames: Frames) -> pd.DataFrame:
    """Return the snapshot's executions, or an empty table of the right shape when it has none."""
    if "executions" in frames:
        return frames["executions"]
    from .schema import empty_frame

    return empty_frame("executions")


def _run_counts(ex: pd.DataFrame, keys: list[str], success: tuple[str, ...]) -> pd.DataFrame:
    marked = ex.assign(
        ok=ex.status.isin(success).astype(bool),
        running=ex.end.isna(),
        ok_start=ex.start.where(ex.status.isin(success)),
    )
    grouped = marked.groupby(keys, dropna=False)
    out = grouped.agg(
        run_count=("execution_id", "size"),
        success_count=("ok", "sum"),
        running_count=("running", "sum"),
        last_started_at=("start", "max"),
        last_success_at=("ok_start", "max"),
    ).reset_index()
    finished = out.run_count - out.running_count
    out["failure_count"] = finished - out.success_count
    out["success_share"] = _share(out.success_count, finished)
    return out


_FLOW_RUN_COLUMNS = {
    "sync_id": _STRING, "sync_name": _STRING, "flow_id": _STRING, "flow_name": _STRING,
    "run_count": _INT, "success_count": _INT, "failure_count": _INT, "running_count": _INT,
    "success_share": _FLOAT, "duration_p50_s": _FLOAT, "duration_p90_s": _FLOAT,
    "duration_p99_s": _FLOAT, "last_started_at": _UTC,
}  # fmt: skip


def flow_runs(frames: Frames, success_statuses: tuple[str, ...] = SUCCESS_STATUSES) -> pd.DataFrame:
    """How often does each flow run, how often does it succeed, and how long does it take?

    One row per (sync, flow) with executions: runs, successes, failures (finished runs that
    did not succeed), runs still going, the success rate among finished runs, the 50th, 90th
    and 99th percentiles of the duration in seconds, and the last start. Rows by sync name,
    then flow name.
    """
    ex = _executions(frames)
    keys = ["sync_id", "flow_id"]
    out = _run_counts(ex, keys, success_statuses)
    durations = ex.dropna(subset=["duration_s"]).groupby(keys).duration_s
    for q in (50, 90, 99):
        quantile = durations.quantile(q / 100).rename(f"duration_p{q}_s").reset_index()
        out = out.merge(quantile, on=keys, how="left")
        out[f"duration_p{q}_s"] = out[f"duration_p{q}_s"].astype(_FLOAT)
    out = _with_sync_name(out, frames).merge(_flow_names(frames), on=keys, how="left")
    out = out.sort_values(["sync_name", "flow_name", "flow_id"], na_position="last")
    return _shape(out, _FLOW_RUN_COLUMNS)


_CONSUMER_RUN_COLUMNS = {
    "consumer_id": _STRING, "consumer_name": _STRING, "sync_id": _STRING, "sync_name": _STRING,
    "flow_id": _STRING, "flow_name": _STRING, "run_count": _INT, "success_count": _INT,
    "failure_count": _INT, "running_count": _INT, "success_share": _FLOAT,
    "last_started_at": _UTC, "last_success_at": _UTC,
}  # fmt: skip


def consumer_flow_runs(
    frames: Frames, success_statuses: tuple[str, ...] = SUCCESS_STATUSES
) -> pd.DataFrame:
    """For each consumer and flow: how many runs, how many succeeded, and when was the last success?

    One row per (consumer, sync, flow) with executions; lowest success rate first.
    """
    ex = _executions(frames)
    keys = ["consumer_id", "sync_id", "flow_id"]
    out = _run_counts(ex, keys, success_statuses)
    out = _with_consumer_name(_with_sync_name(out, frames), frames)
    out = out.merge(_flow_names(frames), on=["sync_id", "flow_id"], how="left")
    out = out.sort_values(
        ["success_share", "consumer_id", "sync_id", "flow_id"], na_position="last"
    )
    return _shape(out, _CONSUMER_RUN_COLUMNS)


_STALE_COLUMNS = {
    "consumer_id": _STRING, "consumer_name": _STRING, "sync_id": _STRING, "sync_name": _STRING,
    "flow_id": _STRING, "flow_name": _STRING, "trigger_type": _STRING, "enabled_on": _UTC,
    "last_success_at": _UTC, "hours_since_success": _FLOAT,
}  # fmt: skip


def stale_flows(
    frames: Frames,
    window: pd.Timedelta | str = "2D",
    now: pd.Timestamp | str | None = None,
    success_statuses: tuple[str, ...] = SUCCESS_STATUSES,
) -> pd.DataFrame:
    """Which consumers' enabled flows have not succeeded within the window?

    One row per enabled flow (from ``flows``) whose last successful execution is older than
    ``window`` before ``now``, or that has none among the fetched executions. ``now`` is, by
    default, the latest ``fetched_at`` of the snapshot, else the latest execution start (no
    clock is read); with neither, only the flows without any success are listed. Longest
    without a success first. A snapshot fetched without executions lists every enabled flow:
    it cannot tell runs it did not fetch from runs that never happened.
    """
    flows = frames.flows
    ex = _executions(frames)
    reference = pd.Timestamp(now) if now is not None else frames.consumer_syncs.fetched_at.max()
    if pd.isna(reference):
        reference = ex.start.max()
    if not pd.isna(reference) and reference.tzinfo is None:
        reference = reference.tz_localize("UTC")
    last = (
        ex[ex.status.isin(success_statuses)]
        .groupby(["consumer_id", "sync_id", "flow_id"])
        .start.max()
        .rename("last_success_at")
        .reset_index()
    )
    out = flows.merge(last, on=["consumer_id", "sync_id", "flow_id"], how="left")
    if pd.isna(reference):  # no time to measure against: only flows that never succeeded
        out = out[out.last_success_at.isna()]
        hours = pd.Series(pd.NA, index=out.index, dtype=_FLOAT)
    else:
        cutoff = reference - pd.Timedelta(window)
        out = out[out.last_success_at.isna() | (out.last_success_at < cutoff)]
        hours = (reference - out.last_success_at).dt.total_seconds() / 3600
    out = out.assign(hours_since_success=hours, flow_name=out["name"])
    out = _with_consumer_name(_with_sync_name(out, frames), frames)
    out = out.sort_values(
        ["hours_since_success", "consumer_id", "flow_id"],
        ascending=[False, True, True],
        na_position="first",
    )
    return _shape(out, _STALE_COLUMNS)


REPORTS: dict[str, Callable[[Frames], pd.DataFrame]] = {
    "onboarding_funnel": onboarding_funnel,
    "onboarding_steps": onboarding_steps,
    "consumer_health": consumer_health,
    "mapping_completeness": mapping_completeness,
    "unmapped_sources": unmapped_sources,
    "consensus_targets": consensus_targets,
    "flow_adoption": flow_adoption,
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

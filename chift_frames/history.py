"""What changed between two snapshots: pure change tables, and :func:`diff` over a dataset.

Every change table has a ``change`` column. Values, flows and columns are matched by what
they are (sync, mapping name, sub-mapping name, source id; flow id; datastore and column
name), never by position, and only for pairs present in both snapshots: a pair that comes or
goes is one row of ``pair_changes``, not a flood of value changes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import StoreError
from .frames import Frames
from .store import list_snapshots, load

__all__ = ["CHANGE_TABLES", "diff", "diff_frames", "pick_snapshots"]

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


def _typed(name: str, df: pd.DataFrame) -> pd.DataFrame:
    columns = CHANGE_TABLES[name]
    out = df.reindex(columns=columns) if len(df) else pd.DataFrame(columns=columns)
    return out.astype(_STRING).reset_index(drop=True)


def _compare(before: pd.DataFrame, after: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Outer-join two tables on ``keys`` (first row per key wins); ``_merge`` says where."""
    a = before.drop_duplicates(keys)
    b = after.drop_duplicates(keys)
    return a.merge(b, on=keys, how="outer", suffixes=("_before", "_after"), indicator=True)


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Elementwise "not equal", where two nulls are equal and a null differs from a value."""
    a, b = a.astype(object), b.astype(object)
    a_na, b_na = a.isna(), b.isna()
    return (a_na != b_na) | (~a_na & ~b_na & (a != b))


def _as_text(series: pd.Series) -> pd.Series:
    out = series.astype(object)
    text = out.map(lambda v: str(v).lower() if isinstance(v, bool) else str(v))
    return out.where(out.isna(), text)


def diff_frames(before: Frames, after: Frames) -> Frames:
    """Compare two snapshots' tables and say what changed, pair by pair.

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
    cs = _compare(before.consumer_syncs, after.consumer_syncs, PAIR)
    pairs = cs.assign(change=cs["_merge"].map({"left_only": "removed", "right_only": "added"}))
    pairs = pairs[pairs.change.notna()].sort_values(["change", *PAIR])
    common = cs.loc[cs["_merge"] == "both", PAIR]

    def in_both(df: pd.DataFrame) -> pd.DataFrame:
        return df.merge(common, on=PAIR)

    # status, enabled, status_details of pairs in both
    status_rows = []
    both = cs[cs["_merge"] == "both"]
    for field in ("status", "enabled", "status_details"):
        b, a = both[f"{field}_before"], both[f"{field}_after"]
        changed = both[_differs(b, a)]
        if len(changed):
            old, new = _as_text(changed[f"{field}_before"]), _as_text(changed[f"{field}_after"])
            kind = pd.Series("changed", index=changed.index)
            kind[old.isna()] = "set"
            kind[new.isna()] = "cleared"
            status_rows.append(
                pd.DataFrame(
                    {
                        **{k: changed[k] for k in PAIR},
                        "field": field,
                        "change": kind,
                        "before": old,
                        "after": new,
                    }
                )
            )
    statuses = pd.concat(status_rows) if status_rows else pd.DataFrame()

    # mapping values, keyed by what they are
    value_keys = [*PAIR, "mapping_name", "sub_mapping_name", "source_id"]
    columns = [*value_keys, "target_id"]
    v = _compare(
        in_both(before.mapping_values[columns].dropna(subset=["source_id"])),
        in_both(after.mapping_values[columns].dropna(subset=["source_id"])),
        value_keys,
    )
    v["change"] = v["_merge"].map({"left_only": "removed", "right_only": "added"})
    retargeted = (v["_merge"] == "both") & _differs(v.target_id_before, v.target_id_after)
    v.loc[retargeted, "change"] = "retargeted"
    values = (
        v[v.change.notna()]
        .rename(columns={"target_id_before": "target_before", "target_id_after": "target_after"})
        .sort_values(value_keys)
    )

    # flows: switched on or off, trigger or settings changed
    f_keys = [*PAIR, "flow_id"]
    flows_b = in_both(before.flows).assign(
        trigger=lambda d: _trigger(d), settings=lambda d: d["values"]
    )
    flows_a = in_both(after.flows).assign(
        trigger=lambda d: _trigger(d), settings=lambda d: d["values"]
    )
    f = _compare(
        flows_b[[*f_keys, "trigger", "settings"]], flows_a[[*f_keys, "trigger", "settings"]], f_keys
    )
    flow_rows = [
        f[f["_merge"] == "right_only"].assign(change="enabled", before=None, after=None),
        f[f["_merge"] == "left_only"].assign(change="disabled", before=None, after=None),
    ]
    kept = f[f["_merge"] == "both"]
    for what, column in (("trigger_changed", "trigger"), ("settings_changed", "settings")):
        changed = kept[_differs(kept[f"{column}_before"], kept[f"{column}_after"])]
        flow_rows.append(
            changed.assign(
                change=what, before=changed[f"{column}_before"], after=changed[f"{column}_after"]
            )
        )
    flows = (
        pd.concat([r for r in flow_rows if len(r)])
        if any(len(r) for r in flow_rows)
        else (pd.DataFrame())
    )
    if len(flows):
        flows = flows.sort_values([*f_keys, "change"])

    # datastore columns of flows enabled in both
    c_keys = [*f_keys, "datastore_name", "column_name"]
    common_flows = kept[f_keys]

    def column_table(frames: Frames) -> pd.DataFrame:
        df = frames.datastore_columns.rename(columns={"name": "column_name"})
        return df[[*c_keys, "type"]].merge(common_flows, on=f_keys)

    c = _compare(column_table(before), column_table(after), c_keys)
    c["change"] = c["_merge"].map({"left_only": "removed", "right_only": "added"})
    c.loc[(c["_merge"] == "both") & _differs(c.type_before, c.type_after), "change"] = "retyped"
    cols = c[c.change.notna()].sort_values(c_keys)

    return Frames(
        {
            "pair_changes": _typed("pair_changes", pairs),
            "status_changes": _typed("status_changes", statuses),
            "value_changes": _typed("value_changes", values),
            "flow_changes": _typed("flow_changes", flows),
            "column_changes": _typed("column_changes", cols),
        }
    )


def _trigger(flows: pd.DataFrame) -> pd.Series:
    """One text per flow trigger: ``type id cronschedule``."""
    cron = flows["cronschedule"].astype(object).where(flows["cronschedule"].notna(), "")
    return (
        flows["trigger_type"].astype(str)
        + " "
        + flows["trigger_id"].astype(str)
        + " "
        + cron.astype(str)
    ).str.strip()


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
    base = Path(root)
    before, after = pick_snapshots(base, before, after)
    names = ["consumer_syncs", "mapping_values", "flows", "datastore_columns"]
    return diff_frames(load(base, before, tables=names), load(base, after, tables=names))

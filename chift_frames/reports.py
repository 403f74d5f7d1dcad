"""Reports: pure functions from a snapshot's :class:`Frames` to DataFrames. No I/O.

Each function answers one question people bring to a snapshot; its docstring says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .frames import Frames

__all__ = ["Summary", "summarise", "unmapped_by_consumer", "unmapped_by_mapping"]


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

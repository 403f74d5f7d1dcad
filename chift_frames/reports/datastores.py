"""Reports on datastores: the columns consumers' flows define, and whether their types agree."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._query import BOOL, IDS, INT, STRING, Source, run_report

__all__ = ["datastore_inventory"]

_INVENTORY_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "flow_id": STRING,
    "flow_name": STRING,
    "datastore_name": STRING,
    "column_name": STRING,
    "consumer_count": INT,
    "types": IDS,
    "type_count": INT,
    "common_type": STRING,
    "type_disagrees": BOOL,
    "outlier_count": INT,
    "outlier_consumer_ids": IDS,
}


def datastore_inventory(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which datastore columns do the consumers' flows define, and do their types agree?

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, flow, datastore name, column name), ordered by sync name, sync id,
        flow name, flow id, datastore name, the column's first position and its name:

        - ``sync_id``, ``sync_name``, ``flow_id``, ``flow_name``, ``datastore_name``,
          ``column_name``
        - ``consumer_count``: consumers whose flow defines the column
        - ``types``, ``type_count``: the distinct types seen (a sorted list), and how many
        - ``common_type``: the type most consumers use (a tie goes to the first A-Z)
        - ``type_disagrees``: whether more than one type is seen
        - ``outlier_count``, ``outlier_consumer_ids``: consumers using any other type
    """
    return run_report(frames, snapshot, "datastore_inventory", _INVENTORY_COLUMNS)

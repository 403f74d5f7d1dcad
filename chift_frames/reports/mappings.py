"""Reports on mappings: completeness, unmapped sources, and the targets most consumers choose."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._query import FLOAT, IDS, INT, STRING, Source, run_report

__all__ = ["consensus_targets", "mapping_completeness", "unmapped_sources"]

_COMPLETENESS_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "mapping_name": STRING,
    "sub_mapping_name": STRING,
    "consumer_count": INT,
    "complete_count": INT,
    "complete_share": FLOAT,
    "value_count": INT,
    "mapped_count": INT,
    "mapped_share": FLOAT,
}

_UNMAPPED_SOURCE_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "mapping_name": STRING,
    "sub_mapping_name": STRING,
    "source_id": STRING,
    "source_label": STRING,
    "unmapped_consumer_count": INT,
    "consumer_count": INT,
    "unmapped_share": FLOAT,
}

_CONSENSUS_COLUMNS: dict[str, Any] = {
    "sync_id": STRING,
    "sync_name": STRING,
    "mapping_name": STRING,
    "sub_mapping_name": STRING,
    "source_id": STRING,
    "source_label": STRING,
    "consumer_count": INT,
    "consensus_target_id": STRING,
    "consensus_target_label": STRING,
    "consensus_count": INT,
    "consensus_share": FLOAT,
    "target_count": INT,
    "outlier_count": INT,
    "outlier_consumer_ids": IDS,
}


def mapping_completeness(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """How complete is each mapping across the consumers who have it?

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

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
    return run_report(frames, snapshot, "mapping_completeness", _COMPLETENESS_COLUMNS)


def unmapped_sources(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which source values do consumers leave unmapped most often?

    A source is left unmapped by a consumer when one of its values with that ``source_id``
    has no target (``is_mapped`` false). Values without a ``source_id`` are left out; hidden
    values are kept.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, mapping, sub-mapping, source id) left unmapped by at least one
        consumer, most often unmapped first (by count, then share, then the key columns):

        - ``sync_id``, ``sync_name``, ``mapping_name``, ``sub_mapping_name``, ``source_id``
        - ``source_label``: what the sync's definition calls the value (``sync_mapping_labels``
          of the sub-mapping with the same ``sync_id``, ``name`` and ``sub_mapping_name``);
          null when it gives no label
        - ``unmapped_consumer_count``: consumers who left it unmapped
        - ``consumer_count``: consumers whose mapping lists that source
        - ``unmapped_share``: ``unmapped_consumer_count / consumer_count``
    """
    return run_report(frames, snapshot, "unmapped_sources", _UNMAPPED_SOURCE_COLUMNS)


def consensus_targets(frames: Source, *, snapshot: str = "latest") -> pd.DataFrame:
    """Which target do most consumers map each source to, and who maps it elsewhere?

    Only mapped values with a ``source_id`` count. A consumer counts once per source: should
    its mapping list the source twice with different targets, its most frequent target (the
    first A-Z on a tie) stands for it, so ``consensus_count + outlier_count ==
    consumer_count``.

    Parameters
    ----------
    frames : Frames or str or path
        A snapshot.
    snapshot : str, default "latest"
        When ``frames`` is a dataset folder: the snapshot to read (``"latest"`` or an id).

    Returns
    -------
    pandas.DataFrame
        One row per (sync, mapping, sub-mapping, source id) some consumer mapped, ordered by
        sync name, sync id, mapping, sub-mapping and source id:

        - ``sync_id``, ``sync_name``, ``mapping_name``, ``sub_mapping_name``, ``source_id``
        - ``source_label``: what the sync's definition calls the source value; null if nothing
        - ``consumer_count``: consumers who mapped the source
        - ``consensus_target_id``: the target most of them chose (a tie goes to the first A-Z)
        - ``consensus_target_label``: what the sync's definition calls that target; null if
          nothing (targets read from an API route have no label)
        - ``consensus_count``, ``consensus_share``: consumers who chose it, and their share of
          ``consumer_count``
        - ``target_count``: distinct targets chosen
        - ``outlier_count``: consumers who chose another target
        - ``outlier_consumer_ids``: the first 100 of them A-Z (every one when there are no
          more; a list as long as a large account would fill the memory and no one would read
          it: ``mapping_values`` holds the rest)
    """
    return run_report(frames, snapshot, "consensus_targets", _CONSENSUS_COLUMNS)

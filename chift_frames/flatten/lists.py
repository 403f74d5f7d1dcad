"""Flatten the account's list answers: consumers, syncs and executions pages. Pure."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import PayloadError, UnknownFieldsWarning
from ..schema import TABLES, UTC_TS, to_pandas
from ._checks import _CheckError, _datetime, _encodable, _find_surrogate, _kind, _safe_text, _show
from ._unique import Duplicate, repeats, settle, text_key
from .account import flatten_sync_definitions

# the fields of each list endpoint's items in Chift's spec; others are left out, with a warning
_CONSUMER_KEYS = frozenset(
    ("consumerid", "name", "email", "created_on", "internal_reference", "redirect_url", "account")
)
_EXECUTION_KEYS = frozenset(
    ("id", "parentexecutionid", "start", "end", "status", "consumer_id", "flow_id")
)


def _warn_unknown(items: list[dict[str, Any]], known: frozenset[str], what: str) -> None:
    """Warn once about the fields of ``items`` that Chift's spec does not name."""
    unknown = {str(key) for item in items for key in item if key not in known}
    if unknown:
        warnings.warn(
            UnknownFieldsWarning(
                f"{what}: fields not in Chift's spec were left out: "
                + ", ".join(sorted(map(_safe_text, unknown)))
            ),
            stacklevel=3,
        )


def _items(items: Any, what: str) -> list[dict[str, Any]]:
    if type(items) is not list:
        raise PayloadError(f"expected an array of {what}, got {_kind(items)}")
    for i, item in enumerate(items):
        if type(item) is not dict:
            raise PayloadError(f"expected an object, got {_kind(item)}", path=f"[{i}]")
    return items


def _field(item: dict[str, Any], i: int, key: str, kind: type, *, required: bool) -> Any:
    value = item.get(key)
    if value is None and not required:
        return None
    if type(value) is not kind:
        problem = (
            "required field is missing"
            if key not in item
            else (f"expected {_kind(kind())}, got {_show(value)}")
        )
        raise PayloadError(problem, path=f"[{i}].{key}")
    if type(value) is str and not _encodable(value):
        found = _find_surrogate(value)
        assert found is not None
        raise PayloadError(found.message, path=f"[{i}].{key}")
    return value


def flatten_consumers(items: Any, *, duplicates: list[Duplicate] | None = None) -> pd.DataFrame:
    """Flatten the body of ``GET /consumers`` (an array of ``ConsumerItem``) into ``consumers``.

    The spec's ``account`` (the account's own id, the same for every consumer) is left out.
    A consumer listed twice is kept once, its first copy (see
    :mod:`chift_frames.flatten._unique`); each copy left out is appended to ``duplicates``,
    or, without that list, counted in one ``DuplicateEntriesWarning``.

    Raises
    ------
    PayloadError
        When the body is not an array of objects with ``consumerid`` and ``name`` strings.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming the fields not in Chift's spec that were left out.
    DuplicateEntriesWarning
        Once, when a consumer is listed twice and ``duplicates`` is not given.

    Examples
    --------
    >>> flatten_consumers([{"consumerid": "c1", "name": "Bakery"}])[["consumer_id", "name"]]
      consumer_id    name
    0          c1  Bakery
    """
    rows: dict[str, list[Any]] = {name: [] for name in TABLES["consumers"].columns}
    checked = _items(items, "consumers")
    found: list[Duplicate] = []
    skip = repeats(checked, text_key("consumerid"), "consumers", "", found)
    for i, item in enumerate(checked):
        if i in skip:
            continue
        rows["consumer_id"].append(_field(item, i, "consumerid", str, required=True))
        rows["name"].append(_field(item, i, "name", str, required=True))
        for key in ("email", "internal_reference", "redirect_url"):
            rows[key].append(_field(item, i, key, str, required=False))
        created = _field(item, i, "created_on", str, required=False)
        try:
            rows["created_on"].append(_datetime(created, f"[{i}].created_on", nullable=True))
        except _CheckError as exc:
            raise PayloadError(exc.message, path=exc.path) from None
    _warn_unknown(checked, _CONSUMER_KEYS, "GET /consumers")
    settle(found, duplicates, "GET /consumers", stacklevel=2)
    return to_pandas(pa.Table.from_pydict(rows, schema=TABLES["consumers"].schema))


def flatten_syncs(items: Any, *, duplicates: list[Duplicate] | None = None) -> pd.DataFrame:
    """Flatten the body of ``GET /syncs`` (an array of ``ReadSyncItem``) into ``syncs``.

    The flows, triggers, mapping definitions and connections of each sync become tables of
    their own with :func:`chift_frames.flatten.flatten_sync_definitions`, which also says
    how a sync listed twice is kept once (``duplicates``).

    Raises
    ------
    PayloadError
        When the body is not an array of objects with ``syncid``, ``name``, ``consumers``
        and ``flows``, or breaks the spec elsewhere.
    """
    return to_pandas(flatten_sync_definitions(items, duplicates=duplicates)["syncs"])


def flatten_executions(
    sync_id: str, items: Any, *, duplicates: list[Duplicate] | None = None
) -> pa.Table:
    """Flatten the ``items`` of ``GET /syncs/{syncid}/executions`` pages into ``executions``.

    ``status`` is kept as Chift sends it (a free string); ``duration_s`` is ``end - start``.
    An execution id listed twice is kept once, its first copy (see
    :mod:`chift_frames.flatten._unique`); each copy left out is appended to ``duplicates``,
    or, without that list, counted in one ``DuplicateEntriesWarning``.

    Raises
    ------
    PayloadError
        When an item lacks a required field or has a date that is not ISO 8601.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming the fields not in Chift's spec that were left out.
    DuplicateEntriesWarning
        Once, when an execution is listed twice and ``duplicates`` is not given.
    """
    checked = _items(items, "executions")
    found: list[Duplicate] = []
    skip = repeats(checked, text_key("id"), "executions", "", found)
    if skip:
        checked = [item for i, item in enumerate(checked) if i not in skip]
    table = _executions_by_column(sync_id, checked)
    if table is None:  # a value needs the careful path, which says what and where
        table = _executions_by_row(sync_id, checked)
    _warn_unknown(checked, _EXECUTION_KEYS, f"GET /syncs/{sync_id}/executions")
    settle(found, duplicates, f"GET /syncs/{sync_id}/executions", stacklevel=2)
    return table


# An ISO 8601 date-time that datetime.fromisoformat and Arrow read alike: a usual year (no
# overflow once in UTC), seconds and microseconds at most, and an explicit offset.
_PLAIN_DATETIME = r"^(19|20|21)\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$"


def _executions_by_column(sync_id: str, items: list[dict[str, Any]]) -> pa.Table | None:
    """Build ``executions`` a column at a time, or return None when a value is not plain.

    Plain is a string where the spec wants one, and dates as :data:`_PLAIN_DATETIME`; Arrow
    then parses the dates in bulk, to the same instants as :func:`_datetime`. Anything else
    (a missing field, a wrong type, a lone surrogate, an odd date) is left to
    :func:`_executions_by_row`, which raises the precise error or reads it the same way.
    """
    schema = TABLES["executions"].schema
    columns: dict[str, list[Any]] = {
        "execution_id": [item.get("id") for item in items],
        "consumer_id": [item.get("consumer_id") for item in items],
        "flow_id": [item.get("flow_id") for item in items],
        "status": [item.get("status") for item in items],
        "start": [item.get("start") for item in items],
    }
    optional = {
        "parent_execution_id": [item.get("parentexecutionid") for item in items],
        "end": [item.get("end") for item in items],
    }
    if not all(type(v) is str for column in columns.values() for v in column):
        return None
    if not all(v is None or type(v) is str for column in optional.values() for v in column):
        return None
    try:
        text = {name: pa.array(values, pa.string()) for name, values in columns.items()}
        text.update({name: pa.array(values, pa.string()) for name, values in optional.items()})
        for name in ("start", "end"):
            plain = pc.match_substring_regex(text[name], _PLAIN_DATETIME)
            if not pc.all(plain, min_count=0).as_py():  # nulls (no end yet) are plain
                return None
        start = text["start"].cast(UTC_TS)
        end = text["end"].cast(UTC_TS)
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return None
    micros = pc.subtract(end, start).cast(pa.int64())
    longest = pc.max(pc.abs(micros)).as_py()
    if longest is not None and longest > 2**53:  # beyond a float's exact integers: by row
        return None
    arrays = {
        **text,
        "sync_id": pa.array([sync_id] * len(items), pa.string()),
        "start": start,
        "end": end,
        "duration_s": pc.divide(micros.cast(pa.float64()), 1e6),
    }
    return pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema)


def _executions_by_row(sync_id: str, checked: list[dict[str, Any]]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in TABLES["executions"].columns}
    for i, item in enumerate(checked):
        try:
            start = _datetime(item.get("start"), f"[{i}].start", nullable=False)
            end = _datetime(item.get("end"), f"[{i}].end", nullable=True)
        except _CheckError as exc:
            raise PayloadError(exc.message, sync_id=sync_id, path=exc.path) from None
        rows["sync_id"].append(sync_id)
        rows["execution_id"].append(_field(item, i, "id", str, required=True))
        rows["parent_execution_id"].append(
            _field(item, i, "parentexecutionid", str, required=False)
        )
        rows["consumer_id"].append(_field(item, i, "consumer_id", str, required=True))
        rows["flow_id"].append(_field(item, i, "flow_id", str, required=True))
        rows["start"].append(start)
        rows["end"].append(end)
        rows["duration_s"].append(
            None if end is None or start is None else (end - start).total_seconds()
        )
        rows["status"].append(_field(item, i, "status", str, required=True))
    return pa.Table.from_pydict(rows, schema=TABLES["executions"].schema)

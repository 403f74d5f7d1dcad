r"""Flatten consumer-sync responses into the tables of the contract. Pure: no I/O, no clock.

One ``GET /consumers/{consumer_id}/syncs/{syncid}`` response (``SyncConsumerItem`` in Chift's
OpenAPI spec) nests mappings → values and enabled flows → config → datastores → columns. The
walk below touches each mapping, flow and datastore once in Python; the many leaf rows (mapping
values, datastore columns) are gathered with list comprehensions and typed by pyarrow in bulk.
Child rows remember their parent's row number, and every parent key, count and flag is then
derived with vectorised ``take``/``bincount`` instead of per-row Python work.

Isolation: whatever one response holds, it becomes rows or exactly one ``PayloadError`` naming
the consumer, the sync, the exact JSON path and the reason (``enabled_flows[0].trigger.type:
expected one of timer, event, got 42``); with ``on_error="collect"`` it becomes a row of
``payload_errors`` and every other record is still flattened. The walk checks each field it
stores and raises at the first problem. Leaf values (mapping values, datastore columns) are
checked by pyarrow in bulk; when that fails, the batch is halved until the records at fault are
found, and each is walked again with every leaf checked in Python to name the path.

Values JSON can carry but the tables cannot, each a ``PayloadError`` at its path:

- a lone surrogate (the JSON escape ``\ud800``) in a stored string: UTF-8 and Parquet refuse it;
- an integer outside the 64-bit range where the spec says integer (``display_order``);
- a date-time outside the years 1 to 9999 once converted to UTC (``9999-12-31T23:00:00-05:00``);
- a flow ``id`` repeated within one response: it keys the rows of ``flows`` and ``datastores``
  (a ``skip_mappings`` name may repeat, as Chift lists a mapping once per sub-mapping);
- in free-form objects, stored as canonical JSON text (see :mod:`chift_frames.canonical_json`):
  NaN and infinities, lone surrogates, nesting deeper than 128 levels. Integers beyond 2**53 in
  free-form objects are kept losslessly, with all their digits.

A response without ``hidden_source_ids`` (older API versions) is read with an empty list and one
``MissingFieldsWarning`` per call naming the field.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .canonical_json import CanonicalJsonError, json_path, to_canonical_json
from .errors import MissingFieldsWarning, PayloadError, UnknownFieldsWarning
from .frames import Frames
from .schema import TABLES, UTC_TS, to_pandas

__all__ = [
    "PAIR_TABLES",
    "flatten",
    "flatten_consumers",
    "flatten_executions",
    "flatten_syncs",
    "flatten_to_arrow",
    "to_canonical_json",
]

PAIR_TABLES = (
    "consumer_syncs",
    "mappings",
    "mapping_values",
    "skipped_mappings",
    "flows",
    "datastores",
    "datastore_columns",
    "payload_errors",
)
"""The tables :func:`flatten` returns, in order."""

OnError = Literal["raise", "collect"]

log = logging.getLogger(__name__)

# The fields the spec names at each level; anything else is reported, not stored.
_PAYLOAD_KEYS = frozenset({
    "syncid", "sync_name", "status", "status_details", "enabled", "link_createdon",
    "link_mappings", "skip_mappings", "link_metadata", "link_presync", "enabled_flows",
})  # fmt: skip
_MAPPING_KEYS = frozenset({
    "name", "description", "display_order", "challenge_question", "conditions", "values",
    "hidden_source_ids", "sub_mapping_name", "sub_mapping_description",
})  # fmt: skip
_VALUE_KEYS = frozenset(("source_id", "target_id"))
_SKIP_KEYS = frozenset(("name", "skip_reason"))
_FLOW_KEYS = frozenset(["name", "description", "id", "config", "values", "enabled_on", "trigger"])
_TRIGGER_KEYS = frozenset(("id", "type", "cronschedule"))
_CONFIG_KEYS = frozenset(("definitionFields", "doorkeyFields", "customFields", "datastores"))
_DATASTORE_KEYS = frozenset(("id", "name", "status", "definition"))
_DEFINITION_KEYS = frozenset(("columns", "search_column"))
_COLUMN_KEYS = frozenset(("name", "title", "type", "optional"))

# The enums of the spec, in its order (the tests check them against the vendored spec).
_STATUSES = ("active", "inactive")
_SKIP_REASONS = ("presync", "connector_feature", "challenge")
_TRIGGER_TYPES = ("timer", "event")
_DATASTORE_STATUSES = ("active", "inactive")

_INT64 = (-(2**63), 2**63 - 1)


class _CheckError(Exception):
    """A check of the walk failed; carries the JSON path and what is wrong there."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message


def _show(value: Any) -> str:
    """Name a bad value in a message: short, exact for scalars, never a dump of a container."""
    kind = type(value)
    if kind is str:
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        if -(10**30) < value < 10**30:
            return str(value)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if kind is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if kind is dict:
        return "an object"
    if kind is list:
        return "an array"
    return f"a Python {kind.__name__}"


def _need(obj: dict[str, Any], key: str, where: str) -> Any:
    """``obj[key]``, or a clear error naming the missing required field."""
    try:
        return obj[key]
    except KeyError:
        raise _CheckError(f"{where}.{key}" if where else key, "required field is missing") from None


def _str(value: Any, path: str, *, nullable: bool = False) -> str | None:
    if type(value) is str or (nullable and value is None):
        return value
    raise _CheckError(
        path, f"expected a string{' or null' if nullable else ''}, got {_show(value)}"
    )


def _enum(value: Any, path: str, choices: tuple[str, ...], *, nullable: bool = False) -> Any:
    if (type(value) is str and value in choices) or (nullable and value is None):
        return value
    expected = ", ".join(choices) + (" or null" if nullable else "")
    raise _CheckError(path, f"expected one of {expected}, got {_show(value)}")


def _int64(value: Any, path: str) -> int:
    if type(value) is not int:
        raise _CheckError(path, f"expected an integer, got {_show(value)}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise _CheckError(path, f"{_show(value)} is outside the 64-bit integer range")
    return value


def _json(value: Any, path: str) -> str | None:
    """Canonical JSON text of a free-form value; a value it cannot hold is a _CheckError."""
    try:
        return to_canonical_json(value)
    except CanonicalJsonError as exc:
        raise _CheckError(path + exc.path, exc.reason) from None


def _object(value: Any, path: str, *, nullable: bool = True) -> str | None:
    if type(value) is dict or (nullable and value is None):
        return _json(value, path)
    raise _CheckError(
        path, f"expected an object{' or null' if nullable else ''}, got {_show(value)}"
    )


def _objects(value: Any, path: str) -> str | None:
    """Serialise a nullable list of free-form objects (definitionFields and the like)."""
    if value is None:
        return None
    if type(value) is not list:
        raise _CheckError(path, f"expected an array or null, got {_show(value)}")
    for i, item in enumerate(value):
        if type(item) is not dict:
            raise _CheckError(f"{path}[{i}]", f"expected an object, got {_show(item)}")
    return _json(value, path)


def _list(value: Any, path: str, *, nullable: bool = True) -> list[Any]:
    if type(value) is list:
        return value
    if nullable and value is None:
        return []
    raise _CheckError(
        path, f"expected an array{' or null' if nullable else ''}, got {_show(value)}"
    )


def _datetime(value: Any, path: str, *, nullable: bool) -> datetime | None:
    if value is None and nullable:
        return None
    if type(value) is not str:
        expected = "a date-time string" + (" or null" if nullable else "")
        raise _CheckError(path, f"expected {expected}, got {_show(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _CheckError(path, f"{_show(value)} is not an ISO 8601 date-time") from None
    # Chift sends UTC; a value without an offset is read as UTC rather than local time.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC
        raise _CheckError(
            path, f"{_show(value)} is outside the years 1 to 9999 once converted to UTC"
        ) from None


def _kind(value: Any) -> str:
    """Name a value's JSON type, for the flatteners of the account lists."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _to_utc(value: Any, where: str) -> datetime | None:
    """Read a caller-given ``fetched_at``: None, an aware datetime or an ISO 8601 string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"{where}: fetched_at must be a datetime, an ISO string or None")
    if value.tzinfo is None:
        raise ValueError(f"{where}: fetched_at must be timezone-aware (use datetime.now(UTC))")
    return value.astimezone(UTC)


class _Columns:
    """Column lists of every table while records are walked; rows are appended in payload order."""

    LISTS = (  # noqa: SIM905 - one name per column list, grouped by table
        # consumer_syncs
        "cs_consumer cs_sync cs_name cs_status cs_details cs_enabled cs_created cs_meta "
        "cs_presync cs_fetched cs_nmap cs_nskip cs_nflow "
        # mappings (m_rec: row in consumer_syncs)
        "m_rec m_index m_name m_sub m_desc m_subdesc m_order m_question m_cond m_hidden m_nval "
        # mapping_values, and the (first row, positions) of hidden values
        "v_src v_tgt v_hidden "
        # skipped_mappings
        "s_rec s_name s_reason "
        # flows
        "f_rec f_id f_name f_desc f_on f_trig f_type f_cron f_values f_def f_door f_custom f_nds "
        # datastores (d_flow: row in flows)
        "d_flow d_index d_id d_name d_status d_search d_ncol "
        # datastore_columns
        "c_name c_title c_type c_opt"
    ).split()

    cs_consumer: list[Any]
    cs_sync: list[Any]
    cs_name: list[Any]
    cs_status: list[Any]
    cs_details: list[Any]
    cs_enabled: list[Any]
    cs_created: list[Any]
    cs_meta: list[Any]
    cs_presync: list[Any]
    cs_fetched: list[Any]
    cs_nmap: list[Any]
    cs_nskip: list[Any]
    cs_nflow: list[Any]
    m_rec: list[Any]
    m_index: list[Any]
    m_name: list[Any]
    m_sub: list[Any]
    m_desc: list[Any]
    m_subdesc: list[Any]
    m_order: list[Any]
    m_question: list[Any]
    m_cond: list[Any]
    m_hidden: list[Any]
    m_nval: list[Any]
    v_src: list[Any]
    v_tgt: list[Any]
    v_hidden: list[Any]
    s_rec: list[Any]
    s_name: list[Any]
    s_reason: list[Any]
    f_rec: list[Any]
    f_id: list[Any]
    f_name: list[Any]
    f_desc: list[Any]
    f_on: list[Any]
    f_trig: list[Any]
    f_type: list[Any]
    f_cron: list[Any]
    f_values: list[Any]
    f_def: list[Any]
    f_door: list[Any]
    f_custom: list[Any]
    f_nds: list[Any]
    d_flow: list[Any]
    d_index: list[Any]
    d_id: list[Any]
    d_name: list[Any]
    d_status: list[Any]
    d_search: list[Any]
    d_ncol: list[Any]
    c_name: list[Any]
    c_title: list[Any]
    c_type: list[Any]
    c_opt: list[Any]

    def __init__(self, *, strict: bool = False) -> None:
        for name in self.LISTS:
            setattr(self, name, [])
        self._lists = tuple(getattr(self, name) for name in self.LISTS)
        # strict: check every leaf value in Python too (slow; used to explain a failed record)
        self.strict = strict
        self.unknown: set[str] = set()  # field paths the spec does not name, of accepted records
        self.pending_unknown: set[str] = set()  # the same, for the record being walked
        # required fields read as empty (older API versions): path -> how many times
        self.missing: dict[str, int] = {}
        self.pending_missing: dict[str, int] = {}

    def lengths(self) -> list[int]:
        return list(map(len, self._lists))

    def truncate(self, lengths: list[int]) -> None:
        for name, length in zip(self.LISTS, lengths, strict=True):
            del getattr(self, name)[length:]

    def accept(self) -> None:
        """Keep the record just walked: remember its unknown and missing fields."""
        self.unknown |= self.pending_unknown
        for path, n in self.pending_missing.items():
            self.missing[path] = self.missing.get(path, 0) + n

    # -- the walk ------------------------------------------------------------------------------
    def add(self, consumer_id: str, p: Any, fetched_at: datetime | None) -> None:
        self.pending_unknown.clear()
        self.pending_missing.clear()
        if type(p) is not dict:
            raise _CheckError("", f"expected an object (a SyncConsumerItem), got {_show(p)}")
        if not p.keys() <= _PAYLOAD_KEYS:
            self.pending_unknown.update(map(str, p.keys() - _PAYLOAD_KEYS))
        rec = len(self.cs_consumer)
        sync_id = _str(_need(p, "syncid", ""), "syncid")
        status = _enum(p.get("status", "inactive"), "status", _STATUSES)
        enabled = p.get("enabled")
        if enabled is not None and type(enabled) is not bool:
            raise _CheckError("enabled", f"expected a boolean, got {_show(enabled)}")
        mappings = _list(p.get("link_mappings"), "link_mappings")
        skipped = _list(p.get("skip_mappings"), "skip_mappings")
        flows = _list(p.get("enabled_flows"), "enabled_flows")

        self.cs_consumer.append(consumer_id)
        self.cs_sync.append(sync_id)
        self.cs_name.append(_str(_need(p, "sync_name", ""), "sync_name"))
        self.cs_status.append(status)
        self.cs_details.append(_str(p.get("status_details"), "status_details", nullable=True))
        self.cs_enabled.append(enabled)
        self.cs_created.append(
            _datetime(_need(p, "link_createdon", ""), "link_createdon", nullable=False)
        )
        self.cs_meta.append(_object(p.get("link_metadata"), "link_metadata"))
        self.cs_presync.append(_object(p.get("link_presync"), "link_presync"))
        self.cs_fetched.append(fetched_at)
        self.cs_nmap.append(len(mappings))
        self.cs_nskip.append(len(skipped))
        self.cs_nflow.append(len(flows))

        for i, m in enumerate(mappings):
            self._add_mapping(rec, i, m)
        for i, s in enumerate(skipped):
            where = f"skip_mappings[{i}]"
            if type(s) is not dict:
                raise _CheckError(where, f"expected an object, got {_show(s)}")
            if not s.keys() <= _SKIP_KEYS:
                self.pending_unknown.update(f"skip_mappings[].{k}" for k in s.keys() - _SKIP_KEYS)
            name = _str(_need(s, "name", where), f"{where}.name")
            reason = _enum(_need(s, "skip_reason", where), f"{where}.skip_reason", _SKIP_REASONS)
            self.s_rec.append(rec)
            self.s_name.append(name)
            self.s_reason.append(reason)
        # A flow's rows (and its datastores' rows) are keyed by its id: a repeat within one
        # response would give two rows with one key, so it is an error, not a silent duplicate.
        # A skipped mapping's name may repeat (a mapping listed once per sub-mapping): its rows
        # are kept as sent.
        ids: dict[str, int] = {}
        for i, f in enumerate(flows):
            _unique(ids, self._add_flow(rec, i, f), i, "enabled_flows", "id")

    def _add_mapping(self, rec: int, i: int, m: Any) -> None:
        where = f"link_mappings[{i}]"
        if type(m) is not dict:
            raise _CheckError(where, f"expected an object, got {_show(m)}")
        if not m.keys() <= _MAPPING_KEYS:
            self.pending_unknown.update(f"link_mappings[].{k}" for k in m.keys() - _MAPPING_KEYS)
        values = _list(_need(m, "values", where), f"{where}.values", nullable=False)
        if "hidden_source_ids" in m:
            hidden = _list(m["hidden_source_ids"], f"{where}.hidden_source_ids", nullable=False)
        else:  # required by the spec, but older API versions do not send it
            hidden = []
            key = "link_mappings[].hidden_source_ids"
            self.pending_missing[key] = self.pending_missing.get(key, 0) + 1
        order = _int64(m.get("display_order", 0), f"{where}.display_order")
        conditions = m.get("conditions")
        if conditions is not None:
            if type(conditions) is not dict:
                raise _CheckError(
                    f"{where}.conditions", f"expected an object or null, got {_show(conditions)}"
                )
            for key, condition in conditions.items():
                if key != "hideIf":
                    raise _CheckError(
                        f"{where}.conditions", f"expected only the key hideIf, got {_show(key)}"
                    )
                if type(condition) is not dict:
                    raise _CheckError(
                        f"{where}.conditions.hideIf", f"expected an object, got {_show(condition)}"
                    )
        self.m_rec.append(rec)
        self.m_index.append(i)
        self.m_name.append(_str(_need(m, "name", where), f"{where}.name"))
        self.m_sub.append(_str(_need(m, "sub_mapping_name", where), f"{where}.sub_mapping_name"))
        self.m_desc.append(_str(m.get("description"), f"{where}.description", nullable=True))
        self.m_subdesc.append(
            _str(
                m.get("sub_mapping_description"), f"{where}.sub_mapping_description", nullable=True
            )
        )
        self.m_order.append(order)
        self.m_question.append(
            _str(m.get("challenge_question"), f"{where}.challenge_question", nullable=True)
        )
        self.m_cond.append(_json(conditions, f"{where}.conditions"))
        self.m_hidden.append(hidden)
        self.m_nval.append(len(values))
        if self.strict:
            for j, h in enumerate(hidden):
                _str(h, f"{where}.hidden_source_ids[{j}]")
            for j, v in enumerate(values):
                at = f"{where}.values[{j}]"
                if type(v) is not dict:
                    raise _CheckError(at, f"expected an object, got {_show(v)}")
                _str(v.get("source_id"), f"{at}.source_id", nullable=True)
                _str(v.get("target_id"), f"{at}.target_id", nullable=True)
        # The leaf rows: typed later by pyarrow, which rejects anything that is not a string.
        keys = set().union(*values)
        if not keys <= _VALUE_KEYS:
            self.pending_unknown.update(f"link_mappings[].values[].{k}" for k in keys - _VALUE_KEYS)
        sources = [v.get("source_id") for v in values]
        self.v_src += sources
        self.v_tgt += [v.get("target_id") for v in values]
        if hidden:
            hidden_set = set(hidden)
            self.v_hidden.append(
                (
                    len(self.v_src) - len(values),
                    [j for j, s in enumerate(sources) if s in hidden_set],
                )
            )

    def _add_flow(self, rec: int, i: int, f: Any) -> str:
        """Add one enabled flow and its datastores; return its id."""
        where = f"enabled_flows[{i}]"
        if type(f) is not dict:
            raise _CheckError(where, f"expected an object, got {_show(f)}")
        if not f.keys() <= _FLOW_KEYS:
            self.pending_unknown.update(f"enabled_flows[].{k}" for k in f.keys() - _FLOW_KEYS)
        flow_id = _str(_need(f, "id", where), f"{where}.id")
        trigger = _need(f, "trigger", where)
        if type(trigger) is not dict:
            raise _CheckError(f"{where}.trigger", f"expected an object, got {_show(trigger)}")
        if not trigger.keys() <= _TRIGGER_KEYS:
            self.pending_unknown.update(
                f"enabled_flows[].trigger.{k}" for k in trigger.keys() - _TRIGGER_KEYS
            )
        trigger_type = _enum(
            _need(trigger, "type", f"{where}.trigger"), f"{where}.trigger.type", _TRIGGER_TYPES
        )
        config = f.get("config")
        if config is None:
            config = {}
        elif type(config) is not dict:
            raise _CheckError(f"{where}.config", f"expected an object or null, got {_show(config)}")
        elif not config.keys() <= _CONFIG_KEYS:
            self.pending_unknown.update(
                f"enabled_flows[].config.{k}" for k in config.keys() - _CONFIG_KEYS
            )
        flow_row = len(self.f_rec)
        datastores = _list(config.get("datastores"), f"{where}.config.datastores")
        self.f_rec.append(rec)
        self.f_id.append(flow_id)
        self.f_name.append(_str(_need(f, "name", where), f"{where}.name"))
        self.f_desc.append(_str(f.get("description"), f"{where}.description", nullable=True))
        self.f_on.append(_datetime(f.get("enabled_on"), f"{where}.enabled_on", nullable=True))
        self.f_trig.append(_str(_need(trigger, "id", f"{where}.trigger"), f"{where}.trigger.id"))
        self.f_type.append(trigger_type)
        self.f_cron.append(
            _str(trigger.get("cronschedule"), f"{where}.trigger.cronschedule", nullable=True)
        )
        self.f_values.append(_object(_need(f, "values", where), f"{where}.values", nullable=False))
        self.f_def.append(
            _objects(config.get("definitionFields"), f"{where}.config.definitionFields")
        )
        self.f_door.append(_objects(config.get("doorkeyFields"), f"{where}.config.doorkeyFields"))
        self.f_custom.append(_objects(config.get("customFields"), f"{where}.config.customFields"))
        self.f_nds.append(len(datastores))
        for d, ds in enumerate(datastores):
            self._add_datastore(flow_row, d, ds, f"{where}.config.datastores[{d}]")
        return flow_id  # type: ignore[return-value]

    def _add_datastore(self, flow_row: int, d: int, ds: Any, where: str) -> None:
        if type(ds) is not dict:
            raise _CheckError(where, f"expected an object, got {_show(ds)}")
        if not ds.keys() <= _DATASTORE_KEYS:
            self.pending_unknown.update(
                f"enabled_flows[].config.datastores[].{k}" for k in ds.keys() - _DATASTORE_KEYS
            )
        status = _enum(
            ds.get("status", "active"), f"{where}.status", _DATASTORE_STATUSES, nullable=True
        )
        definition = _need(ds, "definition", where)
        if type(definition) is not dict:
            raise _CheckError(f"{where}.definition", f"expected an object, got {_show(definition)}")
        if not definition.keys() <= _DEFINITION_KEYS:
            self.pending_unknown.update(
                f"enabled_flows[].config.datastores[].definition.{k}"
                for k in definition.keys() - _DEFINITION_KEYS
            )
        columns = _list(
            _need(definition, "columns", f"{where}.definition"),
            f"{where}.definition.columns",
            nullable=False,
        )
        self.d_flow.append(flow_row)
        self.d_index.append(d)
        self.d_id.append(_str(ds.get("id"), f"{where}.id", nullable=True))
        self.d_name.append(_str(_need(ds, "name", where), f"{where}.name"))
        self.d_status.append(status)
        self.d_search.append(
            _str(
                definition.get("search_column"), f"{where}.definition.search_column", nullable=True
            )
        )
        self.d_ncol.append(len(columns))
        if self.strict:
            for n, c in enumerate(columns):
                at = f"{where}.definition.columns[{n}]"
                if type(c) is not dict:
                    raise _CheckError(at, f"expected an object, got {_show(c)}")
                for key in ("name", "title", "type"):
                    _str(_need(c, key, at), f"{at}.{key}")
                optional = c.get("optional")
                if optional is not None and type(optional) is not bool:
                    raise _CheckError(
                        f"{at}.optional", f"expected a boolean or null, got {_show(optional)}"
                    )
        keys = set().union(*columns)
        if not keys <= _COLUMN_KEYS:
            self.pending_unknown.update(
                f"enabled_flows[].config.datastores[].definition.columns[].{k}"
                for k in keys - _COLUMN_KEYS
            )
        self.c_name += [c["name"] for c in columns]
        self.c_title += [c["title"] for c in columns]
        self.c_type += [c["type"] for c in columns]
        self.c_opt += [c.get("optional", False) for c in columns]

    # -- typing ------------------------------------------------------------------------------
    def to_tables(self) -> dict[str, pa.Table]:
        """Build every table; raises pyarrow's ArrowInvalid/ArrowTypeError on a bad leaf value."""
        s = TABLES
        n_rec, n_map, n_ds = len(self.cs_consumer), len(self.m_rec), len(self.d_flow)
        consumer = pa.array(self.cs_consumer, pa.string())
        sync = pa.array(self.cs_sync, pa.string())

        # mappings and their values
        m_rec = np.asarray(self.m_rec, dtype=np.int64)
        m_nval = np.asarray(self.m_nval, dtype=np.int64)
        m_name = pa.array(self.m_name, pa.string())
        m_sub = pa.array(self.m_sub, pa.string())
        m_index = np.asarray(self.m_index, dtype=np.int64)
        v_map = np.repeat(np.arange(n_map, dtype=np.int64), m_nval)
        v_rec = m_rec[v_map]
        target = pa.array(self.v_tgt, pa.string())
        is_mapped = pc.fill_null(pc.not_equal(target, ""), False)
        mapped = is_mapped.to_numpy(zero_copy_only=False)
        is_hidden = np.zeros(len(v_map), dtype=bool)
        for first, positions in self.v_hidden:
            is_hidden[np.asarray(positions, dtype=np.int64) + first] = True
        v_start = np.concatenate(([0], np.cumsum(m_nval)[:-1])) if n_map else m_nval
        m_unmapped = m_nval - np.bincount(v_map, weights=mapped, minlength=n_map).astype(np.int64)

        # flows, datastores, columns
        f_rec = np.asarray(self.f_rec, dtype=np.int64)
        f_id = pa.array(self.f_id, pa.string())
        d_flow = np.asarray(self.d_flow, dtype=np.int64)
        d_ncol = np.asarray(self.d_ncol, dtype=np.int64)
        d_id = pa.array(self.d_id, pa.string())
        d_name = pa.array(self.d_name, pa.string())
        d_search = pa.array(self.d_search, pa.string())
        c_ds = np.repeat(np.arange(n_ds, dtype=np.int64), d_ncol)
        c_flow = d_flow[c_ds]
        c_name = pa.array(self.c_name, pa.string())
        c_start = np.concatenate(([0], np.cumsum(d_ncol)[:-1])) if n_ds else d_ncol

        def per(parent: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(parent, weights=weights, minlength=n).astype(np.int64)

        rec_values = per(m_rec, n_rec, m_nval.astype(np.float64))
        rec_unmapped = per(m_rec, n_rec, m_unmapped.astype(np.float64))

        def table(name: str, columns: list[Any]) -> pa.Table:
            schema = s[name].schema
            arrays = [
                c if isinstance(c, pa.Array | pa.ChunkedArray) else pa.array(c, field.type)
                for c, field in zip(columns, schema, strict=True)
            ]
            for array, field in zip(arrays, schema, strict=True):
                if not field.nullable and array.null_count:
                    raise pa.ArrowInvalid(f"{name}.{field.name} holds a null")
            return pa.Table.from_arrays(arrays, schema=schema)

        return {
            "consumer_syncs": table(
                "consumer_syncs",
                [
                    consumer,
                    sync,
                    self.cs_name,
                    self.cs_status,
                    self.cs_details,
                    self.cs_enabled,
                    self.cs_created,
                    self.cs_meta,
                    self.cs_presync,
                    self.cs_nmap,
                    rec_values,
                    rec_unmapped,
                    self.cs_nskip,
                    self.cs_nflow,
                    self.cs_fetched,
                ],
            ),
            "mappings": table(
                "mappings",
                [
                    consumer.take(m_rec),
                    sync.take(m_rec),
                    m_index,
                    m_name,
                    m_sub,
                    self.m_desc,
                    self.m_subdesc,
                    self.m_order,
                    self.m_question,
                    self.m_cond,
                    self.m_hidden,
                    m_nval,
                    m_unmapped,
                ],
            ),
            "mapping_values": table(
                "mapping_values",
                [
                    consumer.take(v_rec),
                    sync.take(v_rec),
                    m_index[v_map],
                    np.arange(len(v_map), dtype=np.int64) - v_start[v_map],
                    m_name.take(v_map),
                    m_sub.take(v_map),
                    self.v_src,
                    target,
                    is_mapped,
                    is_hidden,
                ],
            ),
            "skipped_mappings": table(
                "skipped_mappings",
                [
                    consumer.take(pa.array(self.s_rec, pa.int64())),
                    sync.take(pa.array(self.s_rec, pa.int64())),
                    self.s_name,
                    self.s_reason,
                ],
            ),
            "flows": table(
                "flows",
                [
                    consumer.take(f_rec),
                    sync.take(f_rec),
                    f_id,
                    self.f_name,
                    self.f_desc,
                    self.f_on,
                    self.f_trig,
                    self.f_type,
                    self.f_cron,
                    self.f_values,
                    self.f_def,
                    self.f_door,
                    self.f_custom,
                    self.f_nds,
                ],
            ),
            "datastores": table(
                "datastores",
                [
                    consumer.take(f_rec[d_flow]),
                    sync.take(f_rec[d_flow]),
                    f_id.take(d_flow),
                    self.d_index,
                    d_id,
                    d_name,
                    self.d_status,
                    d_search,
                    d_ncol,
                ],
            ),
            "datastore_columns": table(
                "datastore_columns",
                [
                    consumer.take(f_rec[c_flow]),
                    sync.take(f_rec[c_flow]),
                    f_id.take(c_flow),
                    np.asarray(self.d_index, dtype=np.int64)[c_ds],
                    d_id.take(c_ds),
                    d_name.take(c_ds),
                    np.arange(len(c_ds), dtype=np.int64) - c_start[c_ds],
                    c_name,
                    self.c_title,
                    self.c_type,
                    self.c_opt,
                    pc.fill_null(pc.equal(c_name, d_search.take(c_ds)), False),
                ],
            ),
        }


def _unique(seen: dict[str, int], key: Any, i: int, where: str, field: str) -> None:
    """Remember ``key`` at position ``i``; a key seen before is a _CheckError."""
    first = seen.setdefault(key, i)
    if first != i:
        raise _CheckError(
            f"{where}[{i}].{field}",
            f"{_show(key)} repeats {where}[{first}].{field}, and rows are keyed by it",
        )


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe_text(text: Any) -> Any:
    r"""Return text UTF-8 (so Parquet) can hold: lone surrogates become ``\ud800`` escapes."""
    if type(text) is not str or _encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _find_surrogate(value: Any) -> _CheckError | None:
    """Find the first string or key (in document order) that holds a lone surrogate."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        parts, item = stack.pop()
        if type(item) is str:
            if not _encodable(item):
                bad = next(c for c in item if "\ud800" <= c <= "\udfff")
                return _CheckError(
                    json_path(parts).lstrip("."),
                    f"holds a lone surrogate ({bad!a}), which UTF-8 cannot encode",
                )
        elif type(item) is dict:
            for key in item:
                if type(key) is str and not _encodable(key):
                    return _CheckError(
                        json_path(parts).lstrip("."),
                        f"has a key holding a lone surrogate ({_show(key)})",
                    )
            stack += [((*parts, k), v) for k, v in reversed(item.items())]
        elif type(item) is list:
            stack += [((*parts, j), v) for j, v in reversed(list(enumerate(item)))]
    return None


@cache
def _validator() -> Any:
    import jsonschema

    text = (files("chift_frames") / "spec" / "sync_consumer_item.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _find_problem(payload: Any) -> _CheckError | None:
    """Find what stops ``payload`` from being flattened: the exact path and the reason.

    The walk again, checking every leaf value in Python; then strings UTF-8 cannot hold; then
    the vendored spec, as a last resort. None when nothing is found.
    """
    columns = _Columns(strict=True)
    try:
        columns.add("-", payload, None)
    except _CheckError as exc:
        return exc
    except Exception:  # the searches below may still find the cause
        pass
    found = _find_surrogate(payload)
    if found is not None:
        return found
    try:
        error = _best_match(payload)
    except RecursionError:
        return None
    if error is None:
        return None
    path = _json_path(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}" if path else missing[0]
            message = "required field is missing"
    if len(message) > 300:
        message = message[:297] + "..."
    return _CheckError(path, message)


def _best_match(payload: Any) -> Any:
    """Return jsonschema's most relevant error for ``payload`` against the spec, or None."""
    import jsonschema

    return jsonschema.exceptions.best_match(_validator().iter_errors(payload))


def _explain(consumer_id: Any, payload: Any, exc: BaseException | None) -> PayloadError | None:
    """Say what is wrong with a record that could not be flattened; None if nothing is found."""
    sync_id = payload.get("syncid") if isinstance(payload, dict) else None
    sync_id = sync_id if isinstance(sync_id, str) else None
    found = exc if isinstance(exc, _CheckError) else _find_problem(payload)
    if found is None:
        return None
    return PayloadError(found.message, consumer_id=consumer_id, sync_id=sync_id, path=found.path)


def _unexplained(consumer_id: Any, payload: Any, exc: BaseException) -> PayloadError:
    """Describe a record that fails for a reason no check names: kept apart, called a bug."""
    log.error("a record of consumer %r could not be flattened", consumer_id, exc_info=exc)
    sync_id = payload.get("syncid") if isinstance(payload, dict) else None
    text = f"{type(exc).__name__}: {exc}"
    text = text if len(text) <= 200 else text[:197] + "..."
    return PayloadError(
        f"could not be flattened ({text}); this is a bug in chift_frames, please report it",
        consumer_id=consumer_id,
        sync_id=sync_id if isinstance(sync_id, str) else None,
    )


def _json_path(parts: Iterable[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def flatten(
    records: Iterable[tuple[str, Any] | tuple[str, Any, Any]],
    *,
    fetched_at: datetime | str | None = None,
    on_error: OnError = "raise",
) -> Frames:
    """Flatten consumer-sync responses into the tables of the contract.

    Parameters
    ----------
    records : iterable of tuple
        ``(consumer_id, payload)`` pairs, where ``payload`` is the decoded JSON of
        ``GET /consumers/{consumer_id}/syncs/{syncid}``; a third item, when present, is that
        record's ``fetched_at`` and overrides the argument.
    fetched_at : datetime or str, optional
        When the responses were fetched (timezone-aware, or an ISO 8601 string with an
        offset). Flattening never reads the clock: without it ``fetched_at`` stays null.
    on_error : {"raise", "collect"}, default "raise"
        What a record that breaks the spec does: raise :class:`PayloadError`, or become a row
        of the ``payload_errors`` table while every other record is still flattened.

    Returns
    -------
    Frames
        The tables of :data:`PAIR_TABLES`: ``consumer_syncs``, ``mappings``, ``mapping_values``,
        ``skipped_mappings``, ``flows``, ``datastores``, ``datastore_columns`` and
        ``payload_errors``, rows in payload order.

    Raises
    ------
    PayloadError
        With ``on_error="raise"``, for the first record that breaks the spec; it names the
        consumer, the sync and the JSON path.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming every field the spec does not know; those fields are left out.
    MissingFieldsWarning
        Once, naming a required field that older API versions omit (``hidden_source_ids``);
        it is read as empty.

    Examples
    --------
    >>> payload = {"syncid": "s1", "sync_name": "POS", "link_createdon": "2026-02-01T10:00:00Z",
    ...            "link_mappings": [{"name": "Tax", "sub_mapping_name": "VAT",
    ...                               "hidden_source_ids": [],
    ...                               "values": [{"source_id": "V21", "target_id": "451"},
    ...                                          {"source_id": "V6", "target_id": None}]}]}
    >>> frames = flatten([("c1", payload)])
    >>> frames.mapping_values[["source_id", "is_mapped"]].to_dict("records")
    [{'source_id': 'V21', 'is_mapped': True}, {'source_id': 'V6', 'is_mapped': False}]
    >>> int(frames.consumer_syncs.unmapped_count[0])
    1
    """
    tables = flatten_to_arrow(records, fetched_at=fetched_at, on_error=on_error, stacklevel=3)
    return Frames({name: to_pandas(tables[name]) for name in PAIR_TABLES})


def flatten_to_arrow(
    records: Iterable[tuple[str, Any] | tuple[str, Any, Any]],
    *,
    fetched_at: datetime | str | None = None,
    on_error: OnError = "raise",
    stacklevel: int = 2,
) -> dict[str, pa.Table]:
    """Like :func:`flatten`, but return arrow tables with the pinned schemas.

    The fetch writes these straight to Parquet, without a round trip through pandas.
    """
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    default_fetched = _to_utc(fetched_at, "flatten")
    accepted: list[tuple[str, Any, datetime | None]] = []
    errors: list[PayloadError] = []
    columns = _walk(records, default_fetched, on_error, accepted, errors)
    try:
        tables = columns.to_tables()
    except MemoryError:
        raise
    except Exception as exc:
        # A leaf value pyarrow cannot type (a wrong type, a lone surrogate): find the records
        # at fault by halving the batch, explain each, then build the tables of the others.
        bad = _failing(accepted, 0)
        if not bad:
            raise  # every record types alone: a bug in chift_frames, not bad input
        for i in bad:
            consumer_id, payload, _ = accepted[i]
            explained = _explain(consumer_id, payload, None)
            if explained is None:
                if on_error == "raise":
                    raise
                explained = _unexplained(consumer_id, payload, exc)
            if on_error == "raise":
                raise explained from None
            errors.append(explained)
        skip = set(bad)
        kept = [r for i, r in enumerate(accepted) if i not in skip]
        columns = _walk(kept, None, "raise", [], errors)
        tables = columns.to_tables()
    if columns.unknown:
        warnings.warn(
            UnknownFieldsWarning(
                "fields that Chift's OpenAPI spec does not name were left out of the tables: "
                + ", ".join(sorted(map(_safe_text, columns.unknown)))
            ),
            stacklevel=stacklevel,
        )
    if columns.missing:
        warnings.warn(
            MissingFieldsWarning(
                "fields that Chift's OpenAPI spec requires were missing and read as empty: "
                + ", ".join(f"{path} ({n} times)" for path, n in sorted(columns.missing.items()))
            ),
            stacklevel=stacklevel,
        )
    tables["payload_errors"] = pa.Table.from_pydict(
        {
            "consumer_id": [
                _safe_text(e.consumer_id) if isinstance(e.consumer_id, str) else None
                for e in errors
            ],
            "sync_id": [_safe_text(e.sync_id) for e in errors],
            "path": [_safe_text(e.path) for e in errors],
            "message": [_safe_text(e.message) for e in errors],
        },
        schema=TABLES["payload_errors"].schema,
    )
    return tables


def _failing(records: list[tuple[str, Any, datetime | None]], offset: int) -> list[int]:
    """Positions (plus ``offset``) of the records whose own tables cannot be built."""
    columns = _Columns()
    for consumer_id, payload, fetched in records:
        columns.add(consumer_id, payload, fetched)
    try:
        columns.to_tables()
    except MemoryError:
        raise
    except Exception:
        if len(records) == 1:
            return [offset]
        mid = len(records) // 2
        return _failing(records[:mid], offset) + _failing(records[mid:], offset + mid)
    return []


def _walk(
    records: Iterable[Any],
    default_fetched: datetime | None,
    on_error: OnError,
    accepted: list[tuple[str, Any, datetime | None]],
    errors: list[PayloadError],
) -> _Columns:
    columns = _Columns()
    for n, record in enumerate(records):
        if not isinstance(record, tuple | list) or len(record) not in (2, 3):
            raise TypeError(
                f"record {n}: expected (consumer_id, payload) or (consumer_id, payload, "
                f"fetched_at), got {type(record).__name__}"
            )
        consumer_id, payload = record[0], record[1]
        fetched = _to_utc(record[2], f"record {n}") if len(record) == 3 else default_fetched
        lengths = columns.lengths()
        try:
            if type(consumer_id) is not str or not consumer_id or not _encodable(consumer_id):
                raise PayloadError(
                    f"record {n}: consumer_id must be a non-empty string, got {consumer_id!r}",
                    consumer_id=consumer_id,
                )
            columns.add(consumer_id, payload, fetched)
        except PayloadError as error:
            columns.truncate(lengths)
            if on_error == "raise":
                raise
            errors.append(error)
            continue
        except MemoryError:
            raise
        except Exception as exc:  # whatever a record holds, it cannot stop the others
            columns.truncate(lengths)
            explained = _explain(consumer_id, payload, exc)
            if explained is None:
                if on_error == "raise":
                    raise  # the payload is valid: this is a bug in chift_frames, not bad input
                explained = _unexplained(consumer_id, payload, exc)
            if on_error == "raise":
                raise explained from None
            errors.append(explained)
            continue
        columns.accept()
        accepted.append((consumer_id, payload, fetched))
    return columns


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


def flatten_consumers(items: Any) -> pd.DataFrame:
    """Flatten the body of ``GET /consumers`` (an array of ``ConsumerItem``) into ``consumers``.

    The spec's ``account`` (the account's own id, the same for every consumer) is left out.

    Raises
    ------
    PayloadError
        When the body is not an array of objects with ``consumerid`` and ``name`` strings.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming the fields not in Chift's spec that were left out.

    Examples
    --------
    >>> flatten_consumers([{"consumerid": "c1", "name": "Bakery"}])[["consumer_id", "name"]]
      consumer_id    name
    0          c1  Bakery
    """
    rows: dict[str, list[Any]] = {name: [] for name in TABLES["consumers"].columns}
    checked = _items(items, "consumers")
    for i, item in enumerate(checked):
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
    return to_pandas(pa.Table.from_pydict(rows, schema=TABLES["consumers"].schema))


def flatten_syncs(items: Any) -> pd.DataFrame:
    """Flatten the body of ``GET /syncs`` (an array of ``ReadSyncItem``) into ``syncs``.

    The flows, triggers, mapping definitions and connections of each sync become tables of
    their own with :func:`chift_frames.flatten_account.flatten_sync_definitions`.

    Raises
    ------
    PayloadError
        When the body is not an array of objects with ``syncid``, ``name``, ``consumers``
        and ``flows``, or breaks the spec elsewhere.
    """
    from .flatten_account import flatten_sync_definitions  # it builds on this module

    return to_pandas(flatten_sync_definitions(items)["syncs"])


def flatten_executions(sync_id: str, items: Any) -> pa.Table:
    """Flatten the ``items`` of ``GET /syncs/{syncid}/executions`` pages into ``executions``.

    ``status`` is kept as Chift sends it (a free string); ``duration_s`` is ``end - start``.

    Raises
    ------
    PayloadError
        When an item lacks a required field or has a date that is not ISO 8601.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming the fields not in Chift's spec that were left out.
    """
    checked = _items(items, "executions")
    table = _executions_by_column(sync_id, checked)
    if table is None:  # a value needs the careful path, which says what and where
        table = _executions_by_row(sync_id, checked)
    _warn_unknown(checked, _EXECUTION_KEYS, f"GET /syncs/{sync_id}/executions")
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

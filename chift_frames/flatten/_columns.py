"""The columns of the pair tables while responses are walked, and the spec's fields. Pure.

:class:`_Columns` walks each mapping, flow and datastore of a response once, keeping the values
in one list per column; :func:`chift_frames.flatten.flatten_to_arrow` types them in bulk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TABLES
from ._checks import (
    _CheckError,
    _datetime,
    _enum,
    _int64,
    _json,
    _list,
    _need,
    _object,
    _objects,
    _show,
    _str,
)
from ._typed import SyncConsumerItem, _Checked, check_typed, flush_typed

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
        # typed records (see _typed), checked; their rows join the lists at the next flush
        self.typed: list[_Checked] = []

    def add_typed(self, consumer_id: str, item: SyncConsumerItem, fetched: datetime | None) -> None:
        """Add a typed record; raises, having changed nothing, when the dict path must say why."""
        self.typed.append(check_typed(consumer_id, item, fetched))

    def flush(self) -> None:
        """Append the rows of the typed records added since the last flush, in their order."""
        if self.typed:
            run, self.typed = self.typed, []
            flush_typed(self, run)

    def lengths(self) -> list[int]:
        self.flush()
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
        self.flush()
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
        self.flush()
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
        # one numpy assignment for every hidden value, rather than one per mapping
        hidden_at = [first + j for first, positions in self.v_hidden for j in positions]
        is_hidden[np.asarray(hidden_at, dtype=np.int64)] = True
        v_start = np.concatenate(([0], np.cumsum(m_nval)[:-1])) if n_map else m_nval
        source = pa.array(self.v_src, pa.string())
        # a pair's code from its ids, not its record: a batch may list a pair twice
        pair, _ = _dense(_codes(consumer), _codes(sync), n_rec + 1)
        repeats = _source_repeats(pair[m_rec], m_name, m_sub, v_map, source)
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
                    source,
                    target,
                    is_mapped,
                    is_hidden,
                    repeats,
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


def _codes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return dense int64 codes of ``values``: equal values, equal codes; null has its own."""
    if isinstance(values, pa.ChunkedArray):  # past 2 GiB of text: one chunk, 64-bit offsets
        values = values.cast(pa.large_string()).combine_chunks()
    encoded = values.dictionary_encode(null_encoding="encode")
    codes: np.ndarray = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes


def _dense(a: np.ndarray, b: np.ndarray, b_size: int) -> tuple[np.ndarray, int]:
    """Return dense codes of the pairs ``(a, b)``, ``b`` below ``b_size``; and how many.

    The pairs are numbered as ``a * b_size + b``, which stays within int64 for any batch that
    fits in memory (``a`` and ``b_size`` are at most the batch's rows), then renumbered densely
    so that the next step multiplies small numbers again.
    """
    if not len(a):
        return a, 0
    unique, inverse = np.unique(a * max(b_size, 1) + b, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), len(unique)


def _source_repeats(
    m_pair: np.ndarray, m_name: pa.Array, m_sub: pa.Array, v_map: np.ndarray, source: pa.Array
) -> np.ndarray:
    """Return whether each value's pair gives its source another value in a same-named mapping.

    ``m_pair`` codes each mapping's (consumer, sync) pair. A pair's mappings with the same
    ``name`` and ``sub_mapping_name`` are one mapping to the reports; a value repeats when
    another value of those lists the same (non-null) source. Vectorised over the whole batch:
    a few sorts of integer codes, no Python loop per value.
    """
    if not len(source):
        return np.zeros(0, dtype=bool)
    name, _ = _dense(m_pair, _codes(m_name), len(m_name))
    group, _ = _dense(name, _codes(m_sub), len(m_sub))
    key, _ = _dense(group[v_map], _codes(source), len(source) + 1)
    return _repeated(key, source)


def _repeated(key: np.ndarray, source: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return whether each row's ``key`` occurs more than once, for rows with a source."""
    counts = np.bincount(key, minlength=1)
    known: np.ndarray = source.is_valid().to_numpy(zero_copy_only=False)
    repeats: np.ndarray = (counts[key] > 1) & known
    return repeats


def source_repeats_of(values: pa.Table) -> np.ndarray:
    """Return ``source_repeats`` for rows of ``mapping_values`` that lack it.

    The same rule as when flattening, from the stored columns: a value repeats when another
    row with the same consumer, sync, mapping name, sub-mapping name and (non-null) source
    exists in ``values``, which must hold every value of its pairs.
    """
    key = np.zeros(values.num_rows, dtype=np.int64)
    for column in ("consumer_id", "sync_id", "mapping_name", "sub_mapping_name", "source_id"):
        key, _ = _dense(key, _codes(values[column]), values.num_rows + 1)
    return _repeated(key, values["source_id"])

"""Flatten the account-level answers: sync definitions and consumers' connections. Pure.

``GET /syncs`` (``ReadSyncItem[]``) says what each sync offers: its flows and their triggers,
its mapping definitions with the labels of fixed values, and the connections it requires.
``GET /consumers/{consumer_id}/connections`` (``ConnectionItem[]``) says which tools a consumer
has connected, and whether each works. Both bodies are small (one per account, one per
consumer), so they are walked in plain Python. A body that breaks the spec raises
:class:`~chift_frames.errors.PayloadError` with the JSON path; fields the spec does not name are
left out with one :class:`~chift_frames.errors.UnknownFieldsWarning` per body.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ..canonical_json import CanonicalJsonError, to_canonical_json
from ..errors import PayloadError, UnknownFieldsWarning
from ..schema import TABLES
from ._checks import _kind, _show
from ._unique import Duplicate, repeats, settle, text_key

__all__ = ["SYNC_TABLES", "connection_rows", "flatten_connections", "flatten_sync_definitions"]

SYNC_TABLES = (
    "syncs",
    "sync_flows",
    "sync_flow_triggers",
    "sync_mappings",
    "sync_mapping_labels",
    "sync_connections",
)
"""The tables :func:`flatten_sync_definitions` returns, in order."""

_INT64_MAX = 2**63 - 1

# The fields the spec names at each level; anything else is reported, not stored.
_SYNC_KEYS = frozenset(
    (
        "syncid", "name", "config", "connections", "mappings", "consumers", "flows", "module",
        "object_kinds",
    )
)  # fmt: skip
_FLOW_KEYS = frozenset(("id", "name", "description", "execution", "config", "triggers"))
_TRIGGER_KEYS = frozenset(
    ("id", "type", "cronschedules", "visible", "definitionFields", "options", "priority")
)
_MAPPING_KEYS = frozenset(
    ("name", "description", "display_order", "challenge_question", "conditions", "sub_mappings")
)
_SUB_MAPPING_KEYS = frozenset(
    (
        "name", "description", "display_order", "challenge_question", "conditions",
        "source_field", "target_field", "display_delete", "logic", "manual_mapping",
    )
)  # fmt: skip
_FIELD_KEYS = frozenset(
    ("name", "type", "display_condition", "values", "api_route", "connection_type")
)
_LABEL_KEYS = frozenset(("id", "label"))
_SYNC_CONNECTION_KEYS = frozenset(("one_api", "connection_type", "display_order", "display_hidden"))
_CONNECTION_KEYS = frozenset(
    (
        "connectionid", "name", "integration", "integrationid", "api", "data", "status",
        "agent", "datalayer",
    )
)  # fmt: skip

_TRIGGER_TYPES = ("timer", "event")
_PRIORITIES = ("NORMAL", "MEDIUM", "HIGH")
_EXECUTION_TYPES = ("code", "module")
_FIELD_TYPES = ("fixed", "api")
_CONNECTION_STATUSES = ("active", "inactive")
_AGENT_STATUSES = ("up", "down")
_DATALAYER_STATUSES = ("not_enabled", "syncing", "ready", "stale")


class _Walk:
    """Reads typed fields with their JSON path, and gathers the fields the spec leaves out."""

    def __init__(self, consumer_id: str | None = None) -> None:
        self.consumer_id = consumer_id
        self.unknown: set[str] = set()
        self.duplicates: list[Duplicate] = []  # copies of entries left out, as repeats

    def fail(self, path: str, message: str, sync_id: str | None = None) -> PayloadError:
        return PayloadError(message, consumer_id=self.consumer_id, sync_id=sync_id, path=path)

    def obj(self, value: Any, path: str, known: frozenset[str], shape: str) -> dict[str, Any]:
        if type(value) is not dict:
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        extra = value.keys() - known
        if extra:
            self.unknown.update(f"{shape}.{key}" for key in extra)
        return value

    def items(self, value: Any, path: str, *, nullable: bool) -> list[Any]:
        if type(value) is list:
            return value
        if value is None and nullable:
            return []
        raise self.fail(
            path, f"expected an array{' or null' if nullable else ''}, got {_kind(value)}"
        )

    def get(
        self,
        item: dict[str, Any],
        key: str,
        path: str,
        kind: type,
        *,
        required: bool = False,
        choices: tuple[str, ...] | None = None,
    ) -> Any:
        where = f"{path}.{key}" if path else key
        value = item.get(key)
        if value is None:
            if required:
                problem = "required field is missing" if key not in item else "got null"
                raise self.fail(where, f"{problem}, expected {_kind(kind())}")
            return None
        if type(value) is not kind:
            wanted = f"one of {', '.join(choices)}" if choices else _kind(kind())
            raise self.fail(where, f"expected {wanted}, got {_show(value)}")
        if isinstance(value, int) and not -_INT64_MAX - 1 <= value <= _INT64_MAX:
            raise self.fail(where, f"integer {value} does not fit in 64 bits")
        if isinstance(value, str):
            if choices is not None and value not in choices:
                raise self.fail(where, f"expected one of {', '.join(choices)}, got {value!r}")
            _check_text(value, where, self)
        return value

    def json(self, value: Any, path: str) -> str | None:
        try:
            return to_canonical_json(value)
        except CanonicalJsonError as exc:
            raise self.fail(path + exc.path, exc.reason) from None

    def strings(self, value: Any, path: str) -> list[str] | None:
        if value is None:
            return None
        for i, text in enumerate(self.items(value, path, nullable=False)):
            if type(text) is not str:
                raise self.fail(f"{path}[{i}]", f"expected a string, got {_show(text)}")
            _check_text(text, f"{path}[{i}]", self)
        return list(value)

    def warn_unknown(self, what: str) -> None:
        if self.unknown:
            names = ", ".join(sorted(self.unknown))
            warnings.warn(
                f"{what}: fields not in Chift's spec were left out: {names}",
                UnknownFieldsWarning,
                stacklevel=3,
            )


def _check_text(text: str, where: str, walk: _Walk) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise walk.fail(where, "holds a lone surrogate, not valid Unicode text") from None


def _rows(name: str) -> dict[str, list[Any]]:
    return {column: [] for column in TABLES[name].columns}


def _table(name: str, rows: dict[str, list[Any]]) -> pa.Table:
    return pa.Table.from_pydict(rows, schema=TABLES[name].schema)


def flatten_sync_definitions(
    items: Any, *, duplicates: list[Duplicate] | None = None
) -> dict[str, pa.Table]:
    """Flatten the body of ``GET /syncs`` into the sync definition tables.

    An entry listed twice is kept once, its first copy (see :mod:`chift_frames.flatten._unique`):
    a sync (by ``syncid``), a sync's flow (by ``id``, with its triggers), mapping (by ``name``,
    with its sub-mappings), sub-mapping (by ``name`` within its mapping) and a field's labelled
    value (by ``id``). The positions (``mapping_index``...) stay those of the answer.

    Parameters
    ----------
    items : list of dict
        The parsed body: an array of ``ReadSyncItem``.
    duplicates : list of Duplicate, optional
        Where to append each copy left out; without it, they are counted in one
        ``DuplicateEntriesWarning``.

    Returns
    -------
    dict of str to pyarrow.Table
        ``syncs``, ``sync_flows``, ``sync_flow_triggers``, ``sync_mappings``,
        ``sync_mapping_labels`` and ``sync_connections`` (see ``docs/tables.md``).

    Raises
    ------
    PayloadError
        When the body breaks Chift's spec; the error names the sync and the JSON path.

    Warns
    -----
    DuplicateEntriesWarning
        Once, when an entry is listed twice and ``duplicates`` is not given.

    Examples
    --------
    >>> tables = flatten_sync_definitions([{
    ...     "syncid": "s1", "name": "POS", "consumers": ["c1"], "connections": [],
    ...     "flows": [{"id": "f1", "name": "Daily", "triggers": [{"id": "t", "type": "timer",
    ...                "cronschedules": ["0 5 * * *"]}]}]}])
    >>> tables["sync_flow_triggers"].column("cronschedules").to_pylist()
    [['0 5 * * *']]
    """
    walk = _Walk()
    out = {name: _rows(name) for name in SYNC_TABLES}
    listed = walk.items(items, "", nullable=False)
    skip = repeats(listed, text_key("syncid"), "syncs", "", walk.duplicates)
    for i, raw in enumerate(listed):
        if i in skip:
            continue
        at = f"[{i}]"
        item = walk.obj(raw, at, _SYNC_KEYS, "syncs[]")
        sync_id = walk.get(item, "syncid", at, str, required=True)
        try:
            _add_sync(walk, out, item, sync_id, at)
        except PayloadError as exc:
            raise PayloadError(exc.message, sync_id=sync_id, path=exc.path) from None
    walk.warn_unknown("GET /syncs")
    settle(walk.duplicates, duplicates, "GET /syncs", stacklevel=2)
    return {name: _table(name, rows) for name, rows in out.items()}


def _add_sync(
    walk: _Walk, out: dict[str, dict[str, list[Any]]], item: dict[str, Any], sync_id: str, at: str
) -> None:
    syncs = out["syncs"]
    syncs["sync_id"].append(sync_id)
    syncs["name"].append(walk.get(item, "name", at, str, required=True))
    syncs["module"].append(walk.get(item, "module", at, str))
    consumers = walk.items(item.get("consumers"), f"{at}.consumers", nullable=False)
    flows = walk.items(item.get("flows"), f"{at}.flows", nullable=False)
    skip_flows = repeats(
        flows, text_key("id"), "sync_flows", f"{at}.flows", walk.duplicates, (sync_id,)
    )
    # each consumer and flow counted once, however often the answer lists it
    named = [c for c in consumers if type(c) is str]
    syncs["consumer_count"].append(len(set(named)) + len(consumers) - len(named))
    syncs["flow_count"].append(len(flows) - len(skip_flows))
    config = item.get("config")
    if config is not None and type(config) is not dict:
        raise walk.fail(f"{at}.config", f"expected an object or null, got {_kind(config)}")
    syncs["config"].append(walk.json(config, f"{at}.config"))
    kinds = walk.items(item.get("object_kinds"), f"{at}.object_kinds", nullable=True)
    syncs["object_kinds"].append(
        walk.json(kinds, f"{at}.object_kinds") if item.get("object_kinds") is not None else None
    )

    for f, raw_flow in enumerate(flows):
        if f in skip_flows:
            continue
        fat = f"{at}.flows[{f}]"
        flow = walk.obj(raw_flow, fat, _FLOW_KEYS, "flows[]")
        flow_id = walk.get(flow, "id", fat, str, required=True)
        execution = flow.get("execution")
        execution_type = None
        if execution is not None:
            if type(execution) is not dict:
                raise walk.fail(f"{fat}.execution", f"expected an object, got {_kind(execution)}")
            execution_type = walk.get(
                execution, "type", f"{fat}.execution", str, required=True, choices=_EXECUTION_TYPES
            )
        triggers = walk.items(flow.get("triggers"), f"{fat}.triggers", nullable=True)
        rows = out["sync_flows"]
        rows["sync_id"].append(sync_id)
        rows["flow_id"].append(flow_id)
        rows["name"].append(walk.get(flow, "name", fat, str, required=True))
        rows["description"].append(walk.get(flow, "description", fat, str))
        rows["execution_type"].append(execution_type)
        rows["execution"].append(walk.json(execution, f"{fat}.execution"))
        rows["config"].append(walk.json(flow.get("config"), f"{fat}.config"))
        rows["trigger_count"].append(len(triggers))
        for t, raw_trigger in enumerate(triggers):
            tat = f"{fat}.triggers[{t}]"
            trigger = walk.obj(raw_trigger, tat, _TRIGGER_KEYS, "flows[].triggers[]")
            rows = out["sync_flow_triggers"]
            rows["sync_id"].append(sync_id)
            rows["flow_id"].append(flow_id)
            rows["trigger_index"].append(t)
            rows["trigger_id"].append(walk.get(trigger, "id", tat, str, required=True))
            rows["trigger_type"].append(
                walk.get(trigger, "type", tat, str, required=True, choices=_TRIGGER_TYPES)
            )
            rows["cronschedules"].append(
                walk.strings(trigger.get("cronschedules"), f"{tat}.cronschedules")
            )
            visible = walk.get(trigger, "visible", tat, bool)
            rows["visible"].append(
                True if visible is None and "visible" not in trigger else visible
            )
            rows["priority"].append(
                walk.get(trigger, "priority", tat, str, choices=_PRIORITIES) or "NORMAL"
            )
            fields = trigger.get("definitionFields")
            rows["definition_fields"].append(walk.json(fields, f"{tat}.definitionFields"))
            rows["options"].append(walk.json(trigger.get("options"), f"{tat}.options"))

    # `mappings` defaults to an empty list in the spec: missing or null means none
    mappings = walk.items(item.get("mappings"), f"{at}.mappings", nullable=True)
    skip_mappings = repeats(
        mappings, text_key("name"), "sync_mappings", f"{at}.mappings", walk.duplicates, (sync_id,)
    )
    for m, raw_mapping in enumerate(mappings):
        if m in skip_mappings:
            continue
        mat = f"{at}.mappings[{m}]"
        mapping = walk.obj(raw_mapping, mat, _MAPPING_KEYS, "mappings[]")
        name = walk.get(mapping, "name", mat, str, required=True)
        subs = walk.items(mapping.get("sub_mappings"), f"{mat}.sub_mappings", nullable=True)
        skip_subs = repeats(
            subs, text_key("name"), "sync_mappings", f"{mat}.sub_mappings", walk.duplicates,
            (sync_id, name),
        )  # fmt: skip
        for k, raw_sub in enumerate(subs):
            if k in skip_subs:
                continue
            sat = f"{mat}.sub_mappings[{k}]"
            sub = walk.obj(raw_sub, sat, _SUB_MAPPING_KEYS, "mappings[].sub_mappings[]")
            source = walk.obj(
                sub.get("source_field"), f"{sat}.source_field", _FIELD_KEYS, "sub_mappings[].field"
            )
            target = walk.obj(
                sub.get("target_field"), f"{sat}.target_field", _FIELD_KEYS, "sub_mappings[].field"
            )
            rows = out["sync_mappings"]
            rows["sync_id"].append(sync_id)
            rows["mapping_index"].append(m)
            rows["sub_mapping_index"].append(k)
            rows["name"].append(name)
            rows["description"].append(walk.get(mapping, "description", mat, str))
            rows["display_order"].append(walk.get(mapping, "display_order", mat, int))
            rows["challenge_question"].append(walk.get(mapping, "challenge_question", mat, str))
            rows["conditions"].append(walk.json(mapping.get("conditions"), f"{mat}.conditions"))
            rows["sub_mapping_name"].append(walk.get(sub, "name", sat, str, required=True))
            rows["sub_mapping_description"].append(walk.get(sub, "description", sat, str))
            for side, field in (("source", source), ("target", target)):
                fat = f"{sat}.{side}_field"
                rows[f"{side}_field_name"].append(walk.get(field, "name", fat, str, required=True))
                rows[f"{side}_field_type"].append(
                    walk.get(field, "type", fat, str, required=True, choices=_FIELD_TYPES)
                )
                rows[f"{side}_api_route"].append(walk.get(field, "api_route", fat, str))
                values = walk.items(field.get("values"), f"{fat}.values", nullable=True)
                labels = out["sync_mapping_labels"]
                skip_values = repeats(
                    values, text_key("id"), "sync_mapping_labels", f"{fat}.values",
                    walk.duplicates, (sync_id, name, side),
                )  # fmt: skip
                for v, raw_value in enumerate(values):
                    if v in skip_values:
                        continue
                    vat = f"{fat}.values[{v}]"
                    value = walk.obj(raw_value, vat, _LABEL_KEYS, "field.values[]")
                    labels["sync_id"].append(sync_id)
                    labels["mapping_index"].append(m)
                    labels["sub_mapping_index"].append(k)
                    labels["side"].append(side)
                    labels["value_index"].append(v)
                    labels["value_id"].append(walk.get(value, "id", vat, str, required=True))
                    labels["label"].append(walk.get(value, "label", vat, str, required=True))
            rows["display_delete"].append(walk.get(sub, "display_delete", sat, bool))
            rows["logic"].append(walk.json(sub.get("logic"), f"{sat}.logic"))
            rows["manual_mapping"].append(walk.get(sub, "manual_mapping", sat, bool))

    connections = walk.items(item.get("connections"), f"{at}.connections", nullable=False)
    for c, raw_connection in enumerate(connections):
        cat = f"{at}.connections[{c}]"
        connection = walk.obj(raw_connection, cat, _SYNC_CONNECTION_KEYS, "connections[]")
        rows = out["sync_connections"]
        rows["sync_id"].append(sync_id)
        rows["connection_index"].append(c)
        rows["one_api"].append(walk.get(connection, "one_api", cat, int))
        rows["connection_type"].append(walk.get(connection, "connection_type", cat, int))
        order = walk.get(connection, "display_order", cat, int)
        rows["display_order"].append(0 if order is None else order)
        hidden = walk.get(connection, "display_hidden", cat, bool)
        rows["display_hidden"].append(False if hidden is None else hidden)


def _utc(value: Any, where: str, walk: _Walk) -> datetime | None:
    if value is None:
        return None
    if type(value) is not str:
        raise walk.fail(where, f"expected a date-time string, got {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
        # Chift sends UTC; a value without an offset is read as UTC rather than local time.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise walk.fail(where, f"{value!r} is not an ISO 8601 date-time in range") from None


def flatten_connections(
    consumer_id: str,
    items: Any,
    *,
    keep_data: bool = False,
    duplicates: list[Duplicate] | None = None,
) -> pa.Table:
    """Flatten the body of ``GET /consumers/{consumer_id}/connections`` into ``connections``.

    Parameters
    ----------
    consumer_id : str
        The consumer whose connections these are.
    items : list of dict
        The parsed body: an array of ``ConnectionItem``.
    keep_data : bool, default False
        Keep each connection's ``data`` as JSON text. It may hold the consumer's own settings,
        so it is left out (null) unless asked for.
    duplicates : list of Duplicate, optional
        Where to append each copy of a connection listed twice (by ``connectionid``), left
        out as the first is kept (see :mod:`chift_frames.flatten._unique`); without it, they
        are counted in one ``DuplicateEntriesWarning``.

    Raises
    ------
    PayloadError
        When the body breaks Chift's spec; the error names the consumer and the JSON path.

    Examples
    --------
    >>> table = flatten_connections("c1", [{
    ...     "connectionid": "k1", "name": "Books", "integration": "Odoo", "integrationid": 2001,
    ...     "api": "Accounting", "status": "active", "agent": {"status": "down"}}])
    >>> table.select(["connection_id", "status", "agent_status"]).to_pylist()
    [{'connection_id': 'k1', 'status': 'active', 'agent_status': 'down'}]
    """
    rows = connection_rows(consumer_id, items, keep_data=keep_data, duplicates=duplicates)
    return _table("connections", rows)


def connection_rows(
    consumer_id: str,
    items: Any,
    *,
    keep_data: bool = False,
    duplicates: list[Duplicate] | None = None,
) -> dict[str, list[Any]]:
    """Return the ``connections`` rows of one consumer's connections, column by column.

    What :func:`flatten_connections` makes a table of; the fetch gathers many consumers'
    rows and makes one table of them, as building a table has a cost of its own.
    """
    walk = _Walk(consumer_id)
    rows = _rows("connections")
    listed = walk.items(items, "", nullable=False)
    scope = (consumer_id,) if type(consumer_id) is str else ()
    skip = repeats(listed, text_key("connectionid"), "connections", "", walk.duplicates, scope)
    for i, raw in enumerate(listed):
        if i in skip:
            continue
        at = f"[{i}]"
        item = walk.obj(raw, at, _CONNECTION_KEYS, "connections[]")
        rows["consumer_id"].append(consumer_id)
        rows["connection_id"].append(walk.get(item, "connectionid", at, str, required=True))
        for column, key, kind in (
            ("name", "name", str),
            ("integration", "integration", str),
            ("integration_id", "integrationid", int),
            ("api", "api", str),
        ):
            rows[column].append(walk.get(item, key, at, kind, required=True))
        rows["status"].append(
            walk.get(item, "status", at, str, required=True, choices=_CONNECTION_STATUSES)
        )
        agent = _nested(walk, item, "agent", at)
        rows["agent_status"].append(
            None
            if agent is None
            else walk.get(
                agent, "status", f"{at}.agent", str, required=True, choices=_AGENT_STATUSES
            )
        )
        datalayer = _nested(walk, item, "datalayer", at)
        dat = f"{at}.datalayer"
        rows["datalayer_status"].append(
            None
            if datalayer is None
            else walk.get(datalayer, "status", dat, str, required=True, choices=_DATALAYER_STATUSES)
        )
        rows["datalayer_last_sync_date"].append(
            None
            if datalayer is None
            else _utc(datalayer.get("last_sync_date"), f"{dat}.last_sync_date", walk)
        )
        data = item.get("data")
        if data is not None and type(data) is not dict:
            raise walk.fail(f"{at}.data", f"expected an object or null, got {_kind(data)}")
        rows["data"].append(walk.json(data, f"{at}.data") if keep_data else None)
    walk.warn_unknown(f"GET /consumers/{consumer_id}/connections")
    settle(walk.duplicates, duplicates, f"GET /consumers/{consumer_id}/connections", stacklevel=2)
    return rows


def _nested(walk: _Walk, item: dict[str, Any], key: str, at: str) -> dict[str, Any] | None:
    value = item.get(key)
    if value is None:
        return None
    known = frozenset(("status",)) if key == "agent" else frozenset(("status", "last_sync_date"))
    return walk.obj(value, f"{at}.{key}", known, f"connections[].{key}")


def concat_connections(tables: Iterable[pa.Table]) -> pa.Table:
    """Stack the connections of many consumers into one table of the pinned schema."""
    parts = list(tables)
    return pa.concat_tables(parts) if parts else TABLES["connections"].schema.empty_table()

"""Response bytes straight to typed values, and their walk into the pair columns. Pure.

The fast path of :func:`chift_frames.flatten.flatten_to_arrow`: msgspec decodes a body into
the ``Struct`` types below, which mirror ``SyncConsumerItem`` of Chift's OpenAPI spec (the
vendored ``spec/sync_consumer_item.schema.json``), checking every type while it parses. No
dict or list of the payload is built but the free-form objects, which are stored as JSON text.

The types are stricter than the spec where the tables are: unknown fields, a missing
``hidden_source_ids``, an integer past 64 bits, NaN, a lone surrogate, a byte order mark...
all make the typed decoding fail, and the record then takes the dict path
(:meth:`chift_frames.flatten._columns._Columns.add`), which warns, reads as empty or names the
exact path and reason. Whenever the typed decoding succeeds, it holds the same values that
``json.loads`` gives for those bytes (duplicate keys: the last one wins in both), so the rows
are the same whichever path a record takes; a property test checks it.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from itertools import compress
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from ..canonical_json import MAX_DEPTH
from ._checks import _CheckError, _datetime, _json

if TYPE_CHECKING:
    from ._columns import _Columns

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
FreeForm = dict[str, Any]  # stored as canonical JSON text


class _Item(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A spec object: any field the spec does not name sends the record to the dict path."""


class ReadMappingItem(_Item):
    source_id: str | None = None
    target_id: str | None = None


class ReadSyncMappingItem(_Item):
    name: str
    sub_mapping_name: str
    values: list[ReadMappingItem]
    hidden_source_ids: list[str]  # required: older API versions omit it (the dict path warns)
    description: str | None = None
    sub_mapping_description: str | None = None
    display_order: Int64 = 0
    challenge_question: str | None = None
    conditions: dict[str, FreeForm] | None = None  # only hideIf: checked by the walk


class ReadSyncSkipMappingItem(_Item):
    name: str
    skip_reason: Literal["presync", "connector_feature", "challenge"]


class DatastoreColumn(_Item):
    name: str
    title: str
    type: str
    optional: bool | None = False


class DatastoreDef(_Item):
    columns: list[DatastoreColumn]
    search_column: str | None = None


class FlowDataStoreItem(_Item):
    name: str
    definition: DatastoreDef
    id: str | None = None
    status: Literal["active", "inactive"] | None = "active"


class FlowConfig(_Item):
    definitionFields: list[FreeForm] | None = None  # noqa: N815 - the spec's names
    doorkeyFields: list[FreeForm] | None = None  # noqa: N815
    customFields: list[FreeForm] | None = None  # noqa: N815
    datastores: list[FlowDataStoreItem] | None = None


class ReadFlowTrigger(_Item):
    id: str
    type: Literal["timer", "event"]
    cronschedule: str | None = None


class ReadFlowConsumerItem(_Item):
    name: str
    id: str
    values: FreeForm
    trigger: ReadFlowTrigger
    description: str | None = None
    config: FlowConfig | None = None
    enabled_on: str | None = None  # a date-time, read by the walk as the dict path reads it


class SyncConsumerItem(_Item, gc=True, dict=True):
    """One ``GET /consumers/{consumer_id}/syncs/{syncid}`` answer, typed.

    ``dict=True`` lets :func:`decode` mark an answer whose free-form objects hold a float
    (``_floats``): their canonical text then comes from the canonical writer.
    """

    syncid: str
    sync_name: str
    link_createdon: str  # a date-time, read by the walk as the dict path reads it
    status: Literal["active", "inactive"] = "inactive"
    status_details: str | None = None
    enabled: bool | None = None
    link_mappings: list[ReadSyncMappingItem] | None = None
    skip_mappings: list[ReadSyncSkipMappingItem] | None = None
    link_metadata: FreeForm | None = None
    link_presync: FreeForm | None = None
    enabled_flows: list[ReadFlowConsumerItem] | None = None


_seen = threading.local()  # whether the body being decoded (in this thread) holds a float


def _float(text: str) -> float:
    """Read a float of a free-form object as ``json.loads`` does, and note that there is one."""
    _seen.floats = True
    return float(text)


_DECODER = msgspec.json.Decoder(SyncConsumerItem, float_hook=_float)
_ENCODER = msgspec.json.Encoder(order="sorted")
# Characters from U+E000 up (UTF-8 lead bytes EE to F4) sort otherwise by UTF-16 code unit.
_HIGH = re.compile(rb"[\xee-\xf4]")


def decode(body: bytes | bytearray | memoryview) -> SyncConsumerItem | None:
    """Decode a response's body into typed values; None when only the dict path can read it.

    None for anything the typed values do not take as they are: a body that is not JSON,
    or not UTF-8, or not nested within the decoder's limit, and any value the spec or the
    tables refuse. The caller then decodes it with ``json.loads`` for the dict path, which
    names what is wrong (or reads it, warning). Floats (only free-form objects have them)
    are read by ``float``, as ``json.loads`` reads them.
    """
    _seen.floats = False
    try:
        item = _DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if _seen.floats:
        item._floats = True  # type: ignore[attr-defined]  # dict=True: see the class
    return item


def to_builtins(item: SyncConsumerItem) -> dict[str, Any]:
    """Return the dict ``json.loads`` gives for the body (fields at their defaults written out).

    The dict path reads a field at its default as it reads the field left out, so both give
    the same rows and the same errors.
    """
    return msgspec.to_builtins(item)  # type: ignore[no-any-return]


def _canonical(value: Any) -> str | None:
    """Canonical JSON text of a free-form value without floats, as ``_checks._json`` writes it.

    msgspec writes sorted, compact JSON with the escapes of RFC 8785 (every character checked
    by a test), ten times faster than the canonical writer. Without floats, its text can only
    differ for keys that sort otherwise by UTF-16 code unit, or be refused for nesting: the
    canonical writer takes those.
    """
    if value is None:
        return None
    text = _ENCODER.encode(value)
    if (text.isascii() or _HIGH.search(text) is None) and (
        len(text) <= 2 * MAX_DEPTH or text.count(b"[") + text.count(b"{") <= MAX_DEPTH
    ):
        return text.decode()
    return _json(value, "")


def _exact(value: Any) -> str | None:
    """Canonical JSON text by the canonical writer (for free-form objects with floats)."""
    return _json(value, "")


# One typed record, checked: the values the types cannot check, computed from it.
_Checked = tuple[
    str,  # consumer id
    SyncConsumerItem,
    datetime | None,  # fetched_at
    datetime,  # link_createdon
    str | None,  # link_metadata
    str | None,  # link_presync
    list[tuple[int, str | None]],  # (mapping position, conditions) where they are not null
    # per flow: enabled_on, values, definitionFields, doorkeyFields, customFields
    list[tuple[datetime | None, str | None, str | None, str | None, str | None]],
]


def check_typed(consumer_id: str, p: SyncConsumerItem, fetched_at: datetime | None) -> _Checked:
    """Check and compute what the types cannot say about one typed record.

    That is: a date-time, a repeated flow id, a free-form value canonical JSON refuses, a
    condition other than hideIf. Raises on the first problem, having changed nothing: the
    caller then walks the record on the dict path, which names the path and the reason.
    """
    created = _datetime(p.link_createdon, "link_createdon", nullable=False)
    assert created is not None
    canonical = _exact if getattr(p, "_floats", False) else _canonical
    conditions: list[tuple[int, str | None]] = []
    if p.link_mappings:
        for i, m in enumerate(p.link_mappings):
            if m.conditions is not None:
                if any(key != "hideIf" for key in m.conditions):
                    raise _CheckError("", "a condition other than hideIf")
                conditions.append((i, canonical(m.conditions)))
    flows = []
    if p.enabled_flows:
        ids: set[str] = set()
        for f in p.enabled_flows:
            if f.id in ids:
                raise _CheckError("", "a repeated flow id")  # the dict path names both
            ids.add(f.id)
            config = f.config
            flows.append(
                (
                    None if f.enabled_on is None else _datetime(f.enabled_on, "", nullable=True),
                    canonical(f.values),
                    None if config is None else canonical(config.definitionFields),
                    None if config is None else canonical(config.doorkeyFields),
                    None if config is None else canonical(config.customFields),
                )
            )
    return (
        consumer_id,
        p,
        fetched_at,
        created,
        canonical(p.link_metadata),
        canonical(p.link_presync),
        conditions,
        flows,
    )


def flush_typed(c: _Columns, run: list[_Checked]) -> None:
    """Append the rows of a run of checked typed records to the columns, column by column.

    One list comprehension per column over the whole run: the per-row work of the dict path
    (a call, an append, a check per field) is left to the decoder that typed the values.
    """
    base = len(c.cs_consumer)
    items = [r[1] for r in run]
    c.cs_consumer += [r[0] for r in run]
    c.cs_sync += [p.syncid for p in items]
    c.cs_name += [p.sync_name for p in items]
    c.cs_status += [p.status for p in items]
    c.cs_details += [p.status_details for p in items]
    c.cs_enabled += [p.enabled for p in items]
    c.cs_created += [r[3] for r in run]
    c.cs_meta += [r[4] for r in run]
    c.cs_presync += [r[5] for r in run]
    c.cs_fetched += [r[2] for r in run]
    per_record = [p.link_mappings or () for p in items]
    skips_of = [p.skip_mappings or () for p in items]
    flows_of = [p.enabled_flows or () for p in items]
    c.cs_nmap += [len(m) for m in per_record]
    c.cs_nskip += [len(s) for s in skips_of]
    c.cs_nflow += [len(f) for f in flows_of]

    # mappings and their values
    first_mapping = len(c.m_rec)
    mappings = [m for ms in per_record for m in ms]
    c.m_rec += [base + k for k, ms in enumerate(per_record) for _ in ms]
    c.m_index += [i for ms in per_record for i in range(len(ms))]
    c.m_name += [m.name for m in mappings]
    c.m_sub += [m.sub_mapping_name for m in mappings]
    c.m_desc += [m.description for m in mappings]
    c.m_subdesc += [m.sub_mapping_description for m in mappings]
    c.m_order += [m.display_order for m in mappings]
    c.m_question += [m.challenge_question for m in mappings]
    c.m_cond += [None] * len(mappings)
    start = first_mapping
    for r, ms in zip(run, per_record, strict=True):
        for i, text in r[6]:
            c.m_cond[start + i] = text
        start += len(ms)
    hidden = [m.hidden_source_ids for m in mappings]
    c.m_hidden += hidden
    values_of = [m.values for m in mappings]
    c.m_nval += [len(v) for v in values_of]
    first_value = len(c.v_src)
    c.v_src += [v.source_id for vs in values_of for v in vs]
    c.v_tgt += [v.target_id for vs in values_of for v in vs]
    if any(hidden):
        at, sources = first_value, c.v_src
        for h, vs in zip(hidden, values_of, strict=True):
            n = len(vs)
            if h:  # the positions of the hidden sources, found by C loops
                found = map(set(h).__contains__, sources[at : at + n])
                c.v_hidden.append((at, list(compress(range(n), found))))
            at += n

    # skipped mappings
    c.s_rec += [base + k for k, ss in enumerate(skips_of) for _ in ss]
    skips = [s for ss in skips_of for s in ss]
    c.s_name += [s.name for s in skips]
    c.s_reason += [s.skip_reason for s in skips]

    # flows, datastores, columns
    first_flow = len(c.f_rec)
    flows = [f for fs in flows_of for f in fs]
    checked = [x for r in run for x in r[7]]
    c.f_rec += [base + k for k, fs in enumerate(flows_of) for _ in fs]
    c.f_id += [f.id for f in flows]
    c.f_name += [f.name for f in flows]
    c.f_desc += [f.description for f in flows]
    c.f_on += [x[0] for x in checked]
    triggers = [f.trigger for f in flows]
    c.f_trig += [t.id for t in triggers]
    c.f_type += [t.type for t in triggers]
    c.f_cron += [t.cronschedule for t in triggers]
    c.f_values += [x[1] for x in checked]
    c.f_def += [x[2] for x in checked]
    c.f_door += [x[3] for x in checked]
    c.f_custom += [x[4] for x in checked]
    stores_of = [(f.config.datastores if f.config is not None else None) or () for f in flows]
    c.f_nds += [len(s) for s in stores_of]
    stores = [d for ds in stores_of for d in ds]
    c.d_flow += [first_flow + k for k, ds in enumerate(stores_of) for _ in ds]
    c.d_index += [i for ds in stores_of for i in range(len(ds))]
    c.d_id += [d.id for d in stores]
    c.d_name += [d.name for d in stores]
    c.d_status += [d.status for d in stores]
    definitions = [d.definition for d in stores]
    c.d_search += [d.search_column for d in definitions]
    columns_of = [d.columns for d in definitions]
    c.d_ncol += [len(cs) for cs in columns_of]
    columns = [x for cs in columns_of for x in cs]
    c.c_name += [x.name for x in columns]
    c.c_title += [x.title for x in columns]
    c.c_type += [x.type for x in columns]
    c.c_opt += [x.optional for x in columns]

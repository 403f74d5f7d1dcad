r"""Flatten consumer-sync responses into the tables of the contract. Pure: no I/O, no clock.

One ``GET /consumers/{consumer_id}/syncs/{syncid}`` response (``SyncConsumerItem`` in Chift's
OpenAPI spec) nests mappings → values and enabled flows → config → datastores → columns. The
walk below touches each mapping, flow and datastore once in Python; the many leaf rows (mapping
values, datastore columns) are gathered with list comprehensions and typed by pyarrow in bulk.
Child rows remember their parent's row number, and every parent key, count and flag is then
derived with vectorised ``take``/``bincount`` instead of per-row Python work.

A response's bytes are decoded by msgspec straight into typed values that mirror the spec's
``SyncConsumerItem`` (:mod:`chift_frames.flatten._typed`), and their rows are gathered column by
column; a body those types refuse (an unknown field, a missing ``hidden_source_ids``, NaN, a
lone surrogate...) is decoded by ``json.loads`` and walked as a dict, which warns or names the
path. Both give the same rows.

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

from ..canonical_json import to_canonical_json
from ._unique import Duplicate
from .account import SYNC_TABLES, connection_rows, flatten_connections, flatten_sync_definitions
from .lists import flatten_consumers, flatten_executions, flatten_syncs
from .pairs import PAIR_TABLES, check_request, flatten, flatten_to_arrow

__all__ = [
    "PAIR_TABLES",
    "SYNC_TABLES",
    "Duplicate",
    "check_request",
    "connection_rows",
    "flatten",
    "flatten_connections",
    "flatten_consumers",
    "flatten_executions",
    "flatten_sync_definitions",
    "flatten_syncs",
    "flatten_to_arrow",
    "to_canonical_json",
]

"""The table contract: one pinned ``pyarrow.Schema`` per table, and the registry of tables.

Each field carries its documentation in its metadata (``description``), so the docs in
``docs/tables.md`` are generated from, and tested against, this module. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.arrays import ArrowExtensionArray

__all__ = [
    "ADDED_COLUMNS",
    "TABLES",
    "ListDtype",
    "Table",
    "arrow_to_pandas_dtype",
    "empty_frame",
    "table_names",
    "to_pandas",
]

STRING = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
UTC_TS = pa.timestamp("us", tz="UTC")
STRING_LIST = pa.list_(pa.string())
JSON = pa.string()  # JSON text, serialised canonically: sorted keys, compact separators


@dataclass(frozen=True)
class Table:
    """A table of the contract: its name, what one row is, its key and its pinned schema.

    ``key`` names the columns that tell a row from every other of one snapshot: a fetch never
    stores two rows with the same key, whatever the answers repeat. It is empty for the
    tables whose rows have none: ``skipped_mappings`` (Chift may list a mapping once per
    sub-mapping, and the rows are kept as sent) and the error and raw tables, which log
    what happened. ``loaded_by_default`` is false for bulky tables (the raw responses) that
    :func:`chift_frames.load` reads only when asked by name.
    """

    name: str
    row: str
    schema: pa.Schema
    loaded_by_default: bool = True
    key: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Column names, in order."""
        return list(self.schema.names)

    def describe(self, column: str) -> str:
        """Return the documentation of ``column``."""
        meta = self.schema.field(column).metadata or {}
        return str(meta.get(b"description", b"").decode())


def _col(name: str, type_: pa.DataType, doc: str, *, nullable: bool = True) -> pa.Field:
    kind = "json" if type_ is JSON and doc.startswith("JSON") else ""
    meta = {"description": doc, **({"format": kind} if kind else {})}
    return pa.field(name, type_, nullable=nullable, metadata=meta)


def _key(name: str, doc: str) -> pa.Field:
    return _col(name, STRING, doc, nullable=False)


def _int(name: str, doc: str) -> pa.Field:
    return _col(name, INT, doc, nullable=False)


def _table(name: str, row: str, *fields: pa.Field, loaded_by_default: bool = True) -> Table:
    schema = pa.schema(list(fields), metadata={"table": name, "row": row})
    return Table(name, row, schema, loaded_by_default, _KEYS.get(name, ()))


# Each table's key (see Table.key); the tables not named here have none.
_KEYS: dict[str, tuple[str, ...]] = {
    "consumer_syncs": ("consumer_id", "sync_id"),
    "mappings": ("consumer_id", "sync_id", "mapping_index"),
    "mapping_values": ("consumer_id", "sync_id", "mapping_index", "value_index"),
    "flows": ("consumer_id", "sync_id", "flow_id"),
    "datastores": ("consumer_id", "sync_id", "flow_id", "datastore_index"),
    "datastore_columns": ("consumer_id", "sync_id", "flow_id", "datastore_index", "column_index"),
    "consumers": ("consumer_id",),
    "syncs": ("sync_id",),
    "sync_flows": ("sync_id", "flow_id"),
    "sync_flow_triggers": ("sync_id", "flow_id", "trigger_index"),
    "sync_mappings": ("sync_id", "mapping_index", "sub_mapping_index"),
    "sync_mapping_labels": ("sync_id", "mapping_index", "sub_mapping_index", "side", "value_index"),
    "sync_connections": ("sync_id", "connection_index"),
    "connections": ("consumer_id", "connection_id"),
    "executions": ("sync_id", "execution_id"),
}


CONSUMER_ID = _key("consumer_id", "Chift consumer id (`consumerid`), as given with the record.")
SYNC_ID = _key("sync_id", "Chift sync id (`syncid` of the response).")
MAPPING_INDEX = _int("mapping_index", "0-based position of the mapping in `link_mappings`.")
FLOW_ID = _key("flow_id", "Flow id (`enabled_flows[].id`).")
DATASTORE_INDEX = _int(
    "datastore_index", "0-based position of the datastore in the flow's `config.datastores`."
)

_TABLES = [
    _table(
        "consumer_syncs",
        "one consumer's setup of one sync, from one "
        "`GET /consumers/{consumer_id}/syncs/{syncid}` response",
        CONSUMER_ID,
        SYNC_ID,
        _col("sync_name", STRING, "Name of the sync (`sync_name`).", nullable=False),
        _col(
            "status",
            STRING,
            "`active` once the consumer completed the setup, else `inactive` (the spec default).",
            nullable=False,
        ),
        _col("status_details", STRING, "Why the status is inactive, when Chift says."),
        _col(
            "enabled",
            BOOL,
            "True when the consumer enabled at least one default flow; null when the response "
            "does not carry the field (older API versions).",
        ),
        _col(
            "link_createdon",
            UTC_TS,
            "When the consumer first opened the setup link (UTC).",
            nullable=False,
        ),
        _col(
            "link_metadata",
            JSON,
            "JSON text of `link_metadata`, the metadata given at link creation.",
        ),
        _col("link_presync", JSON, "JSON text of `link_presync`, the consumer's presync answers."),
        _int("mapping_count", "Rows in `mappings` for this pair (0 when `link_mappings` is null)."),
        _int("value_count", "Rows in `mapping_values` for this pair."),
        _int(
            "unmapped_count", "Rows in `mapping_values` for this pair whose `is_mapped` is false."
        ),
        _int("skipped_mapping_count", "Rows in `skipped_mappings` for this pair."),
        _int("enabled_flow_count", "Rows in `flows` for this pair."),
        _col("fetched_at", UTC_TS, "When the response was fetched (UTC); null when not given."),
    ),
    _table(
        "mappings",
        "one mapping (a mapping and sub-mapping pair) of one consumer's sync, from `link_mappings`",
        CONSUMER_ID,
        SYNC_ID,
        MAPPING_INDEX,
        _col("name", STRING, "Mapping name (`name`).", nullable=False),
        _col("sub_mapping_name", STRING, "Sub-mapping name (`sub_mapping_name`).", nullable=False),
        _col("description", STRING, "Description of the mapping."),
        _col("sub_mapping_description", STRING, "Sub-mapping description."),
        _col("display_order", INT, "Display order in the setup screens (spec default 0)."),
        _col("challenge_question", STRING, "Question asked to decide whether the mapping applies."),
        _col("conditions", JSON, "JSON text of `conditions` (a `hideIf` rule), or null."),
        _col(
            "hidden_source_ids",
            STRING_LIST,
            "Source ids hidden from the consumer (`hidden_source_ids`), in payload order.",
            nullable=False,
        ),
        _int("value_count", "Rows in `mapping_values` for this mapping."),
        _int(
            "unmapped_count",
            "Rows in `mapping_values` for this mapping whose `is_mapped` is false.",
        ),
    ),
    _table(
        "mapping_values",
        "one source value of one mapping and the target the consumer mapped it to",
        CONSUMER_ID,
        SYNC_ID,
        MAPPING_INDEX,
        _int("value_index", "0-based position of the value in the mapping's `values`."),
        _col("mapping_name", STRING, "Name of the parent mapping.", nullable=False),
        _col("sub_mapping_name", STRING, "Sub-mapping name of the parent mapping.", nullable=False),
        _col("source_id", STRING, "Source value id (`source_id`)."),
        _col("target_id", STRING, "Target value id the source is mapped to (`target_id`)."),
        _col("is_mapped", BOOL, "True when `target_id` is neither null nor empty.", nullable=False),
        _col(
            "is_hidden",
            BOOL,
            "True when `source_id` is listed in the mapping's `hidden_source_ids`.",
            nullable=False,
        ),
        _col(
            "source_repeats",
            BOOL,
            "True when the pair gives this `source_id` more than one value in mappings of the "
            "same `mapping_name` and `sub_mapping_name`; false when it gives one, or when "
            "`source_id` is null. Null in snapshots saved before the column existed (read as "
            "unknown: the reports then find the repeats themselves, more slowly).",
        ),
    ),
    _table(
        "skipped_mappings",
        "one mapping Chift skips for this consumer's setup, from `skip_mappings`",
        CONSUMER_ID,
        SYNC_ID,
        _col(
            "name",
            STRING,
            "Name of the skipped mapping; it may repeat within a pair, as Chift can list a "
            "mapping once per sub-mapping.",
            nullable=False,
        ),
        _col(
            "skip_reason",
            STRING,
            "Why it is skipped: `presync`, `connector_feature` or `challenge`.",
            nullable=False,
        ),
    ),
    _table(
        "flows",
        "one flow the consumer enabled, from `enabled_flows`",
        CONSUMER_ID,
        SYNC_ID,
        FLOW_ID,
        _col("name", STRING, "Name of the flow (`name`).", nullable=False),
        _col("description", STRING, "Description of the flow."),
        _col("enabled_on", UTC_TS, "When the consumer enabled the flow (UTC)."),
        _col("trigger_id", STRING, "Trigger id (`trigger.id`).", nullable=False),
        _col("trigger_type", STRING, "`timer` or `event` (`trigger.type`).", nullable=False),
        _col(
            "cronschedule", STRING, "Cron expression of a timer trigger (`trigger.cronschedule`)."
        ),
        _col(
            "values", JSON, "JSON text of the consumer's answers to the flow settings (`values`)."
        ),
        _col("definition_fields", JSON, "JSON text of `config.definitionFields`, or null."),
        _col("doorkey_fields", JSON, "JSON text of `config.doorkeyFields`, or null."),
        _col("custom_fields", JSON, "JSON text of `config.customFields`, or null."),
        _int("datastore_count", "Rows in `datastores` for this flow."),
    ),
    _table(
        "datastores",
        "one datastore a consumer's enabled flow writes to, from `config.datastores`",
        CONSUMER_ID,
        SYNC_ID,
        FLOW_ID,
        DATASTORE_INDEX,
        _col("datastore_id", STRING, "Datastore id; null when Chift gives none."),
        _col("name", STRING, "Name of the datastore.", nullable=False),
        _col("status", STRING, "`active` or `inactive` (spec default `active`)."),
        _col("search_column", STRING, "Name of the indexed search column, if any."),
        _int("column_count", "Rows in `datastore_columns` for this datastore."),
    ),
    _table(
        "datastore_columns",
        "one column of one datastore definition (`definition.columns`)",
        CONSUMER_ID,
        SYNC_ID,
        FLOW_ID,
        DATASTORE_INDEX,
        _col("datastore_id", STRING, "Id of the parent datastore; null when Chift gives none."),
        _col("datastore_name", STRING, "Name of the parent datastore.", nullable=False),
        _int("column_index", "0-based position of the column in `definition.columns`."),
        _col("name", STRING, "Name of the column.", nullable=False),
        _col("title", STRING, "Column title shown to users.", nullable=False),
        _col(
            "type",
            STRING,
            "Column type, a free string (`text`, `number`, `date`...).",
            nullable=False,
        ),
        _col(
            "optional", BOOL, "Whether the column may be empty (spec default false; may be null)."
        ),
        _col(
            "is_search_column",
            BOOL,
            "True when this column is the datastore's `search_column`.",
            nullable=False,
        ),
    ),
    _table(
        "payload_errors",
        'one record left out because it breaks the spec (with `on_error="collect"`)',
        _col("consumer_id", STRING, "Consumer id given with the record, when it is a string."),
        _col("sync_id", STRING, "`syncid` of the payload, when it could be read."),
        _col(
            "path",
            STRING,
            "JSON path of the problem, such as `enabled_flows[2].trigger.type`.",
            nullable=False,
        ),
        _col("message", STRING, "What is wrong there.", nullable=False),
    ),
    _table(
        "consumers",
        "one consumer of the account, from `GET /consumers`",
        _key("consumer_id", "Chift consumer id (`consumerid`)."),
        _col("name", STRING, "Name of the consumer.", nullable=False),
        _col("email", STRING, "Email address of the consumer, if given."),
        _col("internal_reference", STRING, "Your own reference for the consumer, if given."),
        _col("created_on", UTC_TS, "When the consumer was created (UTC), if Chift says."),
        _col("redirect_url", STRING, "URL the consumer is sent to after the setup, if any."),
    ),
    _table(
        "syncs",
        "one sync of the account, from `GET /syncs`",
        _key("sync_id", "Chift sync id (`syncid`)."),
        _col("name", STRING, "Name of the sync.", nullable=False),
        _col("module", STRING, "The agentic module of the sync; null for a flow-defined sync."),
        _int("consumer_count", "Consumers linked to the sync (`consumers`), each counted once."),
        _int("flow_count", "Flows the sync defines (`flows`): its rows in `sync_flows`."),
        _col(
            "config",
            JSON,
            "JSON text of the sync's `config` (datalayer, presync, mcp); null if none.",
        ),
        _col(
            "object_kinds",
            JSON,
            "JSON text of `object_kinds`, the objects an agentic sync books; null for a flow sync.",
        ),
    ),
    _table(
        "sync_flows",
        "one flow a sync offers, from `GET /syncs` (`flows`)",
        _key("sync_id", "Sync that offers the flow."),
        _key("flow_id", "Flow id (`id`), as in `flows.flow_id` of the consumers who enabled it."),
        _col("name", STRING, "Name of the flow.", nullable=False),
        _col("description", STRING, "Description of the flow, if any."),
        _col("execution_type", STRING, "How the flow runs (`execution.type`: code or module)."),
        _col("execution", JSON, "JSON text of `execution` (its type and data); null if none."),
        _col("config", JSON, "JSON text of the flow's `config` (fields, datastores)."),
        _int("trigger_count", "Triggers the flow offers (`triggers`)."),
    ),
    _table(
        "sync_flow_triggers",
        "one trigger a sync's flow offers (`flows[].triggers`)",
        _key("sync_id", "Sync that offers the flow."),
        _key("flow_id", "Flow the trigger starts."),
        _int("trigger_index", "0-based position of the trigger in `triggers`."),
        _col("trigger_id", STRING, "Trigger id (`id`).", nullable=False),
        _col("trigger_type", STRING, "`timer` or `event`.", nullable=False),
        _col("cronschedules", STRING_LIST, "Cron schedules a consumer can pick, for a timer."),
        _col("visible", BOOL, "Whether consumers see the trigger (Chift's default: true)."),
        _col("priority", STRING, "`NORMAL`, `MEDIUM` or `HIGH` (Chift's default: NORMAL)."),
        _col("definition_fields", JSON, "JSON text of `definitionFields`; null if none."),
        _col("options", JSON, "JSON text of `options`; null if none."),
    ),
    _table(
        "sync_mappings",
        "one sub-mapping a sync defines (`mappings[].sub_mappings`)",
        _key("sync_id", "Sync that defines the mapping."),
        _int("mapping_index", "0-based position of the mapping in the sync's `mappings`."),
        _int("sub_mapping_index", "0-based position of the sub-mapping in `sub_mappings`."),
        _col(
            "name",
            STRING,
            "Name of the mapping; joins `mappings.name` of the consumers' setups.",
            nullable=False,
        ),
        _col("description", STRING, "Description of the mapping, if any."),
        _col("display_order", INT, "Order of the mapping on the setup page."),
        _col("challenge_question", STRING, "Question asked before the mapping, if any."),
        _col("conditions", JSON, "JSON text of the mapping's `conditions`; null if none."),
        _col(
            "sub_mapping_name",
            STRING,
            "Name of the sub-mapping; joins `mappings.sub_mapping_name`.",
            nullable=False,
        ),
        _col("sub_mapping_description", STRING, "Description of the sub-mapping, if any."),
        _col("source_field_name", STRING, "Name of the source field.", nullable=False),
        _col("source_field_type", STRING, "`fixed` (listed values) or `api` (read from a route)."),
        _col("source_api_route", STRING, "Route the source values come from, for `api`."),
        _col("target_field_name", STRING, "Name of the target field.", nullable=False),
        _col("target_field_type", STRING, "`fixed` (listed values) or `api` (read from a route)."),
        _col("target_api_route", STRING, "Route the target values come from, for `api`."),
        _col("display_delete", BOOL, "Whether the consumer may delete rows."),
        _col("logic", JSON, "JSON text of the sub-mapping's `logic`; null if none."),
        _col("manual_mapping", BOOL, "Whether values are typed in by hand."),
    ),
    _table(
        "sync_mapping_labels",
        "one labelled value of a sub-mapping's source or target field (`values`)",
        _key("sync_id", "Sync that defines the mapping."),
        _int("mapping_index", "Position of the mapping in the sync's `mappings`."),
        _int("sub_mapping_index", "Position of the sub-mapping in `sub_mappings`."),
        _col(
            "side",
            STRING,
            "`source` or `target`: which field the value belongs to.",
            nullable=False,
        ),
        _int("value_index", "0-based position of the value in the field's `values`."),
        _col(
            "value_id",
            STRING,
            "The value's id, as in `mapping_values.source_id` or `target_id`.",
            nullable=False,
        ),
        _col("label", STRING, "What Chift shows for the value.", nullable=False),
    ),
    _table(
        "sync_connections",
        "one connection a sync requires (`connections`)",
        _key("sync_id", "Sync that requires the connection."),
        _int("connection_index", "0-based position in the sync's `connections`."),
        _col("one_api", INT, "Number of the unified API the connection is for (`one_api`)."),
        _col("connection_type", INT, "Connection type (`connection_type`), if any."),
        _col("display_order", INT, "Order of the connection on the setup page."),
        _col("display_hidden", BOOL, "Whether the connection is hidden on the setup page."),
    ),
    _table(
        "connections",
        "one connection of a consumer, from `GET /consumers/{consumer_id}/connections`",
        _key("consumer_id", "Consumer the connection belongs to."),
        _key("connection_id", "Connection id (`connectionid`)."),
        _col("name", STRING, "Name of the connection.", nullable=False),
        _col("integration", STRING, "Connector (`integration`), such as Odoo.", nullable=False),
        _col("integration_id", INT, "Connector code (`integrationid`).", nullable=False),
        _col("api", STRING, "Unified API (`api`), such as Accounting.", nullable=False),
        _col("status", STRING, "`active` or `inactive`.", nullable=False),
        _col("agent_status", STRING, "`up` or `down` for a local agent; null otherwise."),
        _col(
            "datalayer_status",
            STRING,
            "`not_enabled`, `syncing`, `ready` or `stale`; null if none.",
        ),
        _col("datalayer_last_sync_date", UTC_TS, "When the datalayer last synced (UTC), if ever."),
        _col(
            "data",
            JSON,
            "JSON text of the connection's `data` (may hold the consumer's own settings): null "
            "unless fetched with `--connection-data`.",
        ),
    ),
    _table(
        "fetch_errors",
        "one request that failed after its retries, or answered 404, during a fetch",
        _col("consumer_id", STRING, "Consumer of the pair being fetched, when there is one."),
        _col("sync_id", STRING, "Sync of the pair being fetched, when there is one."),
        _col(
            "endpoint",
            STRING,
            "Method and path, such as `GET /consumers/…/syncs/…`.",
            nullable=False,
        ),
        _col("http_status", INT, "HTTP status of the last answer; null when none came back."),
        _col("error_code", STRING, "Chift's `error_code`, when the answer had one."),
        _col("message", STRING, "Chift's `message`, or what went wrong.", nullable=False),
        _int("attempts", "How many times the request was sent."),
        _col("occurred_at", UTC_TS, "When the last attempt failed (UTC).", nullable=False),
    ),
    _table(
        "executions",
        "one run of a flow for one consumer, from `GET /syncs/{syncid}/executions`",
        _key("sync_id", "Sync the flow belongs to."),
        _key("execution_id", "Execution id (`id`)."),
        _col(
            "parent_execution_id",
            STRING,
            "The parent run that started one child execution per consumer; null for a parent.",
        ),
        _col(
            "consumer_id", STRING, "Consumer the execution ran for (`consumer_id`).", nullable=False
        ),
        _col("flow_id", STRING, "Flow that ran (`flow_id`).", nullable=False),
        _col("start", UTC_TS, "When the execution started (UTC).", nullable=False),
        _col("end", UTC_TS, "When it ended (UTC); null while it is still running."),
        _col(
            "duration_s",
            pa.float64(),
            "Seconds from `start` to `end`; null while it is still running.",
        ),
        _col(
            "status",
            STRING,
            "Chift's status of the run, a free string (`success`, `error`...).",
            nullable=False,
        ),
    ),
    _table(
        "raw_responses",
        "one response as received, kept so every table can be rebuilt without the network",
        _col("endpoint", STRING, "Method and path that was requested.", nullable=False),
        _col("consumer_id", STRING, "Consumer of a consumer-sync response; else null."),
        _col(
            "sync_id",
            STRING,
            "Sync of a consumer-sync response or of an executions page; else null.",
        ),
        _col("http_status", INT, "HTTP status of the response."),
        _col("fetched_at", UTC_TS, "When the response was received (UTC).", nullable=False),
        _col(
            "body",
            pa.binary(),
            "The response body, byte for byte, but with the client secret and tokens cut out "
            "(a body that hid one behind escapes is written again from its redacted JSON) "
            "and, for connections, every `data` null unless fetched with `--connection-data` "
            "(zstd-compressed on disk).",
            nullable=False,
        ),
        loaded_by_default=False,
    ),
]

TABLES: Mapping[str, Table] = {table.name: table for table in _TABLES}
"""The registry: every table of the contract, by name, in their canonical order."""

ADDED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "mapping_values": ("source_repeats",),
    # the sync definitions' JSON, which the first versions that fetched GET /syncs left out
    "syncs": ("config", "object_kinds"),
}
"""Nullable columns that parts saved by an earlier version lack: readers show them as null."""


def table_names() -> Iterator[str]:
    """Yield the name of every table, in canonical order."""
    yield from TABLES


_PANDAS_DTYPES: dict[pa.DataType, object] = {
    STRING: pd.StringDtype("pyarrow"),
    INT: pd.Int64Dtype(),
    BOOL: pd.BooleanDtype(),
    pa.float64(): pd.Float64Dtype(),
}


class _ListArray(ArrowExtensionArray):
    """An arrow list column that prints its cells as lists: ``['CAT-01', 'CAT-02']``.

    pandas prints the cells of an arrow list column through numpy, as ``['CAT-01' 'CAT-02']``
    (no commas, numpy's style), in ``repr`` and in Jupyter's HTML alike. Only the display
    changes: the data, the dtype's name and every operation are those of ``pd.ArrowDtype``.
    """

    def _formatter(self, boxed: bool = False) -> Any:
        show = super()._formatter(boxed)  # type: ignore[misc]

        def show_cell(value: object) -> str | None:
            if isinstance(value, np.ndarray):
                value = value.tolist()
            return show(value)  # type: ignore[no-any-return]

        return show_cell


class ListDtype(pd.ArrowDtype):
    """``pd.ArrowDtype`` of an arrow list type, whose columns show their cells as lists.

    It equals ``pd.ArrowDtype`` of the same arrow type both ways round, so a comparison of
    dtypes, ``assert_frame_equal`` or ``pd.concat`` with a plain arrow list column holds.
    """

    def construct_array_type(self) -> type[ArrowExtensionArray]:
        """Return the array class, one that shows its cells as lists."""
        return _ListArray

    def __eq__(self, other: object) -> bool:
        if isinstance(other, pd.ArrowDtype):
            return bool(self.pyarrow_dtype == other.pyarrow_dtype)
        return bool(super().__eq__(other))

    __hash__ = pd.ArrowDtype.__hash__


def arrow_to_pandas_dtype(type_: pa.DataType) -> object | None:
    """Return the pandas dtype a column of arrow type ``type_`` gets in a DataFrame.

    Strings become ``string[pyarrow]``, integers ``Int64``, floats ``Float64`` and booleans
    ``boolean`` (all nullable); lists stay arrow lists (``ListDtype``, a ``pd.ArrowDtype`` whose
    cells print as lists); timestamps become
    ``datetime64[us, UTC]``.
    """
    if type_ in _PANDAS_DTYPES:
        return _PANDAS_DTYPES[type_]
    if pa.types.is_list(type_):
        return ListDtype(type_)
    return None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Convert an arrow table of the contract to a DataFrame with the contract's dtypes."""
    df: pd.DataFrame = table.to_pandas(types_mapper=arrow_to_pandas_dtype)
    return df


def empty_frame(name: str) -> pd.DataFrame:
    """Return table ``name`` with no rows: every column, with its dtype."""
    return to_pandas(TABLES[name].schema.empty_table())

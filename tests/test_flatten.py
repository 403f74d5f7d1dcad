"""Whole-row assertions on small realistic payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chift_frames import TABLES, flatten
from chift_frames.errors import PayloadError
from chift_frames.flatten import PAIR_TABLES

C1, C2 = "0e260397-0000-4000-8000-00000000000a", "0e260397-0000-4000-8000-00000000000b"
S1, S2 = "76d8b868-0000-4000-8000-000000000001", "76d8b868-0000-4000-8000-000000000002"
F1, F2 = "9f0e0000-0000-4000-8000-0000000000f1", "9f0e0000-0000-4000-8000-0000000000f2"
D1 = "d5000000-0000-4000-8000-000000000001"
FETCHED = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values: <NA>/NaT become None, timestamps stay Timestamps."""
    out = []
    for record in df.astype(object).to_dict("records"):
        out.append({k: (None if v is pd.NA or v is pd.NaT else v) for k, v in record.items()})
    return out


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


@pytest.fixture
def frames(active_pos: dict[str, Any], opened_only: dict[str, Any]):
    return flatten([(C1, active_pos), (C2, opened_only)], fetched_at=FETCHED)


def test_consumer_syncs_rows(frames) -> None:
    assert rows(frames.consumer_syncs) == [
        {
            "consumer_id": C1,
            "sync_id": S1,
            "sync_name": "POS -> Accounting",
            "status": "active",
            "status_details": None,
            "enabled": True,
            "link_createdon": ts("2026-02-01T10:00:00Z"),
            "link_metadata": '{"account":{"region":"BE","seats":3},"plan":"pro"}',
            "link_presync": "{}",
            "mapping_count": 2,
            "value_count": 6,
            "unmapped_count": 2,
            "skipped_mapping_count": 1,
            "enabled_flow_count": 2,
            "fetched_at": ts("2026-11-27T09:30:00Z"),
        },
        {
            "consumer_id": C2,
            "sync_id": S2,
            "sync_name": "eCommerce -> Accounting",
            "status": "inactive",
            "status_details": None,
            "enabled": None,
            "link_createdon": ts("2026-03-15T08:30:00.25Z"),
            "link_metadata": None,
            "link_presync": None,
            "mapping_count": 0,
            "value_count": 0,
            "unmapped_count": 0,
            "skipped_mapping_count": 0,
            "enabled_flow_count": 0,
            "fetched_at": ts("2026-11-27T09:30:00Z"),
        },
    ]


def test_mappings_rows(frames) -> None:
    got = rows(frames.mappings)
    for row in got:
        row["hidden_source_ids"] = list(row["hidden_source_ids"])
    assert got == [
        {
            "consumer_id": C1,
            "sync_id": S1,
            "mapping_index": 0,
            "name": "Tax rates",
            "sub_mapping_name": "VAT codes",
            "description": "Map your VAT codes",
            "sub_mapping_description": None,
            "display_order": 0,
            "challenge_question": None,
            "conditions": None,
            "hidden_source_ids": ["VAT0"],
            "value_count": 3,
            "unmapped_count": 1,
        },
        {
            "consumer_id": C1,
            "sync_id": S1,
            "mapping_index": 1,
            "name": "Payment methods",
            "sub_mapping_name": "Journals",
            "description": None,
            "sub_mapping_description": "Journal per payment method",
            "display_order": 1,
            "challenge_question": "Do you accept cards?",
            "conditions": '{"hideIf":{"==":[{"var":"presync.cash_only"},true]}}',
            "hidden_source_ids": [],
            "value_count": 3,
            "unmapped_count": 1,
        },
    ]


def test_mapping_values_rows(frames) -> None:
    base = {"consumer_id": C1, "sync_id": S1}
    tax = {**base, "mapping_index": 0, "mapping_name": "Tax rates", "sub_mapping_name": "VAT codes"}
    pay = {
        **base,
        "mapping_index": 1,
        "mapping_name": "Payment methods",
        "sub_mapping_name": "Journals",
    }
    assert rows(frames.mapping_values) == [
        {
            **tax,
            "value_index": 0,
            "source_id": "VAT21",
            "target_id": "451000",
            "is_mapped": True,
            "is_hidden": False,
            "source_repeats": False,
        },
        {
            **tax,
            "value_index": 1,
            "source_id": "VAT6",
            "target_id": "451006",
            "is_mapped": True,
            "is_hidden": False,
            "source_repeats": False,
        },
        {
            **tax,
            "value_index": 2,
            "source_id": "VAT0",
            "target_id": "",
            "is_mapped": False,
            "is_hidden": True,
            "source_repeats": False,
        },
        {
            **pay,
            "value_index": 0,
            "source_id": "CASH",
            "target_id": "JRN-CASH",
            "is_mapped": True,
            "is_hidden": False,
            "source_repeats": False,
        },
        {
            **pay,
            "value_index": 1,
            "source_id": "CARD",
            "target_id": None,
            "is_mapped": False,
            "is_hidden": False,
            "source_repeats": False,
        },
        {
            **pay,
            "value_index": 2,
            "source_id": None,
            "target_id": "JRN-MISC",
            "is_mapped": True,
            "is_hidden": False,
            "source_repeats": False,
        },
    ]
    assert list(frames.mapping_values.columns) == TABLES["mapping_values"].columns


def test_skipped_mappings_rows(frames) -> None:
    assert rows(frames.skipped_mappings) == [
        {
            "consumer_id": C1,
            "sync_id": S1,
            "name": "Product categories",
            "skip_reason": "connector_feature",
        },
    ]


def test_flows_rows(frames) -> None:
    assert rows(frames.flows) == [
        {
            "consumer_id": C1,
            "sync_id": S1,
            "flow_id": F1,
            "name": "Daily sales export",
            "description": None,
            "enabled_on": ts("2026-02-01T10:05:00Z"),
            "trigger_id": "trigger-1",
            "trigger_type": "timer",
            "cronschedule": "0 5 * * *",
            "values": '{"batch":{"dry_run":false,"size":50},"from_date":"01/01/2026"}',
            "definition_fields": (
                '[{"name":"from_date","optional":false,"title":"Start date","type":"date"}]'
            ),
            "doorkey_fields": None,
            "custom_fields": '[{"type":"SALES","value":"Synced sales"},'
            '{"type":"target_node_id","value":7015}]',
            "datastore_count": 2,
        },
        {
            "consumer_id": C1,
            "sync_id": S1,
            "flow_id": F2,
            "name": "Close of day",
            "description": "Books the day when the till closes",
            "enabled_on": None,
            "trigger_id": "trigger-2",
            "trigger_type": "event",
            "cronschedule": None,
            "values": "{}",
            "definition_fields": None,
            "doorkey_fields": None,
            "custom_fields": None,
            "datastore_count": 0,
        },
    ]


def test_datastores_rows(frames) -> None:
    base = {"consumer_id": C1, "sync_id": S1, "flow_id": F1}
    assert rows(frames.datastores) == [
        {
            **base,
            "datastore_index": 0,
            "datastore_id": D1,
            "name": "Synced sales",
            "status": "active",
            "search_column": "order_id",
            "column_count": 3,
        },
        {
            **base,
            "datastore_index": 1,
            "datastore_id": None,
            "name": "Synced errors",
            "status": "inactive",
            "search_column": None,
            "column_count": 1,
        },
    ]


def test_datastore_columns_rows(frames) -> None:
    sales = {
        "consumer_id": C1,
        "sync_id": S1,
        "flow_id": F1,
        "datastore_index": 0,
        "datastore_id": D1,
        "datastore_name": "Synced sales",
    }
    errors = {
        "consumer_id": C1,
        "sync_id": S1,
        "flow_id": F1,
        "datastore_index": 1,
        "datastore_id": None,
        "datastore_name": "Synced errors",
    }
    assert rows(frames.datastore_columns) == [
        {
            **sales,
            "column_index": 0,
            "name": "order_id",
            "title": "POS order",
            "type": "text",
            "optional": False,
            "is_search_column": True,
        },
        {
            **sales,
            "column_index": 1,
            "name": "entry_id",
            "title": "Accounting entry",
            "type": "text",
            "optional": False,
            "is_search_column": False,
        },
        {
            **sales,
            "column_index": 2,
            "name": "amount",
            "title": "Amount",
            "type": "number",
            "optional": None,
            "is_search_column": False,
        },
        {
            **errors,
            "column_index": 0,
            "name": "error",
            "title": "Error",
            "type": "json",
            "optional": True,
            "is_search_column": False,
        },
    ]


def test_every_table_has_its_pinned_schema(frames) -> None:
    assert list(frames) == list(PAIR_TABLES)
    for name in PAIR_TABLES:
        table = TABLES[name]
        df = frames[name]
        assert list(df.columns) == table.columns, name
        empty = flatten([])[name]
        assert (df.dtypes == empty.dtypes).all(), name


def test_empty_input_gives_every_table_with_columns_and_dtypes() -> None:
    frames = flatten([])
    assert list(frames) == list(PAIR_TABLES)
    assert frames.mapping_values.dtypes.astype(str).to_dict() == {
        "consumer_id": "string",
        "sync_id": "string",
        "mapping_index": "Int64",
        "value_index": "Int64",
        "mapping_name": "string",
        "sub_mapping_name": "string",
        "source_id": "string",
        "target_id": "string",
        "is_mapped": "boolean",
        "is_hidden": "boolean",
        "source_repeats": "boolean",
    }
    assert str(frames.consumer_syncs.link_createdon.dtype) == "datetime64[us, UTC]"
    assert str(frames.mappings.hidden_source_ids.dtype) == "list<item: string>[pyarrow]"


def test_canonical_json_ignores_key_order(active_pos: dict[str, Any]) -> None:
    reordered = dict(reversed(list(active_pos.items())))
    reordered["link_metadata"] = {"account": {"seats": 3, "region": "BE"}, "plan": "pro"}
    a = flatten([(C1, active_pos)]).consumer_syncs.link_metadata[0]
    b = flatten([(C1, reordered)]).consumer_syncs.link_metadata[0]
    assert a == b


def test_fetched_at_per_record_overrides_and_no_clock_is_read(active_pos) -> None:
    frames = flatten([(C1, active_pos), (C2, active_pos, "2026-01-01T00:00:00+02:00")])
    fetched = frames.consumer_syncs.fetched_at
    assert fetched.isna()[0]
    assert fetched[1] == ts("2025-12-31T22:00:00Z")


def test_naive_fetched_at_is_refused(active_pos) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        flatten([(C1, active_pos)], fetched_at=datetime(2026, 1, 1))


def test_frames_attribute_access_and_errors(frames) -> None:
    assert frames.flows is frames["flows"]
    with pytest.raises(AttributeError, match="no table 'flow'"):
        frames.flow  # noqa: B018
    with pytest.raises(KeyError, match="no table 'flow'"):
        frames["flow"]
    assert "mapping_values" in repr(frames)


# -- the list endpoints warn once about the fields they leave out --------------------------------


def test_flatten_consumers_warns_once_about_fields_it_leaves_out() -> None:
    import warnings

    from chift_frames.errors import UnknownFieldsWarning
    from chift_frames.flatten import flatten_consumers

    items = [
        {"consumerid": "c1", "name": "Bakery", "account": "a1", "tier": "gold", "vip": True},
        {"consumerid": "c2", "name": "Bistro", "tier": "silver"},
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = flatten_consumers(items)
    assert [str(w.message) for w in caught] == [
        "GET /consumers: fields not in Chift's spec were left out: tier, vip"
    ]
    assert all(w.category is UnknownFieldsWarning for w in caught)
    assert got[["consumer_id", "name"]].to_dict("records") == [
        {"consumer_id": "c1", "name": "Bakery"},
        {"consumer_id": "c2", "name": "Bistro"},
    ]
    # the spec's own fields, account among them, raise no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flatten_consumers([{"consumerid": "c1", "name": "Bakery", "account": "a1"}])


def test_flatten_executions_warns_once_about_fields_it_leaves_out() -> None:
    import warnings

    from chift_frames.errors import UnknownFieldsWarning
    from chift_frames.flatten import flatten_executions

    item = {
        "id": "e1",
        "parentexecutionid": None,
        "start": "2026-11-01T10:00:00Z",
        "end": "2026-11-01T10:00:30Z",
        "status": "success",
        "consumer_id": "c1",
        "flow_id": "f1",
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = flatten_executions("s1", [{**item, "logs": []}, {**item, "id": "e2", "logs": []}])
    assert [str(w.message) for w in caught] == [
        "GET /syncs/s1/executions: fields not in Chift's spec were left out: logs"
    ]
    assert all(w.category is UnknownFieldsWarning for w in caught)
    assert table.column("execution_id").to_pylist() == ["e1", "e2"]
    assert table.column("duration_s").to_pylist() == [30.0, 30.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flatten_executions("s1", [item])


_PLAIN_DATES = st.builds(
    lambda d, frac, zone: d.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31)),
    st.sampled_from(["", ".5", ".123", ".123456", ".000001"]),
    st.sampled_from(["Z", "+00:00", "-05:30", "+14:00", "-23:59", "+01:00"]),
)
_PLAIN_EXECUTION = st.fixed_dictionaries(
    {
        "id": st.text(max_size=8),
        "start": _PLAIN_DATES,
        "end": st.one_of(_PLAIN_DATES, st.none()),
        "status": st.sampled_from(["success", "failed", "running"]),
        "consumer_id": st.text(max_size=8),
        "flow_id": st.just("f1"),
    },
    optional={"parentexecutionid": st.one_of(st.none(), st.text(max_size=8))},
)
# values the bulk path must leave to the careful one, which reads them or says what is wrong
_ODD_VALUES = st.sampled_from(
    [
        None,
        7,
        "",
        "2026-11-01T10:00:00",  # no offset: read as UTC
        "2026-11-01 10:00:00Z",
        "2026-11-01",
        "2026-11-01T10:00:60Z",
        "2026-02-30T10:00:00Z",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:30:00+01:00",
        "1899-12-31T23:30:00-01:00",
        "2026-11-01T10:00:00.1234567Z",
        "2026-11-01T10:00:00+05:30:15",
        "2026-11-01T10:00:00\ud800Z",
        "e\ud800",
    ]
)


@st.composite
def _execution_pages(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = draw(st.lists(_PLAIN_EXECUTION, max_size=5))
    if items and draw(st.booleans()):  # one odd value somewhere
        item = items[draw(st.integers(0, len(items) - 1))]
        key = draw(st.sampled_from([*_EXECUTION_KEYS_FOR_TESTS, "gone"]))
        if key == "gone":
            item.pop(draw(st.sampled_from(sorted(item))))
        else:
            item[key] = draw(_ODD_VALUES)
    return items


_EXECUTION_KEYS_FOR_TESTS = ["id", "parentexecutionid", "start", "end", "status", "consumer_id"]


@settings(max_examples=400, deadline=None)
@given(_execution_pages())
def test_executions_read_column_wise_equal_the_row_wise_reading(items: list[Any]) -> None:
    """The bulk path gives what the careful path gives, or leaves the items to it."""
    from chift_frames.flatten.lists import _executions_by_column, _executions_by_row

    by_column = _executions_by_column("s1", items)
    try:
        by_row = _executions_by_row("s1", items)
    except PayloadError:
        assert by_column is None
        return
    if by_column is not None:
        assert by_column.equals(by_row, check_metadata=True)


def test_executions_read_column_wise_for_plain_pages() -> None:
    """The usual page (strings, dates with offsets, a run still going) takes the bulk path."""
    from chift_frames.flatten.lists import _executions_by_column

    items = [
        {
            "id": "e1",
            "parentexecutionid": None,
            "start": "2026-11-01T10:00:00.5-01:00",
            "end": "2026-11-01T11:00:01Z",
            "status": "success",
            "consumer_id": "c1",
            "flow_id": "f1",
        },
        {"id": "e2", "start": "2026-11-01T10:00:00Z", "status": "running", "consumer_id": "c1"}
        | {"flow_id": "f1", "end": None},
    ]
    table = _executions_by_column("s1", items)
    assert table is not None
    assert table.to_pylist() == [
        {
            "sync_id": "s1",
            "execution_id": "e1",
            "parent_execution_id": None,
            "consumer_id": "c1",
            "flow_id": "f1",
            "start": datetime(2026, 11, 1, 11, 0, 0, 500000, tzinfo=UTC),
            "end": datetime(2026, 11, 1, 11, 0, 1, tzinfo=UTC),
            "duration_s": 0.5,
            "status": "success",
        },
        {
            "sync_id": "s1",
            "execution_id": "e2",
            "parent_execution_id": None,
            "consumer_id": "c1",
            "flow_id": "f1",
            "start": datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
            "end": None,
            "duration_s": None,
            "status": "running",
        },
    ]

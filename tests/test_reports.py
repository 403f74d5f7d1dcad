"""Reports: whole rows on a small hand-built snapshot, invariants on a World, empty snapshots."""

from __future__ import annotations

import inspect
import re
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import Frames, flatten, reports, save
from chift_frames.reports import (
    REPORTS,
    consensus_targets,
    consumer_health,
    cron_problems,
    datastore_inventory,
    flow_adoption,
    mapping_completeness,
    onboarding_funnel,
    onboarding_steps,
    schedule_heatmap,
    unmapped_sources,
)
from chift_frames.schema import empty_frame
from chift_frames.world import World

S1, S2, S3 = "s1", "s2", "s3"
POS, INV, PMS = "POS → Accounting", "Invoicing → Accounting", "PMS → Accounting"
C1, C2, C3, C4, C5 = "c1", "c2", "c3", "c4", "c5"
F1, F2, F3 = "f1", "f2", "f3"
DAILY, CLOSE, INVOICES = "Daily sales export", "Close of day", "Invoices sync"


# -- building payloads and reading reports -------------------------------------------------------


def payload(
    sync_id: str,
    sync_name: str,
    *,
    status: str = "active",
    details: str | None = None,
    mappings: list[dict[str, Any]] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    flows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "syncid": sync_id,
        "sync_name": sync_name,
        "status": status,
        "status_details": details,
        "enabled": bool(flows),
        "link_createdon": "2026-02-01T10:00:00Z",
        "link_mappings": mappings,
        "skip_mappings": skipped,
        "link_metadata": None,
        "link_presync": {},
        "enabled_flows": flows,
    }


def mapping(name: str, sub: str, values: list[tuple[str | None, str | None]]) -> dict[str, Any]:
    """A mapping; a value whose source is None has no ``source_id`` key at all."""
    return {
        "name": name,
        "description": None,
        "display_order": 0,
        "challenge_question": None,
        "conditions": None,
        "sub_mapping_name": sub,
        "sub_mapping_description": None,
        "values": [
            {"target_id": target} if source is None else {"source_id": source, "target_id": target}
            for source, target in values
        ],
        "hidden_source_ids": [],
    }


def flow(
    flow_id: str,
    name: str,
    kind: str,
    cron: str | None = None,
    columns: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    datastores = []
    if columns is not None:
        definition = {
            "columns": [
                {"name": n, "title": n.title(), "type": t, "optional": False} for n, t in columns
            ],
            "search_column": None,
        }
        datastores.append(
            {"id": None, "name": "Synced sales", "status": "active", "definition": definition}
        )
    return {
        "id": flow_id,
        "name": name,
        "description": None,
        "config": {"datastores": datastores},
        "values": {},
        "enabled_on": None,
        "trigger": {"id": "trigger-1", "type": kind, "cronschedule": cron},
    }


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values: <NA>/NaT become None; lists and timestamps stay."""
    return [
        {str(k): None if v is pd.NA or v is pd.NaT else v for k, v in record.items()}
        for record in df.astype(object).to_dict("records")
    ]


def table(columns: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in values]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# -- the small snapshot --------------------------------------------------------------------------

TAX, VAT = "Tax rates", "VAT codes"
PAY, JOURNALS = "Payment methods", "Journals"


@pytest.fixture
def frames() -> Frames:
    """Four consumers on POS → Accounting (s1) and Invoicing → Accounting (s2).

    s1: c1, c2 and c4 finished the setup, c3 did not; c1 and c2 enabled the daily export, with
    different schedules and datastore column types; c2 and c4 disagree with c1 on some targets.
    s2: c1 and c3 enabled the invoices flow (a bad cron, no cron); c2 and c4 are inactive.
    """
    return flatten(
        [
            (
                C1,
                payload(
                    S1,
                    POS,
                    mappings=[
                        mapping(TAX, VAT, [("VAT21", "451000"), ("VAT6", "451006")]),
                        mapping(
                            PAY,
                            JOURNALS,
                            [("CASH", "JRN-CASH"), ("CARD", "JRN-CARD"), ("CHEQUE", "JRN-Z")],
                        ),
                    ],
                    flows=[
                        flow(
                            F1,
                            DAILY,
                            "timer",
                            "0 5 * * *",
                            [("order_id", "text"), ("amount", "number")],
                        ),
                        flow(F2, CLOSE, "event"),
                    ],
                ),
            ),
            (
                C2,
                payload(
                    S1,
                    POS,
                    mappings=[
                        mapping(TAX, VAT, [("VAT21", "451000"), ("VAT6", "")]),
                        mapping(PAY, JOURNALS, [("CASH", "JRN-CASH"), ("CARD", "JRN-BANK")]),
                    ],
                    flows=[
                        flow(
                            F1,
                            DAILY,
                            "timer",
                            "*/30 5 * * 1-5",
                            [("order_id", "string"), ("amount", "number")],
                        )
                    ],
                ),
            ),
            (
                C3,
                payload(
                    S1,
                    POS,
                    status="inactive",
                    details="Mapping incomplete",
                    mappings=[mapping(TAX, VAT, [("VAT21", None), ("VAT6", None), (None, None)])],
                    skipped=[{"name": PAY, "skip_reason": "presync"}],
                ),
            ),
            (
                C4,
                payload(
                    S1,
                    POS,
                    mappings=[
                        mapping(TAX, VAT, [("VAT21", "451021"), ("VAT6", "451006")]),
                        mapping(
                            PAY,
                            JOURNALS,
                            [("CASH", "JRN-CASH"), ("CARD", "JRN-CARD"), ("CHEQUE", "JRN-A")],
                        ),
                    ],
                ),
            ),
            (
                C1,
                payload(
                    S2,
                    INV,
                    mappings=[mapping("Journals", "Sales journals", [("IJ-01", "VEN")])],
                    flows=[flow(F3, INVOICES, "timer", "bad cron")],
                ),
            ),
            (C2, payload(S2, INV, status="inactive", details="No connection")),
            (C3, payload(S2, INV, flows=[flow(F3, INVOICES, "timer")])),
            (C4, payload(S2, INV, status="inactive", details="Connection failed")),
        ]
    )


def with_account_tables(frames: Frames) -> Frames:
    """``frames`` plus the account-level tables a fetch adds: consumers, syncs, fetch_errors."""
    consumers = pd.DataFrame(
        {
            "consumer_id": [C1, C2, C3, C4],
            "name": ["Bakery Ghent 1", "Bistro Lyon 2", "Florist Namur 3", "Deli Porto 4"],
            "email": [None, "ops2@example.com", None, None],
            "internal_reference": [None, None, "CUST-00003", None],
            "created_on": pd.to_datetime(["2026-01-05T08:00:00Z"] * 4, utc=True),
            "redirect_url": [None] * 4,
        }
    )
    syncs = pd.DataFrame(
        {
            "sync_id": [S1, S2, S3],
            "name": [POS, INV, PMS],
            "module": [None, None, None],
            "consumer_count": [4, 4, 0],
            "flow_count": [2, 2, 2],
            "config": [None, '{"presync":{}}', None],
            "object_kinds": [None, None, None],
        }
    )
    fetch_errors = pd.DataFrame(
        {
            "consumer_id": [C2, C2, C5, None, C1],
            "sync_id": [S2, S2, S1, None, None],
            "endpoint": ["GET /consumers/c2/syncs/s2"] * 2
            + ["GET /consumers/c5/syncs/s1", "GET /syncs", "GET /consumers/c1"],
            "http_status": [500, 503, 404, None, 500],
            "error_code": ["ERROR_X", None, "NOT_FOUND", None, None],
            "message": ["boom", "Service unavailable", "Consumer not found", "timed out", "boom"],
            "attempts": [3, 3, 1, 3, 3],
            "occurred_at": pd.to_datetime(
                [
                    "2026-11-27T09:31:00Z",
                    "2026-11-27T09:30:00Z",
                    "2026-11-27T09:32:00Z",
                    "2026-11-27T09:33:00Z",
                    "2026-11-27T09:34:00Z",
                ],
                utc=True,
            ),
        }
    )
    tables = {"consumers": consumers, "syncs": syncs, "fetch_errors": fetch_errors}
    # the dtypes of the pinned schemas, as a loaded snapshot has them
    return Frames(
        {**frames, **{name: df.astype(empty_frame(name).dtypes) for name, df in tables.items()}}
    )


# -- whole rows ----------------------------------------------------------------------------------


FUNNEL = (
    "sync_id sync_name linked_count active_count enabled_count active_share enabled_share "
    "inactive_count top_inactive_reason top_inactive_reason_count no_connection_count "
    "connection_failed_count mapping_incomplete_count configuration_incomplete_count "
    "state_active_count state_unknown_count"
)
# without connections the monitoring states are unknown (tests/test_monitoring.py has them)
UNKNOWN_4 = (0, 0, 0, 0, 0, 4)


def test_onboarding_funnel_rows(frames: Frames) -> None:
    assert rows(onboarding_funnel(frames)) == table(
        FUNNEL,
        # a tie between two reasons goes to the first A-Z
        (S2, INV, 4, 2, 2, 0.5, 0.5, 2, "Connection failed", 1, *UNKNOWN_4),
        (S1, POS, 4, 3, 2, 0.75, 0.5, 1, "Mapping incomplete", 1, *UNKNOWN_4),
    )


def test_onboarding_funnel_lists_syncs_nobody_is_linked_to(frames: Frames) -> None:
    assert rows(onboarding_funnel(with_account_tables(frames))) == table(
        FUNNEL,
        (S2, INV, 4, 2, 2, 0.5, 0.5, 2, "Connection failed", 1, *UNKNOWN_4),
        (S3, PMS, 0, 0, 0, None, None, 0, None, 0, 0, 0, 0, 0, 0, 0),
        (S1, POS, 4, 3, 2, 0.75, 0.5, 1, "Mapping incomplete", 1, *UNKNOWN_4),
    )


def test_onboarding_steps_rows(frames: Frames) -> None:
    reached = {
        S2: {"linked": [C1, C2, C3, C4], "active": [C1, C3], "enabled": [C1, C3]},
        S1: {"linked": [C1, C2, C3, C4], "active": [C1, C2, C4], "enabled": [C1, C2]},
    }
    names = {S1: POS, S2: INV}
    assert rows(onboarding_steps(frames)) == [
        {
            "sync_id": sync,
            "sync_name": names[sync],
            "step_index": i,
            "step": step,
            "consumer_id": consumer,
            "consumer_name": None,
        }
        for sync, steps in reached.items()
        for i, (step, consumers) in enumerate(steps.items())
        for consumer in consumers
    ]


def test_onboarding_steps_name_the_consumers(frames: Frames) -> None:
    steps = onboarding_steps(with_account_tables(frames))
    assert rows(steps.head(2)) == table(
        "sync_id sync_name step_index step consumer_id consumer_name",
        (S2, INV, 0, "linked", C1, "Bakery Ghent 1"),
        (S2, INV, 0, "linked", C2, "Bistro Lyon 2"),
    )


HEALTH = (
    "consumer_id consumer_name sync_id sync_name status status_details state state_note "
    "enabled value_count "
    "unmapped_count mapped_share skipped_mapping_count enabled_flow_count last_error_at "
    "last_error_http_status last_error_code last_error_message"
)
NA = None  # a null cell, where a row is mostly nulls
# without connections a pair has no monitoring state (tests/test_monitoring.py has them)
NO_STATE = (
    None,
    "the snapshot lists no connection the sync requires, or no connection at all: "
    "connections not checked, no state",
)


def test_consumer_health_rows(frames: Frames) -> None:
    assert rows(consumer_health(frames)) == table(
        HEALTH,
        (C1, NA, S2, INV, "active", None, *NO_STATE, True, 1, 0, 1.0, 0, 1, NA, NA, NA, NA),
        (
            C2,
            NA,
            S2,
            INV,
            "inactive",
            "No connection",
            *NO_STATE,
            False,
            0,
            0,
            None,
            0,
            0,
            NA,
            NA,
            NA,
            NA,
        ),
        (C3, NA, S2, INV, "active", None, *NO_STATE, True, 0, 0, None, 0, 1, NA, NA, NA, NA),
        (
            C4,
            NA,
            S2,
            INV,
            "inactive",
            "Connection failed",
            *NO_STATE,
            False,
            0,
            0,
            None,
            0,
            0,
            NA,
            NA,
            NA,
            NA,
        ),
        (C1, NA, S1, POS, "active", None, *NO_STATE, True, 5, 0, 1.0, 0, 2, NA, NA, NA, NA),
        (C2, NA, S1, POS, "active", None, *NO_STATE, True, 4, 1, 0.75, 0, 1, NA, NA, NA, NA),
        (
            C3,
            NA,
            S1,
            POS,
            "inactive",
            "Mapping incomplete",
            *NO_STATE,
            False,
            3,
            3,
            0.0,
            1,
            0,
            NA,
            NA,
            NA,
            NA,
        ),
        (C4, NA, S1, POS, "active", None, *NO_STATE, False, 5, 0, 1.0, 0, 0, NA, NA, NA, NA),
    )


def test_consumer_health_shows_names_and_the_latest_fetch_error(frames: Frames) -> None:
    got = rows(consumer_health(with_account_tables(frames)))
    no_error = (NA, NA, NA, NA)
    assert got == table(
        HEALTH,
        (
            C1,
            "Bakery Ghent 1",
            S2,
            INV,
            "active",
            None,
            *NO_STATE,
            True,
            1,
            0,
            1.0,
            0,
            1,
            *no_error,
        ),
        (
            *(
                C2,
                "Bistro Lyon 2",
                S2,
                INV,
                "inactive",
                "No connection",
                *NO_STATE,
                False,
                0,
                0,
                None,
                0,
                0,
            ),
            *(ts("2026-11-27T09:31:00Z"), 500, "ERROR_X", "boom"),
        ),
        (
            C3,
            "Florist Namur 3",
            S2,
            INV,
            "active",
            None,
            *NO_STATE,
            True,
            0,
            0,
            None,
            0,
            1,
            *no_error,
        ),
        (
            *(C4, "Deli Porto 4", S2, INV, "inactive", "Connection failed", *NO_STATE, False),
            *(0, 0, None, 0, 0, *no_error),
        ),
        (
            C1,
            "Bakery Ghent 1",
            S1,
            POS,
            "active",
            None,
            *NO_STATE,
            True,
            5,
            0,
            1.0,
            0,
            2,
            *no_error,
        ),
        (
            C2,
            "Bistro Lyon 2",
            S1,
            POS,
            "active",
            None,
            *NO_STATE,
            True,
            4,
            1,
            0.75,
            0,
            1,
            *no_error,
        ),
        (
            *(C3, "Florist Namur 3", S1, POS, "inactive", "Mapping incomplete", *NO_STATE, False),
            *(3, 3, 0.0, 1, 0, *no_error),
        ),
        (C4, "Deli Porto 4", S1, POS, "active", None, *NO_STATE, False, 5, 0, 1.0, 0, 0, *no_error),
        # a pair whose fetch failed has no setup to show, only its error
        (
            *(C5, None, S1, POS, None, None, None, None, None, None, None, None, None, None),
            *(ts("2026-11-27T09:32:00Z"), 404, "NOT_FOUND", "Consumer not found"),
        ),
    )


def test_mapping_completeness_rows(frames: Frames) -> None:
    assert rows(mapping_completeness(frames)) == table(
        "sync_id sync_name mapping_name sub_mapping_name consumer_count complete_count "
        "complete_share value_count mapped_count mapped_share",
        (S2, INV, "Journals", "Sales journals", 1, 1, 1.0, 1, 1, 1.0),
        (S1, POS, PAY, JOURNALS, 3, 3, 1.0, 8, 8, 1.0),
        (S1, POS, TAX, VAT, 4, 2, 0.5, 9, 5, 5 / 9),
    )


def test_unmapped_sources_rows(frames: Frames) -> None:
    # c3's value without a source_id is left out
    assert rows(unmapped_sources(frames)) == table(
        "sync_id sync_name mapping_name sub_mapping_name source_id source_label "
        "unmapped_consumer_count consumer_count unmapped_share",
        (S1, POS, TAX, VAT, "VAT6", None, 2, 4, 0.5),
        (S1, POS, TAX, VAT, "VAT21", None, 1, 4, 0.25),
    )


def test_consensus_targets_rows(frames: Frames) -> None:
    assert rows(consensus_targets(frames)) == table(
        "sync_id sync_name mapping_name sub_mapping_name source_id source_label consumer_count "
        "consensus_target_id consensus_target_label consensus_count consensus_share "
        "target_count outlier_count outlier_consumer_ids",
        # without the sync definitions there are no labels (tests/test_monitoring.py has them)
        (S2, INV, "Journals", "Sales journals", "IJ-01", NA, 1, "VEN", NA, 1, 1.0, 1, 0, []),
        (S1, POS, PAY, JOURNALS, "CARD", NA, 3, "JRN-CARD", NA, 2, 2 / 3, 2, 1, [C2]),
        (S1, POS, PAY, JOURNALS, "CASH", NA, 3, "JRN-CASH", NA, 3, 1.0, 1, 0, []),
        # a tie goes to the first target A-Z
        (S1, POS, PAY, JOURNALS, "CHEQUE", NA, 2, "JRN-A", NA, 1, 0.5, 2, 1, [C1]),
        (S1, POS, TAX, VAT, "VAT21", NA, 3, "451000", NA, 2, 2 / 3, 2, 1, [C4]),
        (S1, POS, TAX, VAT, "VAT6", NA, 2, "451006", NA, 2, 1.0, 1, 0, []),
    )


def test_a_consumer_that_gives_a_source_several_values_counts_once() -> None:
    # c1 maps CARD twice to JRN-B and once to JRN-A (its choice: JRN-B), and CASH to JRN-B
    # and JRN-A once each (a tie: JRN-A); c2 leaves CASH unmapped in one of its two values
    several = flatten(
        [
            (C1, payload(S1, POS, mappings=[mapping(PAY, JOURNALS, [
                ("CARD", "JRN-B"), ("CARD", "JRN-A"), ("CARD", "JRN-B"),
                ("CASH", "JRN-B"), ("CASH", "JRN-A"),
            ])])),
            (C2, payload(S1, POS, mappings=[mapping(PAY, JOURNALS, [
                ("CARD", "JRN-A"), ("CASH", "JRN-A"), ("CASH", None),
            ])])),
        ]
    )  # fmt: skip
    got = consensus_targets(several)[
        ["source_id", "consumer_count", "consensus_target_id", "target_count"]
    ]
    assert rows(got) == table(
        "source_id consumer_count consensus_target_id target_count",
        ("CARD", 2, "JRN-A", 2),  # one each way: the tie goes to the first target A-Z
        ("CASH", 2, "JRN-A", 1),
    )
    got = unmapped_sources(several)[["source_id", "unmapped_consumer_count", "consumer_count"]]
    assert rows(got) == table("source_id unmapped_consumer_count consumer_count", ("CASH", 1, 2))


def many_outliers() -> Frames:
    """150 consumers map CARD to JRN-A, 120 to JRN-B; CASH has one outlier."""
    records = []
    for n in range(270):
        card = "JRN-A" if n % 9 < 5 else "JRN-B"
        cash = "JRN-C" if n == 7 else "JRN-A"
        values = [("CARD", card), ("CASH", cash)]
        records.append((f"c{n:03d}", payload(S1, POS, mappings=[mapping(PAY, JOURNALS, values)])))
    return flatten(records)


def test_consensus_targets_lists_the_first_100_outliers_and_counts_them_all(
    tmp_path: Path,
) -> None:
    frames = many_outliers()
    outliers = sorted(f"c{n:03d}" for n in range(270) if n % 9 >= 5)
    assert len(outliers) == 120
    save(frames, tmp_path)
    for source in (frames, tmp_path):
        got = consensus_targets(source).set_index("source_id")
        assert got.loc["CARD", "consensus_target_id"] == "JRN-A"
        assert got.loc["CARD", "outlier_count"] == 120
        assert list(got.loc["CARD", "outlier_consumer_ids"]) == outliers[:100]
        assert got.loc["CASH", "outlier_count"] == 1
        assert list(got.loc["CASH", "outlier_consumer_ids"]) == ["c007"]


def test_flow_adoption_rows(frames: Frames) -> None:
    assert rows(flow_adoption(frames)) == table(
        "sync_id sync_name flow_id flow_name linked_count enabled_count enabled_share "
        "timer_count event_count",
        (S2, INV, F3, INVOICES, 4, 2, 0.5, 2, 0),
        (S1, POS, F2, CLOSE, 4, 1, 0.25, 0, 1),
        (S1, POS, F1, DAILY, 4, 2, 0.5, 2, 0),
    )


def test_schedule_heatmap_rows(frames: Frames) -> None:
    # c1 fires daily at 05:00, c2 at 05:00 and 05:30 on weekdays; the bad cron is left out
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    expected = []
    for day, name in enumerate(days):
        for hour in range(24):
            fired = (3, 2) if day < 5 else (1, 1)
            expected.append((day, name, hour, *(fired if hour == 5 else (0, 0))))
    assert rows(schedule_heatmap(frames)) == table(
        "day_of_week day_name hour firing_count consumer_count", *expected
    )


def test_a_consumer_counts_once_in_an_hour_whatever_fires_it() -> None:
    # c1 and c2 each have two timer flows that both fire at 05:00 (and one more at 05:30),
    # c3 the first of them only, c4 a schedule that does not parse
    def timers(*crons: str) -> dict[str, Any]:
        return payload(
            S1, POS, flows=[flow(f"f{i}", DAILY, "timer", c) for i, c in enumerate(crons)]
        )

    heat = schedule_heatmap(
        flatten(
            [
                (C1, timers("0 5 * * *", "0,30 5 * * *")),
                (C2, timers("0,30 5 * * *", "0 5 * * *")),
                (C3, timers("0 5 * * *")),
                (C4, timers("61 5 * * *")),
            ]
        )
    )
    fired = heat[heat.firing_count > 0]
    assert fired.hour.unique().tolist() == [5] and len(fired) == 7
    assert fired.firing_count.unique().tolist() == [2 * 3 + 1]
    assert fired.consumer_count.unique().tolist() == [3]
    # a hand-made flow without a consumer fires, and is nobody
    flows = flatten([(C1, timers("0 6 * * *"))]).flows.astype({"consumer_id": object})
    flows.loc[:, "consumer_id"] = None
    heat = schedule_heatmap(Frames({"flows": flows}))
    assert heat.firing_count.sum() == 7 and heat.consumer_count.sum() == 0


def test_cron_problems_rows(frames: Frames) -> None:
    assert rows(cron_problems(frames)) == table(
        "sync_id sync_name flow_id flow_name cronschedule message consumer_count consumer_ids",
        (S2, INV, F3, INVOICES, "bad cron", "Wrong number of fields", 1, [C1]),
        (S2, INV, F3, INVOICES, None, "timer trigger without a cron schedule", 1, [C3]),
    )


def test_datastore_inventory_rows(frames: Frames) -> None:
    both = ["string", "text"]
    assert rows(datastore_inventory(frames)) == table(
        "sync_id sync_name flow_id flow_name datastore_name column_name consumer_count types "
        "type_count common_type type_disagrees outlier_count outlier_consumer_ids",
        # one consumer each way: the tie goes to the first type A-Z
        (S1, POS, F1, DAILY, "Synced sales", "order_id", 2, both, 2, "string", True, 1, [C1]),
        (S1, POS, F1, DAILY, "Synced sales", "amount", 2, ["number"], 1, "number", False, 0, []),
    )


def test_reports_leave_the_frames_untouched(frames: Frames) -> None:
    before = {name: df.copy() for name, df in frames.items()}
    for report in REPORTS.values():
        report(frames)
    for name, df in frames.items():
        pd.testing.assert_frame_equal(df, before[name])


# -- empty snapshots, dtypes, Parquet ------------------------------------------------------------


@pytest.fixture(scope="module")
def world_frames() -> Frames:
    world = World(consumers=60, seed=0)
    return flatten([(c, world.consumer_sync(c, s)) for c, s in world.pairs()])


@pytest.fixture(scope="module")
def world_reports(world_frames: Frames) -> dict[str, pd.DataFrame]:
    return {name: report(world_frames) for name, report in REPORTS.items()}


@pytest.mark.parametrize("name", list(REPORTS))
@pytest.mark.parametrize("account_tables", [False, True], ids=["pairs only", "account tables"])
def test_reports_on_an_empty_snapshot_keep_their_columns_and_dtypes(
    name: str, account_tables: bool, frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    empty = flatten([])
    expected = world_reports[name]
    if account_tables:
        tables = ("consumers", "syncs", "fetch_errors")
        empty = Frames({**empty, **{table: empty_frame(table) for table in tables}})
        expected = REPORTS[name](with_account_tables(frames))
    got = REPORTS[name](empty)
    assert list(got.columns) == list(expected.columns)
    assert dict(got.dtypes) == dict(expected.dtypes)
    if name == "schedule_heatmap":
        assert len(got) == 168 and got.firing_count.sum() == 0
    else:
        assert got.empty


# unmapped_by_consumer/_mapping predate these rules (their ``consumers`` count is int64).
NEW_REPORTS = [name for name in REPORTS if not name.startswith("unmapped_by_")]


@pytest.mark.parametrize("name", NEW_REPORTS)
def test_report_dtypes_follow_the_house_rules(
    name: str, world_reports: dict[str, pd.DataFrame]
) -> None:
    for column, dtype in world_reports[name].dtypes.items():
        column = str(column)
        if column.endswith(("_count", "_index", "_status")) or column in ("hour", "day_of_week"):
            assert dtype == "Int64", column
        elif column.endswith(("_share", "_s")) or column.startswith("hours_"):
            assert dtype == "Float64", column
        elif column.endswith(("_ids", "types", "_apis")):
            assert pd.api.types.is_object_dtype(dtype), column
            assert all(v == sorted(v) for v in world_reports[name][column]), column
        elif column in ("enabled", "type_disagrees"):
            assert dtype == "boolean", column
        elif column.endswith(("_at", "_on")):
            assert dtype == "datetime64[us, UTC]", column
        else:
            assert dtype == pd.StringDtype("pyarrow"), column


@pytest.mark.parametrize("name", list(REPORTS))
def test_reports_round_trip_through_parquet(
    name: str, world_reports: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    for label, df in (("world", world_reports[name]), ("empty", REPORTS[name](flatten([])))):
        path = tmp_path / f"{name}-{label}.parquet"
        df.to_parquet(path)
        back = pd.read_parquet(path)
        assert list(back.columns) == list(df.columns)
        assert len(back) == len(df)


# -- invariants on a realistic world -------------------------------------------------------------


def test_onboarding_funnel_narrows(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    funnel = world_reports["onboarding_funnel"]
    assert (funnel.linked_count >= funnel.active_count).all()
    assert (funnel.active_count >= funnel.enabled_count).all()
    assert (funnel.inactive_count == funnel.linked_count - funnel.active_count).all()
    assert (funnel.top_inactive_reason_count <= funnel.inactive_count).all()
    assert funnel.linked_count.sum() == len(world_frames.consumer_syncs)
    for share in (funnel.active_share, funnel.enabled_share):
        assert share.dropna().between(0, 1).all()
    steps = world_reports["onboarding_steps"]
    counts = steps.groupby(["sync_id", "step"]).size()
    for row in funnel.itertuples():
        for step in ("linked", "active", "enabled"):
            assert counts.get((row.sync_id, step), 0) == getattr(row, f"{step}_count")


def test_consumer_health_covers_every_pair(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    health = world_reports["consumer_health"]
    cs = world_frames.consumer_syncs
    assert len(health) == len(cs)
    assert set(zip(health.consumer_id, health.sync_id, strict=True)) == set(
        zip(cs.consumer_id, cs.sync_id, strict=True)
    )
    assert health.mapped_share.isna().eq(health.value_count == 0).all()
    assert health.mapped_share.dropna().between(0, 1).all()
    assert health.last_error_message.isna().all()


def test_mapping_completeness_adds_up(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["mapping_completeness"]
    assert (out.complete_count <= out.consumer_count).all()
    assert (out.mapped_count <= out.value_count).all()
    assert out.value_count.sum() == len(world_frames.mapping_values)
    assert out.mapped_count.sum() == world_frames.mapping_values.is_mapped.sum()
    for share in (out.complete_share, out.mapped_share):
        assert share.dropna().between(0, 1).all()


def test_unmapped_sources_are_ranked(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["unmapped_sources"]
    assert not out.empty
    assert (out.unmapped_consumer_count >= 1).all()
    assert (out.unmapped_consumer_count <= out.consumer_count).all()
    assert out.unmapped_consumer_count.is_monotonic_decreasing
    v = world_frames.mapping_values
    unmapped = v[~v.is_mapped & v.source_id.notna()]
    keys = ["consumer_id", "sync_id", "mapping_name", "sub_mapping_name", "source_id"]
    assert out.unmapped_consumer_count.sum() == len(unmapped.drop_duplicates(keys))


def test_consensus_counts_add_up(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["consensus_targets"]
    assert (out.consensus_count + out.outlier_count == out.consumer_count).all()
    assert (out.outlier_consumer_ids.map(len) == out.outlier_count).all()
    assert (out.consensus_share * out.target_count >= 1).all()
    assert out.consensus_share.between(0, 1).all()
    assert (out.outlier_count > 0).any()  # the world has consumers who map elsewhere
    v = world_frames.mapping_values
    mapped = v[v.is_mapped & v.source_id.notna()]
    keys = ["consumer_id", "sync_id", "mapping_name", "sub_mapping_name", "source_id"]
    assert out.consumer_count.sum() == len(mapped.drop_duplicates(keys))


def test_flow_adoption_adds_up(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["flow_adoption"]
    assert (out.enabled_count <= out.linked_count).all()
    assert (out.timer_count + out.event_count == out.enabled_count).all()
    assert out.enabled_share.between(0, 1).all()
    flows = world_frames.flows
    assert out.enabled_count.sum() == len(flows.drop_duplicates(["consumer_id", "flow_id"]))


# How often each cron the world uses fires in a week.
WEEKLY_FIRINGS = {
    "*/30 * * * *": 336,
    "0 * * * *": 168,
    "15 */2 * * *": 84,
    "0 */4 * * *": 42,
    "0 1 * * *": 7,
    "0 2 * * *": 7,
    "0 5 * * *": 7,
    "30 4 * * *": 7,
    "0 3 * * 0": 1,
    "0 6 * * 1-5": 5,
    "0 7 * * 1-5": 5,
}


def test_schedule_heatmap_counts_every_firing_of_the_week(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    heat = world_reports["schedule_heatmap"]
    assert list(zip(heat.day_of_week, heat.hour, strict=True)) == [
        (d, h) for d in range(7) for h in range(24)
    ]
    timers = world_frames.flows[world_frames.flows.trigger_type == "timer"]
    crons = Counter(timers.cronschedule.dropna())
    assert set(crons) - set(WEEKLY_FIRINGS) == {"bad cron"}
    assert heat.firing_count.sum() == sum(WEEKLY_FIRINGS.get(c, 0) * n for c, n in crons.items())
    assert (heat.consumer_count <= heat.firing_count).all()
    assert heat.consumer_count.max() <= timers.consumer_id.nunique()
    # "0 3 * * 0" fires on Sunday at 03:00 only
    sunday_3 = heat[(heat.day_of_week == 6) & (heat.hour == 3)].firing_count.item()
    monday_3 = heat[(heat.day_of_week == 0) & (heat.hour == 3)].firing_count.item()
    assert sunday_3 - monday_3 == crons["0 3 * * 0"]


def test_cron_problems_find_the_bad_cron(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["cron_problems"]
    flows = world_frames.flows
    bad = flows[flows.cronschedule == "bad cron"]
    assert rows(out[["cronschedule", "message", "consumer_count"]]) == [
        {
            "cronschedule": "bad cron",
            "message": "Wrong number of fields",
            "consumer_count": len(bad),
        }
    ]
    assert out.consumer_ids.item() == sorted(bad.consumer_id)


def test_datastore_inventory_flags_disagreements(
    world_frames: Frames, world_reports: dict[str, pd.DataFrame]
) -> None:
    out = world_reports["datastore_inventory"]
    assert (out.type_disagrees == (out.type_count > 1)).all()
    assert (out.types.map(len) == out.type_count).all()
    assert all(c in t for c, t in zip(out.common_type, out.types, strict=True))
    assert (out.outlier_consumer_ids.map(len) == out.outlier_count).all()
    assert (out.outlier_count < out.consumer_count).all()
    assert (out.outlier_count > 0).eq(out.type_disagrees).all()
    assert out.type_disagrees.any()  # the world sometimes says "string" for "text"
    columns = world_frames.datastore_columns
    assert out.consumer_count.sum() == len(
        columns.drop_duplicates(["consumer_id", "flow_id", "datastore_name", "name"])
    )


# What datastore_inventory answers, written the plain way: a distinct count per column and per
# type, the outliers grouped from every column row. The report reaches the same rows by fewer
# passes over the columns.
_INVENTORY_AS_DEFINED = """
WITH type_votes AS (
    SELECT sync_id, flow_id, datastore_name, name AS column_name, type,
        count(DISTINCT consumer_id) AS n
    FROM datastore_columns GROUP BY ALL
),
common AS (
    SELECT sync_id, flow_id, datastore_name, column_name, type AS common_type FROM type_votes
    QUALIFY row_number() OVER (
        PARTITION BY sync_id, flow_id, datastore_name, column_name ORDER BY n DESC, type) = 1
),
seen AS (
    SELECT sync_id, flow_id, datastore_name, name AS column_name,
        count(DISTINCT consumer_id) AS consumer_count, list_sort(list(DISTINCT type)) AS types
    FROM datastore_columns GROUP BY ALL
),
outliers AS (
    SELECT c.sync_id, c.flow_id, c.datastore_name, c.name AS column_name,
        list_sort(list(DISTINCT c.consumer_id)) AS ids
    FROM datastore_columns AS c JOIN common AS t
        ON (t.sync_id, t.flow_id, t.datastore_name, t.column_name)
        = (c.sync_id, c.flow_id, c.datastore_name, c.name)
    WHERE c.type <> t.common_type GROUP BY ALL
)
SELECT s.sync_id, s.flow_id, s.datastore_name, s.column_name, s.consumer_count,
    t.common_type, coalesce(o.ids, []) AS outlier_consumer_ids
FROM seen AS s
JOIN common AS t USING (sync_id, flow_id, datastore_name, column_name)
LEFT JOIN outliers AS o USING (sync_id, flow_id, datastore_name, column_name)
"""


@pytest.mark.parametrize("seed", range(40))
def test_datastore_inventory_counts_as_defined(world_frames: Frames, seed: int) -> None:
    """Columns given twice by a consumer, null types and shared names count as defined."""
    import random

    from chift_frames.engine import open_source

    rng = random.Random(seed)
    columns = world_frames["datastore_columns"]
    types = ["string", "text", "number", None]
    shuffled = columns.sample(frac=rng.uniform(0.05, 1.0), random_state=seed)
    again = shuffled.sample(frac=rng.choice([0.0, 0.3]), random_state=seed + 1)
    changed = pd.concat([shuffled, again], ignore_index=True)
    changed["type"] = [rng.choice(types) if rng.random() < 0.4 else t for t in changed["type"]]
    changed["name"] = [rng.choice(["a", n]) if rng.random() < 0.2 else n for n in changed["name"]]
    frames = Frames({**world_frames, "datastore_columns": changed.astype(columns.dtypes)})

    out = datastore_inventory(frames)
    with open_source(frames) as con:
        expected = con.sql(_INVENTORY_AS_DEFINED).to_arrow_table().to_pylist()
    got = rows(out[list(expected[0])]) if expected else []

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return (row["sync_id"], row["flow_id"], row["datastore_name"], row["column_name"])

    assert sorted(got, key=key) == sorted(expected, key=key)
    assert (out.types.map(len) == out.type_count).all()
    assert out.consumer_count.sum() == len(
        changed.dropna(subset=["datastore_name", "name"]).drop_duplicates(
            ["consumer_id", "sync_id", "flow_id", "datastore_name", "name"]
        )
    )


# -- the registry --------------------------------------------------------------------------------


def public_report_functions() -> set[str]:
    """Public functions of the module that return a DataFrame."""
    return {
        name
        for name in reports.__all__
        if inspect.isfunction(fn := getattr(reports, name))
        and typing.get_type_hints(fn).get("return") is pd.DataFrame
    }


def test_registry_lists_every_report() -> None:
    assert set(REPORTS) == public_report_functions()
    assert list(REPORTS) == [
        "onboarding_funnel",
        "onboarding_steps",
        "consumer_health",
        "monitoring_states",
        "mapping_completeness",
        "unmapped_sources",
        "consensus_targets",
        "flow_adoption",
        "flows_not_enabled",
        "schedule_heatmap",
        "cron_problems",
        "datastore_inventory",
        "unmapped_by_consumer",
        "unmapped_by_mapping",
        "flow_runs",
        "consumer_flow_runs",
        "stale_flows",
    ]


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_is_named_for_its_file_and_asks_a_question(name: str) -> None:
    report = REPORTS[name]
    assert re.fullmatch(r"[a-z][a-z_]*", name)
    assert report.__name__ == name
    assert (report.__doc__ or "").splitlines()[0].endswith("?")
    parameters = list(inspect.signature(report).parameters.values())
    assert parameters[0].name == "frames"
    assert all(p.default is not p.empty for p in parameters[1:])

"""Monitoring states, idle flows and labels: the world's known states, and whole rows by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from chift_frames import ChiftFramesError, Frames, flatten
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot
from chift_frames.flatten import flatten_connections, flatten_consumers, flatten_sync_definitions
from chift_frames.reports import (
    MONITORING_STATES,
    consensus_targets,
    consumer_health,
    flow_adoption,
    flows_not_enabled,
    monitoring_states,
    onboarding_funnel,
    parse_one_apis,
    unmapped_sources,
)
from chift_frames.sandbox import Sandbox
from chift_frames.schema import empty_frame, to_pandas
from chift_frames.world import ONE_APIS, World

from .test_reports import flow, mapping, payload, rows, table

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"


def world_frames(world: World) -> Frames:
    """Every table of ``world`` as a fetch would write it, flattened in memory."""
    tables: dict[str, pd.DataFrame] = dict(
        flatten((c, world.consumer_sync(c, s)) for c, s in world.pairs())
    )
    tables["consumers"] = flatten_consumers(world.consumer_items())
    for name, t in flatten_sync_definitions(world.sync_items()).items():
        tables[name] = to_pandas(t)
    consumers = [c["consumerid"] for c in world.consumer_items()]
    tables["connections"] = to_pandas(
        pa.concat_tables(flatten_connections(c, world.connection_items(c)) for c in consumers)
    )
    return Frames(tables)


def known_states(world: World) -> dict[tuple[str, str], str | None]:
    return {(c, s): world.monitoring_state(c, s) for c, s in world.pairs()}


def states_of(df: pd.DataFrame) -> dict[tuple[str, str], str | None]:
    return {
        (r.consumer_id, r.sync_id): None if r.state is pd.NA else r.state for r in df.itertuples()
    }


# -- the world's known states --------------------------------------------------------------------


@pytest.mark.parametrize(
    "world",
    [
        World(consumers=300, syncs=4, seed=7, generation=1),
        World(consumers=150, syncs=3, seed=2),
        World(consumers=120, syncs=4, seed=5, generation=2),
    ],
    ids=["seed 7 gen 1", "seed 2", "seed 5 gen 2"],
)
def test_monitoring_states_equal_the_worlds_known_states(world: World) -> None:
    frames = world_frames(world)
    got = monitoring_states(frames, one_apis=ONE_APIS)
    assert len(got) == world.pair_count
    assert states_of(got) == known_states(world)
    # every state shows up, and no fallback was needed
    assert set(got.state) == set(MONITORING_STATES)
    assert not got.note.fillna("").str.contains("one_apis does not say").any()
    # the funnel counts the same states, and consumer health shows them pair by pair
    funnel = onboarding_funnel(frames, one_apis=ONE_APIS).set_index("sync_id")
    counts = got.groupby(["sync_id", "state"]).size().unstack(fill_value=0)
    for state, column in [
        ("no connection", "no_connection_count"),
        ("connection failed", "connection_failed_count"),
        ("mapping incomplete", "mapping_incomplete_count"),
        ("configuration incomplete", "configuration_incomplete_count"),
        ("active", "state_active_count"),
    ]:
        assert funnel[column].to_dict() == counts[state].to_dict(), state
    state_columns = [
        "no_connection_count",
        "connection_failed_count",
        "mapping_incomplete_count",
        "configuration_incomplete_count",
        "state_active_count",
        "state_unknown_count",
    ]
    assert (funnel[state_columns].sum(axis=1) == funnel.linked_count).all()
    health = consumer_health(frames, one_apis=ONE_APIS)
    assert states_of(health) == known_states(world)


def test_a_fetch_of_the_sandbox_gives_the_worlds_states(tmp_path: Path) -> None:
    world = World(consumers=60, syncs=4, seed=3, generation=1)
    with Sandbox(world) as sandbox:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url, backoff=0.001)
        result = fetch_snapshot(client, tmp_path, executions=False)
    assert result.complete
    got = monitoring_states(tmp_path, one_apis=ONE_APIS)
    assert states_of(got) == known_states(world)
    assert got.consumer_name.notna().all()


# -- a small hand-made case ----------------------------------------------------------------------

S1, POS = "s1", "POS → Accounting"
C = [f"c{i}" for i in range(1, 8)]
ACC, POSAPI = "Accounting", "Point of Sale"


def connection(
    consumer_id: str, api: str, status: str = "active", agent: str | None = None
) -> dict[str, Any]:
    return {
        "consumer_id": consumer_id,
        "connection_id": f"{consumer_id}-{api}-{status}",
        "name": api,
        "integration": "Odoo",
        "integration_id": 2001,
        "api": api,
        "status": status,
        "agent_status": agent,
    }


def hidden(m: dict[str, Any], *ids: str) -> dict[str, Any]:
    return {**m, "hidden_source_ids": list(ids)}


TAX, VAT = "Tax rates", "VAT codes"


@pytest.fixture
def small() -> Frames:
    """Seven consumers of one POS sync that requires Accounting (one_api 1) and POS (2).

    c1 has no accounting connection; c2's accounting agent is down; c3 left a value open (and
    one hidden); c4 is inactive though all is set, Chift saying "No connection"; c5 is active,
    its old inactive accounting connection beside the new one; c6's connections could not be
    fetched; c7 is inactive for a reason Chift's states do not name.
    """
    full = mapping(TAX, VAT, [("VAT21", "451000"), ("VAT6", "451006")])
    pairs = [
        (C[0], payload(S1, POS, mappings=[full])),
        (C[1], payload(S1, POS, mappings=[full])),
        (
            C[2],
            payload(
                S1,
                POS,
                status="inactive",
                details="Mapping incomplete",
                mappings=[hidden(mapping(TAX, VAT, [("VAT21", None), ("VAT0", None)]), "VAT0")],
            ),
        ),
        (C[3], payload(S1, POS, status="inactive", details="No connection", mappings=[full])),
        (
            C[4],
            payload(S1, POS, mappings=[full], flows=[flow("f1", "Daily sales export", "event")]),
        ),
        (C[5], payload(S1, POS, mappings=[full])),
        (C[6], payload(S1, POS, status="inactive", details="Waiting", mappings=[full])),
    ]
    tables: dict[str, pd.DataFrame] = dict(flatten(pairs))
    connections = [
        connection(C[0], POSAPI),
        connection(C[1], ACC, agent="down"),
        connection(C[1], POSAPI),
        *[connection(c, api) for c in (C[2], C[3], C[6]) for api in (ACC, POSAPI)],
        connection(C[4], ACC, status="inactive"),
        connection(C[4], ACC),
        connection(C[4], POSAPI),
    ]
    tables["connections"] = pd.DataFrame(connections)
    tables["sync_connections"] = pd.DataFrame(
        {"sync_id": [S1, S1], "connection_index": [0, 1], "one_api": [1, 2]}
    )
    tables["consumers"] = pd.DataFrame(
        {"consumer_id": C, "name": [f"Shop {i}" for i in range(1, 8)]}
    )
    tables["fetch_errors"] = pd.DataFrame(
        {
            "consumer_id": [C[5]],
            "sync_id": [None],
            "endpoint": [f"GET /consumers/{C[5]}/connections"],
            "http_status": [500],
            "message": ["boom"],
            "attempts": [3],
        }
    )
    tables["sync_flows"] = pd.DataFrame(
        {
            "sync_id": [S1, S1],
            "flow_id": ["f1", "f2"],
            "name": ["Daily sales export", "Close of day"],
            "description": [None, "Books the day's takings"],
            "trigger_count": [1, 1],
        }
    )
    tables["sync_mappings"] = pd.DataFrame(
        {
            "sync_id": [S1],
            "mapping_index": [0],
            "sub_mapping_index": [0],
            "name": [TAX],
            "sub_mapping_name": [VAT],
            "source_field_name": ["VAT rate"],
            "target_field_name": ["VAT code"],
        }
    )
    tables["sync_mapping_labels"] = pd.DataFrame(
        {
            "sync_id": [S1] * 3,
            "mapping_index": [0] * 3,
            "sub_mapping_index": [0] * 3,
            "side": ["source", "source", "target"],
            "value_index": [0, 1, 0],
            "value_id": ["VAT21", "VAT6", "451000"],
            "label": ["VAT 21 %", "VAT 6 %", "VAT due 21 %"],
        }
    )
    return Frames(
        {name: df.astype(empty_frame(name).dtypes[df.columns]) for name, df in tables.items()}
    )


STATES = (
    "consumer_id consumer_name sync_id sync_name state chift_state status status_details "
    "missing_apis failed_apis open_value_count note"
)
FALLBACK = "one_apis does not say which API one_api 2 is: every connection of the consumer "
FALLBACK += "counted for it"
CANNOT_RUN = "Chift says active, but the setup cannot run: "
NOT_FETCHED = "the consumer's connections could not be fetched (see fetch_errors): no state"


def test_monitoring_states_rows(small: Frames) -> None:
    assert rows(monitoring_states(small, one_apis={1: ACC})) == table(
        STATES,
        (C[0], "Shop 1", S1, POS, "no connection", "active", "active", None, [ACC], [], 0,
         f"{FALLBACK}; {CANNOT_RUN}no connection"),
        (C[1], "Shop 2", S1, POS, "connection failed", "active", "active", None, [], [ACC], 0,
         f"{FALLBACK}; {CANNOT_RUN}connection failed"),
        # the hidden value does not count
        (C[2], "Shop 3", S1, POS, "mapping incomplete", "mapping incomplete", "inactive",
         "Mapping incomplete", [], [], 1, FALLBACK),
        (C[3], "Shop 4", S1, POS, "configuration incomplete", "no connection", "inactive",
         "No connection", [], [], 0,
         f"{FALLBACK}; Chift says no connection, the data says configuration incomplete"),
        # one working connection of an API is enough
        (C[4], "Shop 5", S1, POS, "active", "active", "active", None, [], [], 0, FALLBACK),
        # never a guess: without its connections, c6 has no state
        (C[5], "Shop 6", S1, POS, None, "active", "active", None, [], [], 0, NOT_FETCHED),
        (C[6], "Shop 7", S1, POS, "configuration incomplete", None, "inactive", "Waiting", [],
         [], 0, f"{FALLBACK}; Chift gives no known reason for the inactive status"),
    )  # fmt: skip


def test_without_one_apis_every_connection_counts_and_the_note_says_so(small: Frames) -> None:
    got = monitoring_states(small)
    everything = "one_apis does not say which API one_api 1, 2 is: every connection of the "
    everything += "consumer counted for it"
    # c1's point-of-sale connection now stands for accounting too; c2 has a working one
    assert got.state.tolist()[:2] == ["active", "active"]
    assert got.note.tolist()[:2] == [everything, everything]
    # naming both APIs leaves no fallback
    named = monitoring_states(small, one_apis={1: ACC, 2: POSAPI})
    assert not named.note.fillna("").str.contains("one_apis").any()
    assert named.state.tolist() == monitoring_states(small, one_apis={1: ACC}).state.tolist()


def test_without_connections_there_is_no_state(small: Frames) -> None:
    got = monitoring_states(Frames({k: v for k, v in small.items() if k != "connections"}))
    assert got.state.isna().all()
    assert got.note.str.contains("no state").all()  # c6: its connections were not fetched
    assert got.note.str.contains("connections not checked").sum() == 6


def test_the_funnel_and_consumer_health_use_the_state(small: Frames) -> None:
    funnel = rows(onboarding_funnel(small, one_apis={1: ACC}))[0]
    assert {k: v for k, v in funnel.items() if k.endswith("_count")} == {
        "linked_count": 7,
        "active_count": 4,
        "enabled_count": 1,
        "inactive_count": 3,
        "top_inactive_reason_count": 1,
        "no_connection_count": 1,
        "connection_failed_count": 1,
        "mapping_incomplete_count": 1,
        "configuration_incomplete_count": 2,
        "state_active_count": 1,
        "state_unknown_count": 1,
    }
    health = consumer_health(small, one_apis={1: ACC})
    assert health.state.tolist() == monitoring_states(small, one_apis={1: ACC}).state.tolist()


def test_reports_on_one_connection_share_the_state_of_their_own_one_apis(small: Frames) -> None:
    from chift_frames.engine import open_source

    unnamed = consumer_health(small).state.tolist()
    named = consumer_health(small, one_apis={1: ACC}).state.tolist()
    assert unnamed != named  # the two tell some states apart
    with open_source(small) as con:
        onboarding_funnel(con, one_apis={1: ACC})  # computes the states with one_apis
        assert consumer_health(con).state.tolist() == unnamed  # not the funnel's
        assert consumer_health(con, one_apis={1: ACC}).state.tolist() == named
        con.execute("DROP TABLE monitoring_states")  # shared: not computed again
        with pytest.raises(ChiftFramesError, match="monitoring_states"):
            consumer_health(con, one_apis={1: ACC})


def test_on_the_callers_own_connection_the_states_follow_its_data(small: Frames) -> None:
    from chift_frames.engine import connect_frames, frame_to_arrow

    con = connect_frames(small)  # the caller's: it may change what the views show
    before = monitoring_states(con, one_apis={1: ACC})
    assert consumer_health(con, one_apis={1: ACC}).state.tolist() == before.state.tolist()
    stopped = small.consumer_syncs.assign(status="inactive")
    con.register("consumer_syncs", frame_to_arrow("consumer_syncs", stopped))
    after = monitoring_states(con, one_apis={1: ACC})
    assert set(after.status) == {"inactive"} and "active" not in set(after.state)
    assert consumer_health(con, one_apis={1: ACC}).state.tolist() == after.state.tolist()
    con.close()


def test_the_states_table_is_read_in_the_reports_order() -> None:
    from chift_frames.reports import report_sql
    from chift_frames.reports.monitoring import _STATES_IN_ORDER

    last = report_sql("monitoring_states").rstrip().splitlines()[-1]
    assert last.replace("s.", "") == _STATES_IN_ORDER.split(" monitoring_states ")[-1]


def test_flows_not_enabled_rows(small: Frames) -> None:
    assert rows(flows_not_enabled(small)) == table(
        "consumer_id consumer_name sync_id sync_name flow_id flow_name flow_description",
        *[
            (c, f"Shop {i}", S1, POS, fid, name, desc)
            for i, c in enumerate(C, start=1)
            if c not in (C[2], C[3], C[6])  # inactive setups
            for fid, name, desc in [
                ("f2", "Close of day", "Books the day's takings"),
                ("f1", "Daily sales export", None),
            ]
            if (c, fid) != (C[4], "f1")  # c5 enabled it
        ],
    )


def test_flow_adoption_lists_flows_nobody_enabled(small: Frames) -> None:
    assert rows(flow_adoption(small)) == table(
        "sync_id sync_name flow_id flow_name linked_count enabled_count enabled_share "
        "timer_count event_count",
        (S1, POS, "f2", "Close of day", 7, 0, 0.0, 0, 0),
        (S1, POS, "f1", "Daily sales export", 7, 1, 1 / 7, 0, 1),
    )


def test_labels_stand_beside_the_ids(small: Frames) -> None:
    assert rows(unmapped_sources(small)) == table(
        "sync_id sync_name mapping_name sub_mapping_name source_id source_label "
        "unmapped_consumer_count consumer_count unmapped_share",
        (S1, POS, TAX, VAT, "VAT0", None, 1, 1, 1.0),  # no label in the definition
        (S1, POS, TAX, VAT, "VAT21", "VAT 21 %", 1, 7, 1 / 7),
    )
    assert rows(consensus_targets(small)) == table(
        "sync_id sync_name mapping_name sub_mapping_name source_id source_label consumer_count "
        "consensus_target_id consensus_target_label consensus_count consensus_share "
        "target_count outlier_count outlier_consumer_ids",
        (S1, POS, TAX, VAT, "VAT21", "VAT 21 %", 6, "451000", "VAT due 21 %", 6, 1.0, 1, 0, []),
        (S1, POS, TAX, VAT, "VAT6", "VAT 6 %", 6, "451006", None, 6, 1.0, 1, 0, []),
    )


# -- the one_api mapping from the command line ----------------------------------------------------


def test_parse_one_apis_refuses_what_it_cannot_read() -> None:
    assert parse_one_apis(["1=Accounting", " 2 = Point of Sale "]) == {1: ACC, 2: POSAPI}
    for bad in ["Accounting", "one=Accounting", "1=", "=Accounting"]:
        with pytest.raises(ChiftFramesError, match="expected NUMBER=API"):
            parse_one_apis([bad])
    with pytest.raises(ChiftFramesError, match="given twice"):
        parse_one_apis(["1=Accounting", "1=Invoicing"])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--consumers", "30", "--quiet"]) == 0
    return out


def test_report_takes_one_api_from_the_command_line(demo_dir: Path, tmp_path: Path) -> None:
    given = [arg for n, api in ONE_APIS.items() for arg in ("--one-api", f"{n}={api}")]
    assert main(["report", str(demo_dir), "--out", str(tmp_path / "named"), *given]) == 0
    assert main(["report", str(demo_dir), "--out", str(tmp_path / "fallback")]) == 0
    named = pd.read_parquet(tmp_path / "named" / "monitoring_states.parquet")
    fallback = pd.read_parquet(tmp_path / "fallback" / "monitoring_states.parquet")
    assert not named.note.fillna("").str.contains("one_apis does not say").any()
    assert fallback.note.str.contains("one_apis does not say").all()
    assert set(named.state) == set(MONITORING_STATES)


def test_a_bad_one_api_is_one_line(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(demo_dir), "--one-api", "Accounting"]) == 1
    err = capsys.readouterr().err
    assert "expected NUMBER=API" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1

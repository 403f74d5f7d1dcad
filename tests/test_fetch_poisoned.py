"""A fetch from a sandbox serving one poisoned pair of each kind: it finishes, and resume converges.

Each poisoned pair answers 200 with JSON that Python's ``json`` reads but the tables cannot hold:
NaN, Infinity, an integer past 64 bits, a lone surrogate, a date that overflows in UTC, nesting
10,000 deep, a repeated flow id. Every other pair must be exact against the world's ground truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import flatten, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot, rebuild_snapshot
from chift_frames.flatten import PAIR_TABLES
from chift_frames.sandbox import Sandbox
from chift_frames.world import World
from tests.sandbox_env import point_at

# these tests read partial snapshots on purpose: load's PartialSnapshotWarning is expected
# (tests/test_cli.py checks that it is given)
pytestmark = pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
WORLD = World(consumers=30, syncs=3, seed=11)
KEYS = {
    "consumer_syncs": ["consumer_id", "sync_id"],
    "mappings": ["consumer_id", "sync_id", "mapping_index"],
    "mapping_values": ["consumer_id", "sync_id", "mapping_index", "value_index"],
    "skipped_mappings": ["consumer_id", "sync_id", "name", "skip_reason"],
    "flows": ["consumer_id", "sync_id", "flow_id"],
    "datastores": ["consumer_id", "sync_id", "flow_id", "datastore_index"],
    "datastore_columns": ["consumer_id", "sync_id", "flow_id", "datastore_index", "column_index"],
}
DEEP = "[" * 10_000 + "]" * 10_000


def _with_flows_and_mappings() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for consumer_id, sync_id in WORLD.pairs():
        payload = WORLD.consumer_sync(consumer_id, sync_id)
        if payload and payload.get("enabled_flows") and payload.get("link_mappings"):
            found.append((consumer_id, sync_id, payload))
    return found


def poisoned_bodies() -> tuple[dict[str, bytes], dict[tuple[str, str], tuple[str, str]]]:
    """Raw bodies by request path, and the (path, message) each pair's error must have."""
    pairs = _with_flows_and_mappings()
    kinds = [
        ("NaN", lambda p: p.__setitem__("link_metadata", {"rate": "@NaN@"})),
        ("Infinity", lambda p: p["enabled_flows"][0]["values"].__setitem__("max", "@Infinity@")),
        ("2**63", lambda p: p["link_mappings"][0].__setitem__("display_order", 2**63)),
        ("surrogate", lambda p: p.__setitem__("sync_name", "@\\ud800@")),
        ("date", lambda p: p.__setitem__("link_createdon", "9999-12-31T23:00:00-05:00")),
        ("deep", lambda p: p.__setitem__("link_presync", {"deep": "@DEEP@"})),
        ("repeated flow id", lambda p: p["enabled_flows"].append(p["enabled_flows"][0])),
    ]
    expected = {
        "NaN": ("link_metadata.rate", "NaN is not a JSON number"),
        "Infinity": ("enabled_flows[0].values.max", "Infinity is not a JSON number"),
        "2**63": (
            "link_mappings[0].display_order",
            "9223372036854775808 is outside the 64-bit integer range",
        ),
        "surrogate": ("sync_name", "holds a lone surrogate ('\\ud800'), which UTF-8 cannot encode"),
        "date": (
            "link_createdon",
            "'9999-12-31T23:00:00-05:00' is outside the years 1 to 9999 once converted to UTC",
        ),
        "deep": ("", "the answer is nested too deep"),
    }
    bodies: dict[str, bytes] = {}
    errors: dict[tuple[str, str], tuple[str, str]] = {}
    for (kind, change), (consumer_id, sync_id, payload) in zip(kinds, pairs[::3], strict=False):
        change(payload)
        text = json.dumps(payload)
        for token, raw in (("NaN", "NaN"), ("Infinity", "Infinity"), ("DEEP", DEEP)):
            text = text.replace(f'"@{token}@"', raw)
        text = text.replace('"@\\\\ud800@"', '"\\ud800"')
        bodies[f"/consumers/{consumer_id}/syncs/{sync_id}"] = text.encode()
        if kind == "deep":  # refused by the client's JSON decoding, which names the size
            expected[kind] = ("", f"the answer is nested too deep ({len(text.encode()):,} bytes)")
        if kind == "repeated flow id":
            flow_id = payload["enabled_flows"][0]["id"]
            last = len(payload["enabled_flows"]) - 1
            expected[kind] = (
                f"enabled_flows[{last}].id",
                f"{flow_id!r} repeats enabled_flows[0].id, and rows are keyed by it",
            )
        errors[(consumer_id, sync_id)] = expected[kind]
    assert len(bodies) == len(kinds)
    return bodies, errors


BODIES, ERRORS = poisoned_bodies()


def client_for(sandbox: Sandbox) -> ChiftClient:
    return ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url, backoff=0.001)


def sort(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("fetched_at",) if c in df])
    return df.sort_values(KEYS[name]).reset_index(drop=True)


def assert_exact_but(root: Path, left_out: set[tuple[str, str]], snapshot: str = "latest") -> None:
    """Every pair not in ``left_out`` is exact against the world; those are absent."""
    got = load(root, snapshot)
    truth = flatten(
        (c, WORLD.consumer_sync(c, s)) for c, s in WORLD.pairs() if (c, s) not in left_out
    )
    for name in KEYS:
        pd.testing.assert_frame_equal(
            sort(got[name], name), sort(truth[name], name), check_exact=True, obj=name
        )


def errors_of(root: Path) -> dict[tuple[str, str], tuple[str, str]]:
    frames = load(root)
    out = {
        (e.consumer_id, e.sync_id): (e.path, e.message) for e in frames.payload_errors.itertuples()
    }
    for e in frames.fetch_errors.itertuples():
        assert e.http_status == 200
        out[(e.consumer_id, e.sync_id)] = ("", e.message)
    assert len(out) == len(frames.payload_errors) + len(frames.fetch_errors)  # one row per pair
    return out


def test_a_fetch_with_poisoned_pairs_finishes_partial_and_resume_converges(tmp_path: Path) -> None:
    with Sandbox(WORLD, raw_bodies=BODIES) as sandbox:
        first = fetch_snapshot(client_for(sandbox), tmp_path, batch_size=10, executions=False)
        assert first.status == "partial" and first.pairs_failed == len(ERRORS)
        assert errors_of(tmp_path) == ERRORS
        assert_exact_but(tmp_path, set(ERRORS))
        # resuming against the same answers: the same snapshot, the same errors, nothing doubled
        again = fetch_snapshot(client_for(sandbox), tmp_path, resume=first.snapshot_id)
        assert again.status == "partial" and again.pairs_failed == len(ERRORS)
        assert errors_of(tmp_path) == ERRORS
        assert_exact_but(tmp_path, set(ERRORS))
    # the raw responses rebuild to the same tables and errors, without the network
    rebuilt = rebuild_snapshot(tmp_path, first.snapshot_id)
    a, b = load(tmp_path, first.snapshot_id), load(tmp_path, rebuilt)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    with Sandbox(WORLD) as sandbox:  # the API answers well again: resume completes
        done = fetch_snapshot(client_for(sandbox), tmp_path, resume=first.snapshot_id)
        assert sandbox.stats.sent["200"] == len(ERRORS)  # only the poisoned pairs again
    assert done.complete and done.snapshot_id == first.snapshot_id
    latest = load(tmp_path, first.snapshot_id)
    assert latest.payload_errors.empty and latest.fetch_errors.empty
    assert_exact_but(tmp_path, set(), first.snapshot_id)


def test_the_cli_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(WORLD, raw_bodies=BODIES) as sandbox:
        point_at(monkeypatch, sandbox)
        status = main(["fetch", "--out", str(tmp_path), "--quiet", "--no-executions"])
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err + captured.out
    assert f"is partial: {len(ERRORS)} of" in captured.out and "--resume" in captured.out


def test_every_pair_table_is_compared() -> None:
    assert set(KEYS) == set(PAIR_TABLES) - {"payload_errors"}

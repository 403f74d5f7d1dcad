"""fetch against hostile or shifting answers: odd ids, limits, pages that move, non-JSON lists,
and how an interrupted fetch says which snapshot to resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chift_frames import ApiError, PayloadError, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot, list_pairs, rebuild_snapshot
from chift_frames.fetch._workers import _Run
from chift_frames.sandbox import Sandbox
from chift_frames.world import World
from tests.sandbox_env import point_at
from tests.test_fetch import expected_executions
from tests.test_transport import Scripted, send, trickle

# these tests read partial snapshots on purpose: load's PartialSnapshotWarning is expected
# (tests/test_cli.py checks that it is given)
pytestmark = pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
ODD_IDS = ["a#frag", "b/c?d=1", "..", "x/executions?y", "pct%41", "sp ace"]


def client_for(sandbox: Sandbox, **kwargs: Any) -> ChiftClient:
    return ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url, backoff=0.001, **kwargs)


def odd_world() -> World:
    """A world whose first sync also lists consumers with ids that URLs and paths mangle."""
    world = World(consumers=6, syncs=2, seed=21)
    sync_items, consumer_sync = world.sync_items, world.consumer_sync
    template_consumer = next(world.pairs())[0]

    def items() -> list[dict[str, Any]]:
        listed = sync_items()
        listed[0]["consumers"] = [*listed[0]["consumers"], *ODD_IDS]
        return listed

    def answer(consumer_id: str, sync: str) -> dict[str, Any] | None:
        if consumer_id in ODD_IDS and sync == items()[0]["syncid"]:
            return consumer_sync(template_consumer, sync)
        return consumer_sync(consumer_id, sync)

    def connections(consumer_id: str) -> list[dict[str, Any]] | None:
        return connection_items(template_consumer if consumer_id in ODD_IDS else consumer_id)

    connection_items = world.connection_items
    world.sync_items = items  # type: ignore[method-assign]
    world.consumer_sync = answer  # type: ignore[method-assign]
    world.connection_items = connections  # type: ignore[method-assign]
    return world


def test_odd_ids_are_quoted_fetched_and_rebuilt(tmp_path: Path) -> None:
    world = odd_world()
    sync_id = world.sync_items()[0]["syncid"]
    with Sandbox(world) as sandbox:
        result = fetch_snapshot(client_for(sandbox), tmp_path, concurrency=3)
    assert result.complete, load(tmp_path).fetch_errors.to_dict("records")
    frames = load(tmp_path)
    fetched = set(frames.consumer_syncs.consumer_id[frames.consumer_syncs.sync_id == sync_id])
    assert set(ODD_IDS) <= fetched
    raw = load(tmp_path, tables=["raw_responses"]).raw_responses
    endpoints = set(raw.endpoint[raw.consumer_id == "a#frag"])
    assert endpoints == {
        f"GET /consumers/a%23frag/syncs/{sync_id}",
        "GET /consumers/a%23frag/connections",
    }
    rebuilt = rebuild_snapshot(tmp_path, result.snapshot_id)  # no KeyError on odd ids
    again = load(tmp_path, rebuilt)
    for name in frames:
        pd.testing.assert_frame_equal(frames[name], again[name], check_exact=True, obj=name)


def test_a_response_over_the_limit_is_a_fetch_error_and_the_others_go_on(tmp_path: Path) -> None:
    world = World(consumers=10, syncs=2, seed=8)
    victim = next(world.pairs())
    consumer_sync = world.consumer_sync

    def answer(consumer_id: str, sync_id: str) -> dict[str, Any] | None:
        payload = consumer_sync(consumer_id, sync_id)
        if (consumer_id, sync_id) == victim and payload is not None:
            payload["link_metadata"] = {"padding": "x" * 300_000}
        return payload

    world.consumer_sync = answer  # type: ignore[method-assign]
    with Sandbox(world) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox, max_body=200_000), tmp_path, executions=False, concurrency=3
        )
    assert result.status == "partial" and result.pairs_failed == 1
    errors = load(tmp_path).fetch_errors
    row = errors.drop(columns=["occurred_at"]).to_dict("records")
    assert row == [
        {
            "consumer_id": victim[0],
            "sync_id": victim[1],
            "endpoint": f"GET /consumers/{victim[0]}/syncs/{victim[1]}",
            "http_status": 200,
            "error_code": None,
            "message": "the answer is larger than 200,000 bytes after decompression "
            "(max_body); it was abandoned",
            "attempts": 1,
        }
    ]
    fetched = load(tmp_path).consumer_syncs
    pairs = set(zip(fetched.consumer_id, fetched.sync_id, strict=True))
    assert pairs == set(world.pairs()) - {victim}


@pytest.mark.parametrize("newest_first", [True, False])
def test_executions_that_grow_while_paged_are_each_kept_once(
    tmp_path: Path, newest_first: bool
) -> None:
    world = World(consumers=60, syncs=3, seed=11)
    since = world.now - timedelta(days=10)
    with Sandbox(world, executions_growth=7, newest_first=newest_first) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox), tmp_path, executions_since=since, concurrency=4, batch_size=50
        )
    assert result.complete
    got = load(tmp_path).executions
    keys = ["sync_id", "execution_id"]
    assert not got.duplicated(keys).any()
    expected = expected_executions(world, since)
    assert len(expected) > 1000  # several pages per sync
    pd.testing.assert_frame_equal(
        got.sort_values(keys).reset_index(drop=True),
        expected.sort_values(keys).reset_index(drop=True),
        check_exact=True,
    )


def test_the_executions_window_is_pinned_for_a_resume(tmp_path: Path) -> None:
    world = World(consumers=8, syncs=2, seed=2)
    with Sandbox(world) as sandbox:
        first = fetch_snapshot(client_for(sandbox), tmp_path)
    info = load(tmp_path, tables=["executions"])  # readable
    assert len(info.executions) > 0
    manifest = (tmp_path / "_snapshots" / f"{first.snapshot_id}.json").read_text()
    assert '"executions_until"' in manifest


def test_a_rebuild_keeps_each_execution_once(tmp_path: Path) -> None:
    world = World(consumers=20, syncs=1, seed=5)
    with Sandbox(world) as sandbox:
        # the world's 30 days: two pages (a lone page is not read again)
        first = fetch_snapshot(client_for(sandbox), tmp_path, executions_until=world.now)
    raw = load(tmp_path, tables=["raw_responses"]).raw_responses
    pages = raw[raw.consumer_id.isna() & raw.sync_id.notna()]
    assert len(pages) >= 2  # the first page, and the same page read again to verify
    rebuilt = rebuild_snapshot(tmp_path, first.snapshot_id)
    before, after = load(tmp_path, first.snapshot_id), load(tmp_path, rebuilt)
    pd.testing.assert_frame_equal(before.executions, after.executions, check_exact=True)


@pytest.fixture
def not_json() -> Iterator[Scripted]:
    server = Scripted({"/syncs": lambda h: send(h, 200, b"<html>oops</html>")})
    server.thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_non_json_at_syncs_is_one_clear_line(
    tmp_path: Path,
    not_json: Scripted,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "CHIFT_CLIENT_ID": "id",
        "CHIFT_CLIENT_SECRET": "secret",
        "CHIFT_ACCOUNT_ID": ACCOUNT,
        "CHIFT_BASE_URL": not_json.url,
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["fetch", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == "chift-frames: error: [GET /syncs 200] the answer is not JSON (17 bytes)\n"
    with pytest.raises(ApiError) as info:
        fetch_snapshot(
            ChiftClient("id", "secret", ACCOUNT, base_url=not_json.url), tmp_path / "lib"
        )
    assert info.value.status == 200 and info.value.endpoint == "GET /syncs"


def test_an_interrupted_fetch_says_which_snapshot_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(consumers=30, syncs=2, seed=3)
    calls = {"n": 0}
    original = _Run._get

    def flaky(self: _Run, consumer_id: str, sync_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 15:
            raise KeyboardInterrupt
        return original(self, consumer_id, sync_id)

    monkeypatch.setattr(_Run, "_get", flaky)
    with Sandbox(world) as sandbox:
        point_at(monkeypatch, sandbox)
        status = main(["fetch", "--out", str(tmp_path), "--quiet", "--concurrency", "2"])
    assert status == 130
    (manifest,) = (tmp_path / "_snapshots").glob("*.json")
    snapshot_id = manifest.stem
    command = f"chift-frames fetch --out {tmp_path} --resume {snapshot_id}"
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"Fetching snapshot {snapshot_id} into {tmp_path}; if this run stops, finish it with: "
        + command,
        "chift-frames: interrupted",
        f"chift-frames: Snapshot {snapshot_id} in {tmp_path} is saved as partial; finish it "
        "with: " + command,
    ]
    monkeypatch.undo()
    with Sandbox(world) as sandbox:
        assert fetch_snapshot(client_for(sandbox), tmp_path, resume=snapshot_id).complete


@pytest.mark.parametrize("bad", [{}, None, 7, ""])
def test_a_consumer_id_that_is_not_a_string_is_a_clear_error(bad: object) -> None:
    syncs = [{"syncid": "s1", "consumers": ["c1", bad]}]
    with pytest.raises(PayloadError, match=r"at \[0\]\.consumers\[1\]: a consumer id must be"):
        list_pairs(syncs)


def test_an_answer_past_the_deadline_is_a_fetch_error_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    payload = (Path(__file__).parent / "payloads" / "opened_only.json").read_bytes()
    sync_id = json.loads(payload)["syncid"]
    syncs = [
        {
            "syncid": sync_id,
            "name": "S",
            "consumers": ["fast", "slow"],
            "flows": [],
            "connections": [],
        }
    ]
    consumers = [{"consumerid": c, "name": c} for c in ("fast", "slow")]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(payload)}\r\n\r\n".encode()
    pages = {"items": [], "total": 0, "page": 1, "size": 500}
    server = Scripted(
        {
            "/syncs": lambda h: send(h, 200, json.dumps(syncs).encode()),
            "/consumers": lambda h: send(h, 200, json.dumps(consumers).encode()),
            f"/consumers/fast/syncs/{sync_id}": lambda h: send(h, 200, payload),
            f"/consumers/slow/syncs/{sync_id}": trickle(head, payload, 0.2),
            f"/syncs/{sync_id}/executions": lambda h: send(h, 200, json.dumps(pages).encode()),
        }
    )
    server.thread.start()
    try:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=server.url, deadline=1.0)
        result = fetch_snapshot(client, tmp_path, concurrency=2, connections=False)
    finally:
        server.shutdown()
        server.server_close()
    assert result.status == "partial" and result.pairs_failed == 1
    frames = load(tmp_path)
    assert frames.consumer_syncs.consumer_id.tolist() == ["fast"]
    (row,) = frames.fetch_errors.drop(columns=["occurred_at"]).to_dict("records")
    assert row == {
        "consumer_id": "slow",
        "sync_id": sync_id,
        "endpoint": f"GET /consumers/slow/syncs/{sync_id}",
        "http_status": None,
        "error_code": None,
        "message": f"no complete answer from {server.url.removeprefix('http://')} within the "
        "deadline of 1 s (connect, headers and body); it was abandoned",
        "attempts": 1,
    }


def test_an_absurd_executions_total_is_a_fetch_error_not_a_billion_pages(
    tmp_path: Path,
) -> None:
    world = World(consumers=4, syncs=1, seed=6)
    with Sandbox(world) as sandbox:
        page = sandbox._executions_page

        def lying(sync_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
            status, body = page(sync_id, query)
            return status, {**body, "total": 10**15}

        sandbox._executions_page = lying  # type: ignore[method-assign]
        result = fetch_snapshot(client_for(sandbox), tmp_path)
    # a sync's executions failed, not a pair: counted as such
    assert result.status == "partial" and result.pairs_failed == 0
    assert result.executions_failed == 1 and result.pairs_ok == result.pairs
    (row,) = load(tmp_path).fetch_errors.to_dict("records")
    assert row["consumer_id"] is None and row["sync_id"] == world.sync_items()[0]["syncid"]
    assert row["message"] == (
        "the sync has 1,000,000,000,000,000 executions in the window, more than the "
        "1,000,000 a fetch reads; fetch a shorter window with --executions-since"
    )
    assert len(load(tmp_path).consumer_syncs) == world.pair_count


def test_a_server_that_ignores_the_window_is_read_again_and_nothing_doubles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(consumers=60, syncs=1, seed=13)
    since = world.now - timedelta(days=20)
    with Sandbox(world, executions_growth=5, newest_first=True) as sandbox:
        page = sandbox._executions_page

        def ignore_date_to(sync_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
            return page(sync_id, {k: v for k, v in query.items() if k != "date_to"})

        sandbox._executions_page = ignore_date_to  # type: ignore[method-assign]
        # one worker reads the pages in order, so runs pushed onto later pages are met again
        result = fetch_snapshot(
            client_for(sandbox), tmp_path, executions_since=since, concurrency=1
        )
    assert result.complete
    got = load(tmp_path).executions
    assert not got.execution_id.duplicated().any()
    expected = expected_executions(world, since)
    assert len(expected) > 1000
    assert set(expected.execution_id) <= set(got.execution_id)
    extra = got[~got.execution_id.isin(expected.execution_id)]
    assert len(extra) > 0 and (extra.status == "running").all()  # the runs that arrived
    assert "kept changing while read" in caplog.text


def test_tight_byte_bounds_still_fetch_everything_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chift_frames.fetch._workers as fetch_module
    from tests.test_fetch import WORLD, assert_matches_world

    # a hand-over of 8 KB and batches of 16 KB: workers wait for the writing thread, which
    # writes a part every few answers; nothing is lost, nothing doubles
    monkeypatch.setattr(fetch_module, "HANDOVER_BYTES", 8_000)
    monkeypatch.setattr(fetch_module, "BATCH_BYTES", 16_000)
    with Sandbox(WORLD) as sandbox:
        result = fetch_snapshot(client_for(sandbox), tmp_path, concurrency=8)
    assert result.complete
    assert_matches_world(tmp_path, WORLD)
    parts = list((tmp_path / "consumer_syncs").rglob("*.parquet"))
    assert len(parts) > WORLD.pair_count // 64 + 1  # more parts than the count alone makes

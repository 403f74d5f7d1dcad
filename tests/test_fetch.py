"""fetch_snapshot and the CLI against the sandbox: nothing lost despite faults; resume; rebuild."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import chift_frames
from chift_frames import AuthError, flatten, list_snapshots, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot, rebuild_snapshot
from chift_frames.fetch._workers import _Run
from chift_frames.flatten import (
    PAIR_TABLES,
    flatten_connections,
    flatten_consumers,
    flatten_executions,
    flatten_sync_definitions,
)
from chift_frames.sandbox import Faults, Sandbox
from chift_frames.schema import to_pandas
from chift_frames.store import snapshot_states
from chift_frames.world import World
from tests.sandbox_env import point_at

# these tests read partial snapshots on purpose: load's PartialSnapshotWarning is expected
# (tests/test_cli.py checks that it is given)
pytestmark = pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
WORLD = World(consumers=60, syncs=3, seed=11)
KEYS = {
    "consumer_syncs": ["consumer_id", "sync_id"],
    "mappings": ["consumer_id", "sync_id", "mapping_index"],
    "mapping_values": ["consumer_id", "sync_id", "mapping_index", "value_index"],
    "skipped_mappings": ["consumer_id", "sync_id", "name"],
    "flows": ["consumer_id", "sync_id", "flow_id"],
    "datastores": ["consumer_id", "sync_id", "flow_id", "datastore_index"],
    "datastore_columns": ["consumer_id", "sync_id", "flow_id", "datastore_index", "column_index"],
    "consumers": ["consumer_id"],
    "syncs": ["sync_id"],
    "sync_flows": ["sync_id", "flow_id"],
    "sync_flow_triggers": ["sync_id", "flow_id", "trigger_index"],
    "sync_mappings": ["sync_id", "mapping_index", "sub_mapping_index"],
    "sync_mapping_labels": ["sync_id", "mapping_index", "sub_mapping_index", "side", "value_index"],
    "sync_connections": ["sync_id", "connection_index"],
    "connections": ["consumer_id", "connection_id"],
}


def ground_truth(world: World) -> dict[str, pd.DataFrame]:
    frames = flatten((c, world.consumer_sync(c, s)) for c, s in world.pairs())
    truth = dict(frames)
    truth["consumers"] = flatten_consumers(world.consumer_items())
    for name, table in flatten_sync_definitions(world.sync_items()).items():
        truth[name] = to_pandas(table)
    linked = sorted({c for c, _ in world.pairs()})
    truth["connections"] = to_pandas(
        pa.concat_tables(flatten_connections(c, world.connection_items(c)) for c in linked)
    )
    return truth


def canonical(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("fetched_at",) if c in df])
    return df.sort_values(KEYS[name]).reset_index(drop=True)


def assert_matches_world(root: Path, world: World, snapshot: str = "latest") -> None:
    got = load(root, snapshot)
    truth = ground_truth(world)
    for name in KEYS:
        assert not got[name].duplicated(KEYS[name]).any(), name
        pd.testing.assert_frame_equal(
            canonical(got[name], name), canonical(truth[name], name), check_exact=True, obj=name
        )
    assert got.consumer_syncs.fetched_at.notna().all()


def client_for(sandbox: Sandbox, **kwargs) -> ChiftClient:
    return ChiftClient("id", "secret", ACCOUNT, base_url=sandbox.url, backoff=0.001, **kwargs)


def test_a_faulty_sandbox_loses_nothing(tmp_path: Path) -> None:
    faults = Faults(
        rate_429=0.1,
        rate_5xx=0.15,
        rate_drop=0.1,
        retry_after=0,
        fault_attempts=3,
        token_ttl=2,
        revoke_every=40,
    )
    with Sandbox(WORLD, faults=faults) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox, max_attempts=5), tmp_path, concurrency=8, batch_size=50
        )
        sent = dict(sandbox.stats.sent)
    assert result.complete and result.pairs == WORLD.pair_count and result.pairs_failed == 0
    # the faults really happened: throttling, 5xx, drops, refused tokens
    assert sent.get("429", 0) > 0 and sent.get("drop", 0) > 0 and sent.get("401", 0) > 0
    assert sum(sent.get(s, 0) for s in ("500", "502", "503")) > 0
    assert_matches_world(tmp_path, WORLD)
    snapshot = list_snapshots(tmp_path).iloc[-1]
    assert snapshot.status == "complete"
    assert snapshot.consumer_syncs_rows == WORLD.pair_count
    assert (snapshot.pairs_ok, snapshot.pairs_failed) == (WORLD.pair_count, 0)
    assert snapshot.package_version == chift_frames.__version__
    # batches, not a file per pair
    files = list((tmp_path / "mapping_values").rglob("*.parquet"))
    assert 1 < len(files) <= WORLD.pair_count // 50 + 2


def test_failed_and_missing_pairs_become_fetch_errors_then_resume(tmp_path: Path) -> None:
    stubborn = Faults(rate_5xx=0.2, fault_attempts=100, seed=5)
    with Sandbox(WORLD, faults=stubborn) as sandbox:
        first = fetch_snapshot(
            client_for(sandbox, max_attempts=2), tmp_path, batch_size=40, executions=False
        )
    assert first.status == "partial" and first.pairs_failed > 0
    errors = load(tmp_path, first.snapshot_id).fetch_errors
    # one row per failed pair, and per consumer whose connections failed: counted apart
    pairs = errors.dropna(subset=["consumer_id", "sync_id"])
    assert len(pairs) == first.pairs_failed
    assert len(errors) - len(pairs) == first.connections_failed
    assert first.pairs_ok + first.pairs_failed == first.pairs
    assert set(errors.http_status) <= {500, 502, 503} and (errors.attempts == 2).all()
    assert errors.endpoint.str.startswith("GET /consumers/").all()
    with Sandbox(WORLD) as sandbox:
        again = fetch_snapshot(client_for(sandbox), tmp_path, resume=first.snapshot_id)
        # only what failed: the pairs, and the consumers' connections
        assert sandbox.stats.sent["200"] == first.pairs_failed + first.connections_failed
    assert again.complete and again.snapshot_id == first.snapshot_id
    assert load(tmp_path).fetch_errors.empty
    assert_matches_world(tmp_path, WORLD)


@pytest.mark.parametrize("how", ["interrupted", "crashed"])
def test_an_interrupted_run_resumes_to_the_same_result(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original_get = _Run._get

    def flaky_get(self, consumer_id, sync_id):
        calls["n"] += 1
        if calls["n"] == 70:
            raise KeyboardInterrupt
        return original_get(self, consumer_id, sync_id)

    monkeypatch.setattr(_Run, "_get", flaky_get)
    if how == "crashed":  # the process dies before it can commit anything
        monkeypatch.setattr(_Run, "finish", lambda self, done, interrupted=None: None)
    with Sandbox(WORLD) as sandbox, pytest.raises(KeyboardInterrupt):
        fetch_snapshot(client_for(sandbox), tmp_path, concurrency=2, batch_size=20)
    monkeypatch.undo()
    states = snapshot_states(tmp_path)  # committed or not, with the command to resume
    assert len(states) == 1
    snapshot_id = states.snapshot_id[0]
    assert states.next_step[0].startswith(f"chift-frames fetch --out {tmp_path} --resume ")
    if how == "interrupted":
        partial = load(tmp_path, snapshot_id)
        assert 0 < len(partial.consumer_syncs) < WORLD.pair_count
        assert list_snapshots(tmp_path).status.tolist() == ["partial"]
    else:
        assert list_snapshots(tmp_path).empty  # never committed: invisible
    with Sandbox(WORLD) as sandbox:
        result = fetch_snapshot(client_for(sandbox), tmp_path, resume=snapshot_id)
        assert sandbox.stats.sent["200"] < WORLD.pair_count  # only what was missing
    assert result.complete
    assert_matches_world(tmp_path, WORLD, snapshot_id)


def test_filters_and_404(tmp_path: Path) -> None:
    consumer_id, sync_id = next(WORLD.pairs())
    with Sandbox(WORLD) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox), tmp_path, sync_ids=[sync_id], consumer_ids=[consumer_id]
        )
    assert result.pairs == 1
    assert load(tmp_path).consumer_syncs[["consumer_id", "sync_id"]].values.tolist() == [
        [consumer_id, sync_id]
    ]
    # a pair that /syncs lists but that answers 404 is a fetch error, and the run goes on
    world = World(consumers=5, syncs=1, seed=2)
    unlinked = world.consumer_items()[0]["consumerid"]
    gone = world.consumer_sync
    victim = next(world.pairs())
    world.consumer_sync = lambda c, s: None if (c, s) == victim else gone(c, s)  # type: ignore[method-assign]
    with Sandbox(world) as sandbox:
        result = fetch_snapshot(client_for(sandbox), tmp_path)
    assert result.status == "partial" and result.pairs_failed == 1
    errors = load(tmp_path).fetch_errors
    assert errors[["consumer_id", "http_status", "message"]].values.tolist() == [
        [victim[0], 404, "The consumer is not configured for this sync"]
    ]
    assert unlinked  # the world still lists its consumers


def test_rebuild_gives_the_same_tables_without_the_network(tmp_path: Path) -> None:
    with Sandbox(WORLD) as sandbox:
        original = fetch_snapshot(client_for(sandbox), tmp_path)
    rebuilt = rebuild_snapshot(tmp_path, original.snapshot_id)
    a, b = load(tmp_path, original.snapshot_id), load(tmp_path, rebuilt)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    raw = load(tmp_path, original.snapshot_id, tables=["raw_responses"]).raw_responses
    pair_answers = (raw.consumer_id.notna() & raw.sync_id.notna()).sum()
    assert pair_answers == WORLD.pair_count  # every pair, as well as /syncs, /consumers, executions
    linked = {c for c, _ in WORLD.pairs()}
    assert raw.endpoint.str.endswith("/connections").sum() == len(linked)  # and connections
    assert len(a.executions) > 0
    info = list_snapshots(tmp_path).info_json.iloc[-1]
    assert original.snapshot_id in info


def test_cli_fetch_bad_credentials_exit_1_without_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "wrong-secret-4c2d"
    with Sandbox(WORLD, client_id="good", client_secret="right") as sandbox:
        point_at(monkeypatch, sandbox, client_id="good", client_secret=secret)
        status = main(["fetch", "--out", str(tmp_path), "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert "Chift refused the credentials" in captured.err
    assert secret not in captured.err + captured.out
    assert "Traceback" not in captured.err
    assert not list(tmp_path.rglob("*.parquet"))


def test_cli_fetch_missing_credential_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("CHIFT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CHIFT_CLIENT_ID", "x")
    assert main(["fetch", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (  # every missing variable at once, no longer one at a time
        "chift-frames: error: CHIFT_CLIENT_SECRET, CHIFT_ACCOUNT_ID are not set: export them "
        "with your Chift API key"
    )


def test_cli_fetch_partial_exits_2_and_lists_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(consumers=8, syncs=2, seed=4)
    victim = next(world.pairs())
    answer = world.consumer_sync
    world.consumer_sync = lambda c, s: None if (c, s) == victim else answer(c, s)  # type: ignore[method-assign]
    with Sandbox(world) as sandbox:
        point_at(monkeypatch, sandbox)
        status = main(["fetch", "--out", str(tmp_path), "--quiet", "--concurrency", "4"])
    out = capsys.readouterr().out
    assert status == 2
    assert "is partial: 1 of" in out and "--resume" in out and victim[0] in out


def test_auth_error_mid_run_keeps_what_was_fetched(tmp_path: Path) -> None:
    with Sandbox(WORLD) as sandbox:
        client = client_for(sandbox)
        client.get("/syncs")
        calls = {"n": 0}
        original = client._renew

        def refuse(stale):
            calls["n"] += 1
            if calls["n"] > 1:
                sandbox._strict = ("nobody", "nothing")
            return original(stale)

        client._renew = refuse  # type: ignore[method-assign]
        sandbox.faults.revoke_every = 30
        with pytest.raises(AuthError):
            fetch_snapshot(client, tmp_path, concurrency=1, batch_size=10)
    snapshots = list_snapshots(tmp_path)
    assert snapshots.status.tolist() == ["partial"]
    assert 0 < snapshots.consumer_syncs_rows.iloc[0] < WORLD.pair_count


def test_every_pair_table_is_compared() -> None:
    assert set(PAIR_TABLES) - {"payload_errors"} <= set(KEYS)


def test_no_secret_or_token_in_the_dataset(tmp_path: Path) -> None:
    secret = "very-secret-value-77aa"
    with Sandbox(WORLD, client_id="id", client_secret=secret) as sandbox:
        client = ChiftClient("id", secret, ACCOUNT, base_url=sandbox.url)
        fetch_snapshot(client, tmp_path, progress=False)
        token = client._token
    assert token
    frames = load(tmp_path, tables=None)
    raw = load(tmp_path, tables=["raw_responses"]).raw_responses
    texts = [df.astype(str).to_csv() for df in frames.values()]
    texts += [body.decode() for body in raw.body] + list(raw.endpoint)
    texts += [p.read_text() for p in (tmp_path / "_snapshots").glob("*.json")]
    blob = "\n".join(texts)
    assert secret not in blob and token not in blob
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and token.encode() not in data


def expected_executions(world: World, since: datetime) -> pd.DataFrame:
    tables = [
        flatten_executions(
            s["syncid"],
            [
                i
                for i in world.executions(s["syncid"])
                if datetime.fromisoformat(i["start"]) >= since
            ],
        )
        for s in world.sync_items()
    ]
    return to_pandas(pa.concat_tables(tables))


def test_executions_match_the_sandbox_despite_faults(tmp_path: Path) -> None:
    since = WORLD.now - timedelta(days=10)
    faults = Faults(rate_429=0.2, rate_5xx=0.2, rate_drop=0.1, retry_after=0, fault_attempts=2)
    with Sandbox(WORLD, faults=faults) as sandbox:
        result = fetch_snapshot(
            client_for(sandbox), tmp_path, executions_since=since, concurrency=4
        )
    assert result.complete
    got = load(tmp_path).executions
    expected = expected_executions(WORLD, since)
    assert len(got) > 500  # several pages of 500
    keys = ["sync_id", "execution_id"]
    pd.testing.assert_frame_equal(
        got.sort_values(keys).reset_index(drop=True),
        expected.sort_values(keys).reset_index(drop=True),
        check_exact=True,
    )
    assert {"success", "error", "running"} <= set(got.status)
    running = got[got.status == "running"]
    assert running.end.isna().all() and running.duration_s.isna().all()
    done = got[got.end.notna()]
    assert ((done.end - done.start).dt.total_seconds() == done.duration_s).all()


def test_executions_that_fail_are_a_fetch_error_then_resume(tmp_path: Path) -> None:
    since = WORLD.now - timedelta(days=3)
    stubborn = Faults(rate_5xx=1.0, fault_attempts=100)
    with Sandbox(WORLD, faults=stubborn) as sandbox:
        # only the executions pages fail: every pair path is asked once and succeeds first
        sandbox.fault_for = lambda key, f=sandbox.fault_for: (  # type: ignore[method-assign]
            f(key) if "/executions" in key else None
        )
        first = fetch_snapshot(
            client_for(sandbox, max_attempts=2), tmp_path, executions_since=since
        )
    assert first.status == "partial"
    errors = load(tmp_path).fetch_errors
    assert errors.consumer_id.isna().all()
    assert sorted(errors.sync_id) == sorted(s["syncid"] for s in WORLD.sync_items())
    assert errors.endpoint.str.contains("/executions").all()
    with Sandbox(WORLD) as sandbox:
        again = fetch_snapshot(client_for(sandbox), tmp_path, resume=first.snapshot_id)
    assert again.complete
    frames = load(tmp_path)
    assert frames.fetch_errors.empty
    assert len(frames.executions) == len(expected_executions(WORLD, since))
    assert len(frames.consumer_syncs) == WORLD.pair_count


def test_fail_pairs_rehearses_a_partial_fetch_that_resume_finishes(tmp_path: Path) -> None:
    faults = Faults(fail_pairs=0.1, seed=3)
    with Sandbox(WORLD, faults=faults) as sandbox:
        failing = {p for p in WORLD.pairs() if sandbox.failing_pair(*p)}
        first = fetch_snapshot(client_for(sandbox), tmp_path, executions=False)
        assert first.status == "partial"
        errors = load(tmp_path, first.snapshot_id).fetch_errors
        assert set(zip(errors.consumer_id, errors.sync_id, strict=True)) == failing
        assert (errors.http_status == 503).all() and (errors.attempts == 5).all()
        # the same sandbox, still running: the pairs now get through
        again = fetch_snapshot(client_for(sandbox), tmp_path, resume=first.snapshot_id)
    assert 0 < len(failing) < WORLD.pair_count
    assert again.complete and again.snapshot_id == first.snapshot_id
    assert_matches_world(tmp_path, WORLD)

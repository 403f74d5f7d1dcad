"""The whole cycle on s3://, against moto's S3 server in its own process."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pandas as pd
import pytest

from chift_frames import SnapshotWriter, StoreError, list_snapshots, load, query
from chift_frames.cli import main
from chift_frames.sandbox import Sandbox
from chift_frames.store import snapshot_manifest, snapshot_states
from chift_frames.world import World
from tests.test_fetch import ACCOUNT, assert_matches_world

WORLD = World(consumers=12, syncs=2, seed=5)
SECRET = "chift-secret-canary-7f3a"


def chift_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    for key, value in {
        "CHIFT_CLIENT_ID": "id",
        "CHIFT_CLIENT_SECRET": SECRET,
        "CHIFT_ACCOUNT_ID": ACCOUNT,
        "CHIFT_BASE_URL": sandbox.url,
    }.items():
        monkeypatch.setenv(key, value)


def bucket_of(url: str) -> str:
    return url.removeprefix("s3://").split("/", 1)[0]


def test_the_whole_cycle_on_s3(
    s3_api: Any, s3_root: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World(consumers=12, syncs=2, seed=5)
    with Sandbox(world) as sandbox:
        chift_env(monkeypatch, sandbox)
        assert main(["fetch", "--out", s3_root, "--quiet"]) == 0
        first = list_snapshots(s3_root).snapshot_id.iloc[-1]
        assert_matches_world(s3_root, world, first)
        sandbox.evolve()
        assert main(["fetch", "--out", s3_root, "--quiet"]) == 0
    second = list_snapshots(s3_root).snapshot_id.iloc[-1]
    assert_matches_world(s3_root, world, second)
    assert f"Snapshot {second} in {s3_root}" in capsys.readouterr().out

    sql = "SELECT count(*) AS n FROM consumer_syncs"
    assert main(["query", s3_root, sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": world.pair_count}]
    assert query(s3_root, sql, snapshot="all").n[0] == 2 * world.pair_count

    assert main(["summary", s3_root]) == 0
    assert "Rows per table:" in capsys.readouterr().out

    assert main(["diff", s3_root]) == 0
    assert f"What changed from {first} to {second}" in capsys.readouterr().out

    assert main(["report", s3_root, "--html", f"{s3_root}/page.html"]) == 0
    out = capsys.readouterr().out
    assert f"Reports of snapshot {second} in {s3_root}/reports/{second}" in out
    bucket = bucket_of(s3_root)
    keys = s3_api.keys(bucket)
    assert "lake/page.html" in keys
    assert f"lake/reports/{second}/onboarding_funnel.parquet" in keys

    assert main(["rebuild", s3_root]) == 0
    rebuilt = list_snapshots(s3_root).snapshot_id.iloc[-1]
    assert rebuilt not in (first, second)
    assert_matches_world(s3_root, world, rebuilt)

    assert main(["prune", s3_root, "--keep-last", "1"]) == 0
    assert list_snapshots(s3_root).snapshot_id.tolist() == [rebuilt]
    keys = s3_api.keys(bucket)
    partitions = {k.split("/")[2] for k in keys if "=" in k}
    # what is left of the pruned snapshots: the parts of the executions log the rebuild lists
    listed = snapshot_manifest(s3_root, rebuilt)["files"]["executions"]
    assert partitions == {f"snapshot_id={rebuilt}"} | {rel.split("/")[1] for rel in listed}
    others = {
        k.removeprefix("lake/")
        for k in keys
        if k.endswith(".parquet") and "=" in k and f"snapshot_id={rebuilt}" not in k
    }
    assert others <= set(listed) and all(o.startswith("executions/") for o in others)
    assert [k for k in keys if k.startswith("lake/_snapshots/") and not k.endswith("/")] == [
        f"lake/_snapshots/{rebuilt}.json"
    ]
    # (pyarrow leaves empty "folder/" markers on S3, which readers skip)
    objects = [k for k in keys if not k.endswith("/")]
    assert not [k for k in objects if k.startswith(("lake/_staging/", "lake/_locks/"))]
    # no credential of either side in any object of the bucket
    import boto3

    client = boto3.client("s3", endpoint_url=s3_api.endpoint)
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for secret in (SECRET, s3_api.env["AWS_SECRET_ACCESS_KEY"]):
            assert secret.encode() not in body, key


def test_a_failed_put_leaves_nothing_visible_and_resume_completes_it(
    s3_api: Any, s3_root: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail_the_pairs_parts(path: str) -> bool:
        # the lists of syncs and consumers are stored; the pairs' rows can't be
        return "/_staging/" in path and "/consumer_syncs/" in path and path.endswith(".parquet")

    s3_api.faults.fail_put = fail_the_pairs_parts
    with Sandbox(WORLD) as sandbox:
        chift_env(monkeypatch, sandbox)
        assert main(["fetch", "--out", s3_root, "--quiet", "--concurrency", "2"]) == 1
        err = capsys.readouterr().err
        # which snapshot is fetched and how to resume it, the error, then the resume command
        start, error, hint = err.splitlines()
        assert start.startswith("Fetching snapshot ") and " --resume " in start
        assert error.startswith("chift-frames: error: cannot ") and "injected" in error
        assert hint.startswith("chift-frames: Snapshot ") and " --resume " in hint
        assert SECRET not in err and s3_api.env["AWS_SECRET_ACCESS_KEY"] not in err
        # nothing visible: no snapshot for load, no part in any table folder
        with pytest.raises(StoreError, match="holds no complete snapshot"):
            load(s3_root)
        keys = s3_api.keys(bucket_of(s3_root))
        assert not [k for k in keys if "=" in k.split("/")[1] or "snapshot_id=" in k.split("/")[2]]
        states = snapshot_states(s3_root)
        assert states.status.tolist() == ["writing"]
        sid = states.snapshot_id[0]
        assert states.next_step[0].startswith(f"chift-frames fetch --out {s3_root} --resume {sid}")
        resume = ["chift-frames", "fetch", "--out", s3_root, "--resume", sid]
        for line in (start, hint):  # the URL, not a path that lost a slash of s3://
            assert shlex.split(line.split("finish it with: ", 1)[1]) == resume, line

        s3_api.faults.fail_put = None
        assert main(["fetch", "--out", s3_root, "--quiet", "--resume", sid]) == 0
    assert_matches_world(s3_root, WORLD, sid)
    assert list_snapshots(s3_root).status.tolist() == ["complete"]


def test_one_writer_per_snapshot_on_s3(s3_root: str) -> None:
    writer = SnapshotWriter(s3_root, "only-one")
    with pytest.raises(StoreError, match="being written by another writer"):
        SnapshotWriter(s3_root, "only-one")
    writer.commit()
    with pytest.raises(StoreError, match="already exists"):
        SnapshotWriter(s3_root, "only-one")
    frames = load(s3_root, "only-one")
    assert all(isinstance(df, pd.DataFrame) and df.empty for df in frames.values())


def test_an_endpoint_in_the_url_is_used_for_every_request(
    s3_api: Any, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    host = s3_api.endpoint.removeprefix("http://")
    url = f"{s3_root}?endpoint_override={host}&scheme=http"
    writer = SnapshotWriter(url, "by-url")  # the lock's conditional create goes there too
    with pytest.raises(StoreError, match="being written by another writer"):
        SnapshotWriter(url, "by-url")
    writer.commit()
    assert list_snapshots(url).snapshot_id.tolist() == ["by-url"]


def test_a_damaged_manifest_on_s3_is_skipped_then_set_aside(
    s3_root: str, active_pos: dict[str, Any]
) -> None:
    from chift_frames import flatten, save
    from chift_frames.store.filesystems import open_root

    frames = flatten([("c1", active_pos)], fetched_at="2026-11-27T10:00:00Z")
    save(frames, s3_root, snapshot_id="good")
    save(frames, s3_root, snapshot_id="torn")
    root = open_root(s3_root)
    manifest = root.read("_snapshots/torn.json")
    root.write("_snapshots/torn.json", manifest[: len(manifest) // 2])
    assert list_snapshots(s3_root).snapshot_id.tolist() == ["good"]
    assert snapshot_states(s3_root).status.tolist() == ["complete", "damaged"]
    assert main(["snapshots", s3_root, "--clean"]) == 0
    assert not root.exists("_snapshots/torn.json")
    aside = root.list_files("_damaged")
    assert any(rel.endswith("/_snapshots/torn.json") for rel in aside)
    assert any("/consumer_syncs/snapshot_id=torn/part-" in rel for rel in aside)
    pd.testing.assert_frame_equal(load(s3_root, "good").consumer_syncs, frames.consumer_syncs)
    save(frames, s3_root, snapshot_id="torn")  # the id is free again
    assert list_snapshots(s3_root).snapshot_id.tolist() == ["good", "torn"]


def test_compact_on_s3_merges_small_parts_and_keeps_every_row(s3_root: str) -> None:
    from chift_frames.fetch import fetch_snapshot
    from chift_frames.schema import TABLES
    from chift_frames.store import compact
    from tests.test_fetch import client_for

    with Sandbox(WORLD) as sandbox:
        fetch_snapshot(client_for(sandbox), s3_root, batch_size=3, progress=False)
    before = snapshot_manifest(s3_root)["files"]
    assert len(before["mapping_values"]) > 3
    tables = load(s3_root, tables=list(TABLES))
    assert list(compact(s3_root).merged) == [snapshot_manifest(s3_root)["snapshot_id"]]
    after = snapshot_manifest(s3_root)["files"]
    assert len(after["mapping_values"]) == 1 and set(after["mapping_values"]).isdisjoint(
        before["mapping_values"]
    )
    got = load(s3_root, tables=list(TABLES))
    for name in TABLES:
        pd.testing.assert_frame_equal(got[name], tables[name], obj=name)
    assert compact(s3_root) == ({}, {})

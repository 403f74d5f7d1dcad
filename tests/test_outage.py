"""An API that goes away: the fetch notices, stops, keeps what came, and names the host."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chift_frames import TransportError, UnreachableError, list_snapshots, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.fetch import fetch_snapshot
from chift_frames.sandbox import Sandbox
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
SECRET = "s3cr3t-outage-do-not-leak"
WORLD = World(consumers=40, syncs=2, seed=21)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DyingSandbox(Sandbox):
    """A sandbox that goes away, as a stopped server does, after serving ``pairs`` pairs.

    Its stop takes up to half a second (the server's poll), a whole fetch here less: until
    then it closes every connection without an answer.
    """

    def __init__(self, world: World, pairs: int) -> None:
        super().__init__(world)
        self.pairs_left = pairs
        self.dying = threading.Event()
        self._count = threading.Lock()
        self._stopping = threading.Lock()  # stopped by its own thread, then by the test

    def route(self, path: str, query: Any) -> tuple[int, Any]:
        if path.startswith("/consumers/") and "/syncs/" in path:
            with self._count:
                self.pairs_left -= 1
                if self.pairs_left == 0:
                    self.dying.set()
        return super().route(path, query)

    def fault_for(self, key: str) -> str | None:
        # from the last pair on, no answer: connections closed, until it is stopped
        return "drop" if self.dying.is_set() else super().fault_for(key)

    def start(self) -> Sandbox:
        super().start()
        # stopped from its own thread, as another process would: connections reset, refused
        threading.Thread(target=self._die, name="sandbox-dies", daemon=True).start()
        return self

    def stop(self) -> None:
        with self._stopping:
            super().stop()

    def _die(self) -> None:
        if self.dying.wait(60):
            self.stop()


def point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for key in list(os.environ):
        if key.startswith("CHIFT_"):
            monkeypatch.delenv(key)
    for key, value in {
        "CHIFT_CLIENT_ID": "id",
        "CHIFT_CLIENT_SECRET": SECRET,
        "CHIFT_ACCOUNT_ID": ACCOUNT,
        "CHIFT_BASE_URL": url,
    }.items():
        monkeypatch.setenv(key, value)


def test_a_closed_port_is_named_with_its_host_and_why() -> None:
    port = closed_port()
    client = ChiftClient(
        "id", SECRET, ACCOUNT, base_url=f"http://127.0.0.1:{port}", max_attempts=2, backoff=0.001
    )
    with pytest.raises(TransportError) as info:
        client.get("/syncs", {"consumers_status": "enabled"})
    message = str(info.value)
    assert message == (
        f"[POST /token] no answer after 2 attempts from 127.0.0.1:{port} (connection refused)"
    )
    assert not isinstance(info.value, UnreachableError)  # 60 s by default: not reached
    assert SECRET not in message and "consumers_status" not in message


def test_an_api_that_stays_away_is_given_up_and_an_answer_resets_the_clock() -> None:
    port = closed_port()
    client = ChiftClient(
        "id",
        SECRET,
        ACCOUNT,
        base_url=f"http://127.0.0.1:{port}",
        max_attempts=1000,  # without the give-up, minutes of retries
        backoff=0.05,
        max_backoff=5.0,
        give_up_after=1.0,
    )
    started = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        client.get("/syncs")
    assert time.monotonic() - started < 30  # the waits end when the API is given up
    error = info.value
    assert error.host == f"127.0.0.1:{port}" and error.silent_for >= 1.0
    assert 1 < error.attempts < 1000
    assert f"no answer from 127.0.0.1:{port} for " in str(error)
    assert "(connection refused; " in str(error) and "(give-up-after 1 s)" in str(error)
    # still away: the next request tries once, then gives up at once
    with pytest.raises(UnreachableError) as again:
        client.get("/consumers")
    assert again.value.attempts == 1
    # the API comes back on that port: an answer stops the clock
    with Sandbox(World(consumers=2, syncs=1), port=port):
        assert client.get("/syncs").status == 200
    # gone again, from a fresh clock: a plain TransportError after the attempts
    client.max_attempts = 2
    with pytest.raises(TransportError) as after:
        client.get("/consumers")
    assert not isinstance(after.value, UnreachableError)
    assert after.value.attempts == 2


def test_give_up_after_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="give_up_after"):
        ChiftClient("id", SECRET, ACCOUNT, base_url="http://127.0.0.1:1", give_up_after=-1)
    client = ChiftClient.from_env(
        {
            "CHIFT_CLIENT_ID": "id",
            "CHIFT_CLIENT_SECRET": SECRET,
            "CHIFT_ACCOUNT_ID": ACCOUNT,
            "CHIFT_FRAMES_GIVE_UP_AFTER": "0",
        }
    )
    assert client.give_up_after is None  # 0: never give up
    with pytest.raises(ValueError, match="CHIFT_FRAMES_GIVE_UP_AFTER must be a number"):
        ChiftClient.from_env(
            {
                "CHIFT_CLIENT_ID": "id",
                "CHIFT_CLIENT_SECRET": SECRET,
                "CHIFT_ACCOUNT_ID": ACCOUNT,
                "CHIFT_FRAMES_GIVE_UP_AFTER": "soon",
            }
        )


def test_a_fetch_whose_api_goes_away_stops_keeps_what_came_and_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path)
    with DyingSandbox(WORLD, pairs=25) as sandbox:
        point_at(monkeypatch, sandbox.url)
        host = sandbox.url.removeprefix("http://")
        started = time.monotonic()
        status = main(
            ["fetch", "--out", out, "--quiet", "--concurrency", "4", "--give-up-after", "2"]
        )
        took = time.monotonic() - started
    assert sandbox.dying.is_set()
    assert status == 2
    assert took < 30  # with retries on every remaining request, minutes
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    (snapshot_id,) = list_snapshots(tmp_path).snapshot_id
    errors = [line for line in err if line.startswith("chift-frames: error:")]
    assert len(errors) == 1, err  # said once, in one line, even with --quiet
    assert f"no answer from {host} for " in errors[0]
    assert any(f"--resume {snapshot_id}" in line for line in err[1:]), err
    assert SECRET not in captured.err + captured.out
    # what came is a partial snapshot holding the pairs done
    (row,) = list_snapshots(tmp_path).itertuples()
    assert row.status == "partial"
    assert 0 < row.pairs_ok < WORLD.pair_count
    with pytest.warns(UserWarning, match="interrupted"):
        fetched = load(tmp_path, snapshot_id, tables=["consumer_syncs"]).consumer_syncs
    assert len(fetched) == row.pairs_ok
    # the API is back (on another port): the resume fetches the rest
    with Sandbox(WORLD) as back:
        point_at(monkeypatch, back.url)
        assert main(["fetch", "--out", out, "--quiet", "--resume", snapshot_id]) == 0
    done = load(tmp_path, snapshot_id, tables=["consumer_syncs"]).consumer_syncs
    assert len(done) == WORLD.pair_count


def test_fetch_snapshot_raises_unreachable_naming_the_partial_snapshot(tmp_path: Path) -> None:
    with DyingSandbox(WORLD, pairs=10) as sandbox:
        client = ChiftClient("id", SECRET, ACCOUNT, base_url=sandbox.url, give_up_after=1)
        with pytest.raises(UnreachableError) as info:
            fetch_snapshot(client, tmp_path, concurrency=3)
    (row,) = list_snapshots(tmp_path).itertuples()
    assert info.value.snapshot_id == row.snapshot_id and row.status == "partial"
    assert info.value.host == sandbox.url.removeprefix("http://")
    (note,) = info.value.__notes__
    assert note.endswith(f"--resume {row.snapshot_id}")
    assert 0 < row.pairs_ok < WORLD.pair_count


def test_an_api_down_from_the_start_is_one_line_naming_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    point_at(monkeypatch, f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHIFT_FRAMES_GIVE_UP_AFTER", "1")
    started = time.monotonic()
    assert main(["fetch", "--out", str(tmp_path / "lib"), "--quiet"]) == 1  # nothing to resume
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("chift-frames: error: [POST /token] ")
    assert f"127.0.0.1:{port}" in err[0] and "connection refused" in err[0]
    assert SECRET not in err[0]
    assert not (tmp_path / "lib").exists() or not list_snapshots(tmp_path / "lib").size


def test_a_bad_give_up_after_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    point_at(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("CHIFT_FRAMES_GIVE_UP_AFTER", "a minute")
    assert main(["fetch", "--out", str(tmp_path), "--quiet"]) == 1
    assert capsys.readouterr().err == (
        "chift-frames: error: CHIFT_FRAMES_GIVE_UP_AFTER must be a number of seconds "
        "(0: never give up), not 'a minute'\n"
    )


def test_a_stopped_sandbox_answers_no_more_even_on_kept_alive_connections() -> None:
    sandbox = Sandbox(World(consumers=2, syncs=1)).start()
    client = ChiftClient("id", SECRET, ACCOUNT, base_url=sandbox.url, max_attempts=2, backoff=0.001)
    assert client.get("/syncs").status == 200  # the connection is kept alive in the pool
    sandbox.stop()
    with pytest.raises(TransportError, match=sandbox.url.removeprefix("http://")):
        client.get("/syncs")

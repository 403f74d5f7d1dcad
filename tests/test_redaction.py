"""No secret and no token leaves, even when the server echoes the request in its error answers:
not in stdout, stderr, a log record, an exception, or any byte of any file of the dataset."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from chift_frames import AuthError, ChiftError, fetch_snapshot, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.redact import REDACTED, Redactor
from chift_frames.sandbox import Faults, Sandbox
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
CANARY = "canary-secret-5b1e93d7c0"


def env(monkeypatch: pytest.MonkeyPatch, url: str, secret: str = CANARY) -> None:
    for key, value in {
        "CHIFT_CLIENT_ID": "canary-client",
        "CHIFT_CLIENT_SECRET": secret,
        "CHIFT_ACCOUNT_ID": ACCOUNT,
        "CHIFT_BASE_URL": url,
    }.items():
        monkeypatch.setenv(key, value)


def echoing_world() -> World:
    world = World(consumers=12, syncs=2, seed=9)
    victims = list(world.pairs())[:3]
    answer = world.consumer_sync
    world.consumer_sync = lambda c, s: None if (c, s) in victims else answer(c, s)  # type: ignore[method-assign]
    return world


def assert_no_canary(texts: list[str], files: Path | None, tokens: list[str]) -> None:
    assert tokens, "the test must know the tokens it looks for"
    blob = "\n".join(texts)
    for needle in [CANARY, *tokens]:
        assert needle not in blob
    if files is not None:
        for path in files.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for needle in [CANARY, *tokens]:
                    assert needle.encode() not in data, path


def test_an_echoing_server_leaks_nothing_through_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    # 404s for three pairs, and 5xx that never end for some others: every error body echoes
    # the request, Authorization header included
    faults = Faults(rate_5xx=0.1, fault_attempts=100, seed=4)
    with Sandbox(
        echoing_world(), client_id="canary-client", client_secret=CANARY, echo=True, faults=faults
    ) as sandbox:
        env(monkeypatch, sandbox.url)
        status = main(
            ["fetch", "--out", str(tmp_path), "--quiet", "--executions-since", "2026-11-20"]
        )
        tokens = list(sandbox.issued)
    out, err = capsys.readouterr()
    assert status == 2
    assert REDACTED in out  # the echoes were there, and were cut
    records = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    assert_no_canary([out, err, *records], tmp_path, tokens)


def test_an_echoing_server_leaks_nothing_when_it_refuses_the_secret(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    with Sandbox(World(consumers=2, syncs=1), client_id="x", client_secret="y", echo=True) as sb:
        env(monkeypatch, sb.url)
        assert main(["fetch", "--out", str(tmp_path), "--quiet"]) == 1
        client = ChiftClient("canary-client", CANARY, ACCOUNT, base_url=sb.url)
        with pytest.raises(AuthError) as info:
            client.get("/syncs")
    out, err = capsys.readouterr()
    assert "Chift refused the credentials" in err and REDACTED in err
    texts = [out, err, str(info.value), repr(info.value), repr(info.value.detail)]
    texts += [r.getMessage() for r in caplog.records]
    assert_no_canary(texts, tmp_path, ["no-token-was-issued"])


def test_exceptions_from_an_echoing_server_carry_no_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = echoing_world()
    victim = next(world.pairs())
    faults = Faults(rate_429=0.5, rate_5xx=0.5, retry_after=0, fault_attempts=100)
    texts: list[str] = []
    with Sandbox(world, echo=True) as sandbox:
        client = ChiftClient("id", CANARY, ACCOUNT, base_url=sandbox.url, max_attempts=2, backoff=0)
        client.get("/syncs")
        sandbox.faults = faults
        for path in ("/consumers", f"/consumers/{victim[0]}/syncs/{victim[1]}", "/nope"):
            with pytest.raises(ChiftError) as info:
                client.get(path)
            error = info.value
            texts += [str(error), repr(error), repr(error.detail), error.message]
        tokens = list(sandbox.issued)
    assert any(REDACTED in text for text in texts)
    texts += [r.getMessage() for r in caplog.records]
    assert_no_canary(texts, None, tokens)


def test_the_redactor_removes_escaped_forms_and_header_values() -> None:
    redactor = Redactor(['se"cret/+1'])
    redactor.add("tok.en-123")
    text = (
        'body={"clientSecret": "se\\"cret/+1"} form=clientSecret=se%22cret%2F%2B1 '
        "headers={'Authorization': 'Bearer tok.en-123'} bare tok.en-123 "
        "other: authorization=Basic dXNlcjpwYXNz, Bearer abc.def-ghi"
    )
    cleaned = redactor.text(text)
    for leak in ('se\\"cret', "se%22cret", "tok.en-123", "dXNlcjpwYXNz", "abc.def-ghi"):
        assert leak not in cleaned
    assert redactor.value({"a": ["x tok.en-123", {"b": 'se"cret/+1'}], "n": 3}) == {
        "a": [f"x {REDACTED}", {"b": REDACTED}],
        "n": 3,
    }
    assert redactor.data(b'{"x": "tok.en-123"}') == b'{"x": "[REDACTED]"}'


def test_a_short_secret_does_not_cut_ordinary_text() -> None:
    redactor = Redactor(["b", "secret"])  # too short to tell from text: ids stay whole
    assert redactor.data(b'{"id": "ab-12b"}') == b'{"id": "ab-12b"}'
    assert redactor.text("clientSecret=b, id ab-12b") == f"clientSecret={REDACTED}, id ab-12b"


def test_a_fetch_with_a_one_letter_secret_is_exact(tmp_path: Path) -> None:
    world = World(consumers=6, syncs=1, seed=2)
    with Sandbox(world) as sandbox:
        client = ChiftClient("b", "b", ACCOUNT, base_url=sandbox.url)
        result = fetch_snapshot(client, tmp_path, progress=False)
    assert result.complete
    assert len(load(tmp_path).consumer_syncs) == world.pair_count


def test_a_body_that_echoes_the_token_is_stored_without_it(tmp_path: Path) -> None:
    world = World(consumers=4, syncs=1, seed=1)
    answer = world.consumer_sync
    sandbox = Sandbox(world)
    seen: dict[str, Any] = {}

    def echo(consumer_id: str, sync_id: str) -> dict[str, Any] | None:
        payload = answer(consumer_id, sync_id)
        if payload is not None and sandbox.issued:
            payload["link_metadata"] = {"echo": f"Bearer {sandbox.issued[-1]}", "s": CANARY}
            seen["echoed"] = True
        return payload

    world.consumer_sync = echo  # type: ignore[method-assign]

    with sandbox:
        fetch_snapshot(
            ChiftClient("id", CANARY, ACCOUNT, base_url=sandbox.url), tmp_path, progress=False
        )
        tokens = list(sandbox.issued)
    assert seen["echoed"]
    metadata = load(tmp_path).consumer_syncs.link_metadata
    assert metadata.str.contains(REDACTED, regex=False).all()
    assert_no_canary([], tmp_path, tokens)

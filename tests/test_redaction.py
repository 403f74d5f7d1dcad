"""No secret and no token leaves, even when the server echoes the request in its error answers:
not in stdout, stderr, a log record, an exception, or any byte of any file of the dataset."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from chift_frames import AuthError, ChiftError, fetch_snapshot, load
from chift_frames.cli import main
from chift_frames.client import ChiftClient
from chift_frames.errors import PartialSnapshotWarning, UnknownFieldsWarning
from chift_frames.redact import REDACTED, Redactor
from chift_frames.sandbox import Faults, Sandbox, _Handler
from chift_frames.schema import TABLES
from chift_frames.world import World

from .test_transport import Scripted, send

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


# -- secrets the server escapes (\u, \/, any hex case) in its 200 answers ---------------------

SLASHED = "canary/secret/5b1e93d7c0"  # a '/' a server may send escaped as '\/'
PLACEHOLDER_SECRET, PLACEHOLDER_TOKEN = "@@SECRET@@", "@@TOKEN@@"


def _escapes(text: str) -> list[str]:
    """Ways a JSON server may write ``text`` in a string: each one decodes to ``text``."""
    return [
        "".join(f"\\u{ord(c):04x}" for c in text),  # every character, lower-case hex
        "".join(f"\\u{ord(c):04X}" if i % 2 else f"\\u{ord(c):04x}" for i, c in enumerate(text)),
        "".join(f"\\u{ord(c):04x}" if i % 3 == 1 else c for i, c in enumerate(text)),  # some
        text.replace("/", "\\/"),  # escaped slashes only (a token has none: then unchanged)
    ]


class _EscapingHandler(_Handler):
    """Writes the client secret and the newest token, where the world put placeholders, into
    every answer, each time escaped another way, as a careless server might."""

    count = itertools.count()

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        issued = self.server.sandbox.issued
        for placeholder, value in ((PLACEHOLDER_SECRET, SLASHED), (PLACEHOLDER_TOKEN, None)):
            value = value or (issued[-1] if issued else "no-token-yet")
            while placeholder.encode() in data:
                form = _escapes(value)[next(self.count) % 4]
                data = data.replace(placeholder.encode(), form.encode(), 1)
        super()._send_bytes(status, data, headers)


def _hostile_world() -> World:
    """A world whose answers hold the secret and the token in every kind of place."""
    world = World(consumers=8, syncs=2, seed=5, now=datetime.now(UTC))  # runs in the window
    pair, connections, executions = world.consumer_sync, world.connection_items, world.executions
    consumers = world.consumer_items
    secret, token = PLACEHOLDER_SECRET, PLACEHOLDER_TOKEN

    def hostile_pair(consumer_id: str, sync_id: str) -> dict[str, Any] | None:
        payload = pair(consumer_id, sync_id)
        if payload is not None:
            payload["sync_name"] = f"POS {secret}"
            payload["status_details"] = f"refused: Bearer {token} for {secret}"
            payload["link_metadata"] = {"echo": secret, token: [f"x{token}y"]}
        return payload

    def hostile_connections(consumer_id: str) -> list[dict[str, Any]] | None:
        items = connections(consumer_id)
        for item in items or []:
            item["name"] = f"{secret} ({token})"
        return items

    def hostile_executions(sync_id: str, days: int = 30) -> list[dict[str, Any]]:
        items = executions(sync_id, days)
        for item in items[:5]:
            item["status"] = token
        return items

    def hostile_consumers() -> list[dict[str, Any]]:
        items = consumers()
        for item in items[:2]:
            item["name"] = f"{secret}"
        return items

    world.consumer_sync = hostile_pair  # type: ignore[method-assign]
    world.connection_items = hostile_connections  # type: ignore[method-assign]
    world.executions = hostile_executions  # type: ignore[method-assign]
    world.consumer_items = hostile_consumers  # type: ignore[method-assign]
    return world


def _leaks(text: str, needles: list[str]) -> list[str]:
    return [n for n in needles if n in text or any(form in text for form in _escapes(n))]


def test_a_secret_escaped_in_200_answers_is_stored_and_printed_nowhere(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    with Sandbox(_hostile_world()) as sandbox:
        sandbox._server.RequestHandlerClass = _EscapingHandler
        env(monkeypatch, sandbox.url, secret=SLASHED)
        since = (datetime.now(UTC) - timedelta(days=40)).date().isoformat()
        main(["fetch", "--out", str(tmp_path), "--quiet", "--executions-since", since])
        tokens = list(sandbox.issued)
    out, err = capsys.readouterr()
    assert tokens
    needles = [SLASHED, *tokens]
    tables = load(tmp_path, tables=[*TABLES])  # every table, raw_responses included
    redacted = 0
    for name, frame in tables.items():
        for column in frame.columns:
            for value in frame[column]:
                if isinstance(value, bytes):  # a raw body: as stored, and decoded
                    assert not _leaks(value.decode("utf-8", "replace"), needles), name
                    value = json.dumps(json.loads(value), ensure_ascii=False)
                if isinstance(value, str):
                    assert not _leaks(value, needles), f"{name}.{column}: {value[:200]}"
                    redacted += REDACTED in value
    # the placeholders were all there, and were cut: none is left as the server sent it
    for name, column in [
        ("consumer_syncs", "sync_name"),
        ("consumer_syncs", "status_details"),
        ("consumer_syncs", "link_metadata"),
        ("connections", "name"),
    ]:
        assert tables[name][column].str.contains(REDACTED, regex=False).all(), (name, column)
    assert (tables["executions"].status == REDACTED).sum() >= 5
    assert redacted
    records = [r.getMessage() for r in caplog.records]
    for text in [out, err, *records]:
        assert not _leaks(text, needles)


# \u escapes (any hex case, all or some characters), \/, and percent escapes in either case
ESCAPED = [
    *_escapes(SLASHED),
    quote(SLASHED, safe="").lower(),
    SLASHED.replace("/", "%2F", 1).replace("/", "%2f"),
]


@pytest.mark.parametrize("form", ESCAPED)
def test_the_redactor_finds_a_secret_however_a_body_or_a_text_escapes_it(form: str) -> None:
    redactor = Redactor([SLASHED])
    body = (
        '{"a": ["x ' + form + ' y"], "' + form + '": {"b": "\\u00e9t\\u00E9"}, "n": 1.5}'
    ).encode()
    cleaned = redactor.data(body)
    assert json.loads(cleaned) == {"a": [f"x {REDACTED} y"], REDACTED: {"b": "été"}, "n": 1.5}
    text = redactor.text(f"the server said: you sent {form}, refused")
    assert SLASHED not in text and form not in text and REDACTED in text
    # an escape that hides nothing leaves the body as it came (the fast path keeps its bytes)
    plain = b'{"a": "caf\\u00e9 \\/ 100%25"}'
    assert redactor.data(plain) == plain


def test_the_redactor_finds_a_secret_in_a_utf16_body_and_in_json_inside_json() -> None:
    redactor = Redactor([SLASHED])
    utf16 = json.dumps({"echo": SLASHED}).encode("utf-16")
    assert json.loads(redactor.data(utf16)) == {"echo": REDACTED}
    inner = json.dumps({"token": _escapes(SLASHED)[0]})  # a string holding escaped JSON
    cleaned = json.loads(redactor.data(json.dumps({"detail": inner}).encode()))
    assert SLASHED not in json.dumps(cleaned) and REDACTED in cleaned["detail"]


def test_an_error_text_is_redacted_before_it_is_cut() -> None:
    # a proxy's plain-text error page that echoes the secret across the 200th character
    page = ("x" * 185 + f" sent {CANARY}").encode()
    server = Scripted({"/syncs": lambda handler: send(handler, 502, page)})
    server.thread.start()
    try:
        client = ChiftClient("id", CANARY, ACCOUNT, base_url=server.url, max_attempts=1)
        with pytest.raises(ChiftError) as info:
            client.get("/syncs")
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.status == 502
    assert CANARY[:6] not in info.value.message and info.value.message.endswith(REDACTED[:9])


# -- a connection's data: left out on every path unless asked for ------------------------------

API_KEY = "consumer-api-key-8c41d2"


def _world_with_connection_data() -> tuple[World, list[str]]:
    """Connections whose settings hide in a body that breaks the spec, in ``Data``, in
    ``agent.data``, and in plain ``data``: one consumer each."""
    world = World(consumers=6, syncs=1, seed=3)
    answer = world.connection_items
    consumers = sorted({c for c, _ in world.pairs() if answer(c)})[:4]
    settings = {"api_key": API_KEY}

    def connections(consumer_id: str) -> Any:
        items = answer(consumer_id)
        if consumer_id not in consumers:
            return items
        which = consumers.index(consumer_id)
        if which == 0:  # a payload error: an object where the spec says an array
            return {"items": [{**c, "data": settings} for c in items]}
        if which == 1:
            return [{**c, "Data": settings} for c in items]
        if which == 2:
            return [{**c, "agent": {"status": "up", "data": settings}} for c in items]
        return [{**c, "data": settings} for c in items]

    world.connection_items = connections  # type: ignore[method-assign]
    return world, consumers


@pytest.mark.parametrize("keep", [False, True])
def test_connection_data_is_left_out_on_every_path_unless_asked_for(
    tmp_path: Path, keep: bool
) -> None:
    world, consumers = _world_with_connection_data()
    with Sandbox(world) as sandbox, pytest.warns(UnknownFieldsWarning):  # Data, agent.data
        client = ChiftClient("id", CANARY, ACCOUNT, base_url=sandbox.url)
        fetch_snapshot(client, tmp_path, progress=False, executions=False, connection_data=keep)
    with pytest.warns(PartialSnapshotWarning):  # the body that broke the spec
        tables = load(tmp_path, tables=["raw_responses", "connections", "payload_errors"])
    raw = tables["raw_responses"]
    bodies = {
        consumer: body.decode()
        for consumer, sync, body in zip(raw.consumer_id, raw.sync_id, raw.body, strict=True)
        if isinstance(consumer, str) and not isinstance(sync, str)
    }
    assert set(consumers) <= set(bodies)
    assert consumers[0] in set(tables["payload_errors"].consumer_id)  # the body was refused
    data = tables["connections"].data
    if keep:  # as received, in the raw bodies, and the spec's `data` in the table
        assert all(API_KEY in bodies[c] for c in consumers)
        assert data.str.contains(API_KEY, regex=False).any()
    else:
        assert not [c for c, body in bodies.items() if API_KEY in body]
        assert data.isna().all()
        with pytest.warns(PartialSnapshotWarning):
            every = load(tmp_path, tables=[*TABLES])
        for name, frame in every.items():
            assert API_KEY not in frame.astype(str).to_string(), name

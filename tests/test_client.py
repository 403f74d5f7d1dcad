"""ChiftClient against the sandbox: auth, renewal, retries, errors, and no secret anywhere."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from chift_frames import ApiError, AuthError, NotFoundError, RateLimitError, TransportError
from chift_frames.client import ChiftClient, RateLimiter, _retry_after
from chift_frames.sandbox import Faults, Sandbox
from chift_frames.world import World

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
SECRET = "s3cr3t-do-not-leak-9f8e7d"
WORLD = World(consumers=12, syncs=2, seed=3)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(WORLD, client_id="my-client", client_secret=SECRET) as server:
        yield server


def make_client(sandbox: Sandbox, **kwargs) -> ChiftClient:
    kwargs.setdefault("backoff", 0.001)
    return ChiftClient("my-client", SECRET, ACCOUNT, base_url=sandbox.url, **kwargs)


def a_pair() -> tuple[str, str]:
    return next(WORLD.pairs())


def test_get_json_with_a_token(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    syncs = client.get_json("/syncs")
    assert [s["syncid"] for s in syncs] == [s["syncid"] for s in WORLD.sync_items()]
    consumer_id, sync_id = a_pair()
    response = client.get(f"/consumers/{consumer_id}/syncs/{sync_id}")
    assert response.json() == WORLD.consumer_sync(consumer_id, sync_id)
    assert response.attempts == 1
    assert client.token_requests == 1


def test_bad_credentials_are_an_auth_error(sandbox: Sandbox) -> None:
    client = ChiftClient("my-client", "wrong", ACCOUNT, base_url=sandbox.url)
    with pytest.raises(AuthError, match="Chift refused the credentials") as info:
        client.get("/syncs")
    assert info.value.status == 401
    assert info.value.error_code == "ERROR_CHIFT_AUTHENTICATION_ERROR"
    assert "CHIFT_CLIENT_SECRET" in str(info.value) and "wrong" not in str(info.value)


def test_an_account_id_that_is_not_a_uuid_is_an_auth_error(sandbox: Sandbox) -> None:
    client = ChiftClient("my-client", SECRET, "not-a-uuid", base_url=sandbox.url)
    with pytest.raises(AuthError) as info:
        client.get("/syncs")
    assert info.value.status == 422
    assert isinstance(info.value.detail, list)  # Chift's 422 detail is a list


def test_not_found_carries_chift_message(sandbox: Sandbox) -> None:
    consumer_id, _ = a_pair()
    missing_sync = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError) as info:
        make_client(sandbox).get(f"/consumers/{consumer_id}/syncs/{missing_sync}")
    assert info.value.status == 404
    assert info.value.message == "The consumer is not configured for this sync"
    assert info.value.endpoint == f"GET /consumers/{consumer_id}/syncs/{missing_sync}"


def test_a_revoked_token_is_renewed_once_and_the_request_replayed(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    client.get("/consumers")
    sandbox.revoke_tokens()
    assert client.get_json("/consumers")  # 401, new token, replay
    assert client.token_requests == 2


def test_the_token_is_renewed_before_it_expires() -> None:
    with Sandbox(WORLD, faults=Faults(token_ttl=20)) as server:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=server.url)
        client.get("/consumers")
        client._renew_at = 0  # as if 18 s had passed: within the margin before expiry
        client.get("/consumers")
        assert client.token_requests == 2
        assert server.stats.sent.get("401", 0) == 0  # renewed ahead, never refused


def test_concurrent_renewal_asks_for_one_token() -> None:
    with Sandbox(WORLD) as server:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=server.url)
        client.get("/consumers")
        server.revoke_tokens()
        threads = [threading.Thread(target=client.get, args=("/consumers",)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.token_requests == 2


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    with Sandbox(WORLD, faults=Faults(rate_429=1.0, retry_after=7, fault_attempts=2)) as server:
        client = ChiftClient(
            "id", "secret", ACCOUNT, base_url=server.url, backoff=0.001, sleep=waits.append
        )
        response = client.get("/consumers")
    assert response.attempts == 3
    assert waits == [7.0, 7.0]


def test_backoff_grows_with_jitter_and_attempts_are_bounded() -> None:
    waits: list[float] = []
    faults = Faults(rate_5xx=1.0, fault_attempts=100)
    with Sandbox(WORLD, faults=faults) as server:
        client = ChiftClient(
            "id",
            "secret",
            ACCOUNT,
            base_url=server.url,
            backoff=1.0,
            max_backoff=4.0,
            max_attempts=6,
            sleep=waits.append,
        )
        with pytest.raises(ApiError) as info:
            client.get("/consumers")
    assert info.value.attempts == 6 and info.value.status in (500, 502, 503)
    assert len(waits) == 5
    for attempt, wait in enumerate(waits, start=1):
        assert 0 <= wait <= min(4.0, 2 ** (attempt - 1))


def test_429_after_every_attempt_is_a_rate_limit_error() -> None:
    with Sandbox(WORLD, faults=Faults(rate_429=1.0, retry_after=0, fault_attempts=100)) as server:
        client = ChiftClient(
            "id", "secret", ACCOUNT, base_url=server.url, max_attempts=3, sleep=lambda s: None
        )
        with pytest.raises(RateLimitError) as info:
            client.get("/syncs")
    assert info.value.attempts == 3


def test_dropped_connections_are_retried_then_a_transport_error() -> None:
    with Sandbox(WORLD, faults=Faults(rate_drop=1.0, fault_attempts=2)) as server:
        client = ChiftClient("id", "secret", ACCOUNT, base_url=server.url, backoff=0.001)
        assert client.get("/consumers").attempts == 3
    with Sandbox(WORLD, faults=Faults(rate_drop=1.0, fault_attempts=100)) as server:
        client = ChiftClient(
            "id", "secret", ACCOUNT, base_url=server.url, backoff=0.001, max_attempts=2
        )
        with pytest.raises(TransportError, match="no answer after 2 attempts"):
            client.get("/consumers")


def test_a_timeout_is_retried_then_a_transport_error() -> None:
    with Sandbox(WORLD, faults=Faults(latency=0.3)) as server:
        client = ChiftClient(
            "id",
            "secret",
            ACCOUNT,
            base_url=server.url,
            timeout=0.05,
            backoff=0.001,
            max_attempts=2,
        )
        with pytest.raises(TransportError, match=r"from 127\.0\.0\.1:\d+ \(timed out\)$"):
            client.get("/consumers")


@pytest.mark.parametrize("url", ["http://api.chift.eu", "http://10.0.0.8:8000", "ftp://x"])
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        ChiftClient("id", "secret", ACCOUNT, base_url=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8800", "http://localhost:1", "http://[::1]:2", "https://api.chift.eu"]
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert ChiftClient("id", "secret", ACCOUNT, base_url=url).base_url == url


def test_from_env_names_the_missing_variable() -> None:
    env = {"CHIFT_CLIENT_ID": "id", "CHIFT_ACCOUNT_ID": ACCOUNT}
    with pytest.raises(AuthError, match="CHIFT_CLIENT_SECRET is not set"):
        ChiftClient.from_env(env)
    every = "CHIFT_CLIENT_ID, CHIFT_CLIENT_SECRET, CHIFT_ACCOUNT_ID are not set: export them"
    with pytest.raises(AuthError, match=every):
        ChiftClient.from_env({"CHIFT_CLIENT_ID": " "})  # blank is missing too
    env |= {"CHIFT_CLIENT_SECRET": SECRET, "CHIFT_BASE_URL": "http://127.0.0.1:9"}
    client = ChiftClient.from_env(env)
    assert client.base_url == "http://127.0.0.1:9"


def test_no_secret_or_token_in_repr_errors_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    faulty = Faults(rate_429=0.5, rate_5xx=0.5, retry_after=0, fault_attempts=100)
    client = make_client(sandbox, max_attempts=2)
    texts = [repr(client), str(vars(client).get("_session"))]
    client.get("/syncs")
    token = client._token
    assert token
    sandbox.faults = faulty
    for path in ("/consumers", "/syncs", "/nope"):
        try:
            client.get(path)
        except Exception as exc:
            texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
    bad = ChiftClient("my-client", "another-secret-123", ACCOUNT, base_url=sandbox.url)
    try:
        bad.get("/syncs")
    except AuthError as exc:
        texts += [str(exc), repr(exc)]
    texts += [record.getMessage() for record in caplog.records]
    blob = "\n".join(texts)
    for secret in (SECRET, token, "another-secret-123"):
        assert secret not in blob


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    limiter = RateLimiter(10, clock=lambda: now[0])
    assert limiter.acquire() == 0
    assert limiter._next == pytest.approx(0.1)


def test_retry_after_parses_seconds_and_dates() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after(None) is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after("soon") is None

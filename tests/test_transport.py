"""The client's transport against real HTTP servers on 127.0.0.1: base URLs, quoting, 3xx,
bodies that are not JSON, the deadline per request and the size limit per body."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import requests.adapters

from chift_frames import ApiError, TransportError
from chift_frames.client import ChiftClient, api_path

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
Handler = Callable[[BaseHTTPRequestHandler], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    headers.setdefault("Content-Type", "application/json")
    for key, value in {**headers, "Content-Length": str(len(body))}.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def token(handler: BaseHTTPRequestHandler) -> None:
    handler.rfile.read(int(handler.headers["Content-Length"]))
    body = {"access_token": "tok", "token_type": "bearer", "expires_in": 1800}
    send(handler, 200, json.dumps({**body, "expires_on": int(time.time()) + 1800}).encode())


class Scripted(ThreadingHTTPServer):
    """A server on 127.0.0.1 that answers each path with a given function, and logs paths."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gives up mid-answer (a limit, the deadline) is what tests want

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = {"/token": token, **routes}
        self.paths: list[str] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.paths.append(self.path)
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    send(self, 404, b'{"message": "no route", "status": "error"}')
                else:
                    route(self)

            def do_POST(self) -> None:
                self.do_GET()

        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Handler]], Scripted]]:
    servers: list[Scripted] = []

    def start(routes: dict[str, Handler]) -> Scripted:
        server = Scripted(routes)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client_for(server: Scripted, **kwargs: Any) -> ChiftClient:
    kwargs.setdefault("backoff", 0.001)
    return ChiftClient("id", "secret", ACCOUNT, base_url=server.url, **kwargs)


# -- base URLs ----------------------------------------------------------------------------------
REFUSED = [
    "http://192.0.2.2:8800\\@127.0.0.1/",  # the bypass: urllib3 connects to 192.0.2.2
    "http://192.0.2.2:8800\\@127.0.0.1",
    "https://api.chift.eu\\@evil.example",
    "http://user:pass@127.0.0.1:8800",  # user info
    "https://user@api.chift.eu",
    "http://localhost:8800@evil.example",
    "http://127.0.0.1:8800#@evil.example",  # fragment
    "http://evil.example#@127.0.0.1",
    "https://api.chift.eu/#frag",
    "https://api.chift.eu/?x=1",  # query
    "http://evil.example?@127.0.0.1",
    " https://api.chift.eu",  # whitespace and control characters
    "https://api.chift.eu\t",
    "https://api.chift.eu/a b",
    "https://api.chift.eu\n.evil.example",
    "http://localhost.evil.com",  # not loopback, whatever its name says
    "http://127.0.0.1.evil.com:80",
    "http://[::ffff:127.0.0.1]:80",
    "http://127.1:80",
    "http://api.chift.eu",  # plain http off loopback
    "http://10.0.0.8:8000",
    "api.chift.eu",  # no scheme
    "//api.chift.eu",
    "htp://api.chift.eu",  # not http(s)
    "ftp://127.0.0.1",
    "HTTP://api.chift.eu",
    "https://",
    "https://api.chift.eu:99999",
    "https://api.chift.eu:0",
    "https://api.chift.éu",
    "",
]


@pytest.mark.parametrize("url", REFUSED)
def test_tricky_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        ChiftClient("id", "secret-value", ACCOUNT, base_url=url)
    assert "secret-value" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.chift.eu",
        "https://api.chift.eu/",
        "https://api.chift.eu:8443/v1",
        "http://127.0.0.1:8800",
        "http://127.8.9.10:1/prefix/",
        "http://localhost:1",
        "http://[::1]:2",
    ],
)
def test_plain_base_urls_are_accepted(url: str) -> None:
    assert ChiftClient("id", "secret", ACCOUNT, base_url=url).base_url == url.rstrip("/")


def test_the_bypass_never_connects_anywhere() -> None:
    # the reproduction of the report: urllib3 reads 192.0.2.2 as the host
    with pytest.raises(ValueError, match="backslash"):
        ChiftClient("id", "secret", ACCOUNT, base_url="http://192.0.2.2:1\\@127.0.0.1/")


# -- paths --------------------------------------------------------------------------------------
def test_path_segments_are_quoted(serve: Callable[[dict[str, Handler]], Scripted]) -> None:
    answer = b'{"ok": true}'
    server = serve(
        {
            "/consumers/a": lambda h: send(h, 200, b'{"wrong": true}'),
            "/consumers/a%23frag/syncs/s%2F1%3Fx": lambda h: send(h, 200, answer),
        }
    )
    client = client_for(server)
    assert client.get_json(api_path("consumers", "a#frag", "syncs", "s/1?x")) == {"ok": True}
    assert server.paths[-1] == "/consumers/a%23frag/syncs/s%2F1%3Fx"
    assert api_path("consumers", ".", "syncs", "..") == "/consumers/%2E/syncs/%2E%2E"
    with pytest.raises(ValueError, match="empty id"):
        api_path("consumers", "")


def test_a_base_path_and_the_query_reach_the_server_as_requests_would_send_them(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    server = serve({"/api/x": lambda h: send(h, 200, b"[]"), "/api/token": token})
    client = ChiftClient("id", "secret", ACCOUNT, base_url=server.url + "/api/")
    params = {"page": 2, "date_from": "2026-01-01T00:00:00+00:00", "q": "a b&c", "gone": None}
    assert client.get_json("/x", params) == []
    expected = requests.Request("GET", server.url + "/api/x", params=params).prepare().path_url
    assert (
        server.paths[-1]
        == expected
        == "/api/x?page=2&date_from=2026-01-01T00%3A00%3A00%2B00%3A00&q=a+b%26c"
    )


def test_a_proxy_from_the_environment_carries_every_request(
    serve: Callable[[dict[str, Handler]], Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path to urllib3's pool is taken only when no proxy applies to the API."""
    api = "http://127.0.0.1:9"  # nothing listens there: only the proxy can answer
    proxy = serve({f"{api}/token": token, f"{api}/x": lambda h: send(h, 200, b'{"via": 1}')})
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = ChiftClient("id", "secret", ACCOUNT, base_url=api, max_attempts=1)
    assert client.get_json("/x") == {"via": 1}
    assert proxy.paths == [f"{api}/token", f"{api}/x"]


def test_a_session_of_ones_own_sends_every_request(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    server = serve({"/x": lambda h: send(h, 200, b"[]")})
    sent: list[str] = []

    class Counting(requests.adapters.HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(request.path_url)
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    session.mount("http://", Counting())
    client = client_for(server, session=session)
    assert client.get_json("/x", {"page": 1}) == []
    assert sent == ["/token", "/x?page=1"]


# -- statuses and bodies ------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_api_error_and_is_not_followed(
    serve: Callable[[dict[str, Handler]], Scripted], status: int
) -> None:
    server = serve(
        {
            "/syncs": lambda h: send(h, status, b"", Location="/elsewhere"),
            "/elsewhere": lambda h: send(h, 200, b"[]"),
        }
    )
    with pytest.raises(ApiError, match="redirect") as info:
        client_for(server).get("/syncs")
    assert info.value.status == status
    assert info.value.endpoint == "GET /syncs"
    assert "/elsewhere" not in server.paths


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b"", b'{"items": [', b"\xff\xfe", b"[" * 100_000]
)
def test_a_body_that_is_not_json_is_an_api_error_with_the_status(
    serve: Callable[[dict[str, Handler]], Scripted], body: bytes
) -> None:
    server = serve({"/syncs": lambda h: send(h, 200, body, Content_Type="text/html")})
    with pytest.raises(ApiError, match=r"the answer is (not JSON|nested too deep)") as info:
        client_for(server).get_json("/syncs")
    assert info.value.status == 200
    assert info.value.endpoint == "GET /syncs"


def test_an_error_body_that_is_not_json_keeps_its_status(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    server = serve({"/syncs": lambda h: send(h, 418, b"I'm a teapot\n" * 100_000)})
    with pytest.raises(ApiError) as info:
        client_for(server).get("/syncs")
    assert info.value.status == 418
    assert info.value.message.startswith("I'm a teapot I'm a teapot")
    assert len(info.value.message) <= 200


def test_gzip_bodies_are_decoded(serve: Callable[[dict[str, Handler]], Scripted]) -> None:
    payload = json.dumps([{"n": i} for i in range(10_000)]).encode()
    server = serve(
        {"/syncs": lambda h: send(h, 200, gzip.compress(payload), Content_Encoding="gzip")}
    )
    assert client_for(server).get("/syncs").body == payload


def test_an_unknown_encoding_is_an_api_error(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    server = serve({"/syncs": lambda h: send(h, 200, b"xx", Content_Encoding="br")})
    with pytest.raises(ApiError, match="unsupported Content-Encoding 'br'"):
        client_for(server).get("/syncs")


# -- size ---------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_abandoned(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    server = serve({"/syncs": lambda h: send(h, 200, b"[" + b"1," * 600_000 + b"1]")})
    client = client_for(server, max_body=2**20)
    with pytest.raises(ApiError, match=r"larger than 1 MiB after decompression \(max_body\)") as e:
        client.get("/syncs")
    assert e.value.status == 200 and e.value.attempts == 1
    assert server.paths.count("/syncs") == 1  # not retried
    assert client_for(server, max_body=2 * 2**20).get_json("/syncs")[:2] == [1, 1]


def test_a_gzip_bomb_never_inflates_past_the_limit(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    bomb = gzip.compress(b" " * (200 * 2**20), compresslevel=9)  # 200 MiB in about 200 KB
    assert len(bomb) < 2**20
    server = serve({"/syncs": lambda h: send(h, 200, bomb, Content_Encoding="gzip")})
    client = client_for(server, max_body=2**20)
    tracemalloc.start()
    try:
        with pytest.raises(ApiError, match="larger than 1 MiB"):
            client.get("/syncs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # the 200 MiB were never held


# -- time ---------------------------------------------------------------------------------------
def trickle(head: bytes, body: bytes, every: float) -> Handler:
    """Send ``head`` at once, then ``body`` one byte at a time, every ``every`` seconds."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(head)
            handler.wfile.flush()
            for i in range(len(body)):
                time.sleep(every)
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
        except OSError:  # the client gave up: what the test wants
            handler.close_connection = True

    return answer


BODY = b'{"ok": true}' + b" " * 100


@pytest.mark.parametrize(
    "where",
    [
        "body",
        "headers",
        "status line",
    ],
)
def test_a_trickling_answer_hits_the_deadline(
    serve: Callable[[dict[str, Handler]], Scripted], where: str
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    if where == "body":
        answer = trickle(head, BODY, 0.2)
    elif where == "headers":
        answer = trickle(head[:20], head[20:] + BODY, 0.2)
    else:
        answer = trickle(b"", head + BODY, 0.2)
    server = serve({"/syncs": answer})
    # every read arrives well within the 1 s timeout: only the deadline can stop it
    client = client_for(server, timeout=1.0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"within the deadline of 1 s") as info:
        client.get("/syncs")
    assert time.monotonic() - started < 10  # a bound, not a measure: 1 s plus slack
    assert info.value.attempts == 1 and info.value.status is None
    assert server.paths.count("/syncs") == 1  # not retried


def test_a_slow_answer_within_the_deadline_is_complete(
    serve: Callable[[dict[str, Handler]], Scripted],
) -> None:
    body = b'{"ok": 1}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n".encode()
    server = serve({"/syncs": trickle(head, body, 0.01)})
    assert client_for(server, deadline=30).get_json("/syncs") == {"ok": 1}


def test_a_listener_that_never_answers_hits_the_timeout() -> None:
    with socket.socket() as listener:  # accepts (by the kernel) and never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        client = ChiftClient(
            "id",
            "secret",
            ACCOUNT,
            base_url=f"http://127.0.0.1:{port}",
            timeout=0.2,
            deadline=5,
            max_attempts=2,
            backoff=0.001,
        )
        with pytest.raises(TransportError, match="no answer after 2 attempts"):
            client.get("/syncs")


@pytest.mark.parametrize(
    "kwargs", [{"deadline": 0}, {"deadline": -1}, {"timeout": 0}, {"max_body": 0}]
)
def test_limits_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ChiftClient("id", "secret", ACCOUNT, base_url="http://127.0.0.1:1", **kwargs)


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO\r\n\r\n",  # not HTTP
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000 + b"\r\n\r\n",  # a header line too long
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}",  # the body ends early
    ],
)
def test_a_broken_answer_is_retried_then_a_transport_error(
    serve: Callable[[dict[str, Handler]], Scripted], garbage: bytes
) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(garbage)
        handler.close_connection = True

    server = serve({"/syncs": answer})
    with pytest.raises(TransportError, match="no answer after 2 attempts") as info:
        client_for(server, max_attempts=2).get("/syncs")
    assert info.value.attempts == 2
    assert server.paths.count("/syncs") == 2

"""The sandbox: an offline stand-in for the Chift API, serving a made-up :class:`World` on loopback.

Endpoints (shapes from Chift's official OpenAPI spec)::

    POST /token                                  Token
    GET  /syncs[?consumers_status=…]             ReadSyncItem[]
    GET  /syncs/{syncid}                         ReadSyncItem
    GET  /syncs/{syncid}/executions?page&size    ChiftPage[SyncExecutionItem] (size <= 500)
    GET  /consumers                              ConsumerItem[]
    GET  /consumers/{consumer_id}                ConsumerItem
    GET  /consumers/{consumer_id}/connections    ConnectionItem[]
    GET  /consumers/{consumer_id}/syncs/{syncid} SyncConsumerItem
    POST /sandbox/evolve                         not Chift's: advance the world one generation

By default any non-empty clientId and clientSecret with a UUID accountId get a token; give
``client_id``/``client_secret`` to make it strict. Optional latency and faults: 429 with
``Retry-After``, 500/502/503, dropped connections, short-lived tokens and tokens revoked early.
Test hooks: ``echo`` makes every error answer repeat the request (its headers and body, as a
careless server might), ``executions_growth`` adds new runs while the executions are being
paged, and ``newest_first`` serves them newest first, so new runs shift the pages.
Hostile answers, for tests of what the fetch must refuse or keep once: ``duplicate_entries``
repeats entries in every list answer, ``mismatched_pairs`` answers some pairs with another
pair's setup, ``executions_stuck`` answers every executions page with the first one, and
``executions_overstated`` states a total larger than the runs it serves.
Faults are deterministic: a request is faulty by a seeded draw on (path, how many times that
path was asked), and only its first ``fault_attempts`` asks can fail, so a client that retries
enough always gets through. Sockets run with Nagle's algorithm off (``TCP_NODELAY``): without
it Python's HTTP server stalls about 40 ms per keep-alive response.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import random
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .world import World

__all__ = ["Faults", "Sandbox"]

log = logging.getLogger(__name__)


@dataclass
class Faults:
    """What goes wrong, and how often.

    Parameters
    ----------
    rate_429, rate_5xx, rate_drop : float
        Share of eligible GETs answered 429 (with ``Retry-After``), 500/502/503, or dropped
        without an answer.
    retry_after : int
        Seconds in the ``Retry-After`` header of a 429.
    fault_attempts : int
        Only the first this-many asks of a given path can fail.
    latency : float
        Seconds added to every answer.
    token_ttl : int
        Lifetime of a token in seconds (Chift's is 1800).
    revoke_every : int
        Revoke a token after it served this many requests (0: never).
    seed : int
        Seed of the fault draws.
    fail_pairs : float
        Share of (consumer, sync) pairs whose consumer-sync answer fails with 503 for its first
        ``fail_pair_asks`` asks: more than a client retries in one fetch, so that fetch ends
        ``partial``, and a ``--resume`` afterwards gets through.
    fail_pair_asks : int
        How many asks of a failing pair fail (the client's ``max_attempts`` is 5).

    Raises
    ------
    ValueError
        When a share is outside [0, 1], the three shares add up to more than 1, or a count or
        duration is negative.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    retry_after: int = 1
    fault_attempts: int = 2
    latency: float = 0.0
    token_ttl: int = 1800
    revoke_every: int = 0
    seed: int = 0
    fail_pairs: float = 0.0
    fail_pair_asks: int = 5

    def __post_init__(self) -> None:
        shares = {
            "rate_429": self.rate_429,
            "rate_5xx": self.rate_5xx,
            "rate_drop": self.rate_drop,
            "fail_pairs": self.fail_pairs,
        }
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, got {share}")
        if self.rate_429 + self.rate_5xx + self.rate_drop > 1.0:
            raise ValueError("rate_429, rate_5xx and rate_drop must add up to at most 1")
        counts = {
            "retry_after": self.retry_after,
            "fault_attempts": self.fault_attempts,
            "latency": self.latency,
            "revoke_every": self.revoke_every,
            "fail_pair_asks": self.fail_pair_asks,
        }
        for name, count in counts.items():
            if count < 0:
                raise ValueError(f"{name} must be 0 or more, got {count}")
        if self.token_ttl < 1:
            raise ValueError(f"token_ttl must be at least 1 second, got {self.token_ttl}")


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    asks: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    executions_served: int = 0  # executions items in every executions page answered so far

    def ask(self, key: str) -> int:
        with self.lock:
            self.asks[key] = self.asks.get(key, 0) + 1
            return self.asks[key]

    def count(self, what: str) -> None:
        with self.lock:
            self.sent[what] = self.sent.get(what, 0) + 1


def _error(message: str, error_code: str | None = None, detail: Any = "") -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "status": "error", "detail": detail}
    if error_code:
        body["error_code"] = error_code
    return body


def _invalid(*problems: tuple[list[str], str, str]) -> tuple[int, dict[str, Any]]:
    """Answer 422 as Chift does: ``detail`` lists each problem's (loc, msg, type)."""
    code = "ERROR_INVALID_BODY" if problems[0][0][0] == "body" else "ERROR_INVALID_QUERY_PARAMETER"
    detail = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]
    return 422, _error("Validation error", code, detail)


class Sandbox:
    """Serve a :class:`World` as the Chift API on a loopback port, in a background thread.

    Parameters
    ----------
    world : World, optional
        The account to serve; by default ``World(consumers=50, syncs=3)``.
    port : int, default 0
        Port on 127.0.0.1; 0 picks a free one.
    client_id, client_secret : str, optional
        Credentials to insist on; without them any non-empty pair is accepted.
    faults : Faults, optional
        Latency and faults to inject.
    raw_bodies : dict of str to bytes, optional
        Bodies to answer as they are, with status 200, keyed by request path (without the
        query), such as ``{"/consumers/c1/syncs/s1": b'{"syncid": NaN}'}``: rehearses broken
        answers that the world would never give.
    echo : bool, default False
        Error answers repeat the request: its path, headers (``Authorization`` included) and
        body (the client secret, on ``POST /token``), in ``message`` and ``detail``.
    executions_growth : int, default 0
        New runs (started now) added to a sync's executions after each page of them served.
    newest_first : bool, default False
        Serve executions newest first, as an API that lists recent runs first would.
    duplicate_entries : bool, default False
        Every list answer names some entries twice: ``GET /consumers`` its first consumer
        again (identical) and its second with another name (conflicting); ``GET /syncs`` its
        first sync again, and in each sync its first flow and mapping again; a consumer's
        connections its first one again; each executions page its first run again.
    mismatched_pairs : float, default 0.0
        Share of pairs (drawn from the seed) answered with the setup of the same consumer
        for another sync (``syncid`` is not the sync asked for), when it has one.
    executions_stuck : bool, default False
        Every executions page answers with the items of the first page (a server that
        ignores ``page``).
    executions_overstated : int, default 0
        Added to the ``total`` of every executions page: the listing ends short of it.

    Examples
    --------
    >>> with Sandbox(World(consumers=2, syncs=1)) as sandbox:
    ...     sandbox.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        client_id: str | None = None,
        client_secret: str | None = None,
        faults: Faults | None = None,
        raw_bodies: dict[str, bytes] | None = None,
        echo: bool = False,
        executions_growth: int = 0,
        newest_first: bool = False,
        duplicate_entries: bool = False,
        mismatched_pairs: float = 0.0,
        executions_stuck: bool = False,
        executions_overstated: int = 0,
    ) -> None:
        self.world = world or World(consumers=50, syncs=3)
        self.raw_bodies = dict(raw_bodies or {})
        self.echo = echo
        self.executions_growth = executions_growth
        self.newest_first = newest_first
        self.duplicate_entries = duplicate_entries
        self.mismatched_pairs = mismatched_pairs
        self.executions_stuck = executions_stuck
        self.executions_overstated = executions_overstated
        self.issued: list[str] = []  # every token issued, for tests that look for leaks
        self.faults = faults or Faults()
        self.stats = _Stats()
        self._strict = (client_id, client_secret) if client_id or client_secret else None
        self._tokens: dict[str, list[float]] = {}  # token -> [expires_at, uses]
        self._tokens_lock = threading.Lock()
        self._executions: dict[str, list[dict[str, Any]]] = {}
        # each listing asked for (sync, flow, from, to, order, runs so far): a sync's pages are
        # slices of one list, not a filter of every run per page (hours on a heavy account)
        self._listings: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._executions_lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL to give a client, such as ``http://127.0.0.1:54321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        """Start serving in a daemon thread; return self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="chift-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection, as a server that dies.

        A client then finds its kept-alive connections reset and new ones refused.
        """
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._server.close_connections()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def evolve(self) -> int:
        """Advance the served world one generation (see :meth:`World.evolve`); return it."""
        self.world.evolve()
        with self._executions_lock:  # cached answers belong to the world as it was
            self._executions.clear()
            self._listings.clear()
        return self.world.generation

    def revoke_tokens(self) -> None:
        """Revoke every token issued so far (the next request with one gets a 401)."""
        with self._tokens_lock:
            self._tokens.clear()

    # -- the API ----------------------------------------------------------------------------
    def issue_token(self, body: Any) -> tuple[int, Any]:
        """Answer ``POST /token``: a status and a body."""
        if not isinstance(body, dict):
            return _invalid((["body"], "Input should be a valid dictionary", "dict_type"))
        missing = [k for k in ("clientId", "clientSecret", "accountId") if not body.get(k)]
        if missing:
            return _invalid(*((["body", k], "Field required", "missing") for k in missing))
        try:
            uuid.UUID(str(body["accountId"]))
        except ValueError:
            return _invalid((["body", "accountId"], "Input should be a valid UUID", "uuid_parsing"))
        if self._strict and (body["clientId"], body["clientSecret"]) != self._strict:
            return 401, _error("Wrong credentials", "ERROR_CHIFT_AUTHENTICATION_ERROR")
        token = secrets.token_urlsafe(24)
        now = time.time()
        ttl = self.faults.token_ttl
        with self._tokens_lock:
            self._tokens[token] = [now + ttl, 0]
            self.issued.append(token)
        self.stats.count("token")
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "expires_on": int(now + ttl),
        }

    def check_token(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries a live token; counts its use."""
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        with self._tokens_lock:
            entry = self._tokens.get(token)
            if entry is None or time.time() >= entry[0]:
                return False
            entry[1] += 1
            if self.faults.revoke_every and entry[1] > self.faults.revoke_every:
                del self._tokens[token]
                return False
        return True

    def failing_pair(self, consumer_id: str, sync_id: str) -> bool:
        """Whether the pair is one of the ``fail_pairs`` share that fail a whole fetch."""
        share = self.faults.fail_pairs
        draw = random.Random(f"{self.faults.seed}:fail:{consumer_id}:{sync_id}").random()
        return share > 0 and draw < share

    def fault_for(self, key: str) -> str | None:
        """Draw the fault for this ask of ``key``: "429", "500"…, "drop", or None."""
        f = self.faults
        parts = [p for p in urlsplit(key).path.split("/") if p]
        pair = len(parts) == 4 and parts[0] == "consumers" and parts[2] == "syncs"
        if (
            pair
            and self.failing_pair(parts[1], parts[3])
            and self.stats.ask("fail:" + key) <= f.fail_pair_asks
        ):
            return "503"
        if not (f.rate_429 or f.rate_5xx or f.rate_drop):
            return None
        ask = self.stats.ask(key)
        if ask > f.fault_attempts:
            return None
        draw = random.Random(f"{f.seed}:{key}:{ask}").random()
        if draw < f.rate_429:
            return "429"
        if draw < f.rate_429 + f.rate_5xx:
            return ("500", "502", "503")[ask % 3]
        if draw < f.rate_429 + f.rate_5xx + f.rate_drop:
            return "drop"
        return None

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """Answer an authenticated GET: a status and a body."""
        parts = [unquote(p) for p in path.split("/") if p]
        status, body = self._route(parts, query)
        if status == 200 and self.duplicate_entries:
            body = _with_duplicates(parts, body)
        return status, body

    def mismatched(self, consumer_id: str, sync_id: str) -> str | None:
        """Return the other sync whose setup answers this pair (``mismatched_pairs``), or None."""
        draw = random.Random(f"{self.faults.seed}:mismatch:{consumer_id}:{sync_id}").random()
        if draw >= self.mismatched_pairs:
            return None
        others = [s for c, s in self.world.pairs() if c == consumer_id and s != sync_id]
        return others[0] if others else None

    def _route(self, parts: list[str], query: dict[str, list[str]]) -> tuple[int, Any]:
        world = self.world
        if parts == ["syncs"]:
            status = (query.get("consumers_status") or ["all"])[0]
            if status not in ("all", "enabled", "not_enabled"):
                return _invalid(
                    (
                        ["query", "consumers_status"],
                        "Input should be 'all', 'enabled' or 'not_enabled'",
                        "enum",
                    )
                )
            items = world.sync_items()
            if status != "all":
                want = status == "enabled"
                for item in items:
                    item["consumers"] = [
                        c
                        for c in item["consumers"]
                        if world.consumer_enabled(c, item["syncid"]) == want
                    ]
            return 200, items
        if len(parts) == 2 and parts[0] == "syncs":
            found = [s for s in world.sync_items() if s["syncid"] == parts[1]]
            return (200, found[0]) if found else (404, _error("The sync does not exist"))
        if len(parts) == 3 and parts[0] == "syncs" and parts[2] == "executions":
            return self._executions_page(parts[1], query)
        if parts == ["consumers"]:
            return 200, world.consumer_items()
        if len(parts) == 2 and parts[0] == "consumers":
            consumer = world.consumer_item(parts[1])
            return (200, consumer) if consumer else (404, _error("The consumer does not exist"))
        if len(parts) == 3 and parts[0] == "consumers" and parts[2] == "connections":
            connections = world.connection_items(parts[1])
            if connections is None:
                return 404, _error("The consumer does not exist")
            return 200, connections
        if len(parts) == 4 and parts[0] == "consumers" and parts[2] == "syncs":
            other = self.mismatched(parts[1], parts[3])
            payload = world.consumer_sync(parts[1], other or parts[3])
            if payload is None:
                return 404, _error("The consumer is not configured for this sync")
            return 200, payload
        return 404, _error("Not Found", "ERROR_API_RESOURCE_NOT_FOUND")

    def _executions_page(self, sync_id: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        def one(name: str, default: str | None = None) -> str | None:
            values = query.get(name)
            return values[0] if values else default

        try:
            page, size = int(one("page", "1") or 1), int(one("size", "50") or 50)
        except ValueError:
            page, size = 0, 0
        if page < 1 or not 1 <= size <= 500:
            return _invalid(
                (
                    ["query", "size" if page >= 1 else "page"],
                    "page must be >= 1 and size between 1 and 500",
                    "value_error",
                )
            )
        if sync_id not in {s["syncid"] for s in self.world.sync_items()}:
            return 404, _error("The sync does not exist")
        flow_id, date_from, date_to = one("flowid"), one("date_from"), one("date_to")
        try:
            items = self._listing(sync_id, flow_id, date_from, date_to)
        except (TypeError, ValueError):
            return _invalid(
                (["query", "date_from"], "Input should be a valid datetime", "datetime_parsing")
            )
        first = 1 if self.executions_stuck else page
        chunk = items[(first - 1) * size : first * size]
        self._grow_executions(sync_id)
        total = len(items) + self.executions_overstated
        with self.stats.lock:
            self.stats.executions_served += len(chunk)
        return 200, {"items": chunk, "total": total, "page": page, "size": size}

    def _listing(
        self, sync_id: str, flow_id: str | None, date_from: str | None, date_to: str | None
    ) -> list[dict[str, Any]]:
        """Return the runs of a sync a listing selects, built once per listing (and growth).

        Raises
        ------
        ValueError
            A date that is not an ISO 8601 datetime.
        """
        start = datetime.fromisoformat(date_from) if date_from else None
        end = datetime.fromisoformat(date_to) if date_to else None
        with self._executions_lock:  # the first pages of a sync come at once: built once
            if sync_id not in self._executions:
                self._executions[sync_id] = self.world.executions(sync_id)
            runs = self._executions[sync_id]
            key = (sync_id, flow_id, date_from, date_to, self.newest_first, len(runs))
            items = self._listings.get(key)
            if items is None:
                items = runs[::-1] if self.newest_first else list(runs)
                if flow_id:
                    items = [i for i in items if i["flow_id"] == flow_id]
                if start is not None or end is not None:
                    items = [i for i in items if _within(i["start"], start, end)]
                stale = [k for k in self._listings if k[0] == sync_id and k[5] != len(runs)]
                for k in stale:  # listings of the sync before it grew
                    del self._listings[k]
                self._listings[key] = items
        return items

    def _grow_executions(self, sync_id: str) -> None:
        """Add ``executions_growth`` runs that start now (a test hook)."""
        with self._executions_lock:
            runs = self._executions.get(sync_id)
            if not self.executions_growth or not runs:
                return
            now = datetime.now(UTC).isoformat()
            for _ in range(self.executions_growth):
                new = {**runs[-1], "id": str(uuid.uuid4()), "start": now, "end": None}
                runs.append({**new, "parentexecutionid": None, "status": "running"})


def _within(started: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether a run that started at ``started`` (ISO 8601) falls within [start, end]."""
    at = datetime.fromisoformat(started)
    return (start is None or at >= start) and (end is None or at <= end)


def _with_duplicates(parts: list[str], body: Any) -> Any:
    """Return a list answer with some entries named twice (``duplicate_entries``)."""

    def again(items: list[Any]) -> list[Any]:
        return [*items, copy.deepcopy(items[0])] if items else items

    if parts == ["consumers"] and len(body) > 1:
        conflicting = {**body[1], "name": body[1]["name"] + " (again)"}
        return [*again(body), conflicting]
    if parts == ["syncs"]:
        body = again(body)
        for sync in body:
            sync["flows"] = again(sync["flows"])
            sync["mappings"] = again(sync.get("mappings") or [])
        return body
    if len(parts) == 3 and parts[0] == "consumers" and parts[2] == "connections":
        return again(body)
    if len(parts) == 3 and parts[0] == "syncs" and parts[2] == "executions":
        return {**body, "items": again(body["items"])}
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    sandbox: Sandbox

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every connection still open (kept alive between requests, or mid-answer)."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up (a timeout, a closed pool) is routine, not a traceback
        log.debug("sandbox: connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms stall per keep-alive response
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox: " + format, *args)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if status >= 400 and self.server.sandbox.echo and isinstance(body, dict):
            request = {
                "request": f"{self.command} {self.path}",
                "headers": dict(self.headers.items()),
                "body": getattr(self, "raw_body", b"").decode("utf-8", "replace"),
            }
            body = {**body, "message": f"{body.get('message')}; you sent {request}"}
            body["detail"] = [{"loc": ["echo"], "msg": json.dumps(request), "type": "echo"}]
        self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.raw_body = raw
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def do_POST(self) -> None:
        sandbox = self.server.sandbox
        body = self._read_body()
        if sandbox.faults.latency:
            time.sleep(sandbox.faults.latency)
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/sandbox/evolve":  # not Chift's: lets a test or a demo change the world
            self._send(200, {"generation": sandbox.evolve()})
            return
        if path != "/token":
            self._send(405, _error("Method Not Allowed"))
            return
        status, payload = sandbox.issue_token(body)
        self._send(status, payload)

    def do_GET(self) -> None:
        sandbox = self.server.sandbox
        self.raw_body = b""
        parts = urlsplit(self.path)
        if sandbox.faults.latency:
            time.sleep(sandbox.faults.latency)
        if not sandbox.check_token(self.headers.get("Authorization")):
            sandbox.stats.count("401")
            self._send(401, _error("Invalid or expired token", "ERROR_CHIFT_AUTHENTICATION_ERROR"))
            return
        fault = sandbox.fault_for(self.path)
        if fault is not None:
            sandbox.stats.count(fault)
            if fault == "drop":
                self.close_connection = True
                return
            if fault == "429":
                self._send(
                    429,
                    _error("Too many requests"),
                    {"Retry-After": str(sandbox.faults.retry_after)},
                )
                return
            self._send(int(fault), _error("The connector is not available", "ERROR_UNKNOWN"))
            return
        raw = sandbox.raw_bodies.get(parts.path)
        if raw is not None:  # a broken answer asked for by a test
            sandbox.stats.count("200")
            self._send_bytes(200, raw)
            return
        status, payload = sandbox.route(parts.path, parse_qs(parts.query))
        sandbox.stats.count(str(status))
        self._send(status, payload)

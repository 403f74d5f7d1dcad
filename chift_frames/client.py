r"""``ChiftClient``: auth, retries, timeouts, errors; with ``_http.py``, all of the HTTP.

- One pooled ``requests.Session``; a GET goes straight to urllib3's pool for the API's host
  when no proxy applies and the session is the client's own (a user's session, a proxy and
  ``POST /token`` go through requests' adapter). A timeout on every read, and a total deadline
  on every request (connect, headers and the whole body), enforced by one watchdog thread that
  shuts the socket of a request past its deadline.
- Bodies are read as a stream and decompressed here, stopped at a maximum size, so neither a
  huge answer nor a gzip bomb can take the memory.
- The base URL is checked with urllib3's parser, the one that connects: plain
  ``https://host[:port][/path]``, or ``http://`` to a loopback address, and nothing else.
  Path segments are URL-quoted by :func:`api_path`.
- Anything but a 2xx is an error: a 3xx is never followed nor taken for success.
- ``POST /token`` on first use; the token is renewed shortly before its ``expires_on`` and,
  on a 401, renewed once and the request replayed. Renewal is thread-safe.
- Idempotent GETs are retried on 429, 5xx, timeouts and dropped connections with exponential
  backoff and full jitter, honouring ``Retry-After``, for a bounded number of attempts.
- An API that goes away is noticed: once every request since the last answer has failed
  without one for ``give_up_after`` seconds, each request raises ``UnreachableError`` instead
  of being retried. Errors without an answer name the host and port and why (connection
  refused, name not resolved...), never the query, a credential or a token.
- An optional client-side cap on requests per second, shared by every thread.
- The client secret and the access tokens never appear in an exception, a log line or a repr:
  every error text passes the client's :class:`~chift_frames.redact.Redactor`, and so does
  every body it returns, both as bytes and, when an escape could hide a secret from a byte
  match (``\u0073``, ``\/``, ``%2F``), as the JSON they decode to.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests
import urllib3
from requests.utils import select_proxy
from urllib3.util import parse_url

from ._client_defaults import DEFAULT_DEADLINE, DEFAULT_GIVE_UP_AFTER, DEFAULT_MAX_BODY, ENV
from ._http import (
    _NO_ANSWER,
    _NO_RETRY,
    _WATCHDOG,
    _check_base_url,
    _DeadlineAdapter,
    _DeadlineError,
    _host_port,
    _read_body,
    _retry_after,
    _size,
    _status,
    _TooLargeError,
    _why,
)
from .errors import (
    ApiError,
    AuthError,
    ChiftError,
    NotFoundError,
    RateLimitError,
    TransportError,
    UnreachableError,
)
from .redact import Redactor

__all__ = ["DEFAULT_BASE_URL", "ChiftClient", "RateLimiter", "Response", "api_path"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.chift.eu"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ERROR_BODY_LIMIT = 64 * 2**10  # bytes of an error body kept for its message


def api_path(*segments: Any) -> str:
    """Build a request path from raw segments, each URL-quoted.

    Nothing in an id can change which endpoint is asked: ``/``, ``?``, ``#`` and ``%`` are
    escaped, and so are the dot segments ``.`` and ``..`` that URL parsers would collapse.

    Examples
    --------
    >>> api_path("consumers", "a#frag", "syncs", "s/1")
    '/consumers/a%23frag/syncs/s%2F1'
    >>> api_path("consumers", "..", "syncs")
    '/consumers/%2E%2E/syncs'
    """
    parts = []
    for segment in segments:
        text = str(segment)
        if not text:
            raise ValueError("an empty id cannot be a path segment")
        quoted = quote(text, safe="")
        parts.append(quoted.replace(".", "%2E") if set(text) == {"."} else quoted)
    return "/" + "/".join(parts)


@dataclass(frozen=True)
class Response:
    """A successful answer: its status, its body as received, and how many attempts it took."""

    status: int
    body: bytes
    attempts: int
    received_at: float
    endpoint: str = ""

    def json(self) -> Any:
        """Decode the body as JSON.

        Raises
        ------
        ApiError
            When the body is not JSON (or nests too deep to decode), with the status.
        """
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deep" if isinstance(exc, RecursionError) else "not JSON"
            raise ApiError(
                f"the answer is {reason} ({len(self.body):,} bytes)",
                status=self.status,
                endpoint=self.endpoint or None,
                attempts=self.attempts,
            ) from None


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (evenly spaced slots)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("max_rps must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until the next slot; return the time waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return wait


def _error_fields(
    status: int, reason: str, body: bytes, redact: Callable[[str], str]
) -> tuple[str, str | None, Any]:
    """Chift's ``message``, ``error_code`` and ``detail`` from an error body, unredacted.

    A body that is not Chift's error is its text, redacted with ``redact`` before it is cut
    to 200 characters (a secret cut in two would not be found).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("error_code")
        return data["message"], code if isinstance(code, str) else None, data.get("detail")
    text = redact(body.decode("utf-8", "replace").strip().replace("\n", " "))
    return (text[:200] or reason or f"HTTP {status}"), None, None


class ChiftClient:
    """A client for the Chift API, safe to share between threads.

    Parameters
    ----------
    client_id, client_secret, account_id : str
        API key credentials from Chift's back office (``accountId`` is a UUID).
    marketplace_id : str, optional
        For marketplace setups only.
    base_url : str, default "https://api.chift.eu"
        ``https://host[:port][/path]``; plain ``http://`` only to loopback addresses (the
        sandbox). Anything else (user info, a query, a fragment, backslashes, whitespace) is
        refused with a ValueError.
    timeout : float, default 30
        Seconds to wait for a connection and for each read.
    deadline : float, default 120
        Seconds a request may take in all: connecting, the headers and the whole body. Past
        it the request is abandoned (not retried) with a ``TransportError``.
    max_body : int, default 64 MiB
        Largest body accepted, in bytes after decompression; a larger one is abandoned as
        soon as it passes the limit, with an ``ApiError`` (not retried).
    max_attempts : int, default 5
        Attempts per request, counting the first, on 429, 5xx, timeouts and dropped connections.
    give_up_after : float or None, default 60
        Seconds without any answer from the API (every request since the last answer refused,
        reset, unresolved or timed out) after which each request raises ``UnreachableError``
        at once rather than being retried: an API that went away stops a fetch in about this
        time, not after every request's retries. The waits between attempts end by then.
        Any answer, whatever its status, resets the clock. None or 0: never give up.
    backoff : float, default 0.5
        First backoff in seconds; doubled each attempt, with full jitter, capped by
        ``max_backoff``. A ``Retry-After`` header wins when it asks for longer.
    max_backoff : float, default 30
        Longest wait between two attempts.
    max_rps : float, optional
        Client-side cap on requests per second, shared by every thread.
    pool_size : int, default 32
        Connections kept open to the API (at least the number of worker threads).
    session : requests.Session, optional
        A session to use (its adapters are left alone, so the deadline is then checked between
        reads of the body only); by default a new pooled one.
    sleep : callable, default time.sleep
        How to wait between attempts (tests inject a recorder).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        account_id: str,
        *,
        marketplace_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        deadline: float = DEFAULT_DEADLINE,
        max_body: int = DEFAULT_MAX_BODY,
        max_attempts: int = 5,
        give_up_after: float | None = DEFAULT_GIVE_UP_AFTER,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rps: float | None = None,
        pool_size: int = 32,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, value in (
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("account_id", account_id),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not deadline > 0 or not timeout > 0:
            raise ValueError("timeout and deadline must be positive numbers of seconds")
        if not isinstance(max_body, int) or max_body < 1:
            raise ValueError("max_body must be a positive number of bytes")
        if give_up_after is not None and not give_up_after >= 0:
            raise ValueError("give_up_after must be a number of seconds, 0 or more (0: never)")
        self.base_url = _check_base_url(base_url)
        self.host = _host_port(self.base_url)
        self.give_up_after = float(give_up_after) if give_up_after else None
        # the outage clock: since when every request has failed without an answer, how many
        self._silent_since: float | None = None
        self._silent_attempts = 0
        self._silence_lock = threading.Lock()
        self.redactor = Redactor([client_secret])
        self.deadline = float(deadline)
        self.max_body = max_body
        self.account_id = account_id
        self._client_id = client_id
        self._secret = client_secret
        self._marketplace_id = marketplace_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._limiter = RateLimiter(max_rps) if max_rps else None
        self._sleep = sleep
        self._token: str | None = None
        self._accepted: set[str] = set()  # tokens the API accepted at least once
        self._renew_at = 0.0
        self._token_lock = threading.Lock()
        self.token_requests = 0
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter(
                pool_connections=1, pool_maxsize=max(pool_size, 1), max_retries=0
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        self._headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": "chift-frames",
        }
        # Requests go straight to the session's adapter (its connection pool), with proxy and
        # CA settings read from the environment once: Session.request would redo that lookup,
        # merge cookies and hooks on every call, a third of the client's CPU time per request,
        # which is what bounds a fetch at high concurrency.
        self._adapter = session.get_adapter(self.base_url)
        settings = session.merge_environment_settings(self.base_url, {}, False, None, None)
        self._proxies: MutableMapping[str, str] = settings["proxies"]
        self._verify: bool | str = True if settings["verify"] is None else settings["verify"]
        self._cert = settings["cert"]
        # With the client's own adapter and no proxy for the API, a request without a body
        # goes straight to urllib3's pool for the API's host, as the adapter itself would send
        # it (same pool, TLS settings, timeouts, no retries): the adapter's request preparing,
        # proxy lookup and response building cost as much CPU as the whole HTTP exchange.
        self._pool: Any = None
        self._base_path = parse_url(self.base_url).path or ""
        if isinstance(self._adapter, _DeadlineAdapter) and not select_proxy(
            self.base_url, self._proxies
        ):
            probe = requests.PreparedRequest()
            probe.prepare(method="GET", url=self.base_url + "/")
            self._pool = self._adapter.get_connection_with_tls_context(
                probe, self._verify, self._proxies, self._cert
            )
            self._adapter.cert_verify(  # type: ignore[no-untyped-call]
                self._pool, self.base_url, self._verify, self._cert
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> ChiftClient:
        """Build a client from ``CHIFT_CLIENT_ID``, ``CHIFT_CLIENT_SECRET``, ``CHIFT_ACCOUNT_ID``.

        ``CHIFT_MARKETPLACE_ID``, ``CHIFT_BASE_URL`` and ``CHIFT_FRAMES_GIVE_UP_AFTER`` are
        optional. Keyword arguments are passed to the constructor, and win.

        Raises
        ------
        AuthError
            Naming every variable that is missing or empty, at once.
        ValueError
            When ``CHIFT_FRAMES_GIVE_UP_AFTER`` is not a number of seconds.
        """
        env = os.environ if environ is None else environ
        required = ("client_id", "client_secret", "account_id")
        values = {key: env.get(ENV[key], "").strip() for key in required}
        missing = [ENV[key] for key in required if not values[key]]
        if missing:
            names = ", ".join(missing)
            verb, them = ("is", "it") if len(missing) == 1 else ("are", "them")
            raise AuthError(f"{names} {verb} not set: export {them} with your Chift API key")
        if env.get(ENV["marketplace_id"]):
            values["marketplace_id"] = env[ENV["marketplace_id"]].strip()
        if env.get(ENV["base_url"]):
            values["base_url"] = env[ENV["base_url"]].strip()
        give_up = env.get(ENV["give_up_after"], "").strip()
        options: dict[str, Any] = {}
        if give_up:
            try:
                options["give_up_after"] = float(give_up)
            except ValueError:
                raise ValueError(
                    f"{ENV['give_up_after']} must be a number of seconds (0: never give up), "
                    f"not {give_up!r}"
                ) from None
        return cls(**{**values, **options, **kwargs})

    def __repr__(self) -> str:
        return f"ChiftClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> ChiftClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- auth -------------------------------------------------------------------------------
    def _current_token(self) -> str:
        token = self._token
        if token is not None and time.time() < self._renew_at:
            return token
        return self._renew(token)

    def _renew(self, stale: str | None) -> str:
        """Get a new token unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self._token is not None and self._token != stale and time.time() < self._renew_at:
                return self._token
            body: dict[str, Any] = {
                "clientId": self._client_id,
                "clientSecret": self._secret,
                "accountId": self.account_id,
            }
            if self._marketplace_id:
                body["marketplaceId"] = self._marketplace_id
            response = self._send("POST", "/token", json_body=body, auth=False)
            self.token_requests += 1
            try:
                data = response.json()
                token, expires_on = data["access_token"], float(data["expires_on"])
                lifetime = float(data.get("expires_in") or max(expires_on - time.time(), 0))
            except (ValueError, KeyError, TypeError):
                raise AuthError(
                    "POST /token answered without a usable token",
                    status=response.status,
                    endpoint="POST /token",
                ) from None
            # renew a little before expiry: 60 s, or a tenth of a short lifetime
            self._renew_at = expires_on - min(60.0, lifetime / 10)
            self.redactor.add(str(token))
            self._token = str(token)
            log.debug("new access token, expires at %s", expires_on)
            return self._token

    # -- requests ---------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """Send an authenticated GET, with retries, and return the successful response.

        Parameters
        ----------
        path : str
            Path under the base URL, such as ``/syncs``.
        params : mapping, optional
            Query parameters; None values are left out.

        Raises
        ------
        AuthError, NotFoundError, RateLimitError, ApiError, TransportError
            See :mod:`chift_frames.errors`.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._send("GET", path, params=query, auth=True)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Like :meth:`get`, and decode the body as JSON."""
        return self.get(path, params).json()

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: bool,
    ) -> Response:
        endpoint = f"{method} {path}"
        url = self.base_url + path
        replayed = False
        replays = 0
        attempt = 0
        while True:
            attempt += 1
            headers = dict(self._headers)
            token = None
            if auth:
                token = self._current_token()
                headers["Authorization"] = f"Bearer {token}"
            if self._limiter is not None:
                self._limiter.acquire()
            outcome = self._attempt(method, url, headers, params, json_body, endpoint, attempt)
            if isinstance(outcome, str):  # no answer: the reason
                silent, failed = self._no_answer(outcome)
                if self.give_up_after is not None and silent >= self.give_up_after:
                    raise UnreachableError(
                        f"no answer from {self.host} for {silent:.1f} s ({outcome}; {failed:,} "
                        "attempts since its last answer), so the requests stop (give-up-after "
                        f"{self.give_up_after:g} s): is the API up, and reachable from here?",
                        host=self.host,
                        silent_for=silent,
                        endpoint=endpoint,
                        attempts=attempt,
                    )
                if attempt >= self.max_attempts:
                    raise TransportError(
                        f"no answer after {attempt} attempts from {self.host} ({outcome})",
                        endpoint=endpoint,
                        attempts=attempt,
                    )
                # the wait ends when the API would be given up: one last attempt then decides
                left = None if self.give_up_after is None else self.give_up_after - silent
                self._wait(attempt, None, endpoint, outcome, at_most=left)
                continue
            status, reason, response_headers, body = outcome
            if status != 401 and token is not None and token not in self._accepted:
                if len(self._accepted) > 64:
                    self._accepted.clear()
                self._accepted.add(token)
            if 200 <= status < 300:
                return Response(status, self.redactor.data(body), attempt, time.time(), endpoint)
            if status == 401 and auth and (not replayed or token in self._accepted):
                # The token expired or was revoked early: renew and replay, once for a token
                # that was never accepted (so bad credentials fail fast), and again only when
                # a token that did work is refused later, as during a long run of retries.
                replays += 1
                if replays <= self.max_attempts:
                    self._renew(token)
                    replayed = True
                    attempt -= 1
                    continue
            if status in RETRY_STATUSES and attempt < self.max_attempts:
                wait_hint = _retry_after(response_headers.get("Retry-After"))
                self._wait(attempt, wait_hint, endpoint, f"HTTP {status}")
                continue
            raise self._error(status, reason, body, endpoint, attempt)

    def _attempt(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        json_body: Any,
        endpoint: str,
        attempt: int,
    ) -> str | tuple[int, str, Mapping[str, str], bytes]:
        """Send once: the status, reason, headers and body read within the limits, or why not.

        Raises
        ------
        TransportError
            Past the deadline (not retried).
        ApiError
            A body over ``max_body``, or in an encoding it cannot read (not retried).
        """
        deadline = time.monotonic() + self.deadline
        entry = _WATCHDOG.arm(deadline)
        response: Any = None
        try:
            wait = min(self.timeout, self.deadline)
            if self._pool is not None and json_body is None:
                query = urlencode([(k, v) for k, v in (params or {}).items() if v is not None])
                target = self._base_path + url[len(self.base_url) :]
                response = self._pool.urlopen(
                    method,
                    f"{target}?{query}" if query else target,
                    headers=headers,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=False,
                    retries=_NO_RETRY,
                    timeout=urllib3.Timeout(connect=wait, read=wait),
                )
                raw = response
            else:
                request = requests.PreparedRequest()
                request.prepare(
                    method=method, url=url, headers=headers, params=params, json=json_body
                )
                response = self._adapter.send(
                    request,
                    stream=True,
                    timeout=(wait, wait),
                    proxies=self._proxies,
                    verify=self._verify,
                    cert=self._cert,
                )
                raw = response.raw
            if self._silent_since is not None:  # read without the lock: the usual case is fast
                self._answered()
            status = raw.status
            ok = 200 <= status < 300
            limit = self.max_body if ok else min(self.max_body, ERROR_BODY_LIMIT)
            body = _read_body(
                raw, raw.headers.get("Content-Encoding", ""), limit, deadline, truncate=not ok
            )
            if entry[2]:  # the watchdog shut the socket: what was read is cut short
                raise _DeadlineError
            return status, str(raw.reason or ""), raw.headers, body
        except Exception as exc:
            if entry[2] or time.monotonic() >= deadline or isinstance(exc, _DeadlineError):
                # whatever the shut socket made the read raise, it is the deadline
                raise TransportError(
                    f"no complete answer from {self.host} within the deadline of "
                    f"{self.deadline:g} s (connect, headers and body); it was abandoned",
                    endpoint=endpoint,
                    attempts=attempt,
                ) from None
            answered = _status(response)
            if isinstance(exc, _TooLargeError):
                raise ApiError(
                    f"the answer is larger than {_size(self.max_body)} after decompression "
                    "(max_body); it was abandoned",
                    status=answered,
                    endpoint=endpoint,
                    attempts=attempt,
                ) from None
            if isinstance(exc, _NO_ANSWER):  # retried by the caller
                return _why(exc)
            if isinstance(exc, ValueError | zlib.error):
                reason = str(exc) if isinstance(exc, ValueError) else "its compression is broken"
                raise ApiError(
                    self.redactor.text(f"the answer cannot be read: {reason}"),
                    status=answered,
                    endpoint=endpoint,
                    attempts=attempt,
                ) from None
            raise
        finally:
            _WATCHDOG.disarm(entry)
            if isinstance(response, urllib3.BaseHTTPResponse):
                # a body read to its end left its connection in the pool; any other is shut
                if not response.closed:
                    response.close()
                response.release_conn()
            elif response is not None:
                response.close()

    def _answered(self) -> None:
        """Stop the outage clock: the API answered (any status)."""
        with self._silence_lock:
            if self._silent_since is not None:
                log.info(
                    "%s answers again, after %.1f s and %d attempts without an answer",
                    self.host,
                    time.monotonic() - self._silent_since,
                    self._silent_attempts,
                )
            self._silent_since, self._silent_attempts = None, 0

    def _no_answer(self, reason: str) -> tuple[float, int]:
        """Count an attempt without an answer; return seconds since the first such, and how many.

        Every thread's attempts count: the clock runs until any request gets an answer.
        """
        now = time.monotonic()
        with self._silence_lock:
            if self._silent_since is None:
                self._silent_since = now
                log.info(
                    "%s did not answer (%s); requests are retried%s",
                    self.host,
                    reason,
                    f", and stop if it does not answer within {self.give_up_after:g} s"
                    if self.give_up_after
                    else "",
                )
            self._silent_attempts += 1
            return now - self._silent_since, self._silent_attempts

    def _wait(
        self,
        attempt: int,
        retry_after: float | None,
        endpoint: str,
        reason: str,
        at_most: float | None = None,
    ) -> None:
        delay = random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.max_backoff, 120.0)))
        if at_most is not None:
            delay = max(0.0, min(delay, at_most))
        log.info(
            "%s: %s, attempt %d of %d, retrying in %.2f s",
            endpoint,
            reason,
            attempt,
            self.max_attempts,
            delay,
        )
        self._sleep(delay)

    def _error(
        self, status: int, reason: str, body: bytes, endpoint: str, attempts: int
    ) -> ChiftError:
        message, error_code, detail = _error_fields(status, reason, body, self.redactor.text)
        message = self.redactor.text(message)
        error_code = self.redactor.text(error_code) if error_code else None
        try:
            detail = self.redactor.value(detail)
        except RecursionError:
            detail = None
        kind: type[ChiftError]
        if 300 <= status < 400:
            kind = ApiError
            message = f"Chift answered a redirect ({status}), which is not followed: {message}"
        elif status in (401, 403) or (endpoint == "POST /token" and status in (400, 422)):
            kind = AuthError
            if endpoint == "POST /token":
                message = (
                    f"Chift refused the credentials ({message}); check CHIFT_CLIENT_ID, "
                    "CHIFT_CLIENT_SECRET and CHIFT_ACCOUNT_ID"
                )
        elif status == 404:
            kind = NotFoundError
        elif status == 429:
            kind = RateLimitError
        else:
            kind = ApiError
        return kind(
            message,
            status=status,
            error_code=error_code,
            detail=detail,
            endpoint=endpoint,
            attempts=attempts,
        )

"""``ChiftClient``: the only module that imports requests. Auth, retries, timeouts, errors.

- One pooled ``requests.Session``; a timeout on every request.
- ``POST /token`` on first use; the token is renewed shortly before its ``expires_on`` and,
  on a 401, renewed once and the request replayed. Renewal is thread-safe.
- Idempotent GETs are retried on 429, 5xx, timeouts and dropped connections with exponential
  backoff and full jitter, honouring ``Retry-After``, for a bounded number of attempts.
- An optional client-side cap on requests per second, shared by every thread.
- The client secret and the access token never appear in an exception, a log line or a repr.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .errors import (
    ApiError,
    AuthError,
    ChiftError,
    NotFoundError,
    RateLimitError,
    TransportError,
)

__all__ = ["DEFAULT_BASE_URL", "ChiftClient", "RateLimiter", "Response"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.chift.eu"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ENV = {
    "client_id": "CHIFT_CLIENT_ID",
    "client_secret": "CHIFT_CLIENT_SECRET",
    "account_id": "CHIFT_ACCOUNT_ID",
    "marketplace_id": "CHIFT_MARKETPLACE_ID",
    "base_url": "CHIFT_BASE_URL",
}


@dataclass(frozen=True)
class Response:
    """A successful answer: its status, its body as received, and how many attempts it took."""

    status: int
    body: bytes
    attempts: int
    received_at: float

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http:// to {parts.hostname}: credentials would travel unencrypted; "
            "use https:// (plain http is allowed only on loopback addresses, for the sandbox)"
        )
    return base_url.rstrip("/")


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_fields(response: requests.Response) -> tuple[str, str | None, Any]:
    """Chift's ``message``, ``error_code`` and ``detail`` from an error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"], body.get("error_code"), body.get("detail")
    text = response.text.strip().replace("\n", " ")
    return (text[:200] or response.reason or f"HTTP {response.status_code}"), None, None


class ChiftClient:
    """A client for the Chift API, safe to share between threads.

    Parameters
    ----------
    client_id, client_secret, account_id : str
        API key credentials from Chift's back office (``accountId`` is a UUID).
    marketplace_id : str, optional
        For marketplace setups only.
    base_url : str, default "https://api.chift.eu"
        Plain ``http://`` is refused except on loopback addresses (the sandbox).
    timeout : float, default 30
        Seconds to wait for a connection and for each read.
    max_attempts : int, default 5
        Attempts per request, counting the first, on 429, 5xx, timeouts and dropped connections.
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
        A session to use (its adapters are left alone); by default a new pooled one.
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
        max_attempts: int = 5,
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
        self.base_url = _check_base_url(base_url)
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
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1), max_retries=0)
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> ChiftClient:
        """Build a client from ``CHIFT_CLIENT_ID``, ``CHIFT_CLIENT_SECRET``, ``CHIFT_ACCOUNT_ID``.

        ``CHIFT_MARKETPLACE_ID`` and ``CHIFT_BASE_URL`` are optional. Keyword arguments are
        passed to the constructor.

        Raises
        ------
        AuthError
            Naming the first variable that is missing or empty.
        """
        env = os.environ if environ is None else environ
        values = {}
        for key in ("client_id", "client_secret", "account_id"):
            value = env.get(ENV[key], "").strip()
            if not value:
                raise AuthError(f"{ENV[key]} is not set: export it with your Chift API key")
            values[key] = value
        if env.get(ENV["marketplace_id"]):
            values["marketplace_id"] = env[ENV["marketplace_id"]].strip()
        if env.get(ENV["base_url"]):
            values["base_url"] = env[ENV["base_url"]].strip()
        return cls(**{**values, **kwargs})

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
            try:
                request = requests.PreparedRequest()
                request.prepare(
                    method=method, url=url, headers=headers, params=params, json=json_body
                )
                response = self._adapter.send(
                    request,
                    timeout=self.timeout,
                    proxies=self._proxies,
                    verify=self._verify,
                    cert=self._cert,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = type(exc).__name__
                if attempt >= self.max_attempts:
                    raise TransportError(
                        f"no answer after {attempt} attempts ({reason})",
                        endpoint=endpoint,
                        attempts=attempt,
                    ) from None
                self._wait(attempt, None, endpoint, reason)
                continue
            status = response.status_code
            if status != 401 and token is not None and token not in self._accepted:
                if len(self._accepted) > 64:
                    self._accepted.clear()
                self._accepted.add(token)
            if status < 400:
                return Response(status, response.content, attempt, time.time())
            if status == 401 and auth and (not replayed or token in self._accepted):
                # The token expired or was revoked early: renew and replay, once for a token
                # that was never accepted (so bad credentials fail fast), and again only when
                # a token that did work is refused later, as during a long run of retries.
                response.close()
                replays += 1
                if replays <= self.max_attempts:
                    self._renew(token)
                    replayed = True
                    attempt -= 1
                    continue
            if status in RETRY_STATUSES and attempt < self.max_attempts:
                wait_hint = _retry_after(response.headers.get("Retry-After"))
                response.close()
                self._wait(attempt, wait_hint, endpoint, f"HTTP {status}")
                continue
            raise self._error(response, endpoint, attempt)

    def _wait(self, attempt: int, retry_after: float | None, endpoint: str, reason: str) -> None:
        delay = random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.max_backoff, 120.0)))
        log.info(
            "%s: %s, attempt %d of %d, retrying in %.2f s",
            endpoint,
            reason,
            attempt,
            self.max_attempts,
            delay,
        )
        self._sleep(delay)

    @staticmethod
    def _error(response: requests.Response, endpoint: str, attempts: int) -> ChiftError:
        status = response.status_code
        message, error_code, detail = _error_fields(response)
        kind: type[ChiftError]
        if status in (401, 403) or (endpoint == "POST /token" and status in (400, 422)):
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

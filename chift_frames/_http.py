"""The transport under :class:`~chift_frames.client.ChiftClient`: what one request rests on.

- The base URL's checks (:func:`_check_base_url`): read by urllib3's parser, the one that
  connects, and refused when two parsers could read it differently.
- The deadline's watchdog, and the connection pools and adapter that tell it which socket
  carries a request.
- A body read as a stream, decompressed here and stopped at a limit (:func:`_read_body`).
- Why a request got no answer, in a few words (:func:`_why`), and ``Retry-After``.

Nothing here retries, authenticates or redacts: :mod:`chift_frames.client` does, with these.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import re
import socket
import threading
import time
import zlib
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

CHUNK = 64 * 2**10
# what requests' adapter gives urllib3 for max_retries=0: the caller retries, not urllib3
_NO_RETRY = urllib3.Retry(0, read=False)
# what a request that got no (complete) answer raises, from requests, urllib3 or the socket
_NO_ANSWER = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:/%]*")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host[1:-1] if host.startswith("[") else host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash, or raise ValueError saying what is wrong.

    The URL is read by urllib3's parser, the one requests connects with, and must be exactly
    ``https://host[:port][/path]`` (or ``http://`` to a loopback address): no user info, query,
    fragment, backslash, whitespace or control character, which parsers read differently.
    """

    def refuse(why: str) -> ValueError:
        return ValueError(f"base_url {base_url!r} is refused: {why}")

    if not isinstance(base_url, str) or not base_url:
        raise ValueError("base_url must be a non-empty string such as https://api.chift.eu")
    if not base_url.isascii() or any(c.isspace() or not c.isprintable() for c in base_url):
        raise refuse("it holds whitespace, control or non-ASCII characters")
    if "\\" in base_url:
        raise refuse("it holds a backslash, which parsers read differently")
    if "@" in base_url:
        raise refuse("user info (user:password@) is not allowed; credentials go in the environment")
    if "?" in base_url or "#" in base_url:
        raise refuse("a query or a fragment is not allowed")
    try:
        url = parse_url(base_url)
    except LocationParseError:
        raise refuse("it is not a URL") from None
    if url.scheme not in ("https", "http") or not base_url.lower().startswith(url.scheme + "://"):
        raise refuse("it must start with https:// (or http:// to a loopback address)")
    if not url.host or url.auth or url.query is not None or url.fragment is not None:
        raise refuse("it must be https://host[:port][/path]")
    if url.port == 0:
        raise refuse("port 0 is not a port to connect to")
    if not _PATH.fullmatch(url.path or ""):
        raise refuse("its path holds characters that are not allowed")
    # the standard library must read the same host, or the two parsers disagree on where it goes
    split = urlsplit(base_url)
    host = url.host.lower()
    if (split.hostname or "") != host.strip("[]"):
        raise refuse("parsers disagree on its host")
    if url.scheme == "http" and not _is_loopback(host):
        raise refuse(
            f"plain http:// to {host}: credentials would travel unencrypted; use https:// "
            "(plain http is allowed only to loopback addresses, for the sandbox)"
        )
    return base_url.rstrip("/")


class _Watchdog:
    """One daemon thread that shuts the socket of any request still running past its deadline.

    A request arms an entry (its deadline) before it is sent; the connection that carries it
    binds itself to the entry when it sends; the request disarms the entry once its body is
    read. Timeouts bound each socket read; only this bounds a server that trickles its status
    line, its headers or its body a byte at a time.

    urllib3 puts a connection back in the pool as the last byte of its body is read, a moment
    before the entry is disarmed: a deadline falling in that moment could shut a connection
    another request has just taken, which that request then sees as a dropped connection and
    retries. Nothing is lost, and the window is a few microseconds.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._count = itertools.count()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> list[Any]:
        """Register a deadline (``time.monotonic`` seconds) for this thread's next request."""
        entry: list[Any] = [None, False, False]  # connection, disarmed, fired
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="chift-deadline", daemon=True
                )
                self._thread.start()
            if len(self._heap) > 1024 and len(self._heap) > 4 * threading.active_count():
                self._heap = [item for item in self._heap if not item[2][1]]
                heapq.heapify(self._heap)
            first = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._count), entry))
            if first:
                self._cond.notify()
        self._local.entry = entry
        return entry

    def bind(self, connection: Any) -> None:
        """Tie the connection sending this thread's request to its armed entry."""
        entry = getattr(self._local, "entry", None)
        if entry is not None:
            entry[0] = connection

    def disarm(self, entry: list[Any]) -> None:
        """Mark the request over: its connection is never shut."""
        entry[1] = True
        entry[0] = None
        self._local.entry = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                _, _, entry = heapq.heappop(self._heap)
            connection = entry[0]
            if entry[1] or connection is None:
                continue
            entry[2] = True
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class _HTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _WATCHDOG.bind(self)
        super().request(*args, **kwargs)


class _HTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _WATCHDOG.bind(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections tell the watchdog which socket carries a request."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineError(Exception):
    """The request ran past its deadline (internal: becomes a TransportError)."""


class _TooLargeError(Exception):
    """The body grew past the limit (internal: becomes an ApiError)."""


def _read_body(raw: Any, encoding: str, limit: int, deadline: float, truncate: bool) -> bytes:
    """Read a body as a stream, decompressing it here, stopped at ``limit`` bytes.

    ``truncate`` keeps the first ``limit`` bytes (an error message) instead of failing.
    """
    encoding = encoding.strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise ValueError(f"the answer uses an unsupported Content-Encoding {encoding!r}")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() >= deadline:
            raise _DeadlineError
        data = raw.read1(CHUNK, decode_content=False)
        if not data:
            break
        pending = data
        while pending:
            if decoder is None:
                piece, pending = pending, b""
            else:
                piece = decoder.decompress(pending, limit - size + 1)
                pending = decoder.unconsumed_tail
            size += len(piece)
            if size > limit:
                if truncate:
                    chunks.append(piece[: len(piece) - (size - limit)])
                    return b"".join(chunks)
                raise _TooLargeError
            chunks.append(piece)
    if decoder is not None:
        rest = decoder.flush()
        size += len(rest)
        if size > limit and not truncate:
            raise _TooLargeError
        chunks.append(rest)
    return b"".join(chunks)[: limit if truncate else None]


def _host_port(base_url: str) -> str:
    """Return the ``host:port`` a base URL connects to, port spelt out (what errors name)."""
    url = parse_url(base_url)
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _why(exc: BaseException) -> str:
    """Say in a few words why a request got no answer, from the chain of exceptions.

    Never the exception's own text: requests and urllib3 put the URL, query included, in it.
    """
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 32:
        error = todo.pop()
        if any(error is e for e in seen):
            continue
        seen.append(error)
        linked = [error.__cause__, error.__context__, getattr(error, "reason", None)]
        linked += list(error.args)
        todo += [e for e in linked if isinstance(e, BaseException)]
    for kinds, reason in (
        ((ConnectionRefusedError,), "connection refused"),
        ((socket.gaierror, urllib3.exceptions.NameResolutionError), "host name not resolved"),
        ((ConnectionResetError, BrokenPipeError), "connection reset"),
        ((requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError), "connect timed out"),
        ((requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError), "timed out"),
        ((requests.exceptions.SSLError, urllib3.exceptions.SSLError), "TLS handshake failed"),
        ((urllib3.exceptions.ProxyError,), "the proxy failed"),
        ((ConnectionAbortedError, urllib3.exceptions.ProtocolError), "connection dropped"),
    ):
        if any(isinstance(e, kinds) for e in seen):
            return reason
    return type(exc).__name__


def _status(response: Any) -> int | None:
    """Return the status of an answer from either path (urllib3's or requests'), or None."""
    if response is None:
        return None
    return int(getattr(response, "status", None) or response.status_code)


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n:,} bytes"


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

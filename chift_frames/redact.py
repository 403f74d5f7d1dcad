"""Redaction: the one step every error text passes before it is printed, logged, raised or stored.

A :class:`Redactor` knows the secrets of one client (the client secret and every access
token issued to it) and removes them from text, from bytes and from nested JSON-like values,
along with anything that looks like an ``Authorization`` header value or a ``Bearer`` token,
whoever's it is. It does no I/O and knows nothing of HTTP.

What it cannot know (a secret it was never told) it cannot remove: the client tells it the
secret when it is built and each token when it arrives, before the token is ever sent.
A value shorter than :data:`MIN_LENGTH` characters is not removed by exact match: it cannot be
told apart from ordinary text (a secret ``b`` would cut every ``b`` out of every id), and
Chift's secrets and tokens are far longer. The patterns still apply to it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MIN_LENGTH", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"
MIN_LENGTH = 8

# Header values and bearer tokens, whoever's they are: an echoing server may show a token
# this client never saw (a proxy's, another tenant's). Quotes, commas and braces end a value.
_PATTERNS = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)([\"']?client_?secret[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;}&]+"),
    re.compile(r"(?i)([\"']?access_?token[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;}&]+"),
]


class Redactor:
    """Remove known secrets, ``Authorization`` values and bearer tokens from text.

    Parameters
    ----------
    secrets : iterable of str
        Values to remove wherever they appear (empty ones are ignored).

    Examples
    --------
    >>> r = Redactor(["s3cr3t-value"])
    >>> r.add("tok-123456")
    >>> r.text('{"clientSecret": "s3cr3t-value"} Authorization: Bearer tok-123456')
    '{"clientSecret": "[REDACTED]"} Authorization: [REDACTED]'
    >>> r.data(b'{"echo": "tok-123456"}')
    b'{"echo": "[REDACTED]"}'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._texts: tuple[str, ...] = ()
        self._bytes: tuple[bytes, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Remember ``secret`` (and its JSON- and URL-escaped forms) to remove from now on.

        Values shorter than :data:`MIN_LENGTH` are ignored (see the module's docstring).
        """
        if not isinstance(secret, str) or len(secret) < MIN_LENGTH:
            return
        forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}
        with self._lock:
            # longest first, so a secret that contains another is removed whole
            texts = sorted(set(self._texts) | forms, key=len, reverse=True)
            self._texts = tuple(texts)
            self._bytes = tuple(t.encode("utf-8") for t in texts)

    def text(self, text: str) -> str:
        """Return ``text`` without the known secrets, ``Authorization`` values or tokens."""
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def data(self, body: bytes) -> bytes:
        """Return ``body`` without the known secrets (exact matches only: bodies are data)."""
        for secret in self._bytes:
            if secret in body:
                body = body.replace(secret, REDACTED.encode())
        return body

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

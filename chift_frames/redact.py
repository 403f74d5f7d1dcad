r"""Redaction: the one step every error text passes before it is printed, logged, raised or stored.

A :class:`Redactor` knows the secrets of one client (the client secret and every access
token issued to it) and removes them from text, from bytes and from nested JSON-like values,
along with anything that looks like an ``Authorization`` header value or a ``Bearer`` token,
whoever's it is. It does no I/O and knows nothing of HTTP.

A secret is found however it was escaped: as it is, JSON-escaped (``\u0073``, with any case
of hex, ``\/``, ``\"``), percent-encoded (any case of hex), or in a JSON body in UTF-16 or
UTF-32, which a JSON decoder reads as well. A body is matched byte for byte first; when it
holds an escape that could hide a secret from that match, it is decoded as JSON, every
string and key is matched, and a body in which something was removed is written again
(``json.dumps``) from the redacted value: what is stored and what is decoded are then the
same, and hold no secret.

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
from urllib.parse import quote, quote_plus, unquote

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

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_BYTES = re.compile(rb"%[0-9A-Fa-f]{2}")
_JSON_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|[\"\\/bfnrt])")
_SHORT = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_LAYERS = 3  # escapes undone at most, one layer at a time (JSON in JSON in a URL...)


def _may_hide(body: bytes) -> bool:
    r"""Whether a body could write a secret in a form none of the remembered forms match.

    A \u escape (any hex case), an escaped slash, a percent escape (any hex case), or the
    NULs of a UTF-16 or UTF-32 body: every other JSON escape (\" \\ \n...) is one of the
    remembered forms. One-byte searches first: they are the fast ones (two-byte ones are not).
    """
    if b"\\" in body and (b"\\u" in body or b"\\/" in body):
        return True
    return b"\x00" in body or (b"%" in body and _PERCENT_BYTES.search(body) is not None)


def _unescape(text: str) -> str:
    """Undo one layer of JSON and percent escapes, and drop NULs (UTF-16 read as UTF-8)."""
    if "\\" in text:
        text = _JSON_ESCAPE.sub(
            lambda m: chr(int(m[1][1:], 16)) if len(m[1]) == 5 else _SHORT[m[1]], text
        )
        if _SURROGATE.search(text):  # \ud83d\ude00: one character, written as a pair
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if "%" in text:
        text = unquote(text)
    return text.replace("\x00", "")


class Redactor:
    r"""Remove known secrets, ``Authorization`` values and bearer tokens from text.

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
    >>> r.data(b'{"echo": "\\u0074ok-123456"}')  # escaped: found in the decoded value
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
        forms = {
            secret,
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
            quote(secret, safe=""),
            quote_plus(secret),
        }
        with self._lock:
            # longest first, so a secret that contains another is removed whole
            texts = sorted(set(self._texts) | forms, key=len, reverse=True)
            self._texts = tuple(texts)
            self._bytes = tuple(t.encode("utf-8", "surrogatepass") for t in texts)

    def text(self, text: str) -> str:
        r"""Return ``text`` without the known secrets, ``Authorization`` values or tokens.

        A secret found only once escapes are undone (``\u0073``, ``\/``, ``%2F``...) is
        removed from the text with its escapes undone.
        """
        text = self._exact(text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def data(self, body: bytes) -> bytes:
        """Return ``body`` without the known secrets (exact matches only: bodies are data).

        The bytes are matched as they are. When they hold an escape that could hide a secret
        (see the module's docstring), a JSON body is decoded and every string and key of it
        matched too, and a body in which something was found is returned written again from
        the redacted value (``json.dumps``: same data, its own spacing and escapes); a body
        that is not JSON is matched as text.
        """
        for secret in self._bytes:
            if secret in body:
                body = body.replace(secret, REDACTED.encode())
        if not self._texts or not _may_hide(body):
            return body
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            text = body.decode("utf-8", "replace")
            cleaned = self._exact(text)
            return body if cleaned == text else cleaned.encode("utf-8", "surrogatepass")
        try:
            # written again in C, the decoded value shows each string with only the escapes
            # that a remembered form has: nothing to find there, nothing to walk
            dumped = json.dumps(value, ensure_ascii=False)
        except (ValueError, RecursionError):
            dumped = None
        if dumped is not None and not self._found(dumped):
            return body
        value, changed = self._walk(value)
        if not changed:
            return body
        try:
            return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            # too deep to write again: a body that is not JSON, refused as such, leaks nothing
            return f"{REDACTED} (an answer nested too deep to redact)".encode()

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _found(self, dumped: str) -> bool:
        """Whether JSON text could hold a secret: as written, or behind a further escape."""
        if any(secret in dumped for secret in self._texts):
            return True
        # a string that held an escape of its own (JSON in JSON, a URL) is walked
        return ("\\\\" in dumped or "\\u0000" in dumped) or (
            "%" in dumped and _PERCENT.search(dumped) is not None
        )

    def _exact(self, text: str) -> str:
        """Remove the known secrets from ``text``, as written and with its escapes undone."""
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        plain = text
        for _ in range(_LAYERS):
            if "\\" not in plain and "%" not in plain and "\x00" not in plain:
                break
            unescaped = _unescape(plain)
            if unescaped == plain:
                break
            plain = unescaped
            found = False
            for secret in self._texts:
                if secret in plain:
                    plain = plain.replace(secret, REDACTED)
                    found = True
            if found:  # a secret hid behind escapes: the text is given with them undone
                text = plain
        return text

    def _walk(self, value: Any) -> tuple[Any, bool]:
        """Redact every string and key of a decoded JSON value, in place; say if any changed.

        Iterative, so that a value as deep as the decoder allows is walked.
        """
        if isinstance(value, str):
            cleaned = self._exact(value)
            return cleaned, cleaned != value
        changed = False
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                for i, item in enumerate(node):
                    if isinstance(item, str):
                        cleaned = self._exact(item)
                        if cleaned != item:
                            node[i], changed = cleaned, True
                    elif isinstance(item, dict | list):
                        stack.append(item)
            elif isinstance(node, dict):
                touched = False
                pairs = []
                for key, item in node.items():
                    cleaned_key = self._exact(key)
                    touched = touched or cleaned_key != key
                    if isinstance(item, str):
                        cleaned = self._exact(item)
                        if cleaned != item:
                            item, touched = cleaned, True
                    elif isinstance(item, dict | list):
                        stack.append(item)
                    pairs.append((cleaned_key, item))
                if touched:  # rebuilt in order (a key may have changed)
                    node.clear()
                    node.update(pairs)
                    changed = True
        return value, changed

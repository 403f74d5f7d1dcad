r"""Canonical JSON text of free-form objects, in the sense of RFC 8785. Pure: no I/O.

Chift's free-form objects (``link_metadata``, a flow's ``values``, ``definitionFields``…) are
stored as JSON text. The text is canonical (RFC 8785, the JSON Canonicalization Scheme): keys
sorted by their UTF-16 code units, no whitespace, strings escaped minimally, numbers written as
ECMAScript writes a double (``1.0`` and ``1`` both give ``1``, ``1e-7`` gives ``1e-7``). Equal
JSON values therefore give equal text, whatever the key order or the way a number was written,
so comparing two snapshots' text compares their content.

Numbers are written by the ``rfc8785`` package; everything else by Python's C JSON encoder,
which escapes strings exactly as RFC 8785 does. A value without floats, without keys that sort
differently in UTF-16 and without deep nesting is written by the C encoder alone (the fast
path); the others take a slower path in Python. Both give the same text, and the tests check
it against ``rfc8785.dumps``.

Values JSON text can carry but this text cannot (the choices, each tested):

- ``NaN``, ``Infinity`` and ``-Infinity`` (Python's ``json`` reads them): refused. JSON has no
  such numbers and RFC 8785 refuses them; any way of writing them would be a private convention.
- Integers beyond the ±(2**53 - 1) of a double: **kept losslessly**, written with all their
  digits. RFC 8785 refuses them; rounding them to a double would silently change ids and
  amounts. The text is still valid JSON and equal integers still give equal text. It is the
  one place where the text is not RFC 8785's (a float such as ``1e21`` and the integer
  ``10**21`` give different text).
- Strings or keys holding a lone surrogate (such as the escape ``\ud800``): refused; UTF-8
  cannot hold them.
- Nesting deeper than :data:`MAX_DEPTH` levels: refused.
- Python objects that are not JSON values: refused. Keys must be strings, as ``json.loads``
  gives them; for other keys the outcome is not specified (the fast path writes them as
  ``json.dumps`` would, the slow path refuses them).

A refusal raises :class:`CanonicalJsonError` (a ``ValueError``) naming where in the value the
problem is and what it is; the flatteners turn it into a ``PayloadError``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import rfc8785

__all__ = ["MAX_DEPTH", "CanonicalJsonError", "to_canonical_json"]

MAX_DEPTH = 128
"""The deepest nesting of arrays and objects a free-form value may have (the value is level 1)."""


def _not_json(value: Any) -> Any:
    raise TypeError(f"a Python {type(value).__name__} is not a JSON value")


_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_py_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
).encode
# JSONEncoder.encode makes a new C encoder at every call; this one is made once (CPython).
_c_encoder = (
    _c_make_encoder(
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
    if _c_make_encoder is not None
    else None
)


def _encode(value: Any) -> str:
    if _c_encoder is None:  # pragma: no cover - Python without the C accelerator
        return _py_encode(value)
    return "".join(_c_encoder(value, 0))


_encode_string = json.encoder.encode_basestring  # the same escapes as RFC 8785 section 3.2.2.2
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_FLOAT = re.compile(r"[.]|\d[eE]")  # Python writes every float with a dot or an exponent
# Surrogates, and characters that sort differently by UTF-16 code unit than by code point.
_SLOW_CHARS = re.compile(r"[\ud800-\udfff\ue000-\U0010ffff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CanonicalJsonError(ValueError):
    """A value cannot be written as canonical JSON text.

    Attributes
    ----------
    path : str
        Where in the value, relative to it: ``""`` for the value itself, else a suffix such
        as ``.rates[2]`` or ``["a b"]``.
    reason : str
        What is wrong there.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or 'the value'}: {reason}")
        self.path = path
        self.reason = reason


def to_canonical_json(value: Any) -> str | None:
    """Write a JSON value as canonical text (RFC 8785); None stays None.

    Parameters
    ----------
    value : dict, list, str, int, float, bool or None
        A value as :func:`json.loads` gives it.

    Returns
    -------
    str or None
        The canonical text: sorted keys, compact, UTF-8, numbers as RFC 8785 writes them.
        Integers beyond 2**53 keep every digit (see the module's notes).

    Raises
    ------
    CanonicalJsonError
        For NaN or an infinity, a lone surrogate, nesting deeper than :data:`MAX_DEPTH`, a
        key that is not a string, or an object that is not a JSON value; it names the path.

    Examples
    --------
    >>> to_canonical_json({"b": 1.0, "a": [True, None, 1e-7]})
    '{"a":[true,null,1e-7],"b":1}'
    >>> to_canonical_json({"id": 12345678901234567890123})
    '{"id":12345678901234567890123}'
    >>> to_canonical_json({"rate": float("nan")})
    Traceback (most recent call last):
    ...
    chift_frames.canonical_json.CanonicalJsonError: .rate: NaN is not a JSON number
    """
    if value is None:
        return None
    try:
        text = _encode(value)
    except (ValueError, TypeError, RecursionError):
        return _slow(value)  # it finds the problem, or writes what the C encoder would not
    if text.isascii():
        rest = _STRING.sub("", text) if '"' in text else text
    elif _SLOW_CHARS.search(text):
        return _slow(value)
    else:
        rest = _STRING.sub("", text)
    if _FLOAT.search(rest) or rest.count("[") + rest.count("{") > MAX_DEPTH:
        return _slow(value)
    return text


def _slow(value: Any) -> str:
    return "".join(_write(value, 0, ()))


def json_path(parts: tuple[Any, ...]) -> str:
    """Write path parts as a JSON path suffix: ``.name``, ``[2]``, ``["odd key"]``."""
    out = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _NAME.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def _string(text: str, parts: tuple[Any, ...]) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start]
            raise CanonicalJsonError(
                json_path(parts), f"holds a lone surrogate ({bad!a}), which UTF-8 cannot encode"
            ) from None
    return _encode_string(text)


def _write(value: Any, depth: int, parts: tuple[Any, ...]) -> list[str]:
    """Return the pieces of ``value``'s text; ``depth`` counts the containers around it."""
    kind = type(value)
    if kind is str:
        return [_string(value, parts)]
    if value is None:
        return ["null"]
    if kind is bool:
        return ["true" if value else "false"]
    if kind is int:
        try:
            return [str(value)]
        except ValueError:  # Python refuses to write integers of more than 4,300 digits
            raise CanonicalJsonError(json_path(parts), "the integer has too many digits") from None
    if kind is float:
        if math.isnan(value):
            raise CanonicalJsonError(json_path(parts), "NaN is not a JSON number")
        if math.isinf(value):
            name = "Infinity" if value > 0 else "-Infinity"
            raise CanonicalJsonError(json_path(parts), f"{name} is not a JSON number")
        return [rfc8785.dumps(value).decode("ascii")]
    if kind is list or kind is dict:
        if depth >= MAX_DEPTH:
            raise CanonicalJsonError(json_path(parts), f"nests deeper than {MAX_DEPTH} levels")
        out: list[str] = []
        if kind is list:
            out.append("[")
            for i, item in enumerate(value):
                if i:
                    out.append(",")
                out += _write(item, depth + 1, (*parts, i))
            out.append("]")
            return out
        keys = []
        for key in value:
            if type(key) is not str:
                raise CanonicalJsonError(
                    json_path(parts), f"has a key that is not a string: {key!r}"
                )
            keys.append((_string(key, (*parts, key)), key))
        # RFC 8785 section 3.2.3: keys sorted by their UTF-16 code units
        keys.sort(key=lambda pair: pair[1].encode("utf-16-be"))
        out.append("{")
        for i, (text, key) in enumerate(keys):
            if i:
                out.append(",")
            out += [text, ":"]
            out += _write(value[key], depth + 1, (*parts, key))
        out.append("}")
        return out
    raise CanonicalJsonError(json_path(parts), f"a Python {kind.__name__} is not a JSON value")

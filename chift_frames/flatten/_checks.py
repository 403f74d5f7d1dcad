"""The checks the flatteners share: types, enums, dates and text, each naming the JSON path.

Pure. A failed check is a :class:`_CheckError` with the path and the reason, which the
flatteners turn into :class:`~chift_frames.errors.PayloadError` for their record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..canonical_json import CanonicalJsonError, json_path, to_canonical_json

_INT64 = (-(2**63), 2**63 - 1)


class _CheckError(Exception):
    """A check of the walk failed; carries the JSON path and what is wrong there."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message


def _show(value: Any) -> str:
    """Name a bad value in a message: short, exact for scalars, never a dump of a container."""
    kind = type(value)
    if kind is str:
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        if -(10**30) < value < 10**30:
            return str(value)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if kind is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if kind is dict:
        return "an object"
    if kind is list:
        return "an array"
    return f"a Python {kind.__name__}"


def _need(obj: dict[str, Any], key: str, where: str) -> Any:
    """``obj[key]``, or a clear error naming the missing required field."""
    try:
        return obj[key]
    except KeyError:
        raise _CheckError(f"{where}.{key}" if where else key, "required field is missing") from None


def _str(value: Any, path: str, *, nullable: bool = False) -> str | None:
    if type(value) is str or (nullable and value is None):
        return value
    raise _CheckError(
        path, f"expected a string{' or null' if nullable else ''}, got {_show(value)}"
    )


def _enum(value: Any, path: str, choices: tuple[str, ...], *, nullable: bool = False) -> Any:
    if (type(value) is str and value in choices) or (nullable and value is None):
        return value
    expected = ", ".join(choices) + (" or null" if nullable else "")
    raise _CheckError(path, f"expected one of {expected}, got {_show(value)}")


def _int64(value: Any, path: str) -> int:
    if type(value) is not int:
        raise _CheckError(path, f"expected an integer, got {_show(value)}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise _CheckError(path, f"{_show(value)} is outside the 64-bit integer range")
    return value


def _json(value: Any, path: str) -> str | None:
    """Canonical JSON text of a free-form value; a value it cannot hold is a _CheckError."""
    try:
        return to_canonical_json(value)
    except CanonicalJsonError as exc:
        raise _CheckError(path + exc.path, exc.reason) from None


def _object(value: Any, path: str, *, nullable: bool = True) -> str | None:
    if type(value) is dict or (nullable and value is None):
        return _json(value, path)
    raise _CheckError(
        path, f"expected an object{' or null' if nullable else ''}, got {_show(value)}"
    )


def _objects(value: Any, path: str) -> str | None:
    """Serialise a nullable list of free-form objects (definitionFields and the like)."""
    if value is None:
        return None
    if type(value) is not list:
        raise _CheckError(path, f"expected an array or null, got {_show(value)}")
    for i, item in enumerate(value):
        if type(item) is not dict:
            raise _CheckError(f"{path}[{i}]", f"expected an object, got {_show(item)}")
    return _json(value, path)


def _list(value: Any, path: str, *, nullable: bool = True) -> list[Any]:
    if type(value) is list:
        return value
    if nullable and value is None:
        return []
    raise _CheckError(
        path, f"expected an array{' or null' if nullable else ''}, got {_show(value)}"
    )


def _datetime(value: Any, path: str, *, nullable: bool) -> datetime | None:
    if value is None and nullable:
        return None
    if type(value) is not str:
        expected = "a date-time string" + (" or null" if nullable else "")
        raise _CheckError(path, f"expected {expected}, got {_show(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _CheckError(path, f"{_show(value)} is not an ISO 8601 date-time") from None
    # Chift sends UTC; a value without an offset is read as UTC rather than local time.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC
        raise _CheckError(
            path, f"{_show(value)} is outside the years 1 to 9999 once converted to UTC"
        ) from None


def _kind(value: Any) -> str:
    """Name a value's JSON type, for the flatteners of the account lists."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _to_utc(value: Any, where: str) -> datetime | None:
    """Read a caller-given ``fetched_at``: None, an aware datetime or an ISO 8601 string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"{where}: fetched_at must be a datetime, an ISO string or None")
    if value.tzinfo is None:
        raise ValueError(f"{where}: fetched_at must be timezone-aware (use datetime.now(UTC))")
    return value.astimezone(UTC)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe_text(text: Any) -> Any:
    r"""Return text UTF-8 (so Parquet) can hold: lone surrogates become ``\ud800`` escapes."""
    if type(text) is not str or _encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _find_surrogate(value: Any) -> _CheckError | None:
    """Find the first string or key (in document order) that holds a lone surrogate."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        parts, item = stack.pop()
        if type(item) is str:
            if not _encodable(item):
                bad = next(c for c in item if "\ud800" <= c <= "\udfff")
                return _CheckError(
                    json_path(parts).lstrip("."),
                    f"holds a lone surrogate ({bad!a}), which UTF-8 cannot encode",
                )
        elif type(item) is dict:
            for key in item:
                if type(key) is str and not _encodable(key):
                    return _CheckError(
                        json_path(parts).lstrip("."),
                        f"has a key holding a lone surrogate ({_show(key)})",
                    )
            stack += [((*parts, k), v) for k, v in reversed(item.items())]
        elif type(item) is list:
            stack += [((*parts, j), v) for j, v in reversed(list(enumerate(item)))]
    return None

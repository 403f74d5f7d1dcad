"""Flatten consumer-sync responses (the pairs) into the pair tables. Pure: no I/O, no clock.

See :mod:`chift_frames.flatten` for what the walk does and what a response may not hold.
"""

from __future__ import annotations

import gc
import json
import logging
import warnings
from collections.abc import Iterable
from datetime import datetime
from importlib.resources import files
from typing import Any, Literal

import pyarrow as pa

from ..errors import MissingFieldsWarning, PayloadError, UnknownFieldsWarning
from ..frames import Frames
from ..schema import TABLES, to_pandas
from ._checks import (
    _CheckError,
    _encodable,
    _find_surrogate,
    _safe_text,
    _show,
    _to_utc,
)
from ._columns import _Columns
from ._typed import SyncConsumerItem, decode, to_builtins

PAIR_TABLES = (
    "consumer_syncs",
    "mappings",
    "mapping_values",
    "skipped_mappings",
    "flows",
    "datastores",
    "datastore_columns",
    "payload_errors",
)
"""The tables :func:`flatten` returns, in order."""

OnError = Literal["raise", "collect"]

log = logging.getLogger(__name__)


def _validator() -> Any:
    import jsonschema

    text = (files("chift_frames") / "spec" / "sync_consumer_item.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _find_problem(payload: Any) -> _CheckError | None:
    """Find what stops ``payload`` from being flattened: the exact path and the reason.

    The walk again, checking every leaf value in Python; then strings UTF-8 cannot hold; then
    the vendored spec, as a last resort. None when nothing is found.
    """
    columns = _Columns(strict=True)
    try:
        columns.add("-", payload, None)
    except _CheckError as exc:
        return exc
    except Exception:  # the searches below may still find the cause
        pass
    found = _find_surrogate(payload)
    if found is not None:
        return found
    try:
        error = _best_match(payload)
    except RecursionError:
        return None
    if error is None:
        return None
    path = _json_path(error.absolute_path)
    message = error.message
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}" if path else missing[0]
            message = "required field is missing"
    if len(message) > 300:
        message = message[:297] + "..."
    return _CheckError(path, message)


def _best_match(payload: Any) -> Any:
    """Return jsonschema's most relevant error for ``payload`` against the spec, or None."""
    import jsonschema

    return jsonschema.exceptions.best_match(_validator().iter_errors(payload))


def _explain(consumer_id: Any, payload: Any, exc: BaseException | None) -> PayloadError | None:
    """Say what is wrong with a record that could not be flattened; None if nothing is found."""
    sync_id = payload.get("syncid") if isinstance(payload, dict) else None
    sync_id = sync_id if isinstance(sync_id, str) else None
    found = exc if isinstance(exc, _CheckError) else _find_problem(payload)
    if found is None:
        return None
    return PayloadError(found.message, consumer_id=consumer_id, sync_id=sync_id, path=found.path)


def _unexplained(consumer_id: Any, payload: Any, exc: BaseException) -> PayloadError:
    """Describe a record that fails for a reason no check names: kept apart, called a bug."""
    log.error("a record of consumer %r could not be flattened", consumer_id, exc_info=exc)
    sync_id = payload.get("syncid") if isinstance(payload, dict) else None
    text = f"{type(exc).__name__}: {exc}"
    text = text if len(text) <= 200 else text[:197] + "..."
    return PayloadError(
        f"could not be flattened ({text}); this is a bug in chift_frames, please report it",
        consumer_id=consumer_id,
        sync_id=sync_id if isinstance(sync_id, str) else None,
    )


def check_request(consumer_id: str, sync_id: str, payload: Any) -> PayloadError | None:
    """Return the error of a pair's answer that is not about that pair, else None.

    The answer is to ``GET /consumers/{consumer_id}/syncs/{sync_id}``, and the request names
    the pair: an answer whose ``syncid`` is another sync (or is missing, or not a string), or
    that names another consumer (a ``consumerid`` or ``consumer_id`` field, which the spec
    does not have), is an error of the pair asked for, never rows under another key. An
    answer that is not an object is one too, as it names no sync.

    Examples
    --------
    >>> check_request("c1", "s0", {"syncid": "s1"}).message
    "the answer is for sync 's1', not for the sync asked for ('s0'); it is left out"
    >>> check_request("c1", "s0", {"syncid": "s0"}) is None
    True
    """

    def error(path: str, message: str) -> PayloadError:
        return PayloadError(message, consumer_id=consumer_id, sync_id=sync_id, path=path)

    if type(payload) is SyncConsumerItem:  # typed: an object with a string syncid, no more
        payload = {"syncid": payload.syncid}
    if type(payload) is not dict:
        return error("", f"expected an object (a SyncConsumerItem), got {_show(payload)}")
    if "syncid" not in payload:
        return error("syncid", "required field is missing")
    got = payload["syncid"]
    if got != sync_id:
        return error(
            "syncid",
            f"the answer is for sync {_show(_safe_text(got))}, not for the sync asked for "
            f"({_show(_safe_text(sync_id))}); it is left out",
        )
    for key in ("consumerid", "consumer_id"):
        if key in payload and payload[key] != consumer_id:
            return error(
                key,
                f"the answer is for consumer {_show(_safe_text(payload[key]))}, not for the "
                f"consumer asked for ({_show(_safe_text(consumer_id))}); it is left out",
            )
    return None


def _json_path(parts: Iterable[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def flatten(
    records: Iterable[tuple[str, Any] | tuple[str, Any, Any]],
    *,
    fetched_at: datetime | str | None = None,
    on_error: OnError = "raise",
) -> Frames:
    """Flatten consumer-sync responses into the tables of the contract.

    Parameters
    ----------
    records : iterable of tuple
        ``(consumer_id, payload)`` pairs, where ``payload`` is the answer to
        ``GET /consumers/{consumer_id}/syncs/{syncid}``: its body as received (``bytes``,
        decoded straight to typed values, the fastest) or its decoded JSON (a dict). Either
        gives the same tables, errors and warnings. A third item, when present, is that
        record's ``fetched_at`` and overrides the argument.
    fetched_at : datetime or str, optional
        When the responses were fetched (timezone-aware, or an ISO 8601 string with an
        offset). Flattening never reads the clock: without it ``fetched_at`` stays null.
    on_error : {"raise", "collect"}, default "raise"
        What a record that breaks the spec does: raise :class:`PayloadError`, or become a row
        of the ``payload_errors`` table while every other record is still flattened.

    Returns
    -------
    Frames
        The tables of :data:`PAIR_TABLES`: ``consumer_syncs``, ``mappings``, ``mapping_values``,
        ``skipped_mappings``, ``flows``, ``datastores``, ``datastore_columns`` and
        ``payload_errors``, rows in payload order.

    Raises
    ------
    PayloadError
        With ``on_error="raise"``, for the first record that breaks the spec; it names the
        consumer, the sync and the JSON path.

    Warns
    -----
    UnknownFieldsWarning
        Once, naming every field the spec does not know; those fields are left out.
    MissingFieldsWarning
        Once, naming a required field that older API versions omit (``hidden_source_ids``);
        it is read as empty.

    Examples
    --------
    >>> payload = {"syncid": "s1", "sync_name": "POS", "link_createdon": "2026-02-01T10:00:00Z",
    ...            "link_mappings": [{"name": "Tax", "sub_mapping_name": "VAT",
    ...                               "hidden_source_ids": [],
    ...                               "values": [{"source_id": "V21", "target_id": "451"},
    ...                                          {"source_id": "V6", "target_id": None}]}]}
    >>> frames = flatten([("c1", payload)])
    >>> frames.mapping_values[["source_id", "is_mapped"]].to_dict("records")
    [{'source_id': 'V21', 'is_mapped': True}, {'source_id': 'V6', 'is_mapped': False}]
    >>> int(frames.consumer_syncs.unmapped_count[0])
    1
    """
    tables = flatten_to_arrow(records, fetched_at=fetched_at, on_error=on_error, stacklevel=3)
    return Frames({name: to_pandas(tables[name]) for name in PAIR_TABLES})


def flatten_to_arrow(
    records: Iterable[tuple[str, Any] | tuple[str, Any, Any]],
    *,
    fetched_at: datetime | str | None = None,
    on_error: OnError = "raise",
    stacklevel: int = 2,
) -> dict[str, pa.Table]:
    """Like :func:`flatten`, but return arrow tables with the pinned schemas.

    The fetch writes these straight to Parquet, without a round trip through pandas.
    """
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    # The walk makes hundreds of thousands of objects and none in a cycle: the cyclic garbage
    # collector would only walk them again and again (a third of the time at 15,000 payloads).
    # It is paused for the walk, and enabled again after it, unless it was off already.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _to_arrow(records, fetched_at, on_error, stacklevel + 1)
    finally:
        if paused:
            gc.enable()


def _to_arrow(
    records: Iterable[tuple[str, Any] | tuple[str, Any, Any]],
    fetched_at: datetime | str | None,
    on_error: OnError,
    stacklevel: int,
) -> dict[str, pa.Table]:
    default_fetched = _to_utc(fetched_at, "flatten")
    accepted: list[tuple[str, Any, datetime | None]] = []
    errors: list[PayloadError] = []
    columns = _walk(records, default_fetched, on_error, accepted, errors)
    try:
        tables = columns.to_tables()
    except MemoryError:
        raise
    except Exception as exc:
        # A leaf value pyarrow cannot type (a wrong type, a lone surrogate): find the records
        # at fault by halving the batch, explain each, then build the tables of the others.
        bad = _failing(accepted, 0)
        if not bad:
            raise  # every record types alone: a bug in chift_frames, not bad input
        for i in bad:
            consumer_id, payload, _ = accepted[i]
            payload = _plain(payload)
            explained = _explain(consumer_id, payload, None)
            if explained is None:
                if on_error == "raise":
                    raise
                explained = _unexplained(consumer_id, payload, exc)
            if on_error == "raise":
                raise explained from None
            errors.append(explained)
        skip = set(bad)
        kept = [r for i, r in enumerate(accepted) if i not in skip]
        columns = _walk(kept, None, "raise", [], errors)
        tables = columns.to_tables()
    if columns.unknown:
        warnings.warn(
            UnknownFieldsWarning(
                "fields that Chift's OpenAPI spec does not name were left out of the tables: "
                + ", ".join(sorted(map(_safe_text, columns.unknown)))
            ),
            stacklevel=stacklevel,
        )
    if columns.missing:
        warnings.warn(
            MissingFieldsWarning(
                "fields that Chift's OpenAPI spec requires were missing and read as empty: "
                + ", ".join(f"{path} ({n} times)" for path, n in sorted(columns.missing.items()))
            ),
            stacklevel=stacklevel,
        )
    tables["payload_errors"] = pa.Table.from_pydict(
        {
            "consumer_id": [
                _safe_text(e.consumer_id) if isinstance(e.consumer_id, str) else None
                for e in errors
            ],
            "sync_id": [_safe_text(e.sync_id) for e in errors],
            "path": [_safe_text(e.path) for e in errors],
            "message": [_safe_text(e.message) for e in errors],
        },
        schema=TABLES["payload_errors"].schema,
    )
    return tables


def _failing(records: list[tuple[str, Any, datetime | None]], offset: int) -> list[int]:
    """Positions (plus ``offset``) of the records whose own tables cannot be built."""
    columns = _Columns()
    for consumer_id, payload, fetched in records:
        _add(columns, consumer_id, payload, fetched)
    try:
        columns.to_tables()
    except MemoryError:
        raise
    except Exception:
        if len(records) == 1:
            return [offset]
        mid = len(records) // 2
        return _failing(records[:mid], offset) + _failing(records[mid:], offset + mid)
    return []


def _walk(
    records: Iterable[Any],
    default_fetched: datetime | None,
    on_error: OnError,
    accepted: list[tuple[str, Any, datetime | None]],
    errors: list[PayloadError],
) -> _Columns:
    columns = _Columns()
    for n, record in enumerate(records):
        if not isinstance(record, tuple | list) or len(record) not in (2, 3):
            raise TypeError(
                f"record {n}: expected (consumer_id, payload) or (consumer_id, payload, "
                f"fetched_at), got {type(record).__name__}"
            )
        consumer_id, payload = record[0], record[1]
        fetched = _to_utc(record[2], f"record {n}") if len(record) == 3 else default_fetched
        typed = payload if type(payload) is SyncConsumerItem else None
        if typed is None and isinstance(payload, _BODIES):  # a response's bytes
            typed = decode(payload)
        # the fast path: typed values, checked; anything else takes the dict path below
        valid_id = type(consumer_id) is str and consumer_id and _encodable(consumer_id)
        if typed is not None and valid_id:
            try:
                columns.add_typed(consumer_id, typed, fetched)
            except MemoryError:
                raise
            except Exception:
                payload = to_builtins(typed)  # the dict path names the path and the reason
            else:
                accepted.append((consumer_id, typed, fetched))
                continue
        lengths = columns.lengths()
        try:
            if type(consumer_id) is not str or not consumer_id or not _encodable(consumer_id):
                raise PayloadError(
                    f"record {n}: consumer_id must be a non-empty string, got {consumer_id!r}",
                    consumer_id=consumer_id,
                )
            if isinstance(payload, _BODIES):  # bytes the typed values do not take
                payload = _loads(payload)
            elif type(payload) is SyncConsumerItem:
                payload = to_builtins(payload)
            columns.add(consumer_id, payload, fetched)
        except PayloadError as error:
            columns.truncate(lengths)
            if on_error == "raise":
                raise
            errors.append(error)
            continue
        except MemoryError:
            raise
        except Exception as exc:  # whatever a record holds, it cannot stop the others
            columns.truncate(lengths)
            explained = _explain(consumer_id, payload, exc)
            if explained is None:
                if on_error == "raise":
                    raise  # the payload is valid: this is a bug in chift_frames, not bad input
                explained = _unexplained(consumer_id, payload, exc)
            if on_error == "raise":
                raise explained from None
            errors.append(explained)
            continue
        columns.accept()
        accepted.append((consumer_id, payload, fetched))
    return columns


_BODIES = (bytes, bytearray, memoryview)


def _loads(body: bytes | bytearray | memoryview) -> Any:
    """Decode a body the typed values do not take, as the dict path reads it."""
    try:
        return json.loads(bytes(body) if type(body) is memoryview else body)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deep to decode" if isinstance(exc, RecursionError) else "not JSON"
        raise _CheckError("", f"the payload is {reason} ({len(body):,} bytes)") from None


def _add(columns: _Columns, consumer_id: str, payload: Any, fetched: datetime | None) -> None:
    """Add one accepted record's rows again, typed or dict (to find the records at fault)."""
    if type(payload) is SyncConsumerItem:
        columns.add_typed(consumer_id, payload, fetched)
    else:
        columns.add(consumer_id, payload, fetched)


def _plain(payload: Any) -> Any:
    """Return the payload as the dict path reads it (typed values become the dict they hold)."""
    return to_builtins(payload) if type(payload) is SyncConsumerItem else payload

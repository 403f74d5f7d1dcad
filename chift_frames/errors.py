"""Every exception chift_frames raises, and its warnings.

The tree::

    ChiftFramesError         base of everything raised here
    ├── PayloadError         a response breaks Chift's OpenAPI spec (consumer, sync, JSON path)
    ├── StoreError           a dataset is missing or malformed, or already has that snapshot
    │   └── DamagedPartError a part file a manifest lists is missing, unreadable or lacks a column
    └── ChiftError           the Chift API answered with an error, or could not be reached
        ├── AuthError        401/403, or bad credentials on POST /token
        ├── NotFoundError    404 (for example a pair that is not configured)
        ├── RateLimitError   429 after every retry
        ├── ApiError         any other error status (4xx, 5xx)
        └── TransportError   timeouts and dropped connections after every retry
            └── UnreachableError  no answer at all from the API for ``give_up_after`` seconds

    UnknownFieldsWarning     a response carries fields the spec does not name
    MissingFieldsWarning     a response lacks a required field that older API versions omit
    PartialSnapshotWarning   ``load`` returns a snapshot whose fetch failed in part or stopped
    FilteredSnapshotWarning  ``diff`` or ``trends`` compare a filtered snapshot with others
    DuplicateEntriesWarning  a list answer names an entry twice; the first copy is kept

No exception here ever holds a client secret or an access token.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "ChiftError",
    "ChiftFramesError",
    "DamagedPartError",
    "DuplicateEntriesWarning",
    "FilteredSnapshotWarning",
    "MissingFieldsWarning",
    "NotFoundError",
    "PartialSnapshotWarning",
    "PayloadError",
    "RateLimitError",
    "StoreError",
    "TransportError",
    "UnknownFieldsWarning",
    "UnreachableError",
]


class ChiftFramesError(Exception):
    """Base class of every error chift_frames raises."""


class PayloadError(ChiftFramesError, ValueError):
    """A consumer-sync response does not follow Chift's OpenAPI spec.

    Attributes
    ----------
    consumer_id : str or None
        The consumer the record was fetched for.
    sync_id : str or None
        The ``syncid`` of the payload, when it could be read.
    path : str
        Where in the payload the problem is, as a JSON path such as
        ``enabled_flows[2].trigger.type``; empty for the payload itself.
    message : str
        What is wrong there.
    """

    def __init__(
        self, message: str, *, consumer_id: Any = None, sync_id: Any = None, path: str = ""
    ) -> None:
        self.consumer_id = consumer_id
        self.sync_id = sync_id
        self.path = path
        self.message = message
        where = f"consumer {consumer_id!r}"
        if sync_id is not None:
            where += f", sync {sync_id!r}"
        where += f", at {path}" if path else ", at the payload root"
        super().__init__(f"{where}: {message}")


class StoreError(ChiftFramesError):
    """A Parquet dataset cannot be read or written as asked."""


class DamagedPartError(StoreError):
    """A part file that a snapshot's manifest lists is missing, unreadable or lacks a column.

    The message names the file, the snapshot, and the ways out (a backup, ``rebuild``).
    """


class ChiftError(ChiftFramesError):
    """The Chift API answered with an error, or could not be reached.

    Attributes
    ----------
    status : int or None
        The HTTP status, or None when no response came back.
    message : str
        Chift's ``message``, or a description of the failure.
    error_code : str or None
        Chift's ``error_code`` (for example ``ERROR_CHIFT_AUTHENTICATION_ERROR``).
    detail : Any
        Chift's ``detail``: a string, or on a 422 a list of validation problems.
    endpoint : str or None
        The method and path that failed, such as ``GET /syncs``.
    attempts : int
        How many times the request was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        detail: Any = None,
        endpoint: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.message = message
        self.error_code = error_code
        self.detail = detail
        self.endpoint = endpoint
        self.attempts = attempts
        parts = [p for p in (endpoint, str(status) if status else None, error_code) if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        super().__init__(f"{prefix}{message}")


class AuthError(ChiftError):
    """Chift refused the credentials or the token (401 or 403)."""


class NotFoundError(ChiftError):
    """Chift answered 404, for example for a pair that is not configured."""


class RateLimitError(ChiftError):
    """Chift (or a proxy before it) still answered 429 after every retry."""


class ApiError(ChiftError):
    """Chift answered with an error status other than 401, 403, 404 and 429."""


class TransportError(ChiftError):
    """No response: a timeout or a dropped connection, after every retry.

    The message names the host and port asked (never the path's query, a credential or a
    token) and why no answer came, such as ``connection refused``.
    """


class UnreachableError(TransportError):
    """No answer at all from the API for ``give_up_after`` seconds: every request stops.

    Raised by any request of a :class:`~chift_frames.client.ChiftClient` once every request
    sent since its last answer failed without one (connection refused, a host name that does
    not resolve, a connection reset or timed out) for that long. ``fetch_snapshot`` then stops
    and saves what it fetched as a partial snapshot, which ``--resume`` finishes.

    Attributes
    ----------
    host : str
        The host and port that stopped answering, such as ``api.chift.eu:443``.
    silent_for : float
        Seconds since the first request that failed without an answer.
    snapshot_id : str or None
        The partial snapshot that keeps what a fetch got before it stopped, once saved.
    """

    def __init__(self, message: str, *, host: str, silent_for: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.host = host
        self.silent_for = silent_for
        self.snapshot_id: str | None = None


class UnknownFieldsWarning(UserWarning):
    """A response carries fields that Chift's OpenAPI spec does not name; they are left out."""


class MissingFieldsWarning(UserWarning):
    """A response lacks a field the spec requires but older API versions omit; read as empty.

    For example ``link_mappings[].hidden_source_ids``, added to Chift's API in late 2025.
    """


class PartialSnapshotWarning(UserWarning):
    """A snapshot whose fetch failed in part or was stopped is read.

    :func:`chift_frames.load` gives it, and so do :func:`chift_frames.diff` and
    :func:`chift_frames.trends` when a snapshot they compare is partial.

    The message says how many pairs were fetched of how many, and the command that finishes
    the snapshot (``chift-frames fetch --out ROOT --resume ID``).
    """


class FilteredSnapshotWarning(UserWarning):
    """:func:`chift_frames.diff` or :func:`chift_frames.trends` read a filtered snapshot.

    A fetch with ``--sync``, ``--consumer`` or ``--consumers-status enabled|not_enabled``
    holds only the pairs its filter chose: compared with a snapshot of the whole account (or
    one filtered otherwise), the pairs outside the filter look removed or added. The message
    names the snapshots and their filters, in one line.
    """


class DuplicateEntriesWarning(UserWarning):
    """A list answer names the same entry twice (a consumer, a sync, a flow, an execution...).

    Each key is kept once, its first copy; the message counts the copies left out, and says
    whether they were identical or contradicted the first. A fetch records the counts in the
    snapshot's manifest (``info.duplicates``) instead of warning.
    """

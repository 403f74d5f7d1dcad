"""One writer per snapshot: a lock file created exclusively, kept fresh, taken over when stale.

``_locks/<snapshot_id>.json`` holds the writer's host, pid, start time, a random token and a
heartbeat that a background thread renews. Another writer of the same snapshot fails at once
with a message naming the holder. A lock is stale, and may be taken over, when its heartbeat
is older than the timeout (``CHIFT_FRAMES_LOCK_TIMEOUT`` seconds, 900 by default), or at
once when it names a process of this host that no longer runs (or a writer of this process
that was dropped without committing).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..errors import StoreError
from .filesystems import Root
from .manifests import LOCKS, parse_json

__all__ = ["SnapshotLock", "hold_snapshot", "lock_holder", "lock_is_live"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 900.0
_LIVE: dict[str, weakref.ref[SnapshotLock]] = {}  # tokens of the locks this process holds
_LIVE_GUARD = threading.Lock()


def lock_timeout() -> float:
    """Seconds without a heartbeat after which a lock is stale."""
    text = os.environ.get("CHIFT_FRAMES_LOCK_TIMEOUT", "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise StoreError(
            f"CHIFT_FRAMES_LOCK_TIMEOUT must be a number of seconds, not {text!r}"
        ) from None
    if not 1 <= value <= 7 * 24 * 3600:
        raise StoreError("CHIFT_FRAMES_LOCK_TIMEOUT must be between 1 and 604800 seconds")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _path(snapshot_id: str) -> str:
    return f"{LOCKS}/{snapshot_id}.json"


def lock_holder(root: Root, snapshot_id: str) -> dict[str, Any] | None:
    """Return the content of a snapshot's lock file, or None when there is none.

    An unreadable lock (a writer that died while writing it) reads as ``{}``.
    """
    if not root.exists(_path(snapshot_id)):
        return None
    try:
        data = parse_json(root.read(_path(snapshot_id), limit=64 * 1024), _path(snapshot_id))
    except StoreError:
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def lock_is_live(holder: dict[str, Any] | None, timeout: float | None = None) -> bool:
    """Whether a lock's holder may still be writing."""
    if holder is None:
        return False
    timeout = lock_timeout() if timeout is None else timeout
    try:
        beat = datetime.fromisoformat(str(holder["heartbeat_at"]))
        pid = int(holder["pid"])
    except (KeyError, TypeError, ValueError):
        return False  # unreadable: treated as stale (its writer died while writing it)
    if (_now() - beat).total_seconds() > timeout:
        return False
    if holder.get("host") == socket.gethostname():
        if pid == os.getpid():
            return _held_here(str(holder.get("token")))
        return _pid_alive(pid)
    return True


def _held_here(token: str) -> bool:
    """Whether a writer of this process still holds the lock ``token``."""
    with _LIVE_GUARD:
        ref = _LIVE.get(token)
    if ref is None or ref() is None:
        return False
    # a writer dropped without commit may linger in a reference cycle (an exception's
    # traceback): collect, then look again
    gc.collect()
    return ref() is not None


class SnapshotLock:
    """The lock of one snapshot, held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, root: Root, snapshot_id: str, purpose: str = "write") -> None:
        self.root = root
        self.snapshot_id = snapshot_id
        self.purpose = purpose
        self.token = uuid.uuid4().hex
        self.started_at = _now().isoformat()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _content(self) -> bytes:
        return json.dumps(
            {
                "snapshot_id": self.snapshot_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "purpose": self.purpose,
                "started_at": self.started_at,
                "heartbeat_at": _now().isoformat(),
                "token": self.token,
            },
            sort_keys=True,
        ).encode()

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreError` naming the writer that holds it."""
        timeout = lock_timeout()
        with _LIVE_GUARD:
            _LIVE[self.token] = weakref.ref(self)
        path = _path(self.snapshot_id)
        for _ in range(3):
            if self.root.create(path, self._content()):
                if self._owned():
                    self._start_heartbeat(timeout)
                    return
                continue
            holder = lock_holder(self.root, self.snapshot_id)
            if lock_is_live(holder, timeout):
                self._forget()
                raise StoreError(_held_message(self.root, self.snapshot_id, holder or {}))
            # delete the stale lock only if it is still the one judged stale: another
            # writer may have taken it over since
            if (lock_holder(self.root, self.snapshot_id) or {}).get("token") != (holder or {}).get(
                "token"
            ):
                continue
            log.warning(
                "taking over the stale lock of snapshot %s in %s (%s)",
                self.snapshot_id,
                self.root,
                _why_stale(holder or {}),
            )
            self.root.delete(path)
        self._forget()
        raise StoreError(
            f"could not take the lock of snapshot {self.snapshot_id!r} in {self.root.url}: "
            "another writer keeps taking it"
        )

    def _owned(self) -> bool:
        holder = lock_holder(self.root, self.snapshot_id)
        return bool(holder) and holder is not None and holder.get("token") == self.token

    def check(self) -> None:
        """Raise :class:`StoreError` unless this writer still holds the lock."""
        if not self._owned():
            raise StoreError(
                f"snapshot {self.snapshot_id!r} in {self.root.url}: this writer lost its lock "
                "(it was stale and another writer took it over); nothing was committed"
            )

    def _start_heartbeat(self, timeout: float) -> None:
        interval = max(0.5, min(60.0, timeout / 4))
        me = weakref.ref(self)
        stop = self._stop

        def beat() -> None:
            while not stop.wait(interval):
                lock = me()
                if lock is None:
                    return
                try:
                    if lock._owned():
                        lock.root.write(_path(lock.snapshot_id), lock._content())
                except (StoreError, OSError) as exc:  # the next beat tries again
                    log.warning("could not renew the lock of %s: %s", lock.snapshot_id, exc)
                del lock

        self._thread = threading.Thread(
            target=beat, name=f"chift-lock-{self.snapshot_id}", daemon=True
        )
        self._thread.start()

    def _forget(self) -> None:
        with _LIVE_GUARD:
            _LIVE.pop(self.token, None)

    def release(self) -> None:
        """Give the lock up (only if this writer still holds it)."""
        self._stop.set()
        try:
            if self._owned():
                self.root.delete(_path(self.snapshot_id))
        finally:
            self._forget()

    def __del__(self) -> None:
        self._stop.set()


@contextmanager
def hold_snapshot(root: Root, snapshot_id: str, purpose: str) -> Iterator[SnapshotLock]:
    """Hold the lock of ``snapshot_id`` for the ``with`` block; no other writer runs meanwhile.

    Raises
    ------
    StoreError
        When a live writer holds it (the message names that writer).
    """
    lock = SnapshotLock(root, snapshot_id, purpose=purpose)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def _why_stale(holder: dict[str, Any]) -> str:
    if not holder:
        return "it was unreadable"
    if holder.get("host") == socket.gethostname() and holder.get("pid") != os.getpid():
        return f"its process {holder.get('pid', '?')} is gone"
    if holder.get("host") == socket.gethostname():
        return "its writer in this process was dropped"
    return f"no heartbeat since {holder.get('heartbeat_at', '?')}"


def _held_message(root: Root, snapshot_id: str, holder: dict[str, Any]) -> str:
    who = (
        f"{holder.get('purpose', 'write')} by pid {holder.get('pid', '?')} on host "
        f"{holder.get('host', '?')}, started {holder.get('started_at', '?')}, last seen "
        f"{holder.get('heartbeat_at', '?')}"
    )
    if holder.get("host") == socket.gethostname():  # its pid runs: it is alive
        return (
            f"snapshot {snapshot_id!r} in {root.url} is being written by another writer "
            f"({who}); wait for it to finish (once that process ends, its lock is taken over "
            "at once)"
        )
    return (
        f"snapshot {snapshot_id!r} in {root.url} is being written by another writer ({who}); "
        f"wait for it to finish, or remove {LOCKS}/{snapshot_id}.json if that process is gone "
        f"(a lock without a heartbeat for {lock_timeout():.0f} s is taken over)"
    )

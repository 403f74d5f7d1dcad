"""Snapshot ids, the dataset's layout, and manifests checked before anything trusts them.

Layout under a root::

    _snapshots/<snapshot_id>.json                            manifest: the commit point
    <table>/snapshot_id=<snapshot_id>/part-NNNNN-<hex>.parquet  committed parts only
    snapshots/<snapshot_id>.parquet                          one row per committed snapshot
    _staging/<snapshot_id>/…                                 a writer's parts before commit
    _locks/<snapshot_id>.json                                the lock of the snapshot's writer

A manifest is data from disk like any other: its id must match its file name and the id
rules, and every file it lists must be a part of that table and that snapshot (or, for the
executions log, ``executions/snapshot_id=<another id>/part-…``), so a tampered
manifest can't make a reader open a file elsewhere or a writer name a folder outside the root.
A manifest that fails these checks is damaged: readers skip it with one warning, so that one
bad file never stops the others (``chift-frames snapshots --clean`` sets it aside).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ..errors import StoreError
from .filesystems import Root

__all__ = [
    "DAMAGED",
    "LOCKS",
    "MANIFESTS",
    "READABLE",
    "SNAPSHOTS_TABLE",
    "STAGING",
    "check_snapshot_id",
    "committed_manifests",
    "damaged_manifests",
    "new_snapshot_id",
    "parse_json",
    "read_manifest",
]

log = logging.getLogger(__name__)

MANIFESTS = "_snapshots"
STAGING = "_staging"
LOCKS = "_locks"
DAMAGED = "_damaged"  # where snapshots --clean sets damaged manifests (and their parts) aside
SNAPSHOTS_TABLE = "snapshots"
READABLE = ("complete", "partial")
FORMAT = 2  # 1: chift_frames 0.1 (snapshot=<id> folders, no format key)

# ids must hold a letter, so that no reader types the partition as a number or a date
_SNAPSHOT_ID = re.compile(r"(?=[A-Za-z0-9._-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LEGACY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PART = r"part-\d{5}-[0-9a-f]{8,32}\.parquet"
LOG_TABLE = "executions"  # the table whose parts snapshots share (see execlog)
_LOG_PART = re.compile(
    r"executions/snapshot_id=(?=[A-Za-z0-9._-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._-]{0,127}/" + _PART
)
_LEGACY_PART = r"part-\d{5}\.parquet"
# facts of a fetch that readers count with: whole numbers (or absent), nothing else
_COUNTS = ("pairs_ok", "pairs_failed", "pairs_expected")


def new_snapshot_id(now: datetime | None = None) -> str:
    """Return a fresh snapshot id that sorts in time order, such as ``20261127T101500123456Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def check_snapshot_id(snapshot_id: object, *, legacy: bool = False) -> str:
    """Return ``snapshot_id`` if it is a valid id; raise :class:`StoreError` otherwise."""
    pattern = _LEGACY_ID if legacy else _SNAPSHOT_ID
    if not isinstance(snapshot_id, str) or not pattern.fullmatch(snapshot_id):
        raise StoreError(
            f"invalid snapshot id {snapshot_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and holding at least one letter"
        )
    return snapshot_id


def part_folder(table: str, snapshot_id: str) -> str:
    """Return the folder of a table's committed parts for one snapshot."""
    return f"{table}/snapshot_id={snapshot_id}"


def new_part(table: str, snapshot_id: str, number: int) -> str:
    """Name a new part of ``table`` in the folder of ``snapshot_id``: its path under the root.

    ``number`` is its position among the snapshot's parts of the table; a random suffix
    keeps two writers (a crashed one and its resume) from ever naming the same file.
    """
    return f"{part_folder(table, snapshot_id)}/part-{number:05d}-{uuid.uuid4().hex}.parquet"


def is_part_of(rel: object, snapshot_id: str) -> bool:
    """Whether ``rel`` names a committed part of snapshot ``snapshot_id`` (of any table)."""
    pattern = r"[a-z][a-z0-9_]{0,63}/" + re.escape(f"snapshot_id={snapshot_id}/") + _PART
    return isinstance(rel, str) and re.fullmatch(pattern, rel) is not None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON value")


def parse_json(raw: bytes, where: str) -> Any:
    """Return the JSON value of ``raw``, read from ``where``; raise :class:`StoreError` if none.

    NaN and Infinity (which Python's json would accept) and nesting too deep to read are
    not JSON either: a damaged or tampered file, said in one line.
    """
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{where} is not JSON: {exc}") from None
    except RecursionError:
        raise StoreError(f"{where} is not JSON this version reads: nested too deeply") from None


def _count(value: object) -> bool:
    """Whether ``value`` is a count: a whole number of at least 0 (not a bool, not NaN)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value) and value.is_integer() and value >= 0
    return isinstance(value, int) and value >= 0


def validate_manifest(data: object, name: str, where: str) -> dict[str, Any]:
    """Check a manifest read from ``where``; return it, or raise :class:`StoreError`.

    ``name`` is the snapshot id its file name says.
    """

    def bad(why: str) -> StoreError:
        return StoreError(f"snapshot manifest {where} is not valid: {why}")

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    legacy = "format" not in data
    if not legacy and data["format"] != FORMAT:
        raise bad(f"format {data['format']!r} is not one this version reads ({FORMAT})")
    sid = data.get("snapshot_id")
    try:
        check_snapshot_id(sid, legacy=legacy)
    except StoreError as exc:
        raise bad(str(exc)) from None
    if sid != name:
        raise bad(f"it names snapshot {sid!r} but its file is {name}.json")
    if not isinstance(data.get("status"), str):
        raise bad("no status")
    files = data.get("files", {})
    rows = data.get("rows", {})
    if not isinstance(files, dict) or not isinstance(rows, dict):
        raise bad("files and rows must be objects")
    info = data.get("info", {})
    if not isinstance(info, dict):
        raise bad("info must be an object")
    for table, count in rows.items():
        if not _count(count):
            raise bad(f"the rows of {table!r} must be a whole number, not {count!r}")
    for fact in _COUNTS:
        if info.get(fact) is not None and not _count(info[fact]):
            raise bad(f"info.{fact} must be a whole number, not {info[fact]!r}")
    if not isinstance(info.get("filters") or {}, dict):
        raise bad("info.filters must be an object")
    if info.get("rebuilt_from") is not None:
        try:
            check_snapshot_id(info["rebuilt_from"], legacy=True)
        except StoreError:
            raise bad(f"info.rebuilt_from {info['rebuilt_from']!r} is not a snapshot id") from None
    unique: dict[str, list[str]] = {}
    for table, paths in files.items():
        if not isinstance(table, str) or not _TABLE.fullmatch(table):
            raise bad(f"table name {table!r}")
        if not isinstance(paths, list):
            raise bad(f"the files of {table} must be a list")
        folder = f"snapshot={sid}" if legacy else f"snapshot_id={sid}"
        pattern = re.compile(re.escape(f"{table}/{folder}/") + (_LEGACY_PART if legacy else _PART))
        # the executions log: a snapshot lists the parts of earlier ones that it still shows
        shared = table == LOG_TABLE and not legacy and bool(info.get("executions_log"))
        for path in paths:
            # the whole path is pinned: no '..', no absolute path, no other table or snapshot
            if isinstance(path, str) and (
                pattern.fullmatch(path) or (shared and _LOG_PART.fullmatch(path))
            ):
                continue
            raise bad(f"file {path!r} is not a part of table {table} in this snapshot")
        # a part listed twice is one part: counted once by every reader
        unique[table] = list(dict.fromkeys(paths))
    for key in ("started_at", "finished_at"):
        value = data.get(key)
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise bad(f"{key} {value!r} is not an ISO date") from None
    if any(len(paths) != len(files[table]) for table, paths in unique.items()):
        data = {**data, "files": unique}
    return data


def read_manifest(root: Root, snapshot_id: str) -> dict[str, Any]:
    """Read and check the manifest of ``snapshot_id``."""
    where = f"{root.url}/{MANIFESTS}/{snapshot_id}.json"
    raw = root.read(f"{MANIFESTS}/{snapshot_id}.json")
    return validate_manifest(parse_json(raw, f"snapshot manifest {where}"), snapshot_id, where)


def manifest_names(root: Root) -> list[str]:
    """Snapshot ids that have a manifest file (any status)."""
    names = []
    for entry in root.entries(MANIFESTS):
        if entry.endswith(".json") and not entry.startswith("."):
            stem = entry[: -len(".json")]
            if _LEGACY_ID.fullmatch(stem):
                names.append(stem)
    return names


def scan_manifests(root: Root) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every manifest at ``root`` (any status) that passes the checks, and the damaged ones.

    The damaged ones map the name of their file (without ``.json``) to what is wrong.
    """
    if not root.is_dir(MANIFESTS):
        if root.is_dir(STAGING):  # nothing committed yet, but a writer was here
            return [], {}
        if root.local and not root.is_dir(""):
            what = "a file, not a folder" if root.exists("") else "no such folder"
            raise StoreError(
                f"{root.url}: {what}; give the folder that chift-frames fetch or demo wrote, "
                "such as data/demo"
            )
        raise StoreError(
            f"{root.url} is not a chift_frames dataset (no {MANIFESTS}/ folder): give the "
            "folder that chift-frames fetch or demo wrote, such as data/demo"
        )
    names = manifest_names(root)

    def read(name: str) -> dict[str, Any] | str:
        try:
            return read_manifest(root, name)
        except StoreError as exc:
            return str(exc)

    if len(names) < 2 or root.local:
        found = [read(name) for name in names]
    else:  # an object store answers each GET in tens of ms: a few at once
        with ThreadPoolExecutor(min(8, len(names)), thread_name_prefix="chift-manifests") as pool:
            found = list(pool.map(read, names))
    good = [m for m in found if isinstance(m, dict)]
    damaged = {name: m for name, m in zip(names, found, strict=True) if isinstance(m, str)}
    return good, damaged


_WARNED: set[tuple[str, str, str]] = set()
_WARNED_GUARD = threading.Lock()


def forget_warnings() -> None:
    """Warn again about damaged manifests already warned about (each command warns once)."""
    with _WARNED_GUARD:
        _WARNED.clear()


def _warn_damaged(root: Root, damaged: dict[str, str]) -> None:
    for name, why in sorted(damaged.items()):
        with _WARNED_GUARD:
            if (root.url, name, why) in _WARNED:
                continue
            _WARNED.add((root.url, name, why))
        log.warning(
            "skipping snapshot %s: %s (set it aside with: chift-frames snapshots %s --clean)",
            name,
            why,
            root.url,
        )


def all_manifests(root: Root) -> list[dict[str, Any]]:
    """Every manifest at ``root`` (any status) that passes the checks.

    A damaged one (not JSON, not valid, or naming another snapshot than its file) is left
    out, with one logged warning per file: one bad file never stops the others.
    """
    good, damaged = scan_manifests(root)
    _warn_damaged(root, damaged)
    return good


def damaged_manifests(root: Root) -> dict[str, str]:
    """Return the damaged manifests at ``root``: each file's name, and what is wrong with it."""
    return scan_manifests(root)[1]


def committed_manifests(root: Root) -> list[dict[str, Any]]:
    """Every readable snapshot's manifest, oldest first."""
    readable = [m for m in all_manifests(root) if m.get("status") in READABLE]
    return sorted(readable, key=lambda m: (m.get("finished_at") or "", m["snapshot_id"]))


def _finished(m: dict[str, Any]) -> datetime:
    value = datetime.fromisoformat(m.get("finished_at") or "1970-01-01T00:00:00+00:00")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replacements(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """Map the id of each snapshot that another among ``manifests`` replaced to that one's id.

    A rebuild replaces the snapshot it was rebuilt from (``info.rebuilt_from``), and keeps
    its finish time. Should that snapshot be resumed afterwards (it then finishes later than
    its rebuild), the rebuild holds an older state of it: the resumed snapshot replaces the
    rebuild instead, so that no pair is lost and none is counted twice.
    """
    by_id = {m["snapshot_id"]: m for m in manifests}
    out = {}
    for m in manifests:
        source_id = (m.get("info") or {}).get("rebuilt_from")
        if not source_id:
            continue
        source = by_id.get(str(source_id))
        if source is not None and _finished(source) > _finished(m):
            out[m["snapshot_id"]] = source["snapshot_id"]  # a stale rebuild
        else:
            out[str(source_id)] = m["snapshot_id"]
    return out


def superseded_ids(manifests: list[dict[str, Any]]) -> set[str]:
    """Return the ids of the snapshots that another among ``manifests`` replaced."""
    return set(replacements(manifests))


def current_manifests(root: Root) -> list[dict[str, Any]]:
    """Every readable snapshot's manifest, oldest first, without those a rebuild replaced.

    A rebuild (``chift-frames rebuild``) writes a new snapshot whose manifest names the one
    it was rebuilt from (``info.rebuilt_from``) and keeps its fetch times, so it takes the
    old one's place in history: ``latest``, ``all``, :func:`diff` and the trends see one
    snapshot per fetch, never both.
    """
    committed = committed_manifests(root)
    gone = superseded_ids(committed)
    return [m for m in committed if m["snapshot_id"] not in gone]


def dump(data: dict[str, Any]) -> bytes:
    """Return the bytes of a JSON file written by this package."""
    return json.dumps(data, indent=1, sort_keys=True).encode("utf-8")

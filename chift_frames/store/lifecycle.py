"""Snapshots over time: which exist (abandoned ones too), retiring old ones, cleaning up.

:func:`prune` removes whole snapshots by a retention policy. For each it takes the lock,
writes its intent, removes the snapshot's row of ``snapshots`` and its manifest first (the
snapshot is gone for every reader at that moment), then its files, so a crash leaves no
half snapshot to read, and the next writer (or :func:`clean`) finishes the removal.

A damaged manifest (see ``manifests``) is listed by :func:`snapshot_states` and set aside by
:func:`clean` into ``_damaged/``, with its snapshot's parts, never deleted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .._shell import program, resume_command, shell_command
from ..errors import StoreError
from ..schema import TABLES
from .execlog import AGAIN, LOG, ONCE, is_log, log_window, referenced_parts
from .filesystems import Root, display_root, open_root
from .lock import SnapshotLock, lock_holder, lock_is_live
from .manifests import (
    DAMAGED,
    FORMAT,
    LOCKS,
    MANIFESTS,
    READABLE,
    SNAPSHOTS_TABLE,
    STAGING,
    all_manifests,
    check_snapshot_id,
    committed_manifests,
    current_manifests,
    dump,
    new_part,
    part_folder,
    read_manifest,
    replacements,
    scan_manifests,
    superseded_ids,
    validate_manifest,
)

__all__ = [
    "clean",
    "finish_prune",
    "migrate",
    "migrate_added_columns",
    "migrate_executions",
    "plan_prune",
    "prune",
    "snapshot_states",
]

log = logging.getLogger(__name__)


def finish_prune(root: Root, snapshot_id: str) -> None:
    """Remove what is left of a snapshot being pruned (the caller holds its lock).

    Its parts of the executions log that another snapshot lists stay: that one shows them.
    """
    root.delete(f"{SNAPSHOTS_TABLE}/{snapshot_id}.parquet")
    root.delete(f"{MANIFESTS}/{snapshot_id}.json")
    for table in _table_folders(root):
        folder = part_folder(table, snapshot_id)
        if table == LOG:
            _drop_log_parts(root, folder, snapshot_id)
        else:
            root.delete_dir(folder)
        root.delete_dir(f"{table}/snapshot={snapshot_id}")  # the 0.1 layout
    root.delete_dir(f"{STAGING}/{snapshot_id}")


def _drop_log_parts(root: Root, folder: str, snapshot_id: str) -> None:
    """Remove the parts of the executions log in ``folder`` that no other snapshot lists.

    The manifest of the snapshot is gone by now, so the listings read here are the others'
    (and those of writers at work, from their working state).
    """
    files = root.list_files(folder)
    keep = referenced_parts(root, but=snapshot_id) if files else set()
    gone = [rel for rel in files if rel not in keep]
    if len(gone) == len(files):
        root.delete_dir(folder)
    else:
        for rel in gone:
            root.delete(rel)


def _table_folders(root: Root) -> list[str]:
    return sorted(TABLES)


def _remove(root: Root, snapshot_id: str) -> None:
    lock = SnapshotLock(root, snapshot_id, purpose="prune")
    lock.acquire()
    try:
        root.write(f"{STAGING}/{snapshot_id}/prune.json", dump({"snapshot_id": snapshot_id}))
        finish_prune(root, snapshot_id)
    finally:
        lock.release()


def plan_prune(
    manifests: list[dict[str, Any]],
    keep_last: int,
    keep_daily: int = 0,
    keep_weekly: int = 0,
    keep_monthly: int = 0,
) -> tuple[list[str], list[str]]:
    """Split snapshots (oldest first) into those to keep and those to remove.

    Keeps the ``keep_last`` latest, and the latest of each of the last ``keep_daily`` days,
    ``keep_weekly`` ISO weeks and ``keep_monthly`` months that have a snapshot (UTC, by the
    time each snapshot finished).
    """
    for name, value in (
        ("keep_last", keep_last),
        ("keep_daily", keep_daily),
        ("keep_weekly", keep_weekly),
        ("keep_monthly", keep_monthly),
    ):
        if not isinstance(value, int) or value < 0:
            raise StoreError(f"{name} must be a whole number of at least 0, not {value!r}")
    if keep_last + keep_daily + keep_weekly + keep_monthly < 1:
        raise StoreError("prune must keep at least one snapshot: give --keep-last 1 or more")
    newest_first = list(reversed(manifests))
    keep = {m["snapshot_id"] for m in newest_first[:keep_last]}

    def bucket_keep(count: int, key: Any) -> None:
        seen: list[Any] = []
        for m in newest_first:
            finished = datetime.fromisoformat(m["finished_at"])
            bucket = key(finished)
            if bucket not in seen:
                if len(seen) == count:
                    return
                seen.append(bucket)
                keep.add(m["snapshot_id"])

    bucket_keep(keep_daily, lambda t: t.date())
    bucket_keep(keep_weekly, lambda t: tuple(t.isocalendar())[:2])
    bucket_keep(keep_monthly, lambda t: (t.year, t.month))
    ids = [m["snapshot_id"] for m in manifests]
    return [i for i in ids if i in keep], [i for i in ids if i not in keep]


def prune(
    root: str | os.PathLike[str],
    *,
    keep_last: int,
    keep_daily: int = 0,
    keep_weekly: int = 0,
    keep_monthly: int = 0,
    dry_run: bool = False,
) -> list[str]:
    """Remove whole snapshots that the retention policy does not keep; return their ids.

    Snapshots that a rebuild replaced are removed too (first): the rebuild stands in their
    place, and the policy counts it, not them.

    Parameters
    ----------
    root : str or path
        The dataset folder or URL.
    keep_last : int
        Keep this many latest snapshots.
    keep_daily, keep_weekly, keep_monthly : int, default 0
        Also keep the latest snapshot of each of this many latest days, ISO weeks and months.
    dry_run : bool, default False
        Only say what would be removed.

    Raises
    ------
    StoreError
        When the policy keeps nothing, or a snapshot to remove is being written.
    """
    base = open_root(root)
    committed = committed_manifests(base)
    replaced = superseded_ids(committed)  # a rebuild stands in their place: never kept
    _, remove = plan_prune(
        [m for m in committed if m["snapshot_id"] not in replaced],
        keep_last,
        keep_daily,
        keep_weekly,
        keep_monthly,
    )
    remove = [m["snapshot_id"] for m in committed if m["snapshot_id"] in replaced] + remove
    if not dry_run:
        for snapshot_id in remove:
            _remove(base, snapshot_id)
            log.info("pruned snapshot %s of %s", snapshot_id, base)
    return remove


def snapshot_states(root: str | os.PathLike[str]) -> pd.DataFrame:
    """Every snapshot at ``root``, committed or not, with what can be done about it.

    Columns: ``snapshot_id``, ``status`` (``complete``, ``partial``, ``writing``: never
    committed, ``resuming``: a partial one being continued, ``damaged``: a manifest that
    can't be read, which readers skip), ``started_at``, ``finished_at``,
    ``writer`` (who holds the lock, when someone does), and ``next_step`` (the resume command
    of an abandoned snapshot; for one that a rebuild replaced, which one, and that ``prune``
    removes it).
    """
    from .writer import _read_json

    base = open_root(root)
    url = display_root(root)
    rows: dict[str, dict[str, Any]] = {}
    manifests, damaged = scan_manifests(base)
    replaced_by = replacements([m for m in manifests if m.get("status") in READABLE])
    rebuilt_from = {m["snapshot_id"]: m["info"].get("rebuilt_from") for m in manifests}
    for m in manifests:
        status = m["status"] if m["status"] in READABLE else "writing (0.1)"
        rows[m["snapshot_id"]] = {
            "snapshot_id": m["snapshot_id"],
            "status": status,
            "started_at": m.get("started_at"),
            "finished_at": m.get("finished_at"),
        }
    for name in damaged:
        rows[name] = {"snapshot_id": name, "status": "damaged"}
    for sid in base.entries(STAGING):
        if sid in damaged or not base.exists(f"{STAGING}/{sid}/state.json"):
            continue
        try:
            state = _read_json(base, f"{STAGING}/{sid}/state.json")
        except StoreError:
            state = {}  # a resume can't continue it either; clean drops it
        row = rows.setdefault(
            sid, {"snapshot_id": sid, "started_at": state.get("started_at"), "finished_at": None}
        )
        row["status"] = "resuming" if row.get("status") == "partial" else "writing"
    out = []
    for sid, row in rows.items():
        holder = lock_holder(base, sid)
        live = lock_is_live(holder)
        row["writer"] = (
            f"pid {holder.get('pid')} on {holder.get('host')}" if live and holder else ""
        )
        step = ""
        if row["status"] in ("writing", "resuming", "partial") and not live:
            step = resume_command(url, sid)
            if row["status"] != "partial":
                drop = shell_command(program(), "snapshots", url, "--clean")
                step += f"  (or drop it: {drop})"
        if sid in replaced_by:
            by = replaced_by[sid]
            step = (
                f"replaced by {by}, which was resumed after this rebuild of it; prune removes it"
                if rebuilt_from.get(sid) == by
                else f"replaced by its rebuild {by}; prune removes it"
            )
        if sid in damaged:
            step = (
                f"{damaged[sid]}; readers skip it: restore it from a backup, or set it aside: "
                f"chift-frames snapshots {url} --clean"
            )
        row["next_step"] = step
        out.append(row)
    columns = ["snapshot_id", "status", "started_at", "finished_at", "writer", "next_step"]
    df = pd.DataFrame(out, columns=columns)
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601", errors="coerce")
    df = df.sort_values(["started_at", "snapshot_id"], kind="stable").reset_index(drop=True)
    for col in ("snapshot_id", "status", "writer", "next_step"):
        df[col] = df[col].astype(pd.StringDtype("pyarrow"))
    return df


def clean(root: str | os.PathLike[str], *, dry_run: bool = False) -> list[str]:
    """Remove what abandoned writers left at ``root``; return the snapshot ids concerned.

    Finishes interrupted commits and prunes, sets damaged manifests aside (see
    :func:`set_aside`), drops snapshots that were never committed (and the uncommitted part
    of an abandoned resume, leaving the partial snapshot as it was), removes table folders of
    snapshots that have no manifest, stale locks, and the temporary files of writes that a
    crash interrupted. Nothing that a live writer holds is touched.
    """
    from .writer import recover

    base = open_root(root)
    touched: list[str] = []
    if not dry_run:
        touched += recover(base)  # it may mend a manifest a crashed commit left torn
    good, damaged = scan_manifests(base)
    for name, why in sorted(damaged.items()):
        if lock_is_live(lock_holder(base, name)):
            continue
        touched.append(name)
        if not dry_run:
            set_aside(base, name, why, {p for m in good for ps in m["files"].values() for p in ps})
    committed = {m["snapshot_id"] for m in committed_manifests(base)}
    unfinished = set()
    for sid in base.entries(STAGING):
        if not dry_run and base.exists(f"{STAGING}/{sid}/commit.json"):
            # a commit that recover could not finish (said in its warning): its plan, and
            # the parts it may have moved already, are kept for the next try
            unfinished.add(sid)
            continue
        if not lock_is_live(lock_holder(base, sid)):
            touched.append(sid)
            if not dry_run:
                _drop_staging(base, sid)
    for m in all_manifests(base):
        if m["status"] not in READABLE and not lock_is_live(lock_holder(base, m["snapshot_id"])):
            touched.append(m["snapshot_id"])  # a 0.1 writer that died
            if not dry_run:
                _remove(base, m["snapshot_id"])
    listed: set[str] | None = None  # the parts of the executions log that snapshots list
    for table in _table_folders(base):
        for entry in base.entries(table):
            sid = entry.split("=", 1)[1] if "=" in entry else ""
            if sid in committed or sid in unfinished or lock_is_live(lock_holder(base, sid)):
                continue
            if table == LOG:  # a pruned snapshot's parts that later snapshots still show
                listed = referenced_parts(base) if listed is None else listed
                files = set(base.list_files(f"{table}/{entry}"))
                if files and files <= listed:
                    continue
            touched.append(sid)
            if not dry_run:
                _drop_folder(base, sid, f"{table}/{entry}", committed)
    for entry in base.entries(LOCKS):
        sid = entry.removesuffix(".json")
        live = lock_is_live(lock_holder(base, sid))
        if entry.endswith(".json") and not live and not dry_run:
            base.delete(f"{LOCKS}/{entry}")
    if not dry_run:
        _drop_temporaries(base)
    return sorted(set(touched))


def set_aside(root: Root, name: str, why: str, keep: set[str]) -> str:
    """Move damaged manifest ``name`` and its snapshot's parts into ``_damaged/``; say where.

    They keep their paths under ``_damaged/<name>-<time>/``, so moving them back restores
    the snapshot as it was. A part in ``keep`` (listed by a good manifest) is never moved.
    """
    folder = f"{DAMAGED}/{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    lock = SnapshotLock(root, name, purpose="clean")
    lock.acquire()
    try:
        moved = [f"{MANIFESTS}/{name}.json"]
        for table in _table_folders(root):
            for layout in (part_folder(table, name), f"{table}/snapshot={name}"):
                moved += [rel for rel in root.list_files(layout) if rel not in keep]
        for rel in moved:
            root.move(rel, f"{folder}/{rel}")
    finally:
        lock.release()
    log.warning("set the damaged snapshot %s aside in %s/%s (%s)", name, root.url, folder, why)
    return folder


def _drop_folder(root: Root, snapshot_id: str, folder: str, committed: set[str]) -> None:
    """Remove a table folder of a snapshot without a manifest, holding the snapshot's lock."""
    try:
        check_snapshot_id(snapshot_id, legacy=True)
    except StoreError:
        root.delete_dir(folder)  # no writer can hold such a name
        return
    lock = SnapshotLock(root, snapshot_id, purpose="clean")
    try:
        lock.acquire()
    except StoreError:
        return  # a writer started meanwhile
    try:
        if snapshot_id not in {m["snapshot_id"] for m in committed_manifests(root)}:
            if folder == part_folder(LOG, snapshot_id):  # parts others list stay
                _drop_log_parts(root, folder, snapshot_id)
            else:
                root.delete_dir(folder)
    finally:
        lock.release()


def _drop_temporaries(root: Root) -> None:
    """Remove the hidden temporary files of writes a crash interrupted (local disks only)."""
    if not root.local:
        return  # object stores write whole objects: no temporary file
    for folder in (MANIFESTS, LOCKS, SNAPSHOTS_TABLE):
        for entry in root.entries(folder):
            if not (entry.startswith(".") and entry.endswith(".tmp")):
                continue
            # .<name>.<hex>.tmp, where <name> is <snapshot_id>.json or .parquet
            sid = entry[1:].rsplit(".", 2)[0].rsplit(".", 1)[0]
            if not lock_is_live(lock_holder(root, sid)):
                root.delete(f"{folder}/{entry}")


def _drop_staging(root: Root, snapshot_id: str) -> None:
    try:
        check_snapshot_id(snapshot_id, legacy=True)
    except StoreError:
        return
    lock = SnapshotLock(root, snapshot_id, purpose="clean")
    try:
        lock.acquire()
    except StoreError:
        return
    try:
        root.delete_dir(f"{STAGING}/{snapshot_id}")
    finally:
        lock.release()


def remove_snapshots(root: str | os.PathLike[str], snapshot_ids: Iterable[str]) -> None:
    """Remove the named committed snapshots (manifest first, then files)."""
    base = open_root(root)
    for sid in snapshot_ids:
        _remove(base, check_snapshot_id(sid, legacy=True))


def _rewrite_manifest(root: Root, manifest: dict[str, Any]) -> None:
    """Write a committed snapshot's changed ``manifest``: checked, its row, then its file.

    The caller holds the snapshot's lock.
    """
    from .writer import put_snapshot_row

    sid = manifest["snapshot_id"]
    validate_manifest(manifest, sid, f"{root.url}/{MANIFESTS}/{sid}.json")
    put_snapshot_row(root, manifest)
    root.write(f"{MANIFESTS}/{sid}.json", dump(manifest))


def migrate(root: str | os.PathLike[str]) -> list[str]:
    """Move the snapshots that chift_frames 0.1 wrote to the current layout; return their ids.

    Each snapshot's files are copied to ``<table>/snapshot_id=<id>/``, its ``snapshots`` row
    and its new manifest are written, then its ``snapshot=<id>`` folders are removed; readers
    see the snapshot whole throughout, from one layout or the other. Safe to run again after
    a crash. Then the executions each snapshot copied become the log
    (:func:`migrate_executions`), and the columns added since each snapshot was saved are
    filled in (:func:`migrate_added_columns`).

    Raises
    ------
    StoreError
        For a snapshot whose id holds no letter (readers would type it as a number): it can
        still be read, and re-saved under a new id.
    """
    base = open_root(root)
    moved = []
    for m in all_manifests(base):
        if "format" in m or m["status"] not in READABLE:
            continue
        sid = m["snapshot_id"]
        try:
            check_snapshot_id(sid)
        except StoreError:
            raise StoreError(
                f"snapshot {sid!r} of {base.url} has an id without a letter, which readers "
                f"would type as a number; it can't be migrated as it is: save it again under "
                f"a new id (cf.save(cf.load(root, {sid!r}), root)), then prune it"
            ) from None
        lock = SnapshotLock(base, sid, purpose="migrate")
        lock.acquire()
        try:
            files: dict[str, list[str]] = {}
            for table, paths in m["files"].items():
                files[table] = []
                for number, rel in enumerate(paths):
                    dst = new_part(table, sid, number)
                    base.copy(rel, dst)
                    files[table].append(dst)
            manifest = {**m, "format": FORMAT, "files": files}
            _rewrite_manifest(base, manifest)
            listed = {p for paths in files.values() for p in paths}
            for table in _table_folders(base):
                base.delete_dir(f"{table}/snapshot={sid}")
                for rel in base.list_files(part_folder(table, sid)):
                    if rel not in listed:  # copies of an earlier run that crashed
                        base.delete(rel)
        finally:
            lock.release()
        moved.append(sid)
        log.info("migrated snapshot %s of %s to the current layout", sid, base)
    migrate_executions(root)
    migrate_added_columns(root)
    return moved


def migrate_added_columns(root: str | os.PathLike[str]) -> list[str]:
    """Fill in the columns added since each snapshot was saved; return the ids of those changed.

    So far ``mapping_values.source_repeats``: each part that lacks it is written again with
    it, computed as the flattening does, then the snapshot's manifest lists the new parts,
    then the old ones are removed (under the snapshot's lock; safe to run again after a
    crash: a run finds the parts an earlier one left and removes them). A snapshot where one
    pair's values lie in more than one part (not one that chift_frames wrote) is left as it
    is: readers show the column null, with the same results. Readers that glob the folders
    rather than read the manifest (``report --sql --views``) may see a part twice while a
    snapshot is migrated: run it when nothing reads the dataset.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ..flatten._columns import source_repeats_of
    from ..schema import ADDED_COLUMNS
    from .read import lacks_added_columns
    from .writer import _file_metadata, _write_parquet

    name = "mapping_values"
    (column,) = ADDED_COLUMNS[name]
    schema = TABLES[name].schema
    base = open_root(root)
    changed = []
    for listed in current_manifests(base):
        if "format" not in listed:
            continue  # a 0.1 snapshot: migrate() moves it first
        sid = listed["snapshot_id"]
        folder = part_folder(name, sid)
        known = set(listed["files"].get(name, []))
        leftovers = any(rel not in known for rel in base.list_files(folder))
        if not leftovers and not lacks_added_columns(base, name, sorted(known)):
            continue
        lock = SnapshotLock(base, sid, purpose="migrate")
        lock.acquire()
        try:
            m = read_manifest(base, sid)  # as it is now that no one else writes it
            files = rels = m["files"].get(name, [])
            if lacks_added_columns(base, name, rels):
                if not _pairs_in_one_part(base, rels):
                    log.info("snapshot %s of %s: a pair's values lie in several parts", sid, base)
                    continue
                files = []
                for number, rel in enumerate(rels):  # one part in memory at a time
                    part = pq.read_table(base.full(rel), filesystem=base.fs)
                    if column in part.column_names:
                        files.append(rel)
                        continue
                    flag = pc.cast(source_repeats_of(part), "bool")
                    part = part.append_column(column, flag).select(schema.names).cast(schema)
                    new = new_part(name, sid, number)
                    _write_parquet(base, new, part.replace_schema_metadata(_file_metadata(name)))
                    files.append(new)
                manifest = {**m, "files": {**m["files"], name: files}}
                _rewrite_manifest(base, manifest)
                changed.append(sid)
                log.info("snapshot %s of %s has %s.%s now", sid, base, name, column)
            for rel in base.list_files(folder):
                if rel not in files:  # the old parts, here or left by a run that crashed
                    base.delete(rel)
        finally:
            lock.release()
    return changed


def _pairs_in_one_part(root: Root, rels: list[str]) -> bool:
    """Whether each (consumer, sync) pair's rows lie in one of the parts ``rels``."""
    import pyarrow.parquet as pq

    seen: set[tuple[str, str]] = set()
    for rel in rels:
        ids = pq.read_table(root.full(rel), filesystem=root.fs, columns=["consumer_id", "sync_id"])
        distinct = ids.group_by(["consumer_id", "sync_id"]).aggregate([])
        pairs = set(
            zip(distinct["consumer_id"].to_pylist(), distinct["sync_id"].to_pylist(), strict=True)
        )
        if seen & pairs:
            return False
        seen |= pairs
    return True


def migrate_executions(root: str | os.PathLike[str]) -> list[str]:
    """Turn the executions each snapshot copied into the log; return the ids of those changed.

    Oldest first, each fetched snapshot that does not keep its executions in the log yet
    keeps, of its executions, only those the snapshots before it do not hold as they are,
    and lists the parts of those that hold the rest: it shows the same rows as before
    (checked before its manifest is written; a sync whose rows the earlier parts can't give
    keeps its own copy). Each snapshot is rewritten under its lock, new parts first, then its
    manifest, then its old parts: safe to run again after a crash. Snapshots fetched for some
    consumers only, and those without an executions window, are left as they are. A log
    snapshot committed before manifests said whether it lists each execution once
    (``execlog.ONCE``) is counted and says it, so that its view can skip the newest-row step.
    """
    base = open_root(root)
    changed = []
    bases: dict[str, dict[str, Any]] = {}  # sync -> the latest log snapshot that holds it
    for m in current_manifests(base):
        info = m.get("info") or {}
        if "format" not in m:
            continue  # a 0.1 snapshot: migrate() moves it first
        if is_log(m):
            if not _counted(info):
                m = _count_listed_once(base, m["snapshot_id"]) or m
            for sync_id in info.get("executions_done") or []:
                bases[sync_id] = m
            continue
        filters = info.get("filters") or {}
        if not info.get("executions_since") or not info.get("executions_until"):
            continue
        if filters.get("consumer_ids"):
            continue
        sid = m["snapshot_id"]
        lock = SnapshotLock(base, sid, purpose="migrate")
        lock.acquire()
        try:
            manifest = _log_manifest(base, m, bases)
            _rewrite_manifest(base, manifest)
            listed = set(manifest["files"][LOG])
            for rel in base.list_files(part_folder(LOG, sid)):
                if rel not in listed:  # its old copy, or parts of an earlier run that crashed
                    base.delete(rel)
        finally:
            lock.release()
        for sync_id in manifest["info"].get("executions_done") or []:
            bases[sync_id] = manifest
        changed.append(sid)
        log.info("snapshot %s of %s keeps its executions in the log now", sid, base)
    return changed


def _counted(info: dict[str, Any]) -> bool:
    """Whether a log snapshot's manifest says what its view needs (``ONCE``, ``AGAIN``)."""
    return ONCE in info and (info[ONCE] is True or AGAIN in info)


def _count_listed_once(root: Root, sid: str) -> dict[str, Any] | None:
    """Say in log snapshot ``sid``'s manifest whether its parts list each execution once.

    For a snapshot committed before the flag (``execlog.ONCE``) existed: counted as a commit
    counts it, under the snapshot's lock. Returns the new manifest, or None when the manifest
    already says it.
    """
    from .execlog import shown_counts

    lock = SnapshotLock(root, sid, purpose="migrate")
    lock.acquire()
    try:
        m = read_manifest(root, sid)  # as it is now that no one else writes it
        if not is_log(m) or _counted(m["info"]):
            return None
        since, _ = log_window(m)
        shown = shown_counts(root, [root.full(rel) for rel in m["files"][LOG]], since)
        manifest = {**m, "info": {**m["info"], **shown.info(m["files"][LOG])}}
        _rewrite_manifest(root, manifest)
    finally:
        lock.release()
    log.info("snapshot %s of %s says whether it lists each execution once now", sid, root)
    return manifest


def _log_manifest(
    root: Root, m: dict[str, Any], bases: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Write the log parts of snapshot ``m``; return its new manifest (not written yet)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .execlog import _parts_dataset, newest, shown_counts
    from .writer import _file_metadata, _write_parquet

    sid = m["snapshot_id"]
    since, _ = log_window({**m, "info": {**m["info"], "executions_log": True}})
    own = m["files"].get(LOG, [])
    schema = TABLES[LOG].schema
    tables = [pq.read_table(root.full(rel), filesystem=root.fs, schema=schema) for rel in own]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    done = list(m["info"].get("executions_done") or sorted(set(table["sync_id"].to_pylist())))
    syncs = list(dict.fromkeys([*table["sync_id"].to_pylist(), *done]))
    foreign: list[str] = []
    parts: dict[str, list[Any]] = {}
    written: list[str] = []
    number = 0
    for sync_id in syncs:
        mine = table.filter(pc.equal(table["sync_id"], sync_id))
        theirs = _base_parts(bases.get(sync_id), sync_id, since)
        new = mine
        if theirs:
            held = newest(_parts_dataset(root, theirs).to_table())
            held = held.filter(
                pc.greater_equal(held["start"], pa.scalar(since, held["start"].type))
            )
            held_rows = {r["execution_id"]: r for r in held.select(schema.names).to_pylist()}
            mine_ids = set(mine["execution_id"].to_pylist())
            if set(held_rows) <= mine_ids:  # the earlier parts hold nothing it does not show
                keep = [held_rows.get(r["execution_id"]) != r for r in mine.to_pylist()]
                new = mine.filter(pa.array(keep, pa.bool_()))
            else:
                theirs = []
        foreign += theirs
        info = bases[sync_id]["info"].get("execution_parts") or {} if theirs else {}
        parts.update({rel: list(info[rel]) for rel in theirs})
        if new.num_rows:
            rel = new_part(LOG, sid, number)
            number += 1
            _write_parquet(root, rel, new.replace_schema_metadata(_file_metadata(LOG)))
            last = pc.max(new["start"]).as_py()
            parts[rel] = [sync_id, last.isoformat(), new.num_rows]
            written.append(rel)
    files = {**m["files"], LOG: [*foreign, *written]}
    if not files[LOG]:
        rel = new_part(LOG, sid, number)
        _write_parquet(root, rel, schema.empty_table().replace_schema_metadata(_file_metadata(LOG)))
        files[LOG] = [rel]
    info = {
        **m["info"],
        "executions_log": True,
        "execution_parts": parts,
        "executions_done": done,
        "executions_stored": sum(int(parts[rel][2]) for rel in written),
    }
    shown = shown_counts(root, [root.full(rel) for rel in files[LOG]], since)
    info.update(shown.info(files[LOG]))
    if shown.executions != table.num_rows:  # never a snapshot that shows other rows than before
        raise StoreError(
            f"snapshot {sid!r} of {root.url} would show {shown.executions:,} executions from "
            f"the log, not the {table.num_rows:,} it holds; it is left as it was (report this)"
        )
    return {**m, "files": files, "info": info}


def _base_parts(base: dict[str, Any] | None, sync_id: str, since: datetime) -> list[str]:
    """Return the parts of log snapshot ``base`` with executions of ``sync_id`` from ``since``."""
    if base is None:
        return []
    from .execlog import log_window

    base_since, base_until = log_window(base)
    if base_since > since or base_until <= since:
        return []
    info = base["info"].get("execution_parts") or {}
    out = []
    for rel in base["files"].get(LOG, []):
        if rel not in info:
            return []  # a part the base says nothing of
        part_sync, last = info[rel][0], info[rel][1]
        if part_sync == sync_id and last and datetime.fromisoformat(last) >= since:
            out.append(rel)
    return out

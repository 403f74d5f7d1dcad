"""Compaction: a snapshot's many small parts of a table written again as a few larger ones.

Every query of a table opens each of its parts: a snapshot that an older version fetched in
parts of 500 pairs (41 parts a table at 20,000 pairs), or a fetch resumed many times, makes
every report open and plan dozens of files for rows that a few would hold. :func:`compact`
writes each run of adjacent small parts as one part of at most :data:`TARGET_BYTES`, in
row groups of DuckDB's own size (so that a large part is still read by every thread), rows
and their order unchanged.

Each snapshot is rewritten under its lock, new parts first, then its manifest, then its old
parts: a crash leaves the snapshot readable as it was before or after, and a second run
finishes the work. The executions of a log snapshot are left as they are: other snapshots
list those parts, and the manifest says what each holds (``execlog``).
"""

from __future__ import annotations

import io
import logging
import os
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..errors import StoreError
from ..schema import TABLES
from .execlog import LOG, is_log, part_listers
from .filesystems import Root, open_root
from .lock import SnapshotLock
from .manifests import STAGING, current_manifests, new_part, part_folder, read_manifest

__all__ = ["TARGET_BYTES", "Compacted", "compact", "compaction_groups"]

log = logging.getLogger(__name__)

TARGET_BYTES = 64 * 2**20
"""The most bytes of parts (as stored) that compaction writes again as one part: large
enough that a table of a 200,000-pair account is a few parts, small enough that a part
sent to an object store is one request of bounded size."""

ROW_GROUP = 122_880  # DuckDB's row group: a part's row groups are read by several threads
GROUP_BYTES = 64 * 2**20  # a row group's bytes in memory, at most (past one part's own)


def compaction_groups(sizes: list[int], target: int = TARGET_BYTES) -> list[list[int]]:
    """Group the positions of parts of sizes ``sizes`` into runs of adjacent ones to merge.

    Greedy, in order: a run takes the next part while their bytes stay within ``target``.
    Only runs of two parts or more are returned (a part alone is kept as it is).
    """
    runs: list[list[int]] = []
    run: list[int] = []
    total = 0
    for k, size in enumerate(sizes):
        if run and total + size > target:
            runs.append(run)
            run, total = [], 0
        run.append(k)
        total += size
    if run:
        runs.append(run)
    return [r for r in runs if len(r) > 1]


class Compacted(NamedTuple):
    """What :func:`compact` did: parts merged, and snapshots left as they were, by id."""

    merged: dict[str, int]  # snapshot id -> how many small parts it merged
    skipped: dict[str, str]  # snapshot id -> why it was left as it was


def compact(root: str | os.PathLike[str], *, target: int = TARGET_BYTES) -> Compacted:
    """Merge each snapshot's adjacent small parts of a table.

    Every committed snapshot is looked at, oldest first; a table whose parts are already
    large, or alone, is left as it is, so a second run changes nothing. The rows, their
    order and every reader's results stay the same; a part of ``mapping_values`` holds
    whole pairs as before (whole parts are merged). Readers that have a snapshot open while
    its old parts are removed fail and must open it again, and readers that list the folders
    rather than the manifest (an external table, ``report --sql --views``) see a merged part
    beside its old ones until they are removed: run it when nothing reads the dataset, as
    after an upgrade.

    A snapshot that another process is writing (its lock is live), one whose writer stopped
    half-way (its work in ``_staging``: a resume, a commit), or one of whose parts does not
    read, is left as it was, with a warning, and the others are compacted: see
    :attr:`Compacted.skipped`. Its new parts, not listed yet, are removed by the next run.

    Returns
    -------
    Compacted
        The parts merged, and the snapshots left as they were with why, by snapshot id.
    """
    base = open_root(root)
    done = Compacted({}, {})
    listers = part_listers(base)
    for listed in current_manifests(base):
        if "format" not in listed:
            continue  # a 0.1 snapshot: migrate() moves it first
        sid = listed["snapshot_id"]
        tables = _tables(listed, listers)
        if not _plan(base, listed, tables, target) and not _leftovers(base, listed, tables):
            continue
        lock = SnapshotLock(base, sid, purpose="compact")
        try:
            lock.acquire()
        except StoreError as exc:  # another writer's: it is left to them
            _skip(done, sid, str(exc))
            continue
        try:
            # a writer that stopped half-way (a resume, a commit, a prune) left its work in
            # _staging, with its own copy of the manifest: its resume or recovery would list
            # the parts merged here again, and remove the merged one
            if base.entries(f"{STAGING}/{sid}"):
                _skip(
                    done,
                    sid,
                    f"a writer of snapshot {sid!r} in {base.url} stopped half-way (its work is in "
                    f"{STAGING}/{sid}): resume it (fetch --resume {sid}) or clean it up "
                    "(snapshots --clean), then compact again",
                )
                continue
            m = read_manifest(base, sid)  # as it is now that no one else writes it
            count = _compact_snapshot(base, m, _tables(m, listers), target, lock)
        except StoreError as exc:
            _skip(done, sid, str(exc))
            continue
        finally:
            lock.release()
        if count:
            done.merged[sid] = count
            log.info("snapshot %s of %s: %d small parts merged", sid, base, count)
    return done


def _skip(done: Compacted, sid: str, why: str) -> None:
    done.skipped[sid] = why
    log.warning("snapshot %s left as it was: %s", sid, why)


def _tables(m: dict[str, Any], listers: dict[str, set[str]]) -> list[str]:
    """Return the tables of snapshot ``m`` whose parts no other snapshot lists.

    That is every table but the executions of a log snapshot, or executions parts that
    another snapshot or a writer lists (``listers``: see :func:`execlog.part_listers`).
    """
    sid = m["snapshot_id"]
    tables = []
    for table, rels in m["files"].items():
        if table not in TABLES:  # not one of this version's: left as it is
            continue
        if table == LOG and (is_log(m) or any(listers.get(r, {sid}) - {sid} for r in rels)):
            continue
        tables.append(table)
    return tables


def _sizes(root: Root, rels: list[str]) -> list[int]:
    infos = root.fs.get_file_info([root.full(rel) for rel in rels])
    return [i.size if i.type == pafs.FileType.File and i.size is not None else 0 for i in infos]


def _plan(
    root: Root, m: dict[str, Any], tables: list[str], target: int
) -> dict[str, list[list[int]]]:
    """Return the runs of parts to merge in each of ``tables`` of snapshot ``m``."""
    plan = {}
    for table in tables:
        rels = m["files"][table]
        if len(rels) > 1:
            runs = compaction_groups(_sizes(root, rels), target)
            if runs:
                plan[table] = runs
    return plan


def _leftovers(root: Root, m: dict[str, Any], tables: list[str]) -> bool:
    """Whether a folder of ``tables`` of snapshot ``m`` holds parts it does not list."""
    for table in tables:
        listed = set(m["files"][table])
        if any(rel not in listed for rel in root.list_files(part_folder(table, m["snapshot_id"]))):
            return True
    return False


def _compact_snapshot(
    root: Root, m: dict[str, Any], tables: list[str], target: int, lock: SnapshotLock
) -> int:
    """Compact ``tables`` of snapshot ``m`` (``lock`` held); return how many parts were merged."""
    from .lifecycle import _rewrite_manifest

    sid = m["snapshot_id"]
    plan = _plan(root, m, tables, target)
    files = dict(m["files"])
    next_part = dict(m.get("next_part") or {})
    merged = 0
    for table, runs in plan.items():
        rels = m["files"][table]
        number = max(int(next_part.get(table, 0)), len(rels))
        first = {run[0]: run for run in runs}
        inside = {k for run in runs for k in run}
        out = []
        for k, rel in enumerate(rels):
            if k in first:
                new = new_part(table, sid, number)
                number += 1
                _merge(root, table, [rels[j] for j in first[k]], new)
                out.append(new)
                merged += len(first[k])
            elif k not in inside:
                out.append(rel)
        files[table] = out
        next_part[table] = number
    lock.check()  # still this process's: a stale lock taken over means another writer
    if plan:
        manifest = {**m, "files": files}
        if "next_part" in m:
            manifest["next_part"] = next_part
        _rewrite_manifest(root, manifest)
    for table in tables:
        listed = set(files[table])
        for rel in root.list_files(part_folder(table, sid)):
            if rel not in listed:  # the merged parts, or those of a run that crashed
                root.delete(rel)
    return merged


def _merge(root: Root, table: str, rels: list[str], new: str) -> None:
    """Write parts ``rels`` of ``table``, in order, as part ``new``, a batch at a time."""
    from .writer import _file_metadata

    found = None
    held: list[pa.RecordBatch] = []
    rows = nbytes = 0
    sink: Any = io.BytesIO() if not root.local else root.full(new)
    if root.local:
        os.makedirs(root.full(new).rsplit("/", 1)[0], exist_ok=True)
    writer = None
    rel = rels[0]
    try:
        for rel in rels:
            with root.fs.open_input_file(root.full(rel)) as fh:
                part = pq.ParquetFile(fh)
                schema = part.schema_arrow.remove_metadata()
                if found is None:
                    found = schema
                    kept = pa.schema(list(found), metadata=_file_metadata(table))
                    writer = pq.ParquetWriter(sink, kept, compression="zstd")
                elif not schema.equals(found):
                    raise StoreError(
                        f"cannot compact {table} of {root.url}: part {rel}'s columns differ "
                        f"from {rels[0]}'s (run chift-frames snapshots --migrate first)"
                    )
                # a batch at a time: a part of an older version may be one large row group
                for batch in part.iter_batches(batch_size=ROW_GROUP):
                    held.append(batch)
                    rows += batch.num_rows
                    nbytes += batch.nbytes
                    if rows >= ROW_GROUP or nbytes >= GROUP_BYTES:  # wide rows: fewer
                        rows = _write_group(writer, held, min(rows, ROW_GROUP))
                        nbytes = sum(b.nbytes for b in held)
        if rows:
            _write_group(writer, held, rows)
        if writer is not None:
            writer.close()
            writer = None
        if root.local:  # on the disk before the manifest lists it and the old parts go
            fd = os.open(root.full(new), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            root.write(new, sink.getvalue())
    except (OSError, pa.ArrowException) as exc:  # reading a part, or writing the new one
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise StoreError(
            f"cannot compact {table} of {root.url} (at part {rel}, writing {new}): {reason}"
        ) from None
    finally:
        if writer is not None:
            writer.close()


def _write_group(writer: Any, held: list[pa.RecordBatch], size: int) -> int:
    """Write the first ``size`` rows of ``held`` as one row group; return the rows left."""
    table = pa.Table.from_batches(held)
    writer.write_table(table.slice(0, size), row_group_size=size)
    rest = table.slice(size)
    held[:] = rest.to_batches()
    return int(rest.num_rows)

"""Writing snapshots: staged parts, one writer per snapshot, and a commit without renames.

A writer holds the snapshot's lock (see ``lock``) and stages its parts under
``_staging/<snapshot_id>/``, outside every table folder, with its working state beside them,
so a crashed writer leaves nothing a folder reader would see, and ``resume`` picks it up.

The commit, a plan written first and then carried out (so that whoever comes next can finish
it after a crash):

1. ``_staging/<id>/commit.json``: the manifest to be, the parts to move, the parts replaced;
2. each staged part copied (renamed on a local disk) into ``<table>/snapshot_id=<id>/``;
3. the snapshot's row in ``snapshots/``;
4. the manifest ``_snapshots/<id>.json``, created only if absent on a first commit (a damaged
   one, which a crash of an older version could leave, is replaced); written whole either
   way: a temporary file renamed on a local disk, one PUT on an object store;
5. replaced parts, and any file of the snapshot's folders the manifest does not list, removed;
6. the staging folder removed.

Part names are unique (a counter and random hex), so nothing is ever overwritten in place.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .._shell import program, shell_command
from ..errors import StoreError
from ..schema import TABLES, empty_frame
from .execlog import is_log, log_window, shown_counts
from .filesystems import Root, _root_text, open_root
from .lock import SnapshotLock, lock_holder, lock_is_live
from .manifests import (
    FORMAT,
    LOG_TABLE,
    MANIFESTS,
    READABLE,
    SNAPSHOTS_TABLE,
    STAGING,
    check_snapshot_id,
    dump,
    is_part_of,
    new_part,
    new_snapshot_id,
    parse_json,
    part_folder,
    read_manifest,
    validate_manifest,
)

__all__ = ["SNAPSHOTS_SCHEMA", "SnapshotWriter", "Status", "recover", "save", "to_arrow"]

log = logging.getLogger(__name__)

Status = Literal["complete", "partial"]

SNAPSHOTS_SCHEMA = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), False),
        pa.field("status", pa.string(), False),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("finished_at", pa.timestamp("us", tz="UTC")),
        pa.field("pairs_ok", pa.int64()),
        pa.field("pairs_failed", pa.int64()),
        pa.field("package_version", pa.string()),
        pa.field("filters_json", pa.string()),
        pa.field("info_json", pa.string()),
    ],
    metadata={"table": SNAPSHOTS_TABLE, "row": "one committed snapshot"},
)


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Convert DataFrame ``df`` of table ``name`` to arrow with the table's pinned schema."""
    schema = _schema(name)
    if list(df.columns) != schema.names:
        missing = [c for c in schema.names if c not in df.columns]
        extra = [c for c in df.columns if c not in schema.names]
        raise StoreError(
            f"table {name!r} does not match its schema (missing: {missing or 'none'}, "
            f"unexpected: {extra or 'none'}, or the order differs)"
        )
    try:
        table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise StoreError(f"table {name!r} cannot be stored with its schema: {exc}") from exc
    return table.replace_schema_metadata(schema.metadata)


def _schema(name: str) -> pa.Schema:
    try:
        return TABLES[name].schema
    except KeyError:
        raise StoreError(f"unknown table {name!r}; tables: {', '.join(TABLES)}") from None


@cache
def _file_metadata(name: str) -> dict[bytes, bytes]:
    """Return the schema metadata of a part of table ``name``.

    The table's own, and pandas', so that a plain ``pandas.read_parquet`` gives the dtypes of
    :func:`chift_frames.load`. pandas can't name a nested Arrow type in that metadata (it
    fails to read it back), so list columns are declared ``object`` there: a plain read gives
    them as arrays in ``object`` columns (docs/readers.md).
    """
    pandas_meta = json.loads(
        pa.Schema.from_pandas(empty_frame(name), preserve_index=False).metadata[b"pandas"]
    )
    for column in pandas_meta["columns"]:
        if str(column.get("numpy_type", "")).startswith(("list<", "large_list<")):
            column["numpy_type"] = "object"
    return {
        **(TABLES[name].schema.metadata or {}),
        b"pandas": json.dumps(pandas_meta).encode(),
    }


def _staged(snapshot_id: str, rel: str) -> str:
    return f"{STAGING}/{snapshot_id}/{rel}"


def _write_parquet(root: Root, rel: str, table: pa.Table) -> None:
    if root.local:
        path = root.full(rel)
        try:
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            pq.write_table(table, path, compression="zstd")
        except OSError as exc:
            reason = str(exc).splitlines()[0]
            raise StoreError(f"cannot write {rel} in {root.url}: {reason}") from None
    else:  # one PUT per part (a part is one batch), rather than a multipart upload
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        root.write(rel, buffer.getvalue())


IO_THREADS = 8  # object stores answer in tens of ms: a few requests in flight at once


def _each(fn: Callable[[Any], Any], items: Iterable[Any], root: Root) -> list[Any]:
    """Run ``fn`` on every item; a few at a time on an object store, where each is a request.

    The first error is raised once all have finished.
    """
    items = list(items)
    if len(items) < 2 or root.local:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(IO_THREADS, len(items)), thread_name_prefix="chift-io") as pool:
        return list(pool.map(fn, items))


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class SnapshotWriter:
    """Write one snapshot in parts, then make it visible with :meth:`commit`.

    The writer holds the snapshot's lock from its creation to its commit (or :meth:`close`):
    a second writer of the same snapshot fails at once. Parts are staged outside the table
    folders; readers see nothing of the snapshot before its commit.

    Parameters
    ----------
    root : str or Path
        The dataset folder or URL; created when missing.
    snapshot_id : str, optional
        Id of the snapshot; a fresh time-ordered id when not given. Ids hold 1-128 letters,
        digits, ``.``, ``_`` or ``-``, and at least one letter.
    info : dict, optional
        Extra facts recorded in the manifest (kept as JSON).
    resume : bool, default False
        Continue the snapshot: one a crashed writer left uncommitted (its parts are kept), or
        one committed as ``partial``, to add the parts still missing. A partial snapshot stays
        readable as it was until the next :meth:`commit`. Without ``resume``, an existing
        snapshot is refused and the leftovers of a crashed writer of that id are removed.
    times : tuple of str, optional
        ``started_at`` and ``finished_at`` (ISO text) for the manifest, instead of the
        writer's own: a rebuild keeps the times of the fetch it re-derives, so that it takes
        that fetch's place in history.
    """

    root: str | os.PathLike[str]
    snapshot_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    times: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self._root = open_root(self.root)
        recover(self._root)
        self.snapshot_id = check_snapshot_id(self.snapshot_id or new_snapshot_id())
        self._lock = SnapshotLock(self._root, self.snapshot_id)
        self._lock.acquire()
        try:
            self.manifest = self._open()
        except BaseException:
            self._lock.release()
            raise
        self._committed = False

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> dict[str, Any]:
        root, sid = self._root, self.snapshot_id
        assert sid is not None
        if root.exists(_staged(sid, "commit.json")):  # a commit that crashed: finish it first
            _roll_forward(root, _read_json(root, _staged(sid, "commit.json")))
        previous = read_manifest(root, sid) if root.exists(f"{MANIFESTS}/{sid}.json") else None
        state_path = _staged(sid, "state.json")
        state = _read_json(root, state_path) if root.exists(state_path) else None
        if previous is not None and "format" not in previous:
            migrate = shell_command(program(), "snapshots", root.url, "--migrate")
            raise StoreError(
                f"snapshot {sid!r} in {root.url} was written by chift_frames 0.1; it can be "
                f"read, not continued: run {migrate} first"
            )
        if previous is not None and previous["status"] not in READABLE:
            previous = None  # a 0.1 'writing' manifest: nothing committed
        if previous is not None and not self.resume:
            raise StoreError(
                f"snapshot {sid!r} already exists in {root.url}; "
                "choose another id or leave it out to get a fresh one"
            )
        if previous is not None and previous["status"] == "complete":
            raise StoreError(f"snapshot {sid!r} is complete: nothing to resume")
        if self.resume and previous is None and state is None:
            raise StoreError(f"no snapshot {sid!r} in {root.url} to resume")
        if state is not None and not self.resume:
            # leftovers of a crashed writer of this id: never mixed into a new snapshot
            log.warning("removing the uncommitted leftovers of snapshot %s in %s", sid, root)
            root.delete_dir(f"{STAGING}/{sid}")
            state = None
        if state is None:
            state = {
                "snapshot_id": sid,
                "started_at": previous["started_at"] if previous else _now(),
                "files": {k: list(v) for k, v in (previous or {}).get("files", {}).items()},
                "rows": dict((previous or {}).get("rows", {})),
                "info": dict((previous or {}).get("info", {})),
                "next_part": {},
                "pending": [],
                "removed": [],
                "base_status": previous["status"] if previous else None,
            }
        state["info"] = {**state.get("info", {}), **self.info}
        root.write(state_path, dump(state))
        return state

    # -- the writer's interface --------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The dataset root, as given (a URL comes back as a path that :func:`load` reads)."""
        return Path(_root_text(self.root))

    @property
    def root_handle(self) -> Root:
        """The dataset root as the store opened it (for the store's own readers)."""
        return self._root

    @property
    def url(self) -> str:
        """The dataset root as a command line writes it (a path or a URL)."""
        return self._root.url

    def _save_state(self) -> None:
        assert self.snapshot_id is not None
        # the working state needs no fsync: after a crash, an older state still resumes
        self._root.write(_staged(self.snapshot_id, "state.json"), dump(self.manifest), sync=False)

    def write(self, tables: Mapping[str, pd.DataFrame | pa.Table]) -> None:
        """Append one part of each table given; DataFrames are checked against the schema."""
        self.attach(self.stage(tables))

    def stage(self, tables: Mapping[str, pd.DataFrame | pa.Table]) -> list[tuple[str, str, int]]:
        """Write one part of each table given, but list none yet: see :meth:`attach`.

        Parts staged and never attached (a group that failed half way) are never committed.
        """
        self._check_open()
        checked = []
        for name, data in tables.items():
            table = data if isinstance(data, pa.Table) else to_arrow(name, data)
            if not table.schema.equals(_schema(name), check_metadata=False):
                raise StoreError(f"table {name!r} does not have its pinned schema")
            checked.append((name, table, self._part_name(name)))
        _each(lambda item: self._put_part(*item), checked, self._root)
        return [(name, rel, table.num_rows) for name, table, rel in checked]

    def attach(self, staged: Iterable[tuple[str, str, int]]) -> None:
        """List staged parts in the snapshot, all at once."""
        self._check_open()
        for name, path, rows in staged:
            listed = self.manifest["files"].setdefault(name, [])
            if path in listed:  # attached already: a part is counted once
                continue
            listed.append(path)
            self.manifest["rows"][name] = self.manifest["rows"].get(name, 0) + rows
            self.manifest["pending"].append(path)
        self._save_state()

    def refer(self, parts: Iterable[str], info: Mapping[str, Any]) -> None:
        """List parts of earlier snapshots in this one's executions, before its own.

        The executions log (see ``execlog``): the snapshot shows what those parts hold of its
        window. Parts listed this way before are replaced by ``parts``; ``info`` is recorded
        in the manifest (``executions_log``, ``execution_parts``...). The rows they hold are
        not counted as this snapshot's.
        """
        self._check_open()
        assert self.snapshot_id is not None
        own = f"{part_folder(LOG_TABLE, self.snapshot_id)}/"
        listed = [p for p in self.manifest["files"].get(LOG_TABLE, []) if p.startswith(own)]
        self.manifest["files"][LOG_TABLE] = [*dict.fromkeys(parts), *listed]
        self.manifest["info"].update(info)
        self._save_state()

    def replace(self, name: str, table: pa.Table) -> None:
        """Make ``table`` the whole content of table ``name`` in this snapshot.

        Committed parts it replaces are removed at the commit, not before: until then readers
        still see the snapshot as it was.
        """
        assert self.snapshot_id is not None
        pending = set(self.manifest["pending"])
        old = self.manifest["files"].get(name, [])
        self.manifest["removed"] += [p for p in old if p not in pending]
        self.manifest["pending"] = [p for p in self.manifest["pending"] if p not in old]
        self.manifest["files"][name] = []
        self.manifest["rows"][name] = 0
        self.attach([(name, self._write_part(name, table), table.num_rows)])
        for p in old:
            if p in pending:
                self._root.delete(_staged(self.snapshot_id, p))

    def _paths(self, name: str) -> list[str]:
        """Full paths of the parts of table ``name`` listed so far (staged ones where they are)."""
        assert self.snapshot_id is not None
        pending = set(self.manifest["pending"])
        return [
            self._root.full(_staged(self.snapshot_id, p) if p in pending else p)
            for p in self.manifest["files"].get(name, [])
        ]

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read what this snapshot holds of table ``name`` so far (the parts, as listed)."""
        paths = self._paths(name)
        schema = _schema(name)
        if not paths:
            table = schema.empty_table()
            return table.select(columns) if columns else table
        dataset = ds.dataset(paths, schema=schema, format="parquet", filesystem=self._root.fs)
        return dataset.to_table(columns=columns)

    def _part_name(self, name: str) -> str:
        """Name the next part of table ``name``: its path under the root once committed."""
        assert self.snapshot_id is not None
        numbers = self.manifest["next_part"]
        number = numbers.get(name, 0)
        numbers[name] = number + 1
        return new_part(name, self.snapshot_id, number)

    def _put_part(self, name: str, table: pa.Table, rel: str) -> None:
        assert self.snapshot_id is not None
        table = table.replace_schema_metadata(_file_metadata(name))
        _write_parquet(self._root, _staged(self.snapshot_id, rel), table)

    def _write_part(self, name: str, table: pa.Table) -> str:
        """Stage a part file; return its path under the root once committed."""
        rel = self._part_name(name)
        self._put_part(name, table, rel)
        return rel

    def _check_open(self) -> None:
        if self._committed:
            raise StoreError(f"snapshot {self.snapshot_id!r} is already committed")

    def commit(self, status: Status = "complete", **info: Any) -> dict[str, Any]:
        """Make the snapshot visible to readers; every table without a part gets an empty one.

        Returns
        -------
        dict
            The manifest as written.
        """
        if status not in READABLE:
            raise StoreError(f"status must be one of {READABLE}, not {status!r}")
        self._check_open()
        missing = [name for name in TABLES if not self.manifest["files"].get(name)]
        self.attach(self.stage({name: TABLES[name].schema.empty_table() for name in missing}))
        m = self.manifest
        m["info"] = {**m.get("info", {}), **info}
        if is_log(m):
            # what the snapshot shows of the log, and what it added to it
            since, _ = log_window(m)
            shown = shown_counts(self._root, self._paths(LOG_TABLE), since)
            m["rows"][LOG_TABLE] = shown.executions
            m["info"].update(shown.info(m["files"][LOG_TABLE]))  # what its view needs
            parts = m["info"].get("execution_parts") or {}
            own = f"{part_folder(LOG_TABLE, str(self.snapshot_id))}/"
            m["info"]["executions_stored"] = sum(
                int(parts[p][2]) if len(parts.get(p, [])) > 2 else 0
                for p in m["files"].get(LOG_TABLE, [])
                if p.startswith(own)
            )
        manifest = {
            "format": FORMAT,
            "snapshot_id": self.snapshot_id,
            "status": status,
            "started_at": self.times[0] if self.times else m["started_at"],
            "finished_at": self.times[1] if self.times else _now(),
            "files": m["files"],
            "rows": m["rows"],
            "info": m["info"],
        }
        plan = {
            "manifest": manifest,
            "pending": m["pending"],
            "removed": m["removed"],
            "first": m["base_status"] is None,
        }
        self._lock.check()
        assert self.snapshot_id is not None
        self._root.write(_staged(self.snapshot_id, "commit.json"), dump(plan))
        _roll_forward(self._root, plan)
        self._committed = True
        m["pending"], m["removed"] = [], []  # every part is in place now
        self._lock.release()
        return manifest

    def close(self) -> None:
        """Give up the lock without committing; the staged parts stay for a later resume."""
        if not self._committed:
            self._lock.release()

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_json(root: Root, rel: str) -> dict[str, Any]:
    data = parse_json(root.read(rel), f"{rel} in {root.url}")
    if not isinstance(data, dict):
        raise StoreError(f"{rel} in {root.url} is not a JSON object")
    return data


def _snapshot_row(manifest: dict[str, Any]) -> pa.Table:
    info = manifest.get("info", {})

    def ts(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    row = {
        "snapshot_id": [manifest["snapshot_id"]],
        "status": [manifest["status"]],
        "started_at": [ts(manifest.get("started_at"))],
        "finished_at": [ts(manifest.get("finished_at"))],
        "pairs_ok": [info.get("pairs_ok")],
        "pairs_failed": [info.get("pairs_failed")],
        "package_version": [info.get("package_version")],
        "filters_json": [json.dumps(info.get("filters"), sort_keys=True)],
        "info_json": [json.dumps(info, sort_keys=True)],
    }
    return pa.Table.from_pydict(row, schema=SNAPSHOTS_SCHEMA)


def put_snapshot_row(root: Root, manifest: dict[str, Any]) -> None:
    """Write the snapshot's row of the ``snapshots`` table, whole."""
    buffer = io.BytesIO()
    pq.write_table(_snapshot_row(manifest), buffer, compression="zstd")
    root.write(f"{SNAPSHOTS_TABLE}/{manifest['snapshot_id']}.parquet", buffer.getvalue())


def _roll_forward(root: Root, plan: dict[str, Any]) -> None:
    """Carry out a commit plan; safe to run again after a crash at any step."""
    sid = str(plan["manifest"]["snapshot_id"])
    manifest = validate_manifest(plan["manifest"], sid, f"{root.url}/{_staged(sid, 'commit.json')}")
    listed = {p for paths in manifest["files"].values() for p in paths}

    def move(rel: str) -> None:
        if rel in listed and root.exists(_staged(sid, rel)):
            root.move(_staged(sid, rel), rel)

    _each(move, plan["pending"], root)
    put_snapshot_row(root, manifest)
    target = f"{MANIFESTS}/{sid}.json"
    data = dump(manifest)
    if plan["first"]:
        if not root.create(target, data) and root.read(target) != data:
            if _readable_manifest(root, sid):
                raise StoreError(
                    f"snapshot {sid!r} in {root.url} was committed by another writer "
                    "meanwhile; this one is left uncommitted"
                )
            # a manifest left torn by a crash of this very commit (we hold the lock)
            log.warning("replacing the damaged manifest of snapshot %s in %s", sid, root)
            root.write(target, data)
    else:
        root.write(target, data)
    # a plan is read back from storage: only parts of this very snapshot are ever deleted
    removed = [rel for rel in plan["removed"] if rel not in listed and is_part_of(rel, sid)]
    _each(root.delete, removed, root)
    folders = [part_folder(table, sid) for table in manifest["files"]]
    on_disk = _each(root.list_files, folders, root)
    # parts replaced, or left by a writer that crashed
    _each(root.delete, [rel for rels in on_disk for rel in rels if rel not in listed], root)
    root.delete_dir(f"{STAGING}/{sid}")


def _readable_manifest(root: Root, snapshot_id: str) -> bool:
    try:
        read_manifest(root, snapshot_id)
    except StoreError:
        return False
    return True


def recover(root: Root) -> list[str]:
    """Finish the commits and prunes that crashed writers left half done; return their ids.

    Only snapshots whose lock is free (or stale) are touched.
    """
    from .lifecycle import finish_prune

    done = []
    for sid in root.entries(STAGING):
        has_commit = root.exists(_staged(sid, "commit.json"))
        has_prune = root.exists(_staged(sid, "prune.json"))
        if not (has_commit or has_prune) or lock_is_live(lock_holder(root, sid)):
            continue
        try:
            check_snapshot_id(sid)
        except StoreError:
            continue
        lock = SnapshotLock(root, sid, purpose="recover")
        try:
            lock.acquire()
        except StoreError:
            continue  # someone else is on it
        try:
            if root.exists(_staged(sid, "prune.json")):
                finish_prune(root, sid)
            elif root.exists(_staged(sid, "commit.json")):
                _roll_forward(root, _read_json(root, _staged(sid, "commit.json")))
            log.info("finished the interrupted work on snapshot %s in %s", sid, root)
            done.append(sid)
        except StoreError as exc:
            # one snapshot's damaged leftovers never stop the writers of the others
            log.warning("could not finish the interrupted work on snapshot %s: %s", sid, exc)
        finally:
            lock.release()
    return done


def save(
    frames: Mapping[str, pd.DataFrame],
    root: str | os.PathLike[str],
    *,
    snapshot_id: str | None = None,
) -> str:
    """Write ``frames`` as one new snapshot of the Parquet dataset at ``root``.

    Parameters
    ----------
    frames : Frames or mapping of DataFrames
        Tables of the contract, for example the result of :func:`chift_frames.flatten`.
        A table left out is written empty.
    root : str or path
        The dataset folder, or a URL such as ``s3://bucket/prefix``; created when missing.
    snapshot_id : str, optional
        The snapshot's id; by default a fresh, time-ordered one. An id that a crashed writer
        left uncommitted is cleaned up first, never appended to.

    Returns
    -------
    str
        The snapshot id.

    Raises
    ------
    StoreError
        If the snapshot already exists or is being written, a table is unknown, or a
        DataFrame does not match its schema.
    """
    with SnapshotWriter(root, snapshot_id) as writer:
        writer.write(frames)
        writer.commit("complete")
    assert writer.snapshot_id is not None
    return writer.snapshot_id

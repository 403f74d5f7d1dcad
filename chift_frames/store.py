"""The Parquet dataset: the only module that writes or reads Parquet.

Layout under a root folder::

    root/<table>/snapshot=<snapshot_id>/part-00000.parquet   hive-partitioned, one folder per table
    root/_snapshots/<snapshot_id>.json                        the manifest of each snapshot

A snapshot exists for readers only once its manifest says it is ``complete`` or ``partial``:
files are written under temporary names and renamed into place, and the manifest is written
last, so a crash mid-write never leaves a half snapshot that :func:`load` or :func:`query`
would read. Readers take the file lists from the manifest, never from a directory listing.
pandas, DuckDB and Spark read each table folder as it is (hive partitioning on ``snapshot``).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StoreError
from .frames import Frames
from .schema import TABLES, arrow_to_pandas_dtype, to_pandas

__all__ = [
    "SnapshotWriter",
    "connect",
    "list_snapshots",
    "load",
    "query",
    "save",
    "snapshot_manifest",
]

MANIFESTS = "_snapshots"
_SNAPSHOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
READABLE = ("complete", "partial")
Status = Literal["complete", "partial"]


def new_snapshot_id(now: datetime | None = None) -> str:
    """Return a fresh snapshot id that sorts in time order, such as ``20261127T101500123456Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def _check_snapshot_id(snapshot_id: str) -> str:
    if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise StoreError(
            f"invalid snapshot id {snapshot_id!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return snapshot_id


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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


@dataclass
class SnapshotWriter:
    """Write one snapshot in parts, then make it visible with :meth:`commit`.

    Parameters
    ----------
    root : str or Path
        The dataset folder; created when missing.
    snapshot_id : str, optional
        Id of the snapshot; a fresh time-ordered id when not given. Reopening the id of a
        snapshot that was never committed continues it (its parts are kept).
    info : dict, optional
        Extra facts recorded in the manifest (kept as JSON).
    resume : bool, default False
        Also reopen a snapshot committed as ``partial``, to add the parts still missing. It
        stays readable as it was until the next :meth:`commit`.
    """

    root: Path | str
    snapshot_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    resume: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.snapshot_id = _check_snapshot_id(self.snapshot_id or new_snapshot_id())
        (self.root / MANIFESTS).mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.root / MANIFESTS / f"{self.snapshot_id}.json"
        previous = _read_manifest(self._manifest_path) if self._manifest_path.exists() else None
        if self.resume and previous is None:
            raise StoreError(f"no snapshot {self.snapshot_id!r} in {self.root} to resume")
        if self.resume and previous is not None and previous["status"] == "complete":
            raise StoreError(f"snapshot {self.snapshot_id!r} is complete: nothing to resume")
        if previous is not None and previous["status"] in READABLE and not self.resume:
            raise StoreError(
                f"snapshot {self.snapshot_id!r} already exists in {self.root}; "
                "choose another id or leave it out to get a fresh one"
            )
        if previous is not None:
            self.manifest = previous
            self.manifest["info"] = {**previous.get("info", {}), **self.info}
        else:
            self.manifest = {
                "snapshot_id": self.snapshot_id,
                "status": "writing",
                "started_at": datetime.now(UTC).isoformat(),
                "finished_at": None,
                "files": {},
                "rows": {},
                "info": self.info,
            }
            _write_json_atomic(self._manifest_path, self.manifest)

    @property
    def path(self) -> Path:
        """The dataset folder."""
        assert isinstance(self.root, Path)
        return self.root

    def write(self, tables: Mapping[str, pd.DataFrame | pa.Table]) -> None:
        """Append one part of each table given; DataFrames are checked against the schema."""
        self.attach(self.stage(tables))

    def stage(self, tables: Mapping[str, pd.DataFrame | pa.Table]) -> list[tuple[str, str, int]]:
        """Write one part of each table given, but list none yet: see :meth:`attach`.

        Parts staged and never attached (a group that failed half way) stay invisible.
        """
        staged = []
        for name, data in tables.items():
            table = data if isinstance(data, pa.Table) else to_arrow(name, data)
            if not table.schema.equals(_schema(name), check_metadata=False):
                raise StoreError(f"table {name!r} does not have its pinned schema")
            staged.append((name, self._write_part(name, table), table.num_rows))
        return staged

    def attach(self, staged: Iterable[tuple[str, str, int]]) -> None:
        """List staged parts in the manifest, all at once."""
        for name, path, rows in staged:
            self.manifest["files"].setdefault(name, []).append(path)
            self.manifest["rows"][name] = self.manifest["rows"].get(name, 0) + rows
        _write_json_atomic(self._manifest_path, self.manifest)

    def replace(self, name: str, table: pa.Table) -> None:
        """Make ``table`` the whole content of table ``name`` in this snapshot."""
        # the old parts stay on disk, unlisted, until the manifest no longer names them
        self.manifest["files"][name] = []
        self.manifest["rows"][name] = 0
        self.attach([(name, self._write_part(name, table), table.num_rows)])

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read what this snapshot holds of table ``name`` so far."""
        table = _read_table(self.path, name, self.manifest["files"].get(name, []))
        return table.select(columns) if columns else table

    def _write_part(self, name: str, table: pa.Table) -> str:
        """Write a part file and return its path under the root (not listed)."""
        folder = self.path / name / f"snapshot={self.snapshot_id}"
        folder.mkdir(parents=True, exist_ok=True)
        # part numbers only grow, so a file a reader may hold is never overwritten
        numbers = self.manifest.setdefault("next_part", {})
        part = f"part-{numbers.get(name, 0):05d}.parquet"
        numbers[name] = numbers.get(name, 0) + 1
        tmp = folder / f".{part}.{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / part)
        return f"{name}/snapshot={self.snapshot_id}/{part}"

    def commit(self, status: Status = "complete", **info: Any) -> dict[str, Any]:
        """Make the snapshot visible to readers; every table without a part gets an empty one.

        Returns
        -------
        dict
            The manifest as written.
        """
        if status not in READABLE:
            raise StoreError(f"status must be one of {READABLE}, not {status!r}")
        self.attach(
            (name, self._write_part(name, TABLES[name].schema.empty_table()), 0)
            for name in TABLES
            if not self.manifest["files"].get(name)
        )
        self.manifest["status"] = status
        self.manifest["finished_at"] = datetime.now(UTC).isoformat()
        self.manifest["info"] = {**self.manifest.get("info", {}), **info}
        _write_json_atomic(self._manifest_path, self.manifest)
        return self.manifest


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
        The dataset folder; created when missing.
    snapshot_id : str, optional
        The snapshot's id; by default a fresh, time-ordered one.

    Returns
    -------
    str
        The snapshot id.

    Raises
    ------
    StoreError
        If the snapshot already exists, a table is unknown, or a DataFrame does not match its
        schema.
    """
    writer = SnapshotWriter(Path(root), snapshot_id)
    writer.write(frames)
    writer.commit("complete")
    assert writer.snapshot_id is not None
    return writer.snapshot_id


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read snapshot manifest {path}: {exc}") from exc
    return manifest


def _manifests(root: Path) -> list[dict[str, Any]]:
    """Every readable snapshot's manifest, oldest first."""
    folder = root / MANIFESTS
    if not folder.is_dir():
        raise StoreError(f"{root} is not a chift_frames dataset (no {MANIFESTS}/ folder)")
    found = [_read_manifest(p) for p in folder.glob("*.json")]
    readable = [m for m in found if m.get("status") in READABLE]
    return sorted(readable, key=lambda m: (m["finished_at"], m["snapshot_id"]))


def list_snapshots(root: str | os.PathLike[str]) -> pd.DataFrame:
    """Return one row per readable snapshot at ``root``, oldest first.

    Columns: ``snapshot_id``, ``status`` (complete or partial), ``started_at``,
    ``finished_at``, ``pairs_ok`` and ``pairs_failed`` (for a fetch), ``package_version``,
    one ``*_rows`` column per table, and every fact the writer recorded as JSON (``info_json``).
    """
    facts = ["pairs_ok", "pairs_failed", "package_version"]
    rows = []
    for m in _manifests(Path(root)):
        info = m.get("info", {})
        rows.append(
            {
                "snapshot_id": m["snapshot_id"],
                "status": m["status"],
                "started_at": m["started_at"],
                "finished_at": m["finished_at"],
                **{fact: info.get(fact) for fact in facts},
                **{f"{name}_rows": m["rows"].get(name, 0) for name in TABLES},
                "info_json": json.dumps(info, sort_keys=True),
            }
        )
    columns = [
        "snapshot_id",
        "status",
        "started_at",
        "finished_at",
        *facts,
        *[f"{n}_rows" for n in TABLES],
        "info_json",
    ]
    df = pd.DataFrame(rows, columns=columns)
    for fact in ("pairs_ok", "pairs_failed"):
        df[fact] = df[fact].astype("Int64")
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df


SnapshotSpec = str  # "latest", "all" or a snapshot id


def _select(root: Path, snapshot: SnapshotSpec) -> list[dict[str, Any]]:
    manifests = _manifests(root)
    if not manifests:
        raise StoreError(f"{root} holds no complete snapshot yet")
    if snapshot == "latest":
        return [manifests[-1]]
    if snapshot == "all":
        return manifests
    chosen = [m for m in manifests if m["snapshot_id"] == snapshot]
    if not chosen:
        known = ", ".join(m["snapshot_id"] for m in manifests[-5:])
        raise StoreError(f"no snapshot {snapshot!r} in {root}; latest ones: {known}")
    return chosen


def snapshot_manifest(root: str | os.PathLike[str], snapshot: str = "latest") -> dict[str, Any]:
    """Return the manifest of a readable snapshot: its status, times, files and fetch facts."""
    return _select(Path(root), snapshot)[0]


def _read_table(root: Path, name: str, files: Iterable[str]) -> pa.Table:
    schema = TABLES[name].schema
    parts = [pq.read_table(root / f, schema=schema) for f in files]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def load(
    root: str | os.PathLike[str],
    snapshot: SnapshotSpec = "latest",
    *,
    tables: Iterable[str] | None = None,
) -> Frames:
    """Read a snapshot of the dataset at ``root`` back as :class:`Frames`.

    Parameters
    ----------
    root : str or path
        The dataset folder written by :func:`save` or ``chift-frames fetch``.
    snapshot : str, default "latest"
        ``"latest"`` (the last one finished), a snapshot id, or ``"all"``: every snapshot
        stacked, with a leading ``snapshot_id`` column.
    tables : iterable of str, optional
        Only these tables; by default every table but ``raw_responses``.

    Returns
    -------
    Frames
        DataFrames equal to what was saved, dtypes included.
    """
    base = Path(root)
    chosen = _select(base, snapshot)
    names = (
        list(tables)
        if tables is not None
        else [name for name, table in TABLES.items() if table.loaded_by_default]
    )
    for name in names:
        _schema(name)
    out = {}
    for name in names:
        if snapshot == "all":
            parts = []
            for m in chosen:
                t = _read_table(base, name, m["files"].get(name, []))
                ids = pa.array([m["snapshot_id"]] * t.num_rows, pa.string())
                parts.append(t.add_column(0, pa.field("snapshot_id", pa.string(), False), ids))
            out[name] = to_pandas(pa.concat_tables(parts))
        else:
            out[name] = to_pandas(_read_table(base, name, chosen[0]["files"].get(name, [])))
    return Frames(out)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(root: str | os.PathLike[str], snapshot: SnapshotSpec = "latest") -> Any:
    """Open an in-memory DuckDB connection where every table is a view over the dataset.

    With ``snapshot="all"`` each view stacks every snapshot and has a leading ``snapshot_id``
    column; otherwise it shows one snapshot. The ``snapshots`` view lists the snapshots.
    """
    import duckdb

    base = Path(root).resolve()
    chosen = _select(base, snapshot)
    con = duckdb.connect()
    for name, table in TABLES.items():
        # a snapshot written before a table existed has no file for it: an empty stand-in
        con.register(f"_empty_{name}", table.schema.empty_table())
        selects = []
        for m in chosen:
            files = ", ".join(_sql_str(str(base / f)) for f in m["files"].get(name, []))
            source = f"read_parquet([{files}])" if files else f'"_empty_{name}"'
            prefix = f"{_sql_str(m['snapshot_id'])} AS snapshot_id, " if snapshot == "all" else ""
            selects.append(f"SELECT {prefix}* FROM {source}")
        con.execute(f'CREATE VIEW "{name}" AS ' + " UNION ALL ".join(selects))
    con.register("snapshots", list_snapshots(base))
    return con


def query(
    root: str | os.PathLike[str], sql: str, *, snapshot: SnapshotSpec = "latest"
) -> pd.DataFrame:
    """Run DuckDB SQL over the dataset at ``root`` and return the result as a DataFrame.

    Every table of the contract is a view (see :func:`connect`), so SQL can join them freely.

    Examples
    --------
    A typical question, which consumers left values unmapped::

        query("data/demo", "SELECT consumer_id, count(*) AS unmapped FROM mapping_values "
                           "WHERE NOT is_mapped GROUP BY ALL ORDER BY unmapped DESC")
    """
    import duckdb

    con = connect(root, snapshot)
    try:
        try:
            result = con.sql(sql)
        except duckdb.Error as exc:
            raise StoreError(f"the query failed: {exc}") from None
        if result is None:
            return pd.DataFrame()
        # DuckDB 2 renamed fetch_arrow_table() to to_arrow_table()
        fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
        table = fetch()
        df: pd.DataFrame = table.to_pandas(types_mapper=_query_dtype)
        return df
    finally:
        con.close()


def _query_dtype(type_: pa.DataType) -> object | None:
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(type_):
        return pd.api.types.pandas_dtype(str(type_).replace("int", "Int").replace("uInt", "UInt"))
    return arrow_to_pandas_dtype(type_)

"""Other engines read every table folder as it is, and get exactly what cf.load gives.

The dataset holds a snapshot finished by ``--resume`` (its first ``fetch_errors`` part was
replaced) and a fetch that crashed before its commit. pandas, pyarrow, DuckDB, Polars and
Spark (local mode) each read every table folder with the recipes of docs/readers.md.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from chift_frames import TABLES, fetch_snapshot, list_snapshots, load
from chift_frames.fetch._workers import _Run
from chift_frames.sandbox import Sandbox
from chift_frames.schema import arrow_to_pandas_dtype
from chift_frames.store import snapshot_manifest, snapshot_states
from chift_frames.world import World
from tests.test_fetch import client_for

PARTITIONING = ds.partitioning(pa.schema([("snapshot_id", pa.string())]), flavor="hive")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset with a resumed snapshot, a complete one, and a crashed fetch."""
    root = tmp_path_factory.mktemp("lake")
    world = World(consumers=10, syncs=2, seed=3)
    served = world.consumer_sync
    victim = next(world.pairs())
    world.consumer_sync = lambda c, s: None if (c, s) == victim else served(c, s)  # type: ignore[method-assign]
    with Sandbox(world) as sandbox:
        first = fetch_snapshot(client_for(sandbox), root, progress=False)
        assert first.status == "partial"
        world.consumer_sync = served  # type: ignore[method-assign]
        assert fetch_snapshot(client_for(sandbox), root, resume=first.snapshot_id).complete
        assert fetch_snapshot(client_for(sandbox), root, progress=False).complete
        with pytest.MonkeyPatch.context() as patch:
            calls = {"n": 0}
            real_get = _Run._get

            def dies(self: _Run, consumer_id: str, sync_id: str) -> Any:
                calls["n"] += 1
                if calls["n"] == 8:
                    raise KeyboardInterrupt
                return real_get(self, consumer_id, sync_id)

            patch.setattr(_Run, "_get", dies)
            patch.setattr(_Run, "finish", lambda self, done, interrupted=None: None)
            with pytest.raises(KeyboardInterrupt):
                fetch_snapshot(client_for(sandbox), root, progress=False, batch_size=4)
    assert snapshot_states(root).status.tolist() == ["complete", "complete", "writing"]
    assert len(list_snapshots(root)) == 2
    return root


def expected(root: Path, name: str) -> pa.Table:
    """cf.load(root, "all") of one table, as Arrow; for the executions log, the rows stored.

    The ``executions`` folders hold each execution once, in the folder of the snapshot that
    stored it (or stored it again when its state changed): each snapshot's parts as written.
    """
    if name == "executions":
        frames = []
        for sid in list_snapshots(root).snapshot_id:
            own = [
                root / rel
                for rel in snapshot_manifest(root, sid)["files"][name]
                if rel.startswith(f"{name}/snapshot_id={sid}/")
            ]
            frames += [pd.read_parquet(p).assign(snapshot_id=sid) for p in own]
        df = load(root, "all", tables=[name])[name]
        stored = pd.concat(frames, ignore_index=True)[list(df.columns)].astype(df.dtypes)
        return pa.Table.from_pandas(stored, preserve_index=False)
    df = load(root, "all", tables=[name])[name]
    return pa.Table.from_pandas(df, preserve_index=False)


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples of plain values, in a stable order (types are compared apart)."""
    out = [tuple(_plain(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(out, key=repr)


def _listed(value: Any) -> Any:
    return None if value is None else list(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def test_the_dataset_holds_what_the_readers_must_not_see(lake: Path) -> None:
    resumed = list_snapshots(lake).snapshot_id[0]
    # the first pass's fetch_errors row was replaced at the resume: no trace of it anywhere
    assert load(lake, resumed).fetch_errors.empty
    assert pd.read_parquet(lake / "fetch_errors").empty
    crashed = snapshot_states(lake).snapshot_id.iloc[-1]
    assert not list(lake.glob(f"*/snapshot_id={crashed}"))


@pytest.mark.parametrize("name", list(TABLES))
def test_pandas_pyarrow_and_duckdb_read_every_folder(lake: Path, name: str) -> None:
    import duckdb

    want = expected(lake, name).to_pandas(types_mapper=arrow_to_pandas_dtype)
    want["snapshot_id"] = want["snapshot_id"].astype(pd.StringDtype("pyarrow"))
    columns = list(want.columns)
    # pandas: the files carry pandas' metadata, so the dtypes are load's
    got = pd.read_parquet(lake / name)[columns]
    got["snapshot_id"] = got["snapshot_id"].astype(want["snapshot_id"].dtype)
    for column, dtype in want.dtypes.items():
        if isinstance(dtype, pd.ArrowDtype):  # lists: arrays in object columns (readers.md)
            assert got[column].dtype == object
            got[column] = pd.array(got[column].map(_listed), dtype=dtype)
    pd.testing.assert_frame_equal(
        got.sort_values(columns[:3], kind="stable").reset_index(drop=True),
        want.sort_values(columns[:3], kind="stable").reset_index(drop=True),
    )
    truth = expected(lake, name)
    # pyarrow, with the partition typed explicitly
    table = ds.dataset(lake / name, format="parquet", partitioning=PARTITIONING).to_table()
    table = table.select(columns)
    assert table.schema.field("snapshot_id").type == pa.string()
    assert rows(table) == rows(truth)
    # DuckDB, with hive_types
    con = duckdb.connect()
    quoted = ", ".join(f'"{c}"' for c in columns)
    path = str(lake / name / "*" / "*.parquet").replace("'", "''")
    result = con.sql(
        f"SELECT {quoted} FROM read_parquet('{path}', hive_partitioning = true, "
        "hive_types = {'snapshot_id': VARCHAR})"
    ).to_arrow_table()
    assert rows(result) == rows(truth)


def test_polars_reads_every_folder(lake: Path) -> None:
    import polars as pl

    for name in TABLES:
        truth = pl.from_arrow(expected(lake, name))
        assert isinstance(truth, pl.DataFrame)
        got = (
            pl.scan_parquet(
                lake / name / "**" / "*.parquet",
                hive_partitioning=True,
                hive_schema={"snapshot_id": pl.String},
            )
            .select(truth.columns)
            .collect()
        )
        assert got.schema == truth.schema, name
        assert rows(got.to_arrow()) == rows(truth.to_arrow()), name


SPARK_TYPES = {
    "string": "string",
    "large_string": "string",
    "int64": "bigint",
    "bool": "boolean",
    "double": "double",
    "timestamp[us, tz=UTC]": "timestamp",
    "binary": "binary",
    "large_binary": "binary",
    "list<item: string>": "array<string>",
    "large_list<item: string>": "array<string>",
}


def test_spark_reads_every_folder(lake: Path, spark: Any) -> None:
    from pyspark.sql import functions as F  # noqa: N812

    for name in TABLES:
        truth = expected(lake, name)
        frame = spark.read.parquet(str(lake / name)).select(*truth.column_names)
        spark_types = dict(frame.dtypes)
        assert spark_types == {f.name: SPARK_TYPES[str(f.type)] for f in truth.schema}, name
        # timestamps compared as instants: microseconds since the epoch
        stamps = [c for c, t in frame.dtypes if t == "timestamp"]
        for column in stamps:
            frame = frame.withColumn(column, F.unix_micros(F.col(column)))
        got = [tuple(_plain(v) for v in row) for row in frame.collect()]
        want = truth.to_pylist()
        for row in want:
            for column in stamps:
                if row[column] is not None:
                    delta = row[column] - datetime(1970, 1, 1, tzinfo=row[column].tzinfo)
                    row[column] = delta // pd.Timedelta(microseconds=1)
        assert sorted(got, key=repr) == sorted(
            (tuple(_plain(v) for v in row.values()) for row in want), key=repr
        ), name


def test_the_executions_log_holds_fewer_rows_than_the_snapshots_show(lake: Path) -> None:
    shown = load(lake, "all", tables=["executions"]).executions
    stored = pd.read_parquet(lake / "executions")
    assert len(stored) < len(shown)  # the second snapshot lists most of the first's parts
    assert set(zip(stored.sync_id, stored.execution_id, strict=True)) == set(
        zip(shown.sync_id, shown.execution_id, strict=True)
    )


def test_the_executions_recipe_gives_each_snapshots_executions(lake: Path) -> None:
    block = next(b for b in PYTHON_BLOCKS if "executions_log" in b and "spark" not in b)
    for sid in list_snapshots(lake).snapshot_id:
        names: dict[str, Any] = {"sid": sid}
        code = block.replace('"data/demo', f'"{lake}').replace("latest = ", "latest = sid or ")
        exec(compile(code, "docs/readers.md executions", "exec"), names)
        got = names["executions"][TABLES["executions"].columns]
        want = load(lake, sid, tables=["executions"]).executions
        keys = ["sync_id", "execution_id"]
        pd.testing.assert_frame_equal(
            got.sort_values(keys).reset_index(drop=True).astype(want.dtypes),
            want.sort_values(keys).reset_index(drop=True),
        )


def test_the_snapshots_table_lists_the_committed_snapshots(lake: Path) -> None:
    import json

    table = pd.read_parquet(lake / "snapshots").sort_values("finished_at", ignore_index=True)
    listed = list_snapshots(lake)
    want = []
    for sid in listed.snapshot_id:
        info = snapshot_manifest(lake, sid)["info"]
        row = listed[listed.snapshot_id == sid].iloc[0]
        want.append(
            [
                sid,
                row.status,
                row.started_at,
                row.finished_at,
                info["pairs_ok"],
                info["pairs_failed"],
                info["package_version"],
                json.dumps(info["filters"], sort_keys=True),
                json.dumps(info, sort_keys=True),
            ]
        )
    assert table.astype(object).values.tolist() == want
    assert [r[1] for r in want] == ["complete", "complete"]


DOC = Path(__file__).resolve().parent.parent / "docs" / "readers.md"
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
DUCKDB_BLOCKS = [
    block
    for block in re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    if "read_parquet(" in block
]


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_the_python_recipes_of_readers_md_run(
    lake: Path, index: int, request: pytest.FixtureRequest
) -> None:
    code = PYTHON_BLOCKS[index].replace('"data/demo', f'"{lake}')
    names: dict[str, Any] = {}
    if "spark." in code:
        names["spark"] = request.getfixturevalue("spark")
    exec(compile(code, f"docs/readers.md python block {index}", "exec"), names)


@pytest.mark.parametrize("index", range(len(DUCKDB_BLOCKS)))
def test_the_duckdb_recipes_of_readers_md_run(lake: Path, index: int) -> None:
    import duckdb

    sql = DUCKDB_BLOCKS[index].replace("'data/demo", f"'{lake}")
    assert duckdb.connect().sql(sql).fetchall()


ONE_SNAPSHOT = next(b for b in DUCKDB_BLOCKS if "CREATE OR REPLACE TABLE chosen" in b)


@pytest.mark.parametrize("name", ["consumer_health", "onboarding_funnel", "flow_adoption"])
def test_the_one_snapshot_recipe_gives_the_report_of_the_latest_snapshot(
    lake: Path, name: str
) -> None:
    """Over the two snapshots of the lake, the recipe's views give the latest one's report."""
    import duckdb

    from chift_frames.reports import REPORTS, report_script
    from chift_frames.reports._script import report_tables

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    head, view = ONE_SNAPSHOT.replace("'data/demo", f"'{lake}").split("CREATE OR REPLACE VIEW")
    con.execute(head)
    for table in report_tables(name):
        con.execute("CREATE OR REPLACE VIEW" + view.replace("flows", table).split(";")[0])
    got = con.sql(report_script(name)).df()
    want = REPORTS[name](lake)
    assert len(list_snapshots(lake)) == 2 and len(want) > 0
    assert got.astype(object).where(got.notna(), None).values.tolist() == (
        want.astype(object).where(want.notna(), None).values.tolist()
    )


def test_the_spark_recipe_and_dialect_give_the_report_of_the_latest_snapshot(
    lake: Path, spark: Any
) -> None:
    from chift_frames.reports import REPORTS, report_script
    from chift_frames.reports._dialects import to_dialect

    block = next(b for b in PYTHON_BLOCKS if "createOrReplaceTempView(name)" in b)
    exec(
        compile(
            block.replace('"data/demo', f'"{lake}').replace('f"data/demo', f'f"{lake}'),
            "readers.md",
            "exec",
        ),
        {"spark": spark},
    )
    got = spark.sql(to_dialect(report_script("consumer_health"), "spark").rstrip().rstrip(";"))
    want = REPORTS["consumer_health"](lake)
    assert [r.consumer_id for r in got.collect()] == want.consumer_id.tolist()
    assert [r.state for r in got.collect()] == want.state.astype(object).where(
        want.state.notna(), None
    ).tolist()

"""save, load and query: snapshots, honest folders, commits, locks, checked manifests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chift_frames import (
    SnapshotWriter,
    StoreError,
    flatten,
    list_snapshots,
    load,
    query,
    save,
)
from chift_frames.cli import main
from chift_frames.store import clean, connect, prune, snapshot_states, to_arrow
from chift_frames.store.filesystems import Root, display_root, open_root
from chift_frames.store.lifecycle import plan_prune

C1, C2 = "consumer-1", "consumer-2"


@pytest.fixture
def frames(active_pos: dict[str, Any], opened_only: dict[str, Any]):
    return flatten([(C1, active_pos), (C2, opened_only)], fetched_at="2026-11-27T10:00:00Z")


def assert_frames_equal(a, b) -> None:
    assert set(a) <= set(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def files_under(root: Path, folder: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / folder).rglob("*") if p.is_file())


def folder_rows(root: Path, table: str) -> pd.DataFrame:
    """A table folder as pandas reads it, sorted like load("all") for comparison."""
    df = pd.read_parquet(root / table)
    df["snapshot_id"] = df["snapshot_id"].astype(pd.StringDtype("pyarrow"))
    return df


def test_save_writes_a_hive_partitioned_dataset(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path)
    for name in frames:
        parts = list((tmp_path / name / f"snapshot_id={sid}").iterdir())
        assert len(parts) == 1 and parts[0].name.startswith("part-00000-"), name
    # pandas reads a table folder as it is: the snapshot_id column, and load's dtypes
    direct = pd.read_parquet(tmp_path / "mapping_values")
    assert direct["snapshot_id"].astype(str).unique().tolist() == [sid]
    expected = load(tmp_path, "all").mapping_values
    pd.testing.assert_frame_equal(
        direct.drop(columns="snapshot_id"), expected.drop(columns="snapshot_id")
    )
    # nothing but committed parts and the manifest, no staging left behind
    assert not (tmp_path / "_staging").exists() or not any((tmp_path / "_staging").iterdir())
    assert not any((tmp_path / "_locks").iterdir())
    # the snapshots table
    snaps = pd.read_parquet(tmp_path / "snapshots")
    assert snaps[["snapshot_id", "status"]].values.tolist() == [[sid, "complete"]]


def test_load_gives_back_what_was_saved(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path)
    assert_frames_equal(frames, load(tmp_path))
    assert_frames_equal(frames, load(tmp_path, sid))
    only = load(tmp_path, tables=["flows"])
    assert list(only) == ["flows"]


def test_each_save_is_a_new_snapshot_and_latest_is_the_last(
    tmp_path: Path, frames, active_pos
) -> None:
    first = save(frames, tmp_path, snapshot_id="week-1")
    smaller = flatten([(C1, active_pos)])
    second = save(smaller, tmp_path, snapshot_id="week-2")
    assert_frames_equal(smaller, load(tmp_path))
    assert_frames_equal(frames, load(tmp_path, first))
    both = load(tmp_path, "all")
    assert both.consumer_syncs.snapshot_id.tolist() == [first, first, second]
    assert list(both.consumer_syncs.columns[:2]) == ["snapshot_id", "consumer_id"]
    pd.testing.assert_frame_equal(
        both.mapping_values[both.mapping_values.snapshot_id == second]
        .drop(columns="snapshot_id")
        .reset_index(drop=True),
        smaller.mapping_values,
    )
    assert list_snapshots(tmp_path).snapshot_id.tolist() == [first, second]


def test_an_uncommitted_snapshot_is_invisible_to_every_reader(tmp_path: Path, frames) -> None:
    good = save(frames, tmp_path)
    crashed = SnapshotWriter(tmp_path, "crashed")
    crashed.write({"consumer_syncs": frames.consumer_syncs})
    crashed.close()  # ... as if the process died here
    # its parts are staged outside the table folders
    assert [p.name for p in (tmp_path / "consumer_syncs").iterdir()] == [f"snapshot_id={good}"]
    assert load(tmp_path, "all").consumer_syncs.snapshot_id.unique().tolist() == [good]
    assert query(tmp_path, "SELECT count(*) AS n FROM consumer_syncs", snapshot="all").n[0] == 2
    assert folder_rows(tmp_path, "consumer_syncs").snapshot_id.unique().tolist() == [good]
    with pytest.raises(StoreError, match="no snapshot 'crashed'"):
        load(tmp_path, "crashed")
    states = snapshot_states(tmp_path)
    assert states[["snapshot_id", "status", "writer", "next_step"]].values.tolist() == [
        [good, "complete", "", ""],
        [
            "crashed",
            "writing",
            "",
            f"chift-frames fetch --out {tmp_path} --resume crashed  "
            f"(or drop it: chift-frames snapshots {tmp_path} --clean)",
        ],
    ]
    # resume continues it, with the parts it had
    resumed = SnapshotWriter(tmp_path, "crashed", resume=True)
    resumed.write({"consumer_syncs": frames.consumer_syncs})
    resumed.commit("partial")
    assert len(load(tmp_path, "crashed").consumer_syncs) == 4
    assert list_snapshots(tmp_path).status.tolist() == ["complete", "partial"]


def test_save_never_appends_to_crashed_leftovers(tmp_path: Path, frames) -> None:
    crashed = SnapshotWriter(tmp_path, "daily")
    crashed.write(frames)
    crashed.close()
    save(frames, tmp_path, snapshot_id="daily")  # cleans the leftovers, then writes
    assert_frames_equal(frames, load(tmp_path, "daily"))
    with pytest.raises(StoreError, match="already exists"):
        save(frames, tmp_path, snapshot_id="daily")


def test_a_resume_changes_nothing_readers_see_until_its_commit(
    tmp_path: Path, frames, active_pos
) -> None:
    writer = SnapshotWriter(tmp_path, "nightly")
    writer.write({"consumer_syncs": frames.consumer_syncs[:1], "fetch_errors": _errors(3)})
    writer.commit("partial")
    before = load(tmp_path, "all")
    folder_before = {t: folder_rows(tmp_path, t) for t in ("consumer_syncs", "fetch_errors")}

    resume = SnapshotWriter(tmp_path, "nightly", resume=True)
    resume.write({"consumer_syncs": frames.consumer_syncs[1:]})
    resume.replace("fetch_errors", _errors(0, arrow=True))
    # ... and it crashes before its commit: nobody sees a difference
    resume.close()
    assert_frames_equal(before, load(tmp_path, "all"))
    for table, df in folder_before.items():
        pd.testing.assert_frame_equal(folder_rows(tmp_path, table), df)

    again = SnapshotWriter(tmp_path, "nightly", resume=True)  # picks the resume up
    again.replace("fetch_errors", _errors(0, arrow=True))
    again.commit("complete")
    after = load(tmp_path, "nightly")
    pd.testing.assert_frame_equal(after.consumer_syncs, frames.consumer_syncs)
    assert after.fetch_errors.empty
    # the replaced part is gone from the folder: every reader agrees with load
    assert len(folder_rows(tmp_path, "fetch_errors")) == 0
    assert len(folder_rows(tmp_path, "consumer_syncs")) == 2
    manifest = json.loads((tmp_path / "_snapshots" / "nightly.json").read_text())
    listed = sorted(p for paths in manifest["files"].values() for p in paths)
    on_disk = sorted(
        f for t in manifest["files"] for f in files_under(tmp_path, f"{t}/snapshot_id=nightly")
    )
    assert on_disk == listed


def _errors(n: int, arrow: bool = False):
    from chift_frames.schema import TABLES
    from chift_frames.store import to_arrow

    if n == 0:
        empty = TABLES["fetch_errors"].schema.empty_table()
        return empty if arrow else empty.to_pandas()
    df = pd.DataFrame(
        {
            "consumer_id": [f"c{i}" for i in range(n)],
            "sync_id": ["s"] * n,
            "endpoint": ["GET /x"] * n,
            "http_status": [500] * n,
            "error_code": [None] * n,
            "message": ["boom"] * n,
            "attempts": [3] * n,
            "occurred_at": [datetime(2026, 11, 27, tzinfo=UTC)] * n,
        }
    )[TABLES["fetch_errors"].columns]
    return to_arrow("fetch_errors", df) if arrow else df


def test_a_crash_during_commit_is_finished_by_the_next_writer(
    tmp_path: Path, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(frames, tmp_path, snapshot_id="before")
    writer = SnapshotWriter(tmp_path, "torn")
    writer.write(frames)
    real_write = Root.write

    def dies_at_the_manifest(self: Root, rel: str, data: bytes, sync: bool = True) -> None:
        if rel == "_snapshots/torn.json":
            raise StoreError("the disk went away")
        real_write(self, rel, data, sync=sync)

    monkeypatch.setattr(Root, "write", dies_at_the_manifest)
    monkeypatch.setattr(
        Root, "create", lambda self, rel, data: dies_at_the_manifest(self, rel, data)
    )
    with pytest.raises(StoreError, match="the disk went away"):
        writer.commit()
    writer.close()
    monkeypatch.undo()
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["before"]
    # the next writer of the dataset finishes that commit before anything else
    save(frames, tmp_path, snapshot_id="after")
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["before", "torn", "after"]
    assert_frames_equal(frames, load(tmp_path, "torn"))
    pd.testing.assert_frame_equal(
        folder_rows(tmp_path, "mapping_values").drop(columns="snapshot_id"),
        load(tmp_path, "all").mapping_values.drop(columns="snapshot_id"),
    )


def test_one_writer_per_snapshot(tmp_path: Path, frames) -> None:
    first = SnapshotWriter(tmp_path, "busy")
    with pytest.raises(
        StoreError, match=r"'busy' .* being written by another writer \(write by pid"
    ):
        SnapshotWriter(tmp_path, "busy")
    with pytest.raises(StoreError, match="being written by another writer"):
        save(frames, tmp_path, snapshot_id="busy")
    first.write({"consumer_syncs": frames.consumer_syncs})
    first.commit("partial")
    # two --resume runs of one partial snapshot (issue 9: 730 rows for 480 pairs): one waits
    resume = SnapshotWriter(tmp_path, "busy", resume=True)
    with pytest.raises(StoreError, match="being written by another writer"):
        SnapshotWriter(tmp_path, "busy", resume=True)
    resume.write({name: df for name, df in frames.items() if name != "consumer_syncs"})
    resume.commit()
    assert_frames_equal(frames, load(tmp_path, "busy"))


def _lock_file(root: Path, sid: str, **fields: Any) -> None:
    now = datetime.now(UTC)
    content = {
        "snapshot_id": sid,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": now.isoformat(),
        "heartbeat_at": now.isoformat(),
        "token": "someone-else",
        **fields,
    }
    (root / "_locks").mkdir(parents=True, exist_ok=True)
    (root / "_locks" / f"{sid}.json").write_text(json.dumps(content))


def test_stale_locks_are_taken_over_and_live_ones_are_not(tmp_path: Path, frames) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _lock_file(tmp_path, "a-dead-pid", pid=int(dead.stdout))
    save(frames, tmp_path, snapshot_id="a-dead-pid")
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    _lock_file(tmp_path, "b-silent", host="elsewhere", pid=1, heartbeat_at=old)
    save(frames, tmp_path, snapshot_id="b-silent")
    _lock_file(tmp_path, "c-live", host="elsewhere", pid=1)
    with pytest.raises(StoreError, match="pid 1 on host elsewhere"):
        save(frames, tmp_path, snapshot_id="c-live")
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["a-dead-pid", "b-silent"]


WRITER = """
import sys, time
from chift_frames import flatten, save, SnapshotWriter, StoreError
from tests.conftest import read_payload
frames = flatten([(f"c{i}", read_payload("active_pos")) for i in range(int(sys.argv[2]))])
while time.time() < float(sys.argv[3]):  # start together
    time.sleep(0.001)
try:
    save(frames, sys.argv[1], snapshot_id="shared")
    print("saved")
except StoreError as exc:
    print("refused:", exc)
"""

# these tests read partial snapshots on purpose: load's PartialSnapshotWarning is expected
# (tests/test_cli.py checks that it is given)
pytestmark = pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")


def test_two_processes_saving_one_id_never_mix(tmp_path: Path) -> None:
    import time

    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(n), start],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        for n in (3, 5)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(o.split(":")[0] for o in outs) == ["refused", "saved"], outs
    winner = 3 if outs[0] == "saved" else 5
    assert len(load(tmp_path, "shared").consumer_syncs) == winner
    refused = next(o for o in outs if o.startswith("refused"))
    assert "being written by another writer" in refused or "already exists" in refused


def test_manifests_are_checked_before_anything_trusts_them(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path, snapshot_id="good")
    path = tmp_path / "_snapshots" / f"{sid}.json"
    pristine = json.loads(path.read_text())
    outside = tmp_path.parent / "secret.parquet"
    tampered = {
        "absolute": {"flows": [str(outside)]},
        "escape": {"flows": ["flows/snapshot_id=good/../../../secret.parquet"]},
        "other": {"flows": ["flows/snapshot_id=other/part-00000-abcdef12.parquet"]},
    }
    for why, files in tampered.items():
        path.write_text(json.dumps({**pristine, "files": {**pristine["files"], **files}}))
        # the damaged manifest is skipped: no reader opens what it lists
        with pytest.raises(StoreError, match="holds no complete snapshot"):
            load(tmp_path)
        for read in (
            lambda: load(tmp_path, "good"),
            lambda: query(tmp_path, "SELECT 1 AS x", snapshot="good"),
        ):
            with pytest.raises(StoreError, match=r"can't be read: .* is not a part of table flows"):
                read()
        assert why
    # an id that would name a folder outside the dataset (report writes DIR/reports/<id>)
    path.write_text(json.dumps({**pristine, "snapshot_id": "../../escape"}))
    with pytest.raises(StoreError, match="invalid snapshot id"):
        load(tmp_path, "good")
    assert main(["report", str(tmp_path)]) == 1
    assert not (tmp_path.parent / "escape").exists()
    path.write_text(json.dumps({**pristine, "snapshot_id": "bad"}))
    with pytest.raises(StoreError, match=r"names snapshot 'bad' but its file is good\.json"):
        load(tmp_path, "good")


def test_a_tampered_commit_plan_deletes_nothing_outside_its_snapshot(
    tmp_path: Path, frames
) -> None:
    root = tmp_path / "lake"
    save(frames, root, snapshot_id="other")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    other = load(root, "other")
    writer = SnapshotWriter(root, "mine")
    writer.write(frames)
    writer.manifest["removed"] += [
        "../victim.txt",
        str(victim),
        *json.loads((root / "_snapshots" / "other.json").read_text())["files"]["flows"],
    ]
    writer.commit()
    assert victim.read_text() == "keep me"
    assert_frames_equal(other, load(root, "other"))


def test_a_root_with_glob_characters_reads_its_own_folder(
    tmp_path: Path, frames, active_pos
) -> None:
    save(frames, tmp_path / "gx1")
    save(flatten([(C1, active_pos)]), tmp_path / "gx[12]")
    assert query(tmp_path / "gx[12]", "SELECT count(*) AS n FROM consumer_syncs").n[0] == 1
    assert len(load(tmp_path / "gx[12]").consumer_syncs) == 1


def test_load_pushes_columns_and_filters_down(tmp_path: Path, frames) -> None:
    save(frames, tmp_path, snapshot_id="one")
    save(frames, tmp_path, snapshot_id="two")
    some = load(
        tmp_path,
        tables=["mapping_values"],
        columns=["consumer_id", "source_id", "is_mapped"],
        filters=[("consumer_id", "in", [C1]), ("is_mapped", "==", False)],
    )
    expected = frames.mapping_values
    expected = expected[(expected.consumer_id == C1) & ~expected.is_mapped.astype(bool)]
    pd.testing.assert_frame_equal(
        some.mapping_values,
        expected[["consumer_id", "source_id", "is_mapped"]].reset_index(drop=True),
    )
    every = load(
        tmp_path,
        "all",
        tables=["consumer_syncs"],
        columns=["consumer_id"],
        filters=[("snapshot_id", "==", "two")],
    )
    assert every.consumer_syncs.values.tolist() == [["two", C1], ["two", C2]]
    with pytest.raises(StoreError, match="table 'consumers' has no column 'sync_id'"):
        load(tmp_path, tables=["consumers"], filters=[("sync_id", "==", "x")])
    with pytest.raises(StoreError, match="filter 'nope' is not a"):
        load(tmp_path, filters=["nope"])


def test_query_joins_the_views(tmp_path: Path, frames) -> None:
    save(frames, tmp_path)
    result = query(
        tmp_path,
        """
        SELECT c.consumer_id, m.name, count(*) FILTER (WHERE NOT v.is_mapped) AS unmapped
        FROM consumer_syncs c
        JOIN mappings m USING (consumer_id, sync_id)
        JOIN mapping_values v USING (consumer_id, sync_id, mapping_index)
        GROUP BY ALL ORDER BY m.name
    """,
    )
    assert result.astype(object).values.tolist() == [
        [C1, "Payment methods", 1],
        [C1, "Tax rates", 1],
    ]
    assert str(result.dtypes["consumer_id"]) == "string"
    assert str(result.dtypes["unmapped"]) == "Int64"


def test_query_runs_with_the_analysis_settings(
    tmp_path: Path, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """query spills where the reports do, under the same memory limit, in UTC, rows in order."""
    import duckdb

    save(frames, tmp_path)
    settings = (
        "SELECT current_setting('memory_limit') AS memory_limit, "
        "current_setting('temp_directory') AS temp_directory, "
        "current_setting('TimeZone') AS time_zone, "
        "current_setting('preserve_insertion_order') AS keeps_order"
    )
    spill = tmp_path / "spill"
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "123MB")
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", str(spill))
    with duckdb.connect() as con:
        con.execute("SET memory_limit = '123MB'")
        expected_limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute("SET memory_limit = '321MB'")
        other_limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert query(tmp_path, settings).astype(object).values.tolist() == [
        [expected_limit, str(spill), "UTC", True]
    ]
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "321MB")
    assert query(tmp_path, settings)["memory_limit"].tolist() == [other_limit]
    monkeypatch.setenv("CHIFT_FRAMES_MEMORY_LIMIT", "lots")
    with pytest.raises(StoreError, match="cannot apply the DuckDB settings"):
        query(tmp_path, "SELECT 1")


def test_query_errors_are_store_errors_in_one_line(tmp_path: Path, frames, capsys) -> None:
    from chift_frames.schema import TABLES

    save(frames, tmp_path)
    with pytest.raises(StoreError, match=r"^the query failed: Conversion Error: .*") as info:
        query(tmp_path, "SELECT CAST(name AS INT) FROM flows")
    assert "\n" not in str(info.value)
    assert main(["query", str(tmp_path), "SELECT CAST(name AS INT) FROM flows"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chift-frames: error: the query failed")
    con = connect(tmp_path)
    assert sorted(r[0] for r in con.sql("SHOW TABLES").fetchall()) == sorted([*TABLES, "snapshots"])


def test_connect_can_make_views_of_some_tables_only(tmp_path: Path, frames) -> None:
    save(frames, tmp_path)
    con = connect(tmp_path, tables=["mappings", "consumer_syncs"])
    views = sorted(r[0] for r in con.sql("SHOW TABLES").fetchall())
    assert views == ["consumer_syncs", "mappings", "snapshots"]
    assert con.sql("SELECT count(*) FROM mappings").fetchall() == [(len(frames.mappings),)]
    with pytest.raises(ValueError, match="no table 'mapping'; tables: consumer_syncs, "):
        connect(tmp_path, tables=["mapping"])


def test_errors_say_what_to_do(tmp_path: Path, frames) -> None:
    with pytest.raises(StoreError, match="not a chift_frames dataset"):
        load(tmp_path)
    save(frames, tmp_path, snapshot_id="one")
    with pytest.raises(StoreError, match="already exists"):
        save(frames, tmp_path, snapshot_id="one")
    for bad in ("../escape", "20261127", "2026-11-27"):  # a number or a date: no letter
        with pytest.raises(StoreError, match="invalid snapshot id"):
            save(frames, tmp_path, snapshot_id=bad)
    with pytest.raises(StoreError, match="unknown table 'flow'"):
        save({"flow": frames.flows}, tmp_path)
    with pytest.raises(StoreError, match="does not match its schema"):
        save({"flows": frames.flows.drop(columns="name")}, tmp_path)
    with pytest.raises(StoreError, match="cannot be stored"):
        save({"flows": frames.flows.assign(datastore_count="many")}, tmp_path)
    with pytest.raises(StoreError, match="unknown table"):
        load(tmp_path, tables=["nope"])
    with pytest.raises(StoreError, match="must not carry credentials"):
        load("s3://AKIAXXXX:hunter2@bucket/data")
    with pytest.raises(StoreError, match="unknown scheme 'ftp'"):
        load("ftp://host/data")


def test_a_file_url_is_the_folder(tmp_path: Path, frames) -> None:
    sid = save(frames, f"file://{tmp_path}")
    assert_frames_equal(frames, load(tmp_path, sid))
    assert query(f"file://{tmp_path}", "SELECT count(*) AS n FROM flows").n[0] == len(frames.flows)


def test_what_is_written_under_a_root_keeps_its_query(tmp_path: Path) -> None:
    from chift_frames.store import url_under

    assert url_under(tmp_path, "reports", "s1") == str(tmp_path / "reports" / "s1")
    assert (
        url_under("s3://b/lake/?endpoint_override=h:9000&scheme=http", "reports", "s1")
        == "s3://b/lake/reports/s1?endpoint_override=h:9000&scheme=http"
    )
    assert url_under("abfs://c@a.dfs.core.windows.net", "r") == "abfs://c@a.dfs.core.windows.net/r"


def test_a_url_that_went_through_pathlib_still_opens(tmp_path: Path) -> None:
    assert display_root(Path("s3://bucket/lake")) == "s3://bucket/lake"
    assert open_root(Path(f"file://{tmp_path}")).base == str(tmp_path)
    assert display_root("s3://bucket/lake?region=eu-west-1") == "s3://bucket/lake"


def test_a_snapshot_without_a_table_still_queries(tmp_path: Path, frames) -> None:
    sid = save(frames, tmp_path)
    manifest_path = tmp_path / "_snapshots" / f"{sid}.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"]["fetch_errors"]  # as written before that table existed
    manifest_path.write_text(json.dumps(manifest))
    assert query(tmp_path, "SELECT count(*) AS n FROM fetch_errors").n[0] == 0
    assert load(tmp_path).fetch_errors.empty


def test_a_dataset_written_by_version_0_1_still_reads(tmp_path: Path, frames) -> None:
    from chift_frames.schema import TABLES

    files = {}
    for name in TABLES:
        folder = tmp_path / name / "snapshot=20261101T000000Z"
        folder.mkdir(parents=True)
        arrow = (
            to_arrow(name, frames[name]) if name in frames else TABLES[name].schema.empty_table()
        )
        pq.write_table(arrow, folder / "part-00000.parquet")
        files[name] = [f"{name}/snapshot=20261101T000000Z/part-00000.parquet"]
    (tmp_path / "_snapshots").mkdir()
    (tmp_path / "_snapshots" / "20261101T000000Z.json").write_text(
        json.dumps(
            {
                "snapshot_id": "20261101T000000Z",
                "status": "partial",
                "started_at": "2026-11-01T00:00:00+00:00",
                "finished_at": "2026-11-01T00:01:00+00:00",
                "files": files,
                "rows": {},
                "info": {},
            }
        )
    )
    assert_frames_equal(frames, load(tmp_path))
    assert load(tmp_path, "all").flows.snapshot_id.unique().tolist() == ["20261101T000000Z"]
    with pytest.raises(StoreError, match=r"written by chift_frames 0\.1.* --migrate first"):
        SnapshotWriter(tmp_path, "20261101T000000Z", resume=True)
    # --migrate moves it to the current layout: every folder reader sees snapshot_id
    assert main(["snapshots", str(tmp_path), "--migrate"]) == 0
    assert_frames_equal(frames, load(tmp_path))
    assert [p.name for p in (tmp_path / "flows").iterdir()] == ["snapshot_id=20261101T000000Z"]
    direct = pd.read_parquet(tmp_path / "mapping_values")
    assert direct.snapshot_id.astype(str).unique().tolist() == ["20261101T000000Z"]
    assert len(direct) == len(frames.mapping_values)
    assert pd.read_parquet(tmp_path / "snapshots").status.tolist() == ["partial"]
    assert main(["snapshots", str(tmp_path), "--migrate"]) == 0  # nothing left to move


def test_prune_removes_whole_snapshots(tmp_path: Path, frames, capsys) -> None:
    for sid in ("s1", "s2", "s3", "s4"):
        save(frames, tmp_path, snapshot_id=sid)
    assert main(["prune", str(tmp_path), "--keep-last", "2", "--dry-run"]) == 0
    assert "Would remove 2 snapshots" in capsys.readouterr().out
    assert len(list_snapshots(tmp_path)) == 4
    assert prune(tmp_path, keep_last=2) == ["s1", "s2"]
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["s3", "s4"]
    for name in frames:
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
            "snapshot_id=s3",
            "snapshot_id=s4",
        ]
    assert sorted(pd.read_parquet(tmp_path / "snapshots").snapshot_id) == ["s3", "s4"]
    with pytest.raises(StoreError, match="must keep at least one"):
        prune(tmp_path, keep_last=0)


def test_a_crashed_prune_is_finished_by_clean(
    tmp_path: Path, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames.store import lifecycle

    save(frames, tmp_path, snapshot_id="old")
    save(frames, tmp_path, snapshot_id="new")
    real = Root.delete_dir

    def dies(self: Root, rel: str) -> None:
        if rel.startswith("flows/"):
            raise OSError("killed")
        real(self, rel)

    monkeypatch.setattr(Root, "delete_dir", dies)
    with pytest.raises(OSError, match="killed"):
        lifecycle.prune(tmp_path, keep_last=1)
    monkeypatch.undo()
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["new"]  # gone for readers
    assert clean(tmp_path) == ["old"]
    assert [p.name for p in (tmp_path / "flows").iterdir()] == ["snapshot_id=new"]


def test_plan_prune_keeps_the_latest_of_each_period() -> None:
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    manifests = [
        {"snapshot_id": f"d{i:03d}", "finished_at": (start + timedelta(days=i)).isoformat()}
        for i in range(60)
    ]
    keep, remove = plan_prune(manifests, keep_last=2, keep_daily=3, keep_weekly=2, keep_monthly=2)
    # d059 is Sunday 1 March: last 59, 58; daily 57; weekly 52 (Sunday 22 February)
    assert keep == ["d052", "d057", "d058", "d059"]
    assert len(remove) == 56
    keep, _ = plan_prune(manifests, keep_last=1, keep_monthly=3)
    assert keep == ["d030", "d058", "d059"]  # the last of January, February, March


def test_snapshots_command_lists_and_cleans_abandoned_ones(tmp_path: Path, frames, capsys) -> None:
    save(frames, tmp_path, snapshot_id="kept")
    crashed = SnapshotWriter(tmp_path, "abandoned")
    crashed.write(frames)
    crashed.close()
    assert main(["snapshots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"chift-frames fetch --out {tmp_path} --resume abandoned" in out
    assert main(["snapshots", str(tmp_path), "--clean"]) == 0
    assert "Cleaned what crashed writers left of 1 snapshot: abandoned" in capsys.readouterr().out
    assert snapshot_states(tmp_path).snapshot_id.tolist() == ["kept"]
    assert not (tmp_path / "_staging" / "abandoned").exists()

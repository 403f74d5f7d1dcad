"""Compaction: many small parts of a snapshot's table written again as a few larger ones.

Nightly fetches in small batches (as an older version's fetch, or a fetch resumed many
times, leaves them) give each table many parts; ``snapshots --compact`` merges them. Every
reader must show the same rows in the same order after it, the executions log must keep
the parts other snapshots list, and a crash at any step must leave a snapshot that reads
as it did, which the next run finishes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chift_frames import diff, load, query
from chift_frames.cli import main
from chift_frames.export import compute_reports
from chift_frames.reports import REPORTS
from chift_frames.schema import TABLES
from chift_frames.store import compact, list_snapshots, snapshot_manifest
from chift_frames.store import compaction as compaction_module
from chift_frames.store.compaction import compaction_groups
from chift_frames.store.execlog import LOG, is_log
from tests.test_execution_log import fetch_night


def _every_table(root: Path) -> dict[str, dict[str, pd.DataFrame]]:
    return {
        sid: dict(load(root, sid, tables=list(TABLES)).items())
        for sid in list_snapshots(root).snapshot_id
    }


@pytest.fixture(scope="module")
def small_parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three nightly fetches of 40 consumers, 5 pairs a batch: many parts per table."""
    root = tmp_path_factory.mktemp("small-parts")
    for night in range(3):
        fetch_night(root, night, None, batch_size=5, concurrency=2)
    yield root


@pytest.fixture
def dataset(small_parts: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(small_parts, root)
    return root


def _parts(root: Path, sid: str) -> dict[str, list[str]]:
    files: dict[str, list[str]] = snapshot_manifest(root, sid)["files"]
    return files


def test_compact_merges_small_parts_and_every_reader_sees_the_same(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = list(list_snapshots(dataset).snapshot_id)
    before_parts = {sid: _parts(dataset, sid) for sid in ids}
    assert all(len(before_parts[sid]["mapping_values"]) > 5 for sid in ids)
    tables = _every_table(dataset)
    reports = compute_reports(dataset)
    changes = diff(dataset).value_changes
    runs = query(
        dataset,
        "SELECT * FROM executions ORDER BY snapshot_id, sync_id, execution_id",
        snapshot="all",
    )

    assert main(["snapshots", str(dataset), "--compact"]) == 0
    assert "Compacted 3 snapshots" in capsys.readouterr().out

    for sid in ids:
        after = _parts(dataset, sid)
        for table, rels in after.items():
            if table == LOG:  # a log snapshot's executions parts are the log's: untouched
                assert rels == before_parts[sid][table]
            else:
                assert len(rels) == 1, table
            folder = dataset / table / f"snapshot_id={sid}"
            own = {rel for rel in rels if rel.startswith(f"{table}/snapshot_id={sid}/")}
            assert {f"{table}/snapshot_id={sid}/{f.name}" for f in folder.iterdir()} == own
        gone = [
            rel
            for table, rels in before_parts[sid].items()
            if table != LOG and len(rels) > 1  # a part alone is kept as it is
            for rel in rels
        ]
        assert gone
        assert not any((dataset / rel).exists() for rel in gone)
    got = _every_table(dataset)
    for sid in ids:  # every table of every snapshot: the same rows, in the same order
        for name, frame in tables[sid].items():
            pd.testing.assert_frame_equal(got[sid][name], frame, obj=f"{sid} {name}")
    computed = compute_reports(dataset)
    for name in REPORTS:
        pd.testing.assert_frame_equal(computed[name], reports[name], obj=name)
    pd.testing.assert_frame_equal(diff(dataset).value_changes, changes)
    pd.testing.assert_frame_equal(
        query(
            dataset,
            "SELECT * FROM executions ORDER BY snapshot_id, sync_id, execution_id",
            snapshot="all",
        ),
        runs,
    )
    # a second run finds nothing to do
    assert compact(dataset) == ({}, {})


def test_a_large_merged_part_is_written_in_row_groups(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = list_snapshots(dataset).snapshot_id.iloc[-1]
    values = load(dataset, sid).mapping_values
    monkeypatch.setattr(compaction_module, "ROW_GROUP", 100)
    compact(dataset)
    (rel,) = _parts(dataset, sid)["mapping_values"]
    meta = pq.read_metadata(dataset / rel)
    assert meta.num_rows == len(values) > 300
    sizes = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
    assert sizes[:-1] == [100] * (len(sizes) - 1) and 0 < sizes[-1] <= 100
    pd.testing.assert_frame_equal(load(dataset, sid).mapping_values, values)


def test_wide_rows_make_smaller_row_groups(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = list_snapshots(dataset).snapshot_id.iloc[-1]
    values = load(dataset, sid).mapping_values
    monkeypatch.setattr(compaction_module, "GROUP_BYTES", 4096)  # as if each row were a body
    compact(dataset)
    (rel,) = _parts(dataset, sid)["mapping_values"]
    meta = pq.read_metadata(dataset / rel)
    sizes = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
    assert len(sizes) > 3 and max(sizes) < len(values) and sum(sizes) == len(values)
    pd.testing.assert_frame_equal(load(dataset, sid).mapping_values, values)


def test_parts_are_merged_up_to_the_target_bytes() -> None:
    assert compaction_groups([10, 10, 10, 10], target=25) == [[0, 1], [2, 3]]
    assert compaction_groups([30, 10, 10, 30, 5], target=25) == [[1, 2]]
    assert compaction_groups([10], target=25) == []
    assert compaction_groups([], target=25) == []


def test_the_log_parts_other_snapshots_list_are_kept(dataset: Path) -> None:
    manifests = [snapshot_manifest(dataset, sid) for sid in list_snapshots(dataset).snapshot_id]
    assert all(is_log(m) for m in manifests)
    shared = set(manifests[0]["files"][LOG]) & set(manifests[-1]["files"][LOG])
    assert shared  # the last night still shows runs the first one stored
    compact(dataset)
    assert all((dataset / rel).exists() for rel in shared)
    for m in manifests:
        assert _parts(dataset, m["snapshot_id"])[LOG] == m["files"][LOG]


def test_a_crash_before_the_manifest_leaves_the_snapshot_as_it_was(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames.store import lifecycle

    sid = list_snapshots(dataset).snapshot_id.iloc[0]
    before = _parts(dataset, sid)
    values = load(dataset, sid).mapping_values

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "_rewrite_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(dataset)
    monkeypatch.undo()
    assert _parts(dataset, sid) == before
    pd.testing.assert_frame_equal(load(dataset, sid).mapping_values, values)
    # the new parts it wrote are not listed; the next run removes them
    folder = dataset / "mapping_values" / f"snapshot_id={sid}"
    assert len(list(folder.iterdir())) > len(before["mapping_values"])
    assert sid in compact(dataset).merged
    listed = {Path(rel).name for rel in _parts(dataset, sid)["mapping_values"]}
    assert {f.name for f in folder.iterdir()} == listed
    pd.testing.assert_frame_equal(load(dataset, sid).mapping_values, values)


def test_a_crash_after_the_manifest_is_finished_by_the_next_run(dataset: Path) -> None:
    sid = list_snapshots(dataset).snapshot_id.iloc[0]
    old = _parts(dataset, sid)["flows"]
    kept = {rel: (dataset / rel).read_bytes() for rel in old}
    compact(dataset)
    manifest = snapshot_manifest(dataset, sid)
    for rel, data in kept.items():  # as if it had crashed before removing the old parts
        (dataset / rel).write_bytes(data)
    assert compact(dataset) == ({}, {})
    assert not any((dataset / rel).exists() for rel in old)
    assert snapshot_manifest(dataset, sid) == manifest


def test_an_unreadable_part_leaves_its_snapshot_and_the_others_are_compacted(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, *others = list_snapshots(dataset).snapshot_id
    before = _parts(dataset, first)
    bad = before["mappings"][2]
    (dataset / bad).write_bytes(b"not parquet at all")
    assert main(["snapshots", str(dataset), "--compact"]) == 1
    out, err = capsys.readouterr()
    assert f"snapshot {first} left as it was: cannot compact mappings" in err
    assert f"(at part {bad}, writing " in err
    assert "Compacted 2 snapshots" in out and "1 snapshot left as it was" in out
    assert _parts(dataset, first) == before
    assert all(len(_parts(dataset, sid)["mapping_values"]) == 1 for sid in others)
    # its new parts, written before the bad one was met, are not listed: removed once mended
    (dataset / bad).unlink()
    shutil.copy(dataset / before["mappings"][1], dataset / bad)
    assert first in compact(dataset).merged
    folder = dataset / "mapping_values" / f"snapshot_id={first}"
    assert {f.name for f in folder.iterdir()} == {
        Path(rel).name for rel in _parts(dataset, first)["mapping_values"]
    }


def test_a_snapshot_another_process_writes_is_left_to_it(dataset: Path) -> None:
    from chift_frames.store.filesystems import open_root
    from chift_frames.store.lock import SnapshotLock

    first, *others = list_snapshots(dataset).snapshot_id
    before = _parts(dataset, first)
    lock = SnapshotLock(open_root(dataset), first)
    lock.acquire()
    try:
        done = compact(dataset)
    finally:
        lock.release()
    assert set(done.merged) == set(others)
    assert "is being written by another writer" in done.skipped[first]
    assert _parts(dataset, first) == before
    assert first in compact(dataset).merged


def test_a_snapshot_a_stopped_writer_will_resume_is_left_to_it(tmp_path: Path) -> None:
    """A stopped resume keeps its manifest in _staging: compacting under it would lose parts."""
    from chift_frames.schema import TABLES
    from chift_frames.store import SnapshotWriter, load

    world = small_world()
    writer = SnapshotWriter(tmp_path, "snapA")
    for chunk in world:
        writer.write(chunk)
    writer.commit("partial")
    writer = SnapshotWriter(tmp_path, "snapA", resume=True)  # a resume that stops half-way
    writer.write(world[0])
    writer.close()
    before = _parts(tmp_path, "snapA")
    done = compact(tmp_path)
    assert done.merged == {} and "stopped half-way" in done.skipped["snapA"]
    assert _parts(tmp_path, "snapA") == before
    # the resume finishes, and every part it lists is there
    writer = SnapshotWriter(tmp_path, "snapA", resume=True)
    writer.commit("complete")
    frames = load(tmp_path, "snapA", tables=list(TABLES))  # a missing part would raise
    manifest = snapshot_manifest(tmp_path, "snapA")
    assert all((tmp_path / rel).exists() for rels in manifest["files"].values() for rel in rels)
    assert len(frames.mapping_values) == manifest["rows"]["mapping_values"] > 0
    assert "snapA" in compact(tmp_path).merged
    pd.testing.assert_frame_equal(
        load(tmp_path, "snapA", tables=list(TABLES)).mapping_values, frames.mapping_values
    )


def small_world() -> list[dict[str, pd.DataFrame]]:
    """The frames of a small world, pair by pair (a part each)."""
    from chift_frames import flatten
    from chift_frames.world import World

    world = World(consumers=6, syncs=1, seed=2)
    pairs = [(c, world.consumer_sync(c, s)) for c, s in world.pairs()]
    return [dict(flatten([pair]).items()) for pair in pairs]


def test_a_snapshot_outside_the_log_has_its_executions_compacted(tmp_path: Path) -> None:
    from chift_frames.flatten import flatten_executions
    from chift_frames.store import SnapshotWriter
    from chift_frames.world import World

    world = World(consumers=20, syncs=1, seed=3)
    (sync,) = world.sync_items()
    runs = flatten_executions(sync["syncid"], world.executions(sync["syncid"], days=30))
    writer = SnapshotWriter(tmp_path)
    for start in range(0, len(runs), 50):
        writer.write({"executions": runs.slice(start, 50)})
    writer.commit("complete")
    manifest = snapshot_manifest(tmp_path)
    assert not is_log(manifest) and len(manifest["files"][LOG]) > 3
    want = load(tmp_path, tables=["executions"]).executions
    assert list(compact(tmp_path).merged) == [manifest["snapshot_id"]]
    assert len(_parts(tmp_path, manifest["snapshot_id"])[LOG]) == 1
    pd.testing.assert_frame_equal(load(tmp_path, tables=["executions"]).executions, want)

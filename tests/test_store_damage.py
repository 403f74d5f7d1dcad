"""Nothing lost, nothing leaked, nothing counted twice: crashes and damaged files.

One bad file never stops the others: a damaged manifest is skipped with one warning, listed
by ``snapshots`` and set aside by ``snapshots --clean``; a damaged part is one line naming the
file; a crash while a manifest is written leaves the dataset readable; one writer per
snapshot, rebuild included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from chift_frames import SnapshotWriter, StoreError, flatten, list_snapshots, load, query, save
from chift_frames.cli import main
from chift_frames.errors import DamagedPartError
from chift_frames.store import snapshot_states
from chift_frames.store.filesystems import open_root
from chift_frames.store.lock import hold_snapshot

REPO = Path(__file__).parent.parent


@pytest.fixture
def frames(active_pos: dict[str, Any], opened_only: dict[str, Any]):
    return flatten([("c1", active_pos), ("c2", opened_only)], fetched_at="2026-11-27T10:00:00Z")


def _manifest(root: Path, sid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "_snapshots" / f"{sid}.json").read_text())
    return data


def _nested(depth: int) -> str:
    return '{"snapshot_id": "c", "info": ' + "[" * depth + "]" * depth + "}"


def _damage(root: Path, how: str) -> str:
    """Damage the manifest of snapshot c as ``how`` says; return the name readers warn about."""
    path = root / "_snapshots" / "c.json"
    good = _manifest(root, "c")
    text = json.dumps(good, indent=1)
    if how == "truncated":  # a fetch killed while the old code wrote it in place
        path.write_text(text[: len(text) // 2])
    elif how == "empty":
        path.write_text("")
    elif how == "other-id":
        path.write_text(json.dumps({**good, "snapshot_id": "b"}))
    elif how == "rows-nan":
        path.write_text(text.replace('"consumer_syncs": 2', '"consumer_syncs": NaN'))
        assert "NaN" in path.read_text()
    elif how == "pairs-lots":
        path.write_text(json.dumps({**good, "info": {**good["info"], "pairs_ok": "lots"}}))
    elif how == "nested":
        path.write_text(_nested(100_000))
    elif how == "notes":
        (root / "_snapshots" / "notes.json").write_text('{"todo": "look at snapshot c"}')
        return "notes"
    return "c"


DAMAGES = ["truncated", "empty", "other-id", "rows-nan", "pairs-lots", "nested", "notes"]


@pytest.mark.parametrize("how", DAMAGES)
def test_one_damaged_manifest_stops_no_command(
    tmp_path: Path, frames, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    for sid in ("a", "b", "c"):
        save(frames, root, snapshot_id=sid)
    name = _damage(root, how)
    alive = ["a", "b", "c"] if name == "notes" else ["a", "b"]
    out = str(root)
    # the library: the others read as before
    assert list_snapshots(root).snapshot_id.tolist() == alive
    pd.testing.assert_frame_equal(load(root, "a").consumer_syncs, frames.consumer_syncs)
    # every command: the damaged file said once, in one line, on stderr
    commands = [
        ["summary", out],
        ["query", out, "SELECT count(*) AS n FROM consumer_syncs"],
        ["report", out, "--out", str(tmp_path / "reports")],
        ["diff", out],
        ["prune", out, "--keep-last", "5"],
    ]
    for argv in commands:
        assert main(argv) == 0, (argv, capsys.readouterr().err)
        err = capsys.readouterr().err
        warned = [line for line in err.splitlines() if f"skipping snapshot {name}:" in line]
        assert len(warned) == 1, (argv, err)
        assert warned[0].startswith("chift-frames: warning: skipping snapshot ")
        assert f"chift-frames snapshots {out} --clean" in warned[0]
    assert main(["snapshots", out]) == 0  # lists it, with what is wrong and the way out
    listed = [line for line in capsys.readouterr().out.splitlines() if "damaged" in line]
    assert len(listed) == 1 and listed[0].split()[:2] == [name, "damaged"]
    states = snapshot_states(root).set_index("snapshot_id")
    assert states.loc[name, "status"] == "damaged"
    assert "--clean" in states.loc[name, "next_step"]
    # a damaged manifest named by its id: one line saying what is wrong and the way out
    with pytest.raises(StoreError, match=rf"snapshot '{name}' in .* can't be read: .*--clean"):
        load(root, name)
    # --clean sets it aside, its parts with it; nothing a good manifest lists is touched
    parts_of_c = sorted(p.relative_to(root) for p in root.glob("*/snapshot_id=c/*.parquet"))
    assert main(["snapshots", out, "--clean"]) == 0
    assert "chift-frames: warning: set the damaged snapshot" in capsys.readouterr().err
    assert not (root / "_snapshots" / f"{name}.json").exists()
    (aside,) = (root / "_damaged").iterdir()
    assert (aside / "_snapshots" / f"{name}.json").is_file()
    if name == "c":
        assert sorted(p.relative_to(aside) for p in aside.glob("*/*/*.parquet")) == parts_of_c
        assert not list(root.glob("*/snapshot_id=c"))
    for sid in alive:
        pd.testing.assert_frame_equal(load(root, sid).mapping_values, frames.mapping_values)
    assert main(["snapshots", out]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "damaged" not in captured.out
    # and the next writer goes on
    save(frames, root, snapshot_id="d")
    assert list_snapshots(root).snapshot_id.tolist() == [*alive, "d"]


KILLED_AT_THE_MANIFEST = """
import os, signal, sys
from chift_frames import flatten, save
from tests.conftest import read_payload

opened = []

def die_once_a_manifest_is_opened(event, args):
    # SIGKILL at the first audited step after a file of _snapshots/ was opened for writing
    # (the audit event comes before the open itself): a crash in the middle of that write
    if opened and event != "os.kill":  # (os.kill is audited too)
        os.kill(os.getpid(), signal.SIGKILL)
    if event == "open" and "/_snapshots/" in str(args[0]).replace(os.sep, "/"):
        mode, flags = args[1], args[2]
        if (mode and ("w" in mode or "x" in mode or "a" in mode)) or (
            flags and flags & (os.O_WRONLY | os.O_RDWR)
        ):
            opened.append(args[0])

frames = flatten([("c1", read_payload("active_pos"))], fetched_at="2026-11-27T10:00:00Z")
sys.addaudithook(die_once_a_manifest_is_opened)
save(frames, sys.argv[1], snapshot_id="torn")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_while_writing_its_manifest_leaves_every_snapshot_readable(
    tmp_path: Path, frames, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    save(frames, root, snapshot_id="older")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_MANIFEST, str(root)], cwd=REPO, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    # never a torn manifest under its name: the commit simply did not happen yet
    assert sorted(p.name for p in (root / "_snapshots").glob("*.json")) == ["older.json"]
    pd.testing.assert_frame_equal(load(root, "older").consumer_syncs, frames.consumer_syncs)
    for argv in (["summary", str(root)], ["snapshots", str(root)]):
        assert main(argv) == 0
    assert "warning" not in capsys.readouterr().err
    # the next writer finishes the commit the crash cut short, then writes its own
    save(frames, root, snapshot_id="after")
    assert list_snapshots(root).snapshot_id.tolist() == ["older", "torn", "after"]
    assert len(load(root, "torn").consumer_syncs) == 1
    # and clean takes away the temporary file the crash left
    assert main(["snapshots", str(root), "--clean"]) == 0
    assert not [p for p in (root / "_snapshots").iterdir() if p.name.startswith(".")]


def test_a_torn_manifest_of_an_older_version_is_mended_by_the_next_writer(
    tmp_path: Path, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash of the report: a commit killed 8 ms in left 8,192 bytes of its manifest."""
    from chift_frames.store.filesystems import Root

    root = tmp_path / "lake"
    save(frames, root, snapshot_id="older")
    real_create = Root.create

    def torn(self: Root, rel: str, data: bytes) -> bool:
        if rel == "_snapshots/torn.json":  # what an in-place write killed half way left
            Path(self.full(rel)).write_bytes(data[: len(data) // 2])
            raise KeyboardInterrupt
        return real_create(self, rel, data)

    writer = SnapshotWriter(root, "torn")
    writer.write(frames)
    monkeypatch.setattr(Root, "create", torn)
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    monkeypatch.undo()
    writer.close()
    pd.testing.assert_frame_equal(load(root, "older").consumer_syncs, frames.consumer_syncs)
    save(frames, root, snapshot_id="after")  # finishes torn's commit: the plan is whole
    assert list_snapshots(root).snapshot_id.tolist() == ["older", "torn", "after"]
    pd.testing.assert_frame_equal(load(root, "torn").consumer_syncs, frames.consumer_syncs)


def test_a_part_listed_twice_counts_once(tmp_path: Path, frames) -> None:
    save(frames, tmp_path, snapshot_id="twice")
    path = tmp_path / "_snapshots" / "twice.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["consumer_syncs"] *= 2
    path.write_text(json.dumps(manifest))
    assert len(load(tmp_path, "twice").consumer_syncs) == 2
    assert query(tmp_path, "SELECT count(*) AS n FROM consumer_syncs").n[0] == 2
    assert main(["summary", str(tmp_path)]) == 0
    # a writer never lists a part twice either
    writer = SnapshotWriter(tmp_path, "again")
    staged = writer.stage({"consumer_syncs": frames.consumer_syncs})
    writer.attach(staged)
    writer.attach(staged)
    manifest = writer.commit()
    assert manifest["rows"]["consumer_syncs"] == 2
    assert len(load(tmp_path, "again").consumer_syncs) == 2


def _drop_column(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.drop(["sync_name"]), path)


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("missing", "is missing"),
        ("garbage", "is not a readable Parquet file"),
        ("drift", "lacks the column sync_name"),
    ],
)
def test_a_damaged_part_is_one_line_naming_it(
    tmp_path: Path, frames, how: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    save(frames, tmp_path, snapshot_id="a")
    save(frames, tmp_path, snapshot_id="b")
    (rel,) = _manifest(tmp_path, "b")["files"]["consumer_syncs"]
    part = tmp_path / rel
    if how == "missing":
        part.unlink()
    elif how == "garbage":
        part.write_bytes(b"not parquet" * 100)
    else:
        _drop_column(part)
    message = rf"part {rel} of table 'consumer_syncs', snapshot 'b' in .* {said}.*; .*rebuild"
    for read in (
        lambda: load(tmp_path),
        lambda: load(tmp_path, "all"),
        lambda: query(tmp_path, "SELECT count(sync_name) AS n FROM consumer_syncs"),
    ):
        with pytest.raises(DamagedPartError, match=message):
            read()
    for argv in (
        ["summary", str(tmp_path)],
        ["report", str(tmp_path), "--out", str(tmp_path / "reports")],
        ["diff", str(tmp_path)],
        ["query", str(tmp_path), "SELECT count(*) AS n FROM consumer_syncs"],
    ):
        assert main(argv) == 1
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"chift-frames: error: part {rel} of table 'consumer_syncs'")
    # the other snapshot reads as before
    pd.testing.assert_frame_equal(load(tmp_path, "a").consumer_syncs, frames.consumer_syncs)


@pytest.mark.filterwarnings("ignore::chift_frames.errors.PartialSnapshotWarning")
def test_a_resume_in_progress_adds_nothing_any_reader_sees(tmp_path: Path, frames) -> None:
    first = SnapshotWriter(tmp_path, "nightly")
    first.write({"consumer_syncs": frames.consumer_syncs[:1]})
    first.commit("partial")
    folder = pd.read_parquet(tmp_path / "consumer_syncs")
    resume = SnapshotWriter(tmp_path, "nightly", resume=True)
    resume.write({"consumer_syncs": frames.consumer_syncs[1:]})
    # while it runs: its parts are staged, outside every table folder
    assert len(load(tmp_path, "nightly").consumer_syncs) == 1
    assert query(tmp_path, "SELECT count(*) AS n FROM consumer_syncs").n[0] == 1
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "consumer_syncs"), folder)
    assert not list((tmp_path / "consumer_syncs").rglob("*.parquet"))[1:]
    resume.commit()
    assert len(pd.read_parquet(tmp_path / "consumer_syncs")) == 2


WRITER_KILLED = """
import sys, time
from chift_frames import SnapshotWriter, flatten
from tests.conftest import read_payload
writer = SnapshotWriter(sys.argv[1], "nightly")
writer.write(flatten([("c1", read_payload("active_pos"))]))
print("writing", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_lock_of_a_killed_writer_is_taken_over_at_once(tmp_path: Path, frames) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WRITER_KILLED, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
            # while it lives: every writer of that snapshot is refused, clean leaves it
            with pytest.raises(StoreError, match=rf"being written .* pid {proc.pid} "):
                SnapshotWriter(tmp_path, "nightly", resume=True)
            assert main(["snapshots", str(tmp_path), "--clean"]) == 0
            assert (tmp_path / "_staging" / "nightly" / "state.json").is_file()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    # gone: a resume takes its lock over at once, with the parts it had written
    resume = SnapshotWriter(tmp_path, "nightly", resume=True)
    resume.commit()
    assert len(load(tmp_path, "nightly").consumer_syncs) == 1


def test_every_writer_waits_for_the_one_holding_a_snapshot(tmp_path: Path, frames) -> None:
    from chift_frames.store import prune

    for sid in ("a", "b"):
        save(frames, tmp_path, snapshot_id=sid)
    with hold_snapshot(open_root(tmp_path), "a", purpose="write"):
        with pytest.raises(StoreError, match=r"'a' .* being written by another writer"):
            prune(tmp_path, keep_last=1)
        assert main(["snapshots", str(tmp_path), "--clean"]) == 0
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["a", "b"]
    assert prune(tmp_path, keep_last=1) == ["a"]


def test_clean_keeps_a_commit_it_could_not_finish(
    tmp_path: Path, frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames.store import clean
    from chift_frames.store.filesystems import Root

    save(frames, tmp_path, snapshot_id="older")
    writer = SnapshotWriter(tmp_path, "cut")
    writer.write(frames)
    real_create = Root.create

    def disk_full(self: Root, rel: str, data: bytes) -> bool:
        if rel == "_snapshots/cut.json":
            raise StoreError("cannot create _snapshots/cut.json: no space left on device")
        return real_create(self, rel, data)

    monkeypatch.setattr(Root, "create", disk_full)
    with pytest.raises(StoreError, match="no space left"):
        writer.commit()  # its parts are in place already, its manifest is not
    writer.close()
    assert clean(tmp_path) == []  # it can't finish the commit yet: it keeps every piece
    assert len(list(tmp_path.glob("consumer_syncs/snapshot_id=cut/*.parquet"))) == 1
    monkeypatch.undo()
    clean(tmp_path)  # the disk has room again: the commit is finished
    assert list_snapshots(tmp_path).snapshot_id.tolist() == ["older", "cut"]
    pd.testing.assert_frame_equal(load(tmp_path, "cut").consumer_syncs, frames.consumer_syncs)

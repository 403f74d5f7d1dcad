"""DuckDB's spill folder is the user's alone: what spills (the account's rows) stays private.

The tests run as root, as on the machines that run them: root can hand a folder to another
user (os.chown) and read a file as another user (``cat`` run with ``user=``).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from chift_frames import flatten, save
from chift_frames.cli import main
from chift_frames.engine import configure, open_source, settings
from chift_frames.errors import StoreError

OTHER_UID = 65534  # nobody


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _setting(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0])


@pytest.fixture
def shared_home() -> Iterator[Path]:
    """A folder other users can enter (0755, as a home folder often is), outside pytest's own."""
    folder = Path(tempfile.mkdtemp(prefix="chift-frames-home-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_the_default_spill_folder_is_private_and_made_only_when_a_connection_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "chift_frames" / "duckdb"
    assert settings()["temp_directory"] == str(folder)
    assert not (tmp_path / "cache").exists()  # settings() alone creates nothing
    with open_source(flatten([])) as con:
        assert _setting(con) == str(folder)
    for made in (tmp_path / "cache", folder.parent, folder):
        assert _mode(made) == 0o700, made


def test_the_default_spill_folder_is_in_the_home_cache_without_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with open_source(flatten([])) as con:
        assert _setting(con) == str(tmp_path / ".cache" / "chift_frames" / "duckdb")
    assert _mode(tmp_path / ".cache" / "chift_frames" / "duckdb") == 0o700


def test_other_users_cannot_read_what_duckdb_spills(
    shared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_home / "cache"))
    umask = os.umask(0o022)
    os.umask(umask)
    con = configure(duckdb.connect(), memory_limit="16MB", threads=1)
    try:
        # a table larger than the memory limit: DuckDB evicts its blocks to the spill folder
        con.execute(
            "CREATE TABLE spilled AS SELECT i, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS s "
            "FROM range(600000) r(i)"
        )
        spilled = [row[0] for row in con.sql("FROM duckdb_temporary_files()").fetchall()]
        assert spilled
        for path in spilled:
            as_other = subprocess.run(["cat", path], user=OTHER_UID, capture_output=True)
            assert as_other.returncode != 0 and b"Permission denied" in as_other.stderr, path
        folder = shared_home / "cache" / "chift_frames" / "duckdb"
        assert {Path(path).parent for path in spilled} == {folder}
    finally:
        con.close()
    current = os.umask(0o022)
    os.umask(current)
    assert current == umask  # the folder protects the files; the process's umask is left alone


def test_a_default_spill_folder_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "chift_frames" / "duckdb"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, OTHER_UID, -1)
    with pytest.raises(StoreError, match=r"belongs to another user \(uid 65534\)") as info:
        configure(duckdb.connect())
    assert str(folder) in str(info.value) and "--temp-directory" in str(info.value)


@pytest.mark.parametrize("mode", [0o777, 0o755, 0o770, 0o701])
def test_a_spill_folder_open_to_others_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    given = tmp_path / "spill"
    given.mkdir()
    given.chmod(mode)
    for where in ({"temp_directory": given}, {}):
        if not where:  # the same folder as the default
            monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
            default = tmp_path / "cache" / "chift_frames" / "duckdb"
            default.parent.mkdir(parents=True)
            given.rename(default)
            given = default
        with pytest.raises(StoreError, match=f"is open to other users \\(mode 0{mode:o}\\)"):
            configure(duckdb.connect(), **where)
        assert _mode(given) == mode  # refused, not changed behind the user's back


def test_a_spill_folder_other_users_could_swap_is_refused(tmp_path: Path) -> None:
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    open_parent.chmod(0o777)  # anyone may rename what is inside
    with pytest.raises(StoreError, match="which other users can write to"):
        configure(duckdb.connect(), temp_directory=open_parent / "spill")
    owned_parent = tmp_path / "theirs"
    (owned_parent / "spill").mkdir(parents=True, mode=0o700)
    os.chown(owned_parent, OTHER_UID, -1)
    with pytest.raises(StoreError, match=r"inside .*theirs, which belongs to another user"):
        configure(duckdb.connect(), temp_directory=owned_parent / "spill")
    sticky = tmp_path / "sticky"  # like /tmp: others cannot move a folder they do not own
    sticky.mkdir()
    sticky.chmod(0o1777)
    con = configure(duckdb.connect(), temp_directory=sticky / "spill")
    assert _setting(con) == str(sticky / "spill") and _mode(sticky / "spill") == 0o700


def test_a_symlink_to_another_users_folder_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, OTHER_UID, -1)
    (tmp_path / "link").symlink_to(theirs)
    with pytest.raises(StoreError, match="belongs to another user"):
        configure(duckdb.connect(), temp_directory=tmp_path / "link")
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (tmp_path / "mine-link").symlink_to(mine)
    con = configure(duckdb.connect(), temp_directory=tmp_path / "mine-link")
    assert _setting(con) == str(mine)  # DuckDB gets the folder itself, not a link to repoint


def test_a_missing_spill_folder_given_is_created_private(tmp_path: Path) -> None:
    given = tmp_path / "deep" / "spill"
    con = configure(duckdb.connect(), temp_directory=given)
    assert _setting(con) == str(given)
    assert _mode(given) == 0o700 and _mode(given.parent) == 0o700


def test_the_cli_refuses_a_spill_folder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIFT_FRAMES_TEMP_DIRECTORY", str(tmp_path / "unused"))  # restored
    save(flatten([]), tmp_path / "data")
    spill = tmp_path / "spill"
    spill.mkdir()
    spill.chmod(0o777)
    args = ["query", str(tmp_path / "data"), "SELECT 1 AS one", "--temp-directory", str(spill)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"chift-frames: error: DuckDB's spill folder {spill} is open to other")
    assert "chmod 700" in err
    spill.chmod(0o700)
    assert main(args) == 0


def test_connect_spills_to_the_private_folder_not_duckdbs_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chift_frames import connect

    monkeypatch.delenv("CHIFT_FRAMES_TEMP_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    save(flatten([]), tmp_path / "data")
    con = connect(tmp_path / "data")
    try:
        folder = tmp_path / "cache" / "chift_frames" / "duckdb"
        assert _setting(con) == str(folder)  # DuckDB's own default is .tmp, here
        assert _mode(folder) == 0o700
    finally:
        con.close()

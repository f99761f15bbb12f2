"""The data dir and the disk as users break them, through the CLI in a fresh process: a file
where the folder should be, a read-only mount, a folder the user may not write to, a full disk
while downloading and while extracting. Each ends in one `error:` line naming the path, exit
status 1, the database unchanged and no half-written file; a good download is never deleted.

Real mounts (tmpfs, remounted read-only) need root: elsewhere these tests skip, and fail when
CI=true.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from manifest_gui.engine import extract
from manifest_gui.engine.database import connect
from manifest_gui.engine.datadir import DataDirError, DiskFullError, data_dir_problem
from manifest_gui.engine.extract import extract_content
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.support import skip_or_fail
from tests.support.bungie_server import BungieServer, without_length
from tests.support.manifest_factory import ManifestFactory
from tests.support.postgres import PostgresServer
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]
MiB = 1 << 20

Mount = Callable[[int], Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """mount(size in bytes) -> a fresh tmpfs of that size, unmounted after the test."""
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root")
    if shutil.which("mount") is None:
        skip_or_fail("mount(8) is not installed")
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            skip_or_fail(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture
def database_url(embedded_pg_server: PostgresServer) -> Iterator[str]:
    """One server kind is enough here: the faults are the file system's, not the database's."""
    url = embedded_pg_server.create_database()
    yield url
    embedded_pg_server.drop_database(url)


def remount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), MANIFEST_GUI_DATA_DIR=str(data_dir))
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    env.update(settings)
    return env


def _external(data_dir: Path, database_url: str, bungie: BungieServer) -> dict[str, str]:
    return _env(
        data_dir,
        MANIFEST_GUI_DATABASE_URL=database_url,
        MANIFEST_GUI_BUNGIE_ROOT=bungie.base_url,
        MANIFEST_GUI_API_KEY="fs-fault-key",
    )


def _one_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line: no traceback, no warnings
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    return done.stderr


def _versions(database_url: str) -> int:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'manifest' "
            "AND tablename = 't_manifest_version'"
        ).fetchone()
        if not row or not row[0]:
            return 0
        counted = conn.execute("SELECT count(*) FROM manifest.t_manifest_version").fetchone()
        return int(counted[0]) if counted else 0


def _half_written(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(".part")]


@pytest.fixture
def published(bungie_server: BungieServer, manifest_factory: ManifestFactory) -> Path:
    """A manifest of ~2 MB SQLite served by the stand-in; returns its .content file."""
    manifest = manifest_factory.generate(seed=1201, rows=3000)
    content = manifest_factory.content_file(manifest)
    bungie_server.publish(content, version="fs-1")
    return content


# An unusable data dir ---------------------------------------------------------------------------
@pytest.mark.parametrize("database", ["external", "embedded"])
def test_a_file_where_the_data_dir_should_be(
    tmp_path: Path,
    database: str,
    database_url: str,
    bungie_server: BungieServer,
    published: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.write_text("not a folder")
    if database == "external":
        done = run_cli(_external(data_dir, database_url, bungie_server), "load")
        assert _versions(database_url) == 0
    else:
        done = run_cli(_env(data_dir), "status")
    _one_error(done, str(data_dir), "is a file, not a folder")
    assert data_dir.read_text() == "not a folder"
    # What the window asks at start-up, to show its dialog: the same path, as a type.
    problem = data_dir_problem(data_dir)
    assert isinstance(problem, DataDirError) and problem.path == data_dir


@pytest.mark.parametrize("database", ["external", "embedded"])
def test_a_data_dir_on_a_read_only_file_system(
    tmpfs: Mount,
    database: str,
    database_url: str,
    bungie_server: BungieServer,
    published: Path,
) -> None:
    point = tmpfs(64 * MiB)
    remount(point, "ro")
    data_dir = point / "manifest-gui"
    if database == "external":
        done = run_cli(_external(data_dir, database_url, bungie_server), "load")
        assert _versions(database_url) == 0
    else:
        done = run_cli(_env(data_dir), "status")
    _one_error(done, str(data_dir), "read-only file system")
    problem = data_dir_problem(data_dir)
    assert isinstance(problem, DataDirError) and problem.path == data_dir
    assert data_dir_problem(point.parent / "elsewhere") is None


def test_a_data_dir_that_turned_read_only_after_a_load(
    tmpfs: Mount, database_url: str, bungie_server: BungieServer, published: Path
) -> None:
    """The cache is full of files and the mount goes read-only (a failing disk does that):
    a forced reload is one sentence and leaves the loaded version as it was."""
    point = tmpfs(256 * MiB)
    env = _external(point / "data", database_url, bungie_server)
    first = run_cli(env, "load")
    assert first.returncode == 0, first.stderr
    remount(point, "ro")
    _one_error(run_cli(env, "load", "--force"), str(point / "data"), "read-only file system")
    assert _versions(database_url) == 1
    status = run_cli(env, "status", "--json")  # reading needs no data dir
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["current"]["version"] == "fs-1"


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A world-traversable folder (pytest's are private to root) holding a HOME for nobody."""
    if os.geteuid() != 0:
        skip_or_fail("running as another user needs root")
    if shutil.which("runuser") is None:
        skip_or_fail("runuser(1) is not installed")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip_or_fail("this system has no user nobody")
    top = Path(tempfile.mkdtemp(prefix="manifest-gui-nobody-"))
    top.chmod(0o755)
    home = top / "home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    try:
        yield home
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _nobody_prefix() -> list[str]:
    """How to run this interpreter as nobody. Where nobody may not even read it (a Python
    under /root, as on this machine kind), nobody gets CAP_DAC_READ_SEARCH: it may then read
    and traverse any folder, but every write is still checked against its own permissions."""
    plain = ["runuser", "-u", "nobody", "--"]
    if subprocess.run([*plain, sys.executable, "-c", "pass"], capture_output=True).returncode == 0:
        return plain
    if shutil.which("setpriv") is None:
        skip_or_fail("nobody cannot run this Python, and setpriv(1) is not installed")
    nobody = pwd.getpwnam("nobody")
    return [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
        "--",
    ]


def _as_nobody(home: Path, data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(home),
        "MANIFEST_GUI_DATA_DIR": str(data_dir),
        "MANIFEST_GUI_API_KEY": "fs-fault-key",
    }
    return subprocess.run(
        [*_nobody_prefix(), sys.executable, "-m", "manifest_gui", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_data_dir_the_user_may_not_write_to(nobody_home: Path) -> None:
    """As a user who is not root (root may write anywhere): a data dir owned by root."""
    locked = nobody_home.parent / "root-owned"
    locked.mkdir(mode=0o755)
    error = _one_error(_as_nobody(nobody_home, locked, "status"), str(locked))
    assert "may not write to" in error
    # The same run in a folder of its own works: the refusal was the permission, nothing else.
    own = nobody_home / "data"
    done = _as_nobody(nobody_home, own, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"] is None


# A full disk ------------------------------------------------------------------------------------
def test_a_disk_too_full_for_the_download(
    tmpfs: Mount, database_url: str, bungie_server: BungieServer, published: Path
) -> None:
    point = tmpfs(published.stat().st_size // 2)
    env = _external(point / "data", database_url, bungie_server)
    error = _one_error(run_cli(env, "load"), "not enough disk space in", str(point / "data"))
    assert published.name in error
    assert _half_written(point) == []
    assert _versions(database_url) == 0


def test_a_disk_that_fills_up_during_a_download_of_unknown_size(
    tmpfs: Mount, database_url: str, bungie_server: BungieServer, published: Path
) -> None:
    point = tmpfs(published.stat().st_size // 2)
    bungie_server.queue(without_length(), route="content")
    env = _external(point / "data", database_url, bungie_server)
    error = _one_error(run_cli(env, "load"), "disk space ran out in", str(point / "data"))
    assert f"while downloading {published.name}" in error
    assert _half_written(point) == []
    assert _versions(database_url) == 0


def test_a_disk_too_full_for_the_extraction_keeps_the_good_download(
    tmpfs: Mount, database_url: str, bungie_server: BungieServer, published: Path
) -> None:
    # Room for the download, not for the extracted file and the margin kept free beside it.
    point = tmpfs(published.stat().st_size + 4 * MiB)
    env = _external(point / "data", database_url, bungie_server)
    error = _one_error(run_cli(env, "load"), "not enough disk space in", "for extracting")
    assert str(point / "data") in error
    cached = list(point.rglob("*.content"))
    assert [path.read_bytes() for path in cached] == [published.read_bytes()]
    assert _half_written(point) == [] and list(point.rglob("*.sqlite3")) == []
    assert _versions(database_url) == 0
    # With room made, the next run loads from the kept download without fetching it again.
    remount(point, f"size={256 * MiB}")
    done = run_cli(env, "load", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loaded"] is True
    assert len(bungie_server.content_requests) == 1


def test_a_disk_that_fills_up_during_the_extraction_keeps_the_good_download(
    tmpfs: Mount,
    database_url: str,
    bungie_server: BungieServer,
    published: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The free-space check passes and the disk fills up while inflating: ENOSPC from the
    file system itself (another program took the room). Before, this was called a corrupt
    manifest and the good download was deleted."""
    point = tmpfs(published.stat().st_size + 512 * 1024)
    # Without the margin, the free-space check lets the extraction start on a disk too small.
    monkeypatch.setattr(extract, "DISK_MARGIN", -(1 << 40))
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "fs-fault-key")
    settings = Settings(
        database_url=database_url, bungie_root=bungie_server.base_url, data_dir=str(point)
    )
    with (
        ManifestService(settings, SecretStore()) as service,
        pytest.raises(DiskFullError) as caught,
    ):
        service.update(progress=Progress())
    assert str(caught.value).startswith(f"The disk space ran out in {point}")
    assert caught.value.path.is_relative_to(point)
    cached = list(point.rglob("*.content"))
    assert [path.read_bytes() for path in cached] == [published.read_bytes()]
    assert _half_written(point) == [] and list(point.rglob("*.sqlite3")) == []
    assert _versions(database_url) == 0


def test_a_data_dir_too_full_for_the_embedded_database(tmpfs: Mount) -> None:
    point = tmpfs(8 * MiB)  # initdb needs more (its WAL segment alone is 16 MiB)
    env = _env(point / "data")
    error = _one_error(run_cli(env, "status"), "disk space ran out in", str(point / "data"))
    assert "while starting the embedded PostgreSQL" in error
    # initdb's unfinished folder is gone: the next try has all the room there is.
    assert [path.name for path in (point / "data" / "postgres").iterdir()] == [".start.lock"]


def test_a_load_into_the_embedded_database_on_a_disk_that_has_no_room_left(
    tmpfs: Mount, bungie_server: BungieServer, published: Path
) -> None:
    """The data dir holds the embedded database and the cache: the database fits, the
    manifest's extraction does not. One sentence; the database stays empty and usable."""
    point = tmpfs(80 * MiB)
    env = _env(
        point / "data",
        MANIFEST_GUI_BUNGIE_ROOT=bungie_server.base_url,
        MANIFEST_GUI_API_KEY="fs-fault-key",
    )
    error = _one_error(run_cli(env, "load"), "not enough disk space in", str(point / "data"))
    assert "for extracting" in error or "for downloading" in error
    assert _half_written(point) == []
    status = run_cli(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["current"] is None


def test_extract_on_a_full_disk_leaves_the_archive_and_no_part_file(
    tmpfs: Mount, manifest_factory: ManifestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = manifest_factory.generate(seed=1202, rows=3000)
    content = manifest_factory.content_file(manifest)
    point = tmpfs(manifest.path.stat().st_size // 2)
    monkeypatch.setattr(extract, "DISK_MARGIN", -(1 << 40))
    before = content.read_bytes()
    with pytest.raises(DiskFullError, match="disk space ran out") as caught:
        extract_content(content, point / "out.sqlite3", Progress())
    assert caught.value.path == point
    assert list(point.iterdir()) == []
    assert content.read_bytes() == before

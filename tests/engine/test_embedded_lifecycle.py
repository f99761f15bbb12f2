"""The embedded PostgreSQL as users meet it: odd data dir paths, runs killed while another
shares the server, a stale postmaster.pid after a crash, the user's libpq environment, a server
that fails to start. Real processes and a real server throughout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.manifest_factory import generate_manifest
from tests.support.processes import run_cli

REPO = Path(__file__).resolve().parents[2]

# Starts the embedded server for a data dir, says so, and holds it until stdin closes.
HOLDER = """
import sys
from pathlib import Path
from manifest_gui.engine.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
server.start()
print("started", flush=True)
sys.stdin.read()
server.stop()
print("stopped", flush=True)
"""


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, MANIFEST_GUI_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO), **extra)
    env.pop("MANIFEST_GUI_DATABASE_URL", None)
    return env


def _server_pid(data_dir: Path) -> int | None:
    """The pid of a running postgres server for this data dir, or None."""
    pgdata = data_dir / "postgres" / "data"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(os.fsdecode(cmdline[0])).name == "postgres" else None


def _wait_stopped(data_dir: Path, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while _server_pid(data_dir) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir / "postgres")],
        env=_env(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "started"
    return process


def _end(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture
def stop_leftovers() -> Iterator[list[Path]]:
    """Data dirs whose server a failing test might leave running: stopped at the end."""
    dirs: list[Path] = []
    yield dirs
    for data_dir in dirs:
        pid = _server_pid(data_dir)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_stopped(data_dir)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A folder with a short path (pytest's are long enough that the socket moves elsewhere,
    which hid the failures of a short path like macOS's Application Support)."""
    folder = Path(tempfile.mkdtemp(prefix="mg-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifest") / "world_sql_content_1.content"
    generate_manifest(path, seed=7, rows=300)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "Application Support",  # macOS's data dir: pg_ctl split the socket folder at the space
        "ünï cødé",
        "100%25sure",  # a URL's %25 would have read as %
        'it\'s $(id) `x` "q"',  # shell syntax in pg_ctl's command line
        "a,b",  # libpq reads a comma in a host as a list of hosts
        "l" * 90,  # the socket's path is longer than sun_path allows
    ],
)
def test_data_dir_paths_users_have(
    short_tmp: Path, name: str, small_manifest: Path, stop_leftovers: list[Path]
) -> None:
    data_dir = short_tmp / name / "manifest-gui"
    stop_leftovers.append(data_dir)
    env = _env(data_dir)
    done = run_cli(env, "load", "--file", str(small_manifest), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loaded"] is True
    assert _wait_stopped(data_dir)
    done = run_cli(env, "status", "--json")  # the existing cluster starts again
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["current"]["version"] == small_manifest.name
    assert _wait_stopped(data_dir)


def test_last_process_stops_the_server_when_another_was_killed(
    tmp_path: Path, stop_leftovers: list[Path]
) -> None:
    # The window is killed while a cron job shares its server: when the cron job ends, nobody
    # is left, and the server must stop (it used to run on, with the killed pid in its list).
    data_dir = tmp_path / "data"
    stop_leftovers.append(data_dir)
    window = _holder(data_dir)
    cron = _holder(data_dir)
    try:
        window.send_signal(signal.SIGKILL)
        window.wait(30)
        assert _server_pid(data_dir) is not None  # still serving the cron job
        assert cron.stdin is not None
        cron.stdin.close()
        assert cron.stdout is not None and cron.stdout.readline().strip() == "stopped"
        assert _wait_stopped(data_dir)
    finally:
        _end(window)
        _end(cron)


def test_first_process_exit_leaves_the_server_to_the_second(
    tmp_path: Path, stop_leftovers: list[Path]
) -> None:
    data_dir = tmp_path / "data"
    stop_leftovers.append(data_dir)
    first = _holder(data_dir)
    second = _holder(data_dir)
    try:
        pid = _server_pid(data_dir)
        assert first.stdin is not None
        first.stdin.close()
        first.wait(30)
        assert _server_pid(data_dir) == pid  # one server, still running for the second
        done = run_cli(_env(data_dir), "status", "--json")
        assert done.returncode == 0, done.stderr
        assert _server_pid(data_dir) == pid  # a third run joined it, did not stop it
        assert second.stdin is not None
        second.stdin.close()
        assert second.stdout is not None and second.stdout.readline().strip() == "stopped"
    finally:
        _end(first)
        _end(second)
    assert _wait_stopped(data_dir)


def test_stale_postmaster_pid_naming_another_process(
    tmp_path: Path, stop_leftovers: list[Path]
) -> None:
    # After a crash or a power cut, postmaster.pid stays behind and its pid may belong to some
    # other process after the reboot: that is no server, and a new one must start.
    data_dir = tmp_path / "data"
    stop_leftovers.append(data_dir)
    pgdata = data_dir / "postgres" / "data"
    holder = _holder(data_dir)
    try:
        pid_file = (pgdata / "postmaster.pid").read_text().splitlines()
        socket_lock = (pgdata / ".s.PGSQL.5432.lock").read_text().splitlines()
    finally:
        _end(holder)
    assert run_cli(_env(data_dir), "status").returncode == 0  # stops the orphaned server
    assert _wait_stopped(data_dir)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (pgdata / "postmaster.pid").write_text("\n".join([str(other.pid), *pid_file[1:]]) + "\n")
        lock = [str(other.pid), *socket_lock[1:]]
        (pgdata / ".s.PGSQL.5432.lock").write_text("\n".join(lock) + "\n")
        done = run_cli(_env(data_dir), "status", "--json")
        assert done.returncode == 0, done.stderr
        assert other.poll() is None  # the other process was left alone
    finally:
        other.kill()
        other.wait(30)
    assert _wait_stopped(data_dir)


def test_libpq_environment_for_other_servers_does_not_break_it(
    tmp_path: Path, small_manifest: Path, stop_leftovers: list[Path]
) -> None:
    # Users who work with other PostgreSQL servers have PG* variables set for them.
    data_dir = tmp_path / "data"
    stop_leftovers.append(data_dir)
    libpq = {
        "PGHOSTADDR": "127.0.0.1",
        "PGHOST": "db.example",
        "PGPORT": "5999",
        "PGUSER": "someone",
        "PGDATABASE": "elsewhere",
        "PGPASSWORD": "secret",
        "PGSSLMODE": "verify-full",
        "PGGSSENCMODE": "require",
        "PGCHANNELBINDING": "require",
        "PGREQUIREAUTH": "scram-sha-256",
        "PGTARGETSESSIONATTRS": "standby",
        "PGOPTIONS": "-c default_transaction_read_only=on",
    }
    holder = _holder(data_dir)  # a server started without them, joined by a run with them
    try:
        done = run_cli(_env(data_dir, **libpq), "load", "--file", str(small_manifest), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["loaded"] is True
    finally:
        _end(holder)
    done = run_cli(_env(data_dir, **libpq), "status", "--json")  # and one it starts itself
    assert done.returncode == 0, done.stderr
    assert _wait_stopped(data_dir)


def test_a_server_that_fails_to_start_names_its_reason_and_log(
    tmp_path: Path, stop_leftovers: list[Path]
) -> None:
    data_dir = tmp_path / "data"
    stop_leftovers.append(data_dir)
    env = _env(data_dir)
    assert run_cli(env, "status").returncode == 0
    conf = data_dir / "postgres" / "data" / "postgresql.conf"
    good = conf.read_text()
    conf.write_text(good + "shared_buffers = plenty\n")
    done = run_cli(env, "status")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert str(data_dir / "postgres" / "data" / "log") in lines[0]
    assert "postgresql.conf" in lines[0]
    conf.write_text(good)
    assert run_cli(env, "status").returncode == 0
    assert _wait_stopped(data_dir)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="as root only")
def test_as_root_private_parent_folders_stay_unlisted(
    tmp_path: Path, stop_leftovers: list[Path]
) -> None:
    # PostgreSQL refuses to run as root, so it runs as a system user who must cross the
    # folders above the data dir: crossing is enough, listing them (a home folder) is not.
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    data_dir = private / "manifest-gui"
    stop_leftovers.append(data_dir)
    done = run_cli(_env(data_dir), "status", "--json")
    assert done.returncode == 0, done.stderr
    mode = stat.S_IMODE(private.stat().st_mode)
    assert mode & (stat.S_IRGRP | stat.S_IROTH) == 0, oct(mode)
    assert _wait_stopped(data_dir)

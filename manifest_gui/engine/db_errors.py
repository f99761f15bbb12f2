"""The one place where what PostgreSQL raised becomes a sentence for the user.

The reader (status, history, a check's database side), the loader and the viewer's queries
all come here, so the same failure reads the same wherever it happens. A failure that is not
the environment's doing gets None: the caller lets it through as a bug, with its traceback.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import psycopg
from psycopg import errors as pg_errors

from .errors import (
    BadManifestFileError,
    CancelledError,
    DatabaseBusyError,
    DatabaseFullError,
    DatabaseQueryError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    ManifestGuiError,
)

log = logging.getLogger(__name__)

# A load or a schema upgrade gives up on a lock after this long at most (a reader idle in its
# transaction would hold it off for ever); the environment may shorten it.
LOCK_TIMEOUT_ENVIRONMENT = "MANIFEST_GUI_LOCK_TIMEOUT"
MAX_LOCK_WAIT_SECONDS = 60.0
MIN_LOCK_WAIT_SECONDS = 0.05


class DatabaseTask(StrEnum):
    """What the session was doing: the same error reads differently for each."""

    READ = "read"  # status, history, the database side of a check
    LOAD = "load"  # loading a manifest (in one transaction)
    QUERY = "query"  # a viewer query
    UPGRADE = "upgrade"  # applying the schema files outside a load


# Rows the manifest has that PostgreSQL cannot take as JSON text.
_UNSTORABLE_ROW = (
    pg_errors.InvalidTextRepresentation,
    pg_errors.UntranslatableCharacter,
    pg_errors.CharacterNotInRepertoire,
)
# The server went away under the session: a restart, a crash, pg_terminate_backend.
_SERVER_ENDED = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an error's text, without a final full stop (max 200)."""
    for line in str(exc).splitlines():
        line = line.strip()
        if line:
            return line.rstrip(".")[:200]
    return type(exc).__name__


def refusal(exc: psycopg.Error) -> DatabaseRefusedError:
    """One sentence for a missing privilege or a read-only server."""
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return DatabaseRefusedError(
            "The database is read-only (a standby?); point manifest-gui at a writable server."
        )
    return DatabaseRefusedError(
        f"The database user lacks a privilege manifest-gui needs ({first_line(exc)}); "
        "have the schema's owner run sql/install.sql and grant this user access."
    )


def database_error(
    exc: BaseException,
    task: DatabaseTask,
    *,
    cancelled: bool = False,
    conn: psycopg.Connection | None = None,
) -> ManifestGuiError | None:
    """The known failure `exc` stands for while doing `task`, or None for a bug.

    cancelled: the user cancelled (a cancel cuts a statement short, whatever it reports then).
    conn: the session that failed, out of its failed transaction; a load that waited too long
    for a lock asks it who holds the lock.
    """
    if not isinstance(exc, psycopg.Error):
        return None
    if isinstance(exc, pg_errors.QueryCanceled):
        if task is DatabaseTask.LOAD:
            return CancelledError()
        return DatabaseQueryError("The query took too long and was stopped.")
    if isinstance(exc, (pg_errors.InsufficientPrivilege, pg_errors.ReadOnlySqlTransaction)):
        return refusal(exc)
    if isinstance(exc, pg_errors.LockNotAvailable):
        if task is DatabaseTask.LOAD:
            return lock_wait_error(conn, "The load", "load again")
        if task is DatabaseTask.UPGRADE:
            return lock_wait_error(conn, "The schema upgrade", "try again")
        return DatabaseBusyError(
            "The manifest tables are locked by a first load into this database; try again when "
            "it has finished."
        )
    if cancelled and isinstance(exc, (psycopg.DataError, psycopg.OperationalError)):
        return CancelledError()
    if (exc.sqlstate or "").startswith("53") or "could not extend file" in str(exc):
        return _resources_error(exc, task, conn)
    if task is DatabaseTask.LOAD:
        return _load_error(exc)
    if isinstance(exc, pg_errors.UndefinedTable):
        return DatabaseQueryError("The database holds no manifest yet.")
    if task is DatabaseTask.QUERY and isinstance(exc, psycopg.DataError):
        # e.g. a NUL character typed into the search box
        return DatabaseQueryError(f"PostgreSQL cannot search for that: {first_line(exc)}")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailableError(f"The database connection failed: {first_line(exc)}")
    return None


def _load_error(exc: psycopg.Error) -> ManifestGuiError | None:
    detail = first_line(exc)
    if isinstance(exc, pg_errors.UniqueViolation):
        return BadManifestFileError(f"The manifest has the same definition twice: {detail}")
    if isinstance(exc, _UNSTORABLE_ROW):
        return BadManifestFileError(
            f"The manifest has a row that PostgreSQL cannot store as JSON: {detail}"
        )
    if isinstance(exc, pg_errors.ProgramLimitExceeded):
        # e.g. a name or key longer than a btree index entry can hold (~2.7 kB)
        return BadManifestFileError(
            f"The manifest has a definition too large for PostgreSQL to index: {detail}"
        )
    if isinstance(exc, psycopg.DataError):
        return BadManifestFileError(f"The manifest has a value PostgreSQL refused: {detail}")
    if isinstance(exc, _SERVER_ENDED) or (
        isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None
    ):
        return DatabaseUnavailableError(
            f"The database connection was lost during the load ({detail}: the server restarted, "
            "stopped or ended the session); the load was rolled back and the database keeps its "
            "previous version."
        )
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailableError(
            f"The database failed during the load ({detail}); the load was rolled back and the "
            "database keeps its previous version."
        )
    return None


def _resources_error(
    exc: psycopg.Error, task: DatabaseTask, conn: psycopg.Connection | None
) -> ManifestGuiError:
    """Class 53: the server's disk, memory or connection slots ran out."""
    detail = first_line(exc)
    if isinstance(exc, pg_errors.DiskFull) or "could not extend file" in detail:
        where = _storage_place(conn, detail)
        what = f"The database server's storage{where} is full ({detail})"
    elif isinstance(exc, pg_errors.OutOfMemory):
        what = f"The database server ran out of memory ({detail})"
    else:
        what = f"The database server ran out of resources ({detail})"
    if task is DatabaseTask.LOAD:
        return DatabaseFullError(
            f"{what}; the load was rolled back and the database keeps its previous version."
        )
    return DatabaseFullError(f"{what}.")


# A server's file path in its messages: base/... lies in the data directory, pg_tblspc/<oid>/...
# in a tablespace.
_TABLESPACE_FILE = re.compile(r'"pg_tblspc/(\d+)/')


def _storage_place(conn: psycopg.Connection | None, detail: str) -> str:
    """ " (tablespace small_disk at /srv/pg)": where the full file lies, when the session can
    still ask; "" otherwise (the file's path in the message says it to an administrator)."""
    found = _TABLESPACE_FILE.search(detail)
    if found is None or conn is None or conn.closed:
        return ""
    try:
        row = conn.execute(
            "SELECT spcname, pg_tablespace_location(oid) FROM pg_tablespace WHERE oid = %s",
            (int(found.group(1)),),
        ).fetchone()
        conn.rollback()
    except psycopg.Error as exc:
        log.info("Could not name the full tablespace: %s", first_line(exc))
        return ""
    if row is None:
        return ""
    return f" (tablespace {row[0]} at {row[1]})" if row[1] else f" (tablespace {row[0]})"


def lock_wait_seconds() -> float:
    """How long a load or a schema upgrade waits for any one lock before it gives up: 60 s, or
    less when MANIFEST_GUI_LOCK_TIMEOUT says so (seconds; a test's readers need no minute)."""
    text = os.environ.get(LOCK_TIMEOUT_ENVIRONMENT, "").strip()
    if not text:
        return MAX_LOCK_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not MIN_LOCK_WAIT_SECONDS <= seconds <= MAX_LOCK_WAIT_SECONDS:
        log.warning(
            "%s=%r is not a number of seconds from %s to %s; waiting %s s for locks",
            LOCK_TIMEOUT_ENVIRONMENT,
            text,
            MIN_LOCK_WAIT_SECONDS,
            MAX_LOCK_WAIT_SECONDS,
            MAX_LOCK_WAIT_SECONDS,
        )
        return MAX_LOCK_WAIT_SECONDS
    return seconds


@dataclass(frozen=True)
class LockHolder:
    """A session that holds a lock on the manifest's tables or views."""

    pid: int
    application_name: str
    state: str
    since: datetime | None
    others: int  # further sessions holding such locks

    def describe(self) -> str:
        name = self.application_name or "(no application_name)"
        since = (
            f" since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
            if self.since is not None
            else ""
        )
        text = f'pid {self.pid}, application_name "{name}", {self.state}{since}'
        if self.others:
            text += f" (and {self.others} other session{'s' if self.others > 1 else ''})"
        return text


# Sessions other than this one that hold a lock on a manifest relation (or an advisory lock),
# oldest transaction first: a session that has held one for the whole wait started before it.
_LOCK_HOLDERS = """
SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, 'unknown state'),
       a.state_change, count(*) OVER () - 1
  FROM pg_stat_activity a
 WHERE a.pid <> pg_backend_pid()
   AND a.pid IN (SELECT l.pid FROM pg_locks l
                  WHERE l.granted
                    AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                    AND (l.locktype = 'advisory'
                         OR l.relation IN (SELECT c.oid FROM pg_class c
                                            WHERE c.relnamespace = 'manifest'::regnamespace)))
 ORDER BY a.xact_start NULLS LAST, a.pid
 LIMIT 1
"""


def lock_holder(conn: psycopg.Connection) -> LockHolder | None:
    """Who holds a lock on the manifest's objects now, asked on `conn` (not in a failed
    transaction); None when nobody does or the question itself fails."""
    try:
        with conn.transaction():
            row = conn.execute(_LOCK_HOLDERS).fetchone()
    except psycopg.Error as exc:
        log.info("Could not ask who holds the lock: %s", first_line(exc))
        return None
    if row is None:
        return None
    pid, application_name, state, since, others = row
    return LockHolder(int(pid), str(application_name), str(state), since, int(others))


def _lock_timeout_text(conn: psycopg.Connection | None) -> str:
    """The session's lock_timeout as "60 s" (pg_settings gives it in milliseconds); a session
    without one waited for the bound the schema upgrade set for its own transaction."""
    seconds = lock_wait_seconds()
    if conn is not None and not conn.closed:
        try:
            row = conn.execute(
                "SELECT setting::float8 / 1000 FROM pg_settings WHERE name = 'lock_timeout'"
            ).fetchone()
            conn.rollback()
        except psycopg.Error:
            row = None
        if row and row[0]:
            seconds = row[0]
    return f"{seconds:g} s"


def lock_wait_error(conn: psycopg.Connection | None, what: str, again: str) -> DatabaseBusyError:
    """`what` ("The load") gave up waiting for a lock: say so, and name who holds it."""
    waited = _lock_timeout_text(conn)
    holder = lock_holder(conn) if conn is not None and not conn.closed else None
    if holder is None:
        return DatabaseBusyError(
            f"{what} waited {waited} for a lock that another session held and was rolled back; "
            f"that session has let go since, so {again}."
        )
    return DatabaseBusyError(
        f"{what} waited {waited} for a lock held by another session ({holder.describe()}) and "
        f"was rolled back; end that session's transaction and {again}."
    )

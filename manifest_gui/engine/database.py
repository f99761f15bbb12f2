"""Connections, the schema (applied from the numbered sql/ files), and read-side queries."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .db_errors import DatabaseTask, database_error, lock_wait_seconds, refusal
from .errors import DatabaseUnavailableError
from .settings import strip_password

log = logging.getLogger(__name__)

# pg_advisory locks: one for schema changes, one for loads (two loaders never interleave).
SCHEMA_LOCK = 0x6D616E69_66657374 & 0x7FFFFFFFFFFFFFFF
LOAD_LOCK = (SCHEMA_LOCK + 1) & 0x7FFFFFFFFFFFFFFF
MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class DatabaseVersion:
    manifest_id: int
    version: str
    path: str
    language: str | None
    loaded_at: datetime
    effective_date: Any
    row_count: int | None
    inserts: int | None
    updates: int | None
    deletes: int | None
    load_seconds: float | None
    current: bool


@dataclass(frozen=True)
class TableCount:
    table_name: str
    live_rows: int


def url_problem(url: str) -> str | None:
    """Why libpq would misread `url`, in one sentence (never quoting it), or None."""
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        # libpq's parse errors quote the whole string, password included: never repeat them.
        return "The database URL is not a PostgreSQL URL; write it as postgresql://user@host:port/dbname."
    scheme, found, rest = url.partition("://")
    if found and scheme.lower() in ("postgres", "postgresql"):
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if authority.count("@") > 1:
            # libpq splits at the first @: the rest of the password would become the host name
            # and appear in its error messages.
            return (
                "The database URL has an @ in its user name or password; write it there as %40 "
                "(postgresql://user:p%40ss@host/dbname)."
            )
    return None


def connect(url: str, *, autocommit: bool = False, read_only: bool = False) -> psycopg.Connection:
    """Open a connection or raise DatabaseUnavailableError with one sentence (no password)."""
    problem = url_problem(url)
    if problem is not None:
        raise DatabaseUnavailableError(problem)
    params = psycopg.conninfo.conninfo_to_dict(url)
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        reason = _plain_reason(_redacted(_first_line(str(exc)), url, params.get("password")))
        raise DatabaseUnavailableError(
            f"Cannot connect to the database {describe_url(url)}: "
            f"{reason or type(exc).__name__ + '.'}"
        ) from None
    if read_only:
        conn.read_only = True
    return conn


def describe_url(url: str) -> str:
    """Where a URL points, for messages: no password, no query secrets."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(invalid URL)"
    host = str(info.get("host") or "local socket")
    port = info.get("port")
    if host.startswith("/"):
        host, port = "local socket", None
    dbname = info.get("dbname") or info.get("user") or ""
    return f"{host}{':' + str(port) if port else ''}/{dbname}"


# libpq's wording for the usual causes, and what they mean to someone setting up the tool.
_PLAIN_REASONS = (
    ("Connection refused", "nothing answers there (is PostgreSQL running on that port?)."),
    ("No such file or directory", "no PostgreSQL server is listening on that local socket."),
    ("password authentication failed", "the server refused the user name or password."),
    ("no password supplied", "the server wants a password; store it in Settings."),
    ("timeout expired", "the server did not answer within 10 seconds."),
    ("could not translate host name", "that host name is unknown (check the spelling or DNS)."),
    ("Name or service not known", "that host name is unknown (check the spelling or DNS)."),
    ("Servname not supported", "the port is not a number."),
    ("invalid port number", "the port is not a valid number."),
    ('for connection option "port"', "the port is not a number."),
)


def _plain_reason(reason: str) -> str:
    for marker, plain in _PLAIN_REASONS:
        if marker in reason:
            return plain
    # The server's own words ("database "x" does not exist") without libpq's preamble.
    if "FATAL:" in reason:
        said = reason.rsplit("FATAL:", 1)[1].strip()
        return said[:1].upper() + said[1:] if said else reason
    return reason


def _redacted(text: str, url: str, password: object) -> str:
    """libpq's text without the connection string or the password, should it quote either."""
    secrets = [url, str(password)] if password else [url]
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "<hidden>")
    return text


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.rstrip(".") + "."
    return ""


# Schema ------------------------------------------------------------------------------------
def shipped_folder(name: str) -> Traversable:
    """sql/ or resources/: a subpackage of an installed wheel, or the repo's top-level folder in
    a source checkout (an editable install does not map them)."""
    try:
        return resources.files(f"manifest_gui.{name}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / name


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every numbered schema file, in order."""
    found = []
    folder = shipped_folder("sql")
    for entry in folder.iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


@contextmanager
def database_errors(
    conn: psycopg.Connection | None = None, task: DatabaseTask = DatabaseTask.READ
) -> Iterator[None]:
    """Turn what the database raised into one sentence (no password, no traceback); a bug
    goes through as it is. `conn` lets a load that waited for a lock name who holds it."""
    try:
        yield
    except psycopg.Error as exc:
        error = database_error(exc, task, conn=conn)
        if error is None:
            raise
        raise error from None


# A first load into an empty database holds t_manifest exclusively until it commits; readers
# give up after this long instead of hanging for the whole load.
READ_LOCK_TIMEOUT = "5s"


def _pending_migrations(conn: psycopg.Connection) -> bool:
    """Whether a schema file is not applied yet, found without DDL: a user who may not create
    schemas can still use a schema that its owner installed."""
    with conn.transaction():
        (installed,) = conn.execute(
            "SELECT to_regclass('manifest.t_schema_version') IS NOT NULL"
        ).fetchone()  # type: ignore[misc]
        if not installed:
            return True
        done = {row[0] for row in conn.execute("SELECT version FROM manifest.t_schema_version")}
    return any(number not in done for number, _, _ in migrations())


def ensure_schema(conn: psycopg.Connection, task: DatabaseTask = DatabaseTask.READ) -> list[str]:
    """Apply the schema files not applied yet, each in its own transaction; return their names.
    Safe to call from several processes at once (an advisory lock serializes them)."""
    with database_errors(conn, task):
        if not _pending_migrations(conn):
            return []
    with database_errors(conn, task if task is DatabaseTask.LOAD else DatabaseTask.UPGRADE):
        return _apply_migrations(conn)


def _apply_migrations(conn: psycopg.Connection) -> list[str]:
    applied_now: list[str] = []
    with conn.transaction():
        # A schema file that drops a view waits for its readers: bound it, unless the session
        # has a bound of its own (a load's).
        conn.execute(
            "SELECT set_config('lock_timeout', %s, true)"
            " WHERE current_setting('lock_timeout') = '0'",
            (f"{round(lock_wait_seconds() * 1000)}ms",),
        )
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS manifest")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS manifest.t_schema_version (
                   version integer PRIMARY KEY, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row[0] for row in conn.execute("SELECT version FROM manifest.t_schema_version")}
        for number, name, sql in migrations():
            if number in done:
                continue
            log.info("Applying schema file %s", name)
            with conn.transaction():
                conn.execute(sql.encode())  # a trusted file of many statements
                conn.execute(
                    "INSERT INTO manifest.t_schema_version (version, name) VALUES (%s, %s)",
                    (number, name),
                )
            applied_now.append(name)
    return applied_now


@contextmanager
def session(url: str, *, read_only: bool = False) -> Iterator[psycopg.Connection]:
    """A connection with the schema in place."""
    conn = connect(url, read_only=read_only)
    try:
        if not read_only:
            ensure_schema(conn)
            conn.commit()
        yield conn
    finally:
        conn.close()


# Read side ---------------------------------------------------------------------------------
_VERSION_COLUMNS = """manifest_id, version ->> 'version' AS version, version ->> 'path' AS path,
    language, loaded_at, effective_date, row_count, inserts, updates, deletes,
    load_seconds::float8 AS load_seconds, current"""


def current_version(conn: psycopg.Connection) -> DatabaseVersion | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_VERSION_COLUMNS} FROM manifest.t_manifest_version WHERE current"  # noqa: S608
        )
        row = cur.fetchone()
    return DatabaseVersion(**row) if row else None


def versions(conn: psycopg.Connection) -> list[DatabaseVersion]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_VERSION_COLUMNS} FROM manifest.t_manifest_version "  # noqa: S608
            "ORDER BY manifest_id"
        )
        return [DatabaseVersion(**row) for row in cur.fetchall()]


def table_counts(conn: psycopg.Connection) -> list[TableCount]:
    rows = conn.execute(
        """SELECT table_name, count(*) FROM manifest.t_manifest WHERE deleted IS NULL
           GROUP BY table_name ORDER BY table_name"""
    ).fetchall()
    return [TableCount(name, int(count)) for name, count in rows]


def is_load_running(conn: psycopg.Connection) -> bool:
    """True while another session holds the load lock."""
    row = conn.execute(
        """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND ((classid::bigint << 32) | objid::bigint) = %s""",
        (LOAD_LOCK,),
    ).fetchone()
    return bool(row and row[0])


__all__ = [
    "DatabaseTask",
    "DatabaseVersion",
    "TableCount",
    "connect",
    "current_version",
    "describe_url",
    "ensure_schema",
    "lock_wait_seconds",
    "refusal",
    "session",
    "strip_password",
    "table_counts",
    "versions",
]

"""Loading a manifest SQLite file into PostgreSQL as a new version, in one transaction.

Only what changed travels: each table's live rows are known by the digest of their JSON, so new
rows are COPYed straight into t_manifest, changed rows into the stage with their JSON, removed
keys into the stage without JSON, and unchanged rows not at all. fn_load_manifest then applies
the stage (updates, deletes, history) and counts. A failure or cancel rolls the version back.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg_errors

from .database import LOAD_LOCK, ensure_schema, lock_wait_seconds
from .db_errors import DatabaseTask, database_error
from .errors import LoadInProgressError
from .progress import Progress, Stage
from .row_stream import send_rows
from .source import ManifestSource

log = logging.getLogger(__name__)

MATERIALIZED_VIEWS = (
    "mv_activity_definitions",
    "mv_class_definitions",
    "mv_historical_stats_definitions",
)
# The one t_manifest table each view reads (its WHERE table_name = ...).
VIEW_TABLES = {
    "mv_activity_definitions": "DestinyActivityDefinition",
    "mv_class_definitions": "DestinyClassDefinition",
    "mv_historical_stats_definitions": "DestinyHistoricalStatsDefinition",
}


@dataclass(frozen=True)
class LoadResult:
    loaded: bool
    manifest_id: int | None
    version: str
    path: str
    rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    seconds: float = 0.0
    # Best-effort steps that failed while the load went ahead (archiving), as sentences.
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "loaded": self.loaded,
            "manifest_id": self.manifest_id,
            "version": self.version,
            "path": self.path,
            "rows": self.rows,
            "inserts": self.inserts,
            "updates": self.updates,
            "deletes": self.deletes,
            "seconds": round(self.seconds, 3),
        }


def load_manifest(
    conn: psycopg.Connection,
    source: ManifestSource,
    *,
    version: str,
    path: str,
    language: str | None,
    progress: Progress,
    skip_if_current: bool = False,
    lock_wait: float | None = None,
) -> LoadResult:
    """Load `source` as a new version. With skip_if_current, a manifest that became current
    while this load waited (another loader got there first) is not loaded twice. No lock is
    waited for longer than `lock_wait` seconds (default: lock_wait_seconds())."""
    started = time.monotonic()
    _bound_lock_waits(conn, lock_wait_seconds() if lock_wait is None else lock_wait)
    ensure_schema(conn, DatabaseTask.LOAD)
    conn.commit()
    remove_cancel_hook = progress.on_cancel(conn.cancel_safe)
    try:
        with conn.transaction():
            _take_load_lock(conn)
            current = _current_id(conn, version, path) if skip_if_current else None
            if current is not None:
                return LoadResult(False, current, version, path)
            manifest_id = _insert_version(conn, version, path, language)
            changed_tables = _copy_changes(conn, source, manifest_id, progress)
            log.info("Copied rows in %.2f s", time.monotonic() - started)
            counts = _apply_stage(conn, manifest_id, progress)
            log.info("Applied the stage at %.2f s", time.monotonic() - started)
            _refresh_views(conn, progress, changed_tables)
            seconds = time.monotonic() - started
            log.info("Refreshed views at %.2f s", seconds)
            _make_current(conn, manifest_id, source.total_rows, counts, seconds)
            progress.check_cancelled()
        progress.finish(source.total_rows)
    except psycopg.Error as exc:
        error = database_error(exc, DatabaseTask.LOAD, cancelled=progress.cancelled, conn=conn)
        if error is None:
            raise  # not a known failure: a bug, with its traceback
        raise error from None
    finally:
        remove_cancel_hook()
    seconds = time.monotonic() - started
    inserts, updates, deletes = counts
    log.info(
        "Loaded %s (%s) as version %d: %d rows, %d inserts, %d updates, %d deletes in %.1f s",
        version,
        path,
        manifest_id,
        source.total_rows,
        inserts,
        updates,
        deletes,
        seconds,
    )
    return LoadResult(
        True, manifest_id, version, path, source.total_rows, inserts, updates, deletes, seconds
    )


def _bound_lock_waits(conn: psycopg.Connection, seconds: float) -> None:
    """Every lock this session waits for, it waits at most `seconds` (then LockNotAvailable):
    a reader idle in its transaction must not hold a load, and every later one, for ever."""
    milliseconds = max(1, round(seconds * 1000))
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{milliseconds}ms",))
    conn.commit()


def _take_load_lock(conn: psycopg.Connection) -> None:
    """Two loaders never interleave: the second one gives up at once."""
    (locked,) = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOAD_LOCK,)).fetchone()  # type: ignore[misc]
    if not locked:
        raise LoadInProgressError()


def _current_id(conn: psycopg.Connection, version: str, path: str) -> int | None:
    """The current version's id when it is this manifest, else None."""
    row = conn.execute(
        "SELECT manifest_id FROM manifest.t_manifest_version WHERE current AND version = %s::jsonb",
        (json.dumps({"version": version, "path": path}),),
    ).fetchone()
    return None if row is None else int(row[0])


def _copy_changes(
    conn: psycopg.Connection, source: ManifestSource, manifest_id: int, progress: Progress
) -> set[str] | None:
    """Every row into an empty t_manifest, else new, changed and removed ones into the stage.
    Returns the tables whose live rows change (None: a first load, where all may)."""
    conn.execute("TRUNCATE manifest.t_manifest_stage")
    deferred_indexes = _drop_indexes_when_empty(conn)
    progress.start(Stage.LOAD, source.total_rows, "rows")
    into_empty = deferred_indexes is not None
    settle = _SettleViewTables(conn, manifest_id, progress)
    changed_tables = send_rows(
        conn, source, manifest_id, progress, into_empty=into_empty, settle=settle
    )
    # Every row is read: say so now (not throttled away), so the window shows a busy bar
    # while PostgreSQL builds indexes and applies the changes, not a bar stuck at 99%.
    progress.update(source.total_rows, force=True)
    if deferred_indexes:
        progress.message("Building indexes…")
        for definition in deferred_indexes:
            progress.check_cancelled()
            conn.execute(definition)
    return None if into_empty else changed_tables - settle.done


class _SettleViewTables:
    """Mid-way through a changed load, once the views' tables are read (their names come first
    in the alphabet): apply what is staged and refresh their views CONCURRENTLY while the
    reader goes on with the rest of the file. Otherwise the database sat idle while the rows
    were read, and the reader idle while the database applied them and refreshed the views."""

    tables = frozenset(VIEW_TABLES.values())

    def __init__(self, conn: psycopg.Connection, manifest_id: int, progress: Progress) -> None:
        self._conn = conn
        self._manifest_id = manifest_id
        self._progress = progress
        self.done: set[str] = set()  # tables applied, and their views refreshed, already

    def apply(self, done: set[str], changed: set[str]) -> None:
        self._progress.check_cancelled()
        self._conn.execute("SELECT manifest.fn_load_manifest(%s)", (self._manifest_id,))
        self._conn.execute("TRUNCATE manifest.t_manifest_stage")
        left = _refresh_views(self._conn, self._progress, changed, mid_load=True)
        self.done = done - left


def _apply_stage(
    conn: psycopg.Connection, manifest_id: int, progress: Progress
) -> tuple[int, int, int]:
    """Updates, deletes and history from the stage; the version's (inserts, updates, deletes)."""
    progress.message("Applying changes and refreshing views…")
    progress.check_cancelled()
    inserts, updates, deletes = conn.execute(
        "SELECT inserts, updates, deletes FROM manifest.fn_load_manifest(%s)",
        (manifest_id,),
    ).fetchone()  # type: ignore[misc]
    conn.execute("TRUNCATE manifest.t_manifest_stage")
    return int(inserts), int(updates), int(deletes)


# A view can be refreshed CONCURRENTLY, which never waits for its readers, when it holds data
# and has a unique index on plain columns over all rows (a view a DBA kept from before may not).
_REFRESHABLE_VIEWS = """
SELECT v.matviewname, v.ispopulated,
       v.ispopulated AND EXISTS (
           SELECT 1 FROM pg_index i
            WHERE i.indrelid = format('%%I.%%I', v.schemaname, v.matviewname)::regclass
              AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)
  FROM pg_matviews v
 WHERE v.schemaname = 'manifest' AND v.matviewname = ANY(%s)
 ORDER BY array_position(%s, v.matviewname::text)
"""


def _refresh_views(
    conn: psycopg.Connection,
    progress: Progress,
    changed_tables: set[str] | None,
    *,
    mid_load: bool = False,
) -> set[str]:
    """Refresh the views whose table this load changes (in a weekly release most often the
    activity view alone; the others keep their rows). A plain refresh is about twice as fast
    as a CONCURRENTLY one but holds an ACCESS EXCLUSIVE lock until commit, which a reader idle
    in its transaction after reading the view holds off for as long as it likes. So at the end
    of the load, right before commit, a view nobody holds is refreshed plainly (never waiting
    for its lock), and one a reader holds CONCURRENTLY where it allows that. Mid-load (beside
    the reading of the rest of the file, which hides most of its cost; a plain refresh at the
    end measured slower) views are refreshed CONCURRENTLY, and the tables of those that do
    not allow it are returned, left for the end."""
    names = list(MATERIALIZED_VIEWS)
    left: set[str] = set()
    for view, populated, concurrent_ok in conn.execute(
        _REFRESHABLE_VIEWS, (names, names)
    ).fetchall():
        table = VIEW_TABLES[view]
        if populated and changed_tables is not None and table not in changed_tables:
            continue
        progress.check_cancelled()
        identifier = psycopg.sql.Identifier("manifest", view)
        if mid_load and not concurrent_ok:
            left.add(table)
            continue
        started = time.monotonic()
        concurrently = concurrent_ok and (mid_load or not _refresh_plainly_now(conn, identifier))
        if concurrently or not concurrent_ok:  # the latter: plainly, waiting (a bounded wait)
            how = (
                "REFRESH MATERIALIZED VIEW CONCURRENTLY {}"
                if concurrently
                else "REFRESH MATERIALIZED VIEW {}"
            )
            conn.execute(psycopg.sql.SQL(how).format(identifier))
        log.info(
            "Refreshed %s %s in %.2f s",
            view,
            "concurrently" if concurrently else "plainly",
            time.monotonic() - started,
        )
    return left


def _make_current(
    conn: psycopg.Connection,
    manifest_id: int,
    rows: int,
    counts: tuple[int, int, int],
    seconds: float,
) -> None:
    conn.execute("UPDATE manifest.t_manifest_version SET current = false WHERE current")
    conn.execute(
        """UPDATE manifest.t_manifest_version
              SET current = true, row_count = %s, inserts = %s, updates = %s,
                  deletes = %s, load_seconds = %s, loaded_at = now()
            WHERE manifest_id = %s""",
        (rows, *counts, round(seconds, 3), manifest_id),
    )


def _drop_indexes_when_empty(conn: psycopg.Connection) -> list[bytes] | None:
    """A first load into an empty t_manifest builds its indexes once at the end, which is
    cheaper than maintaining them row by row. Returns the CREATE INDEX statements to run after
    the COPY (from the catalog, so indexes added by later schema files are included), or None
    when the table has rows; the drop and the rebuild are part of the load's transaction."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM manifest.t_manifest)").fetchone() != (False,):
        return None
    if not _lock_now(conn, psycopg.sql.Identifier("manifest", "t_manifest")):
        # Another session holds the empty table (a reader idle in its transaction, say): load
        # around it with the indexes in place, as into a table with rows, instead of waiting.
        log.info("t_manifest is in use elsewhere; loading without dropping its indexes")
        return None
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
            WHERE i.indrelid = 'manifest.t_manifest'::regclass AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""
    ).fetchall()
    for name, _ in rows:
        conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(_qualified(name)))
    # Empty, so nothing is lost; a table truncated in this transaction lets a server with
    # wal_level=minimal (the embedded one) skip writing the bulk COPY to the WAL.
    conn.execute("TRUNCATE manifest.t_manifest")
    return [definition.encode() for _, definition in rows]


def _lock_now(conn: psycopg.Connection, table: psycopg.sql.Identifier) -> bool:
    """Take `table` ACCESS EXCLUSIVE if nobody holds a lock on it now; never wait."""
    lock = psycopg.sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(table)
    try:
        with conn.transaction():  # a savepoint: a refused lock must not fail the load
            conn.execute(lock)
    except pg_errors.LockNotAvailable:
        return False
    return True


def _refresh_plainly_now(conn: psycopg.Connection, view: psycopg.sql.Identifier) -> bool:
    """Refresh `view` plainly if its ACCESS EXCLUSIVE lock is to be had at once; False (and
    nothing done) when another session holds a lock on it. LOCK TABLE … NOWAIT refuses
    materialized views, so the refresh itself asks, with lock_timeout at 1 ms in a savepoint
    (the refresh takes that lock before anything else). Refused (55P03), the rollback to the
    savepoint undoes the setting too; otherwise it is set back to the load's bound."""
    (bound,) = conn.execute("SELECT current_setting('lock_timeout')").fetchone()  # type: ignore[misc]
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', '1ms', true)")
            conn.execute(psycopg.sql.SQL("REFRESH MATERIALIZED VIEW {}").format(view))
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (bound,))
    except pg_errors.LockNotAvailable:
        return False
    return True


def _qualified(regclass_text: str) -> psycopg.sql.Composable:
    """An index name as regclass prints it (schema-qualified, quoted as needed) -> identifier."""
    schema, _, name = regclass_text.rpartition(".")
    parts = [part.strip('"').replace('""', '"') for part in (schema, name) if part]
    return psycopg.sql.Identifier(*parts)


def _insert_version(conn: psycopg.Connection, version: str, path: str, language: str | None) -> int:
    row = conn.execute(
        """INSERT INTO manifest.t_manifest_version (version, current, language)
           VALUES (%s::jsonb, false, %s) RETURNING manifest_id""",
        (json.dumps({"version": version, "path": path}), language),
    ).fetchone()
    assert row is not None
    return int(row[0])

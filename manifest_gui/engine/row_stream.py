"""The rows a load sends to PostgreSQL, read and hashed in a thread of their own.

Reading ~400 MB of JSON out of SQLite and hashing it is most of a load's client work; fetching
the live rows' digests is most of a changed load's database work before anything is written.
They overlap: a reader thread reads and hashes table after table (SQLite and hashlib let go of
the GIL for that), while the loading thread fetches each table's live digests, hands them over
and then streams what the reader found to PostgreSQL as ready-made COPY data:
- into an empty t_manifest (a first load): every row, straight into the table;
- otherwise into the stage: new and changed rows with their JSON, removed keys without.
  Unchanged rows (about 97% of a weekly release) never leave the reader.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Iterator
from typing import Protocol

import psycopg

from .errors import BadManifestFileError
from .progress import Progress
from .source import Key, ManifestSource, SourceTable

BATCH_BYTES = 1 << 20  # COPY data is handed over and sent about every MiB
QUEUE_BYTES = 16 << 20  # at most this much waits between the reader and the loading thread
POLL_SECONDS = 0.1  # how often a waiting thread looks for a cancel or a stop
STOP_CHECK_ROWS = 4096  # the reader looks for a stop this often while it sends nothing
_ABSENT = object()

# FREEZE: the table was emptied by TRUNCATE in this transaction, so its rows can be written
# frozen and their pages marked all-visible. Otherwise the next reads of every row (the next
# load's digests, the view refresh) would each look up the transaction's commit and rewrite
# every page to note it, and the digests could not be read from an index alone.
_INTO_TABLE = (
    "COPY manifest.t_manifest (created_by, table_name, pk, json, json_digest) FROM STDIN "
    "WITH (FREEZE)"
)
_INTO_STAGE = "COPY manifest.t_manifest_stage (table_name, pk, json, json_digest) FROM STDIN"

# The tables that have live rows, one index probe each (a loose index scan) instead of a pass
# over every live row.
_LIVE_TABLES = """
WITH RECURSIVE live (table_name) AS (
    SELECT min(table_name) FROM manifest.t_manifest WHERE deleted IS NULL
    UNION ALL
    SELECT (SELECT min(m.table_name) FROM manifest.t_manifest m
             WHERE m.deleted IS NULL AND m.table_name > live.table_name)
      FROM live WHERE live.table_name IS NOT NULL
)
SELECT table_name FROM live WHERE table_name IS NOT NULL
"""


def copy_escape(data: bytes) -> bytes:
    """Escape for COPY's text format (JSON text has no NUL; tabs/newlines only as whitespace)."""
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b"\n" in data or b"\r" in data or b"\t" in data:
        data = data.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")
    return data


def pk_text(key: Key) -> bytes:
    """pk by the key's own type: a table can switch between id and key columns across
    releases, and the rows it had before keep the pk they were stored with."""
    if isinstance(key, int):
        return b'{"id": %d}' % key
    return copy_escape(json.dumps({"key": key}, ensure_ascii=False).encode("utf-8"))


def digest_text(digest: bytes) -> bytes:
    return b"\\\\x" + digest.hex().encode()


def send_rows(
    conn: psycopg.Connection,
    source: ManifestSource,
    manifest_id: int,
    progress: Progress,
    *,
    into_empty: bool,
    settle: Settle | None = None,
) -> set[str]:
    """COPY the source's rows: all of them into an empty t_manifest, or what changed since the
    live rows into the stage. Returns the names of the tables whose live rows change.

    With `settle` (a changed load), once the tables it names are read, their rows are staged
    and settle.apply(done, changed) is called: the database applies them (and refreshes what
    reads them) while the reader goes on with the other tables."""
    if into_empty:
        statement = _INTO_TABLE
        prefixes = [b"%d\t%s\t" % (manifest_id, _name(table.name)) for table in source.tables]
    else:
        statement = _INTO_STAGE
        prefixes = [_name(table.name) + b"\t" for table in source.tables]
    reader = _RowReader(source, prefixes)
    try:
        reader.start()
        live = set() if into_empty else _live_tables(conn)
        gone = [
            (name, list(_live_digests(conn, name)))
            for name in sorted(live.difference(table.name for table in source.tables))
        ]
        for table in source.tables:
            progress.check_cancelled()
            reader.give(_live_digests(conn, table.name) if table.name in live else {})
            progress.update(reader.rows_read, detail=reader.table_name)
        settle_at = None if into_empty or settle is None else _last_of(source, settle.tables)
        for until in (None,) if settle_at is None else (settle_at, None):
            with conn.cursor() as cur, cur.copy(statement) as copy:
                for chunk in reader.chunks(progress, until):
                    copy.write(chunk)
                    progress.update(reader.rows_read, detail=reader.table_name)
                if until is None:
                    for name, keys in gone:  # tables the new manifest no longer has
                        prefix = _name(name) + b"\t"
                        copy.write(
                            b"".join(prefix + pk_text(key) + b"\t\\N\t\\N\n" for key in keys)
                        )
            if until is not None and settle is not None:
                done = {table.name for table in source.tables[: until + 1]}
                settle.apply(done, reader.changed())
    finally:
        reader.stop()
    return reader.changed() | {name for name, _ in gone}


class Settle(Protocol):
    """What a changed load does with the rows staged so far, mid-load."""

    tables: frozenset[str]  # settle once these (those the source has) are read

    def apply(self, done: set[str], changed: set[str]) -> None:
        """Apply the stage; `done`: the tables read so far; `changed`: those that changed."""


def _last_of(source: ManifestSource, names: frozenset[str]) -> int | None:
    """Where the last of `names` is among the source's tables, unless it is the last table
    (settling then gains nothing) or none is there."""
    found = [index for index, table in enumerate(source.tables) if table.name in names]
    if not found or found[-1] == len(source.tables) - 1:
        return None
    return found[-1]


def _name(table_name: str) -> bytes:
    return copy_escape(table_name.encode("utf-8"))


def _live_tables(conn: psycopg.Connection) -> set[str]:
    return {name for (name,) in conn.execute(_LIVE_TABLES)}


def _live_digests(conn: psycopg.Connection, table_name: str) -> dict[Key, bytes | None]:
    """The table's live keys and the digests of their JSON (None where none was kept)."""
    with conn.cursor(binary=True) as cur:
        cur.execute(
            """SELECT (pk ->> 'id')::int8, pk ->> 'key', json_digest FROM manifest.t_manifest
                WHERE table_name = %s AND deleted IS NULL""",
            (table_name,),
        )
        return {key if key is not None else text: digest for key, text, digest in cur}


class _Chunks:
    """COPY data waiting between the reader and the loading thread, bounded in bytes; the
    reader's end (None) or the exception it raised travel the same way."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: deque[bytes | int | BaseException | None] = deque()
        self._bytes = 0
        self._ready = threading.Condition()

    def put(self, item: bytes | int | BaseException | None, stopped: threading.Event) -> None:
        size = len(item) if isinstance(item, bytes) else 0
        with self._ready:
            while self._bytes and self._bytes + size > self._limit and not stopped.is_set():
                self._ready.wait(POLL_SECONDS)
            self._items.append(item)
            self._bytes += size
            self._ready.notify_all()

    def get(self) -> bytes | int | BaseException | object | None:
        """The next item, or _ABSENT when none came within POLL_SECONDS."""
        with self._ready:
            if not self._items:
                self._ready.wait(POLL_SECONDS)
                if not self._items:
                    return _ABSENT
            item = self._items.popleft()
            if isinstance(item, bytes):
                self._bytes -= len(item)
            self._ready.notify_all()
            return item


class _RowReader:
    """Reads, checks and hashes the source's rows in a thread of its own, table after table,
    each against the live digests the loading thread gives it, and turns the rows that differ
    (and the keys that are gone) into COPY lines."""

    def __init__(self, source: ManifestSource, prefixes: list[bytes]) -> None:
        self._source = source
        self._prefixes = prefixes
        self._known: deque[dict[Key, bytes | None]] = deque()
        self._given = threading.Condition()
        self._chunks = _Chunks(QUEUE_BYTES)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="manifest-row-reader", daemon=True)
        self.rows_read = 0
        self.table_name = ""
        self._changed_tables: set[str] = set()
        self._changed_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def changed(self) -> set[str]:
        """The tables read so far whose rows differ from the live ones."""
        with self._changed_lock:
            return set(self._changed_tables)

    def give(self, known: dict[Key, bytes | None]) -> None:
        """The live digests of the next table, in the source's table order."""
        with self._given:
            self._known.append(known)
            self._given.notify()

    def chunks(self, progress: Progress, until: int | None = None) -> Iterator[bytes]:
        """COPY data as the reader makes it, to the end of table number `until` (None: of all
        tables); raises what the reader raised."""
        while True:
            progress.check_cancelled()
            item = self._chunks.get()
            if item is _ABSENT:
                progress.update(self.rows_read, detail=self.table_name)
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, int):  # a table read to its end
                if item == until:
                    return
                continue
            assert isinstance(item, bytes)
            yield item

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            with self._source.reopened() as source:
                for index, (table, prefix) in enumerate(
                    zip(source.tables, self._prefixes, strict=True)
                ):
                    known = self._next_known()
                    if known is None:
                        return
                    self._read(source, table, prefix, known)
                    self._chunks.put(index, self._stopped)
            self._chunks.put(None, self._stopped)
        except BaseException as exc:  # raised again in the loading thread
            self._chunks.put(exc, self._stopped)

    def _next_known(self) -> dict[Key, bytes | None] | None:
        with self._given:
            while not self._known:
                if self._stopped.is_set():
                    return None
                self._given.wait(POLL_SECONDS)
            return self._known.popleft()

    def _read(
        self,
        source: ManifestSource,
        table: SourceTable,
        prefix: bytes,
        known: dict[Key, bytes | None],
    ) -> None:
        self.table_name = table.name
        lines: list[bytes] = []
        size = 0
        sent = False
        last_key: object = _ABSENT
        for key, blob in source.rows(table):
            # Rows come in key order, so a key given twice shows as two equal neighbours.
            if key == last_key:
                raise BadManifestFileError(
                    f"The manifest's table {table.name} has the key {key!r} twice."
                )
            last_key = key
            self.rows_read += 1
            if not self.rows_read % STOP_CHECK_ROWS and self._stopped.is_set():
                return
            digest = hashlib.md5(blob, usedforsecurity=False).digest()
            if known.pop(key, _ABSENT) == digest:
                continue
            line = b"".join(
                (prefix, pk_text(key), b"\t", copy_escape(blob), b"\t", digest_text(digest), b"\n")
            )
            lines.append(line)
            size += len(line)
            if size >= BATCH_BYTES:
                self._chunks.put(b"".join(lines), self._stopped)
                lines.clear()
                size = 0
                sent = True
        lines.extend(prefix + pk_text(key) + b"\t\\N\t\\N\n" for key in known)  # gone
        if lines:
            self._chunks.put(b"".join(lines), self._stopped)
        if lines or sent:
            with self._changed_lock:
                self._changed_tables.add(table.name)

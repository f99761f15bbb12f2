"""Reading a manifest SQLite database, table by table, streaming.

Every table with a json column and an `id INTEGER` (the hash as a signed 32-bit number) or a
`key TEXT` key is a definition table, whatever its name: new ones appear in new releases.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import BadManifestFileError
from .extract import is_sqlite_file

log = logging.getLogger(__name__)

Key = int | str
MAX_TABLE_NAME = 100  # t_manifest.table_name is varchar(100), as in the seed


@dataclass(frozen=True)
class SourceTable:
    name: str
    key_column: str  # "id" or "key"
    rows: int

    @property
    def quoted(self) -> str:
        # SQLite identifier quoting: the name comes from the file, never pasted raw.
        return '"' + self.name.replace('"', '""') + '"'


class ManifestSource:
    """A read-only view of one manifest SQLite file."""

    def __init__(self, path: Path, *, tables: list[SourceTable] | None = None) -> None:
        self.path = path
        try:
            if not is_sqlite_file(path):
                raise BadManifestFileError(f"{path.name} is not a SQLite database.")
        except OSError as exc:
            raise BadManifestFileError(f"Cannot read {path.name}: {exc.strerror or exc}.") from None
        uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._conn.text_factory = bytes
        if tables is not None:
            self.tables = tables
            return
        try:
            self.tables = self._discover()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise BadManifestFileError(
                f"{path.name} is not a readable SQLite database: {exc}."
            ) from None
        except BaseException:
            self.close()
            raise
        if not self.tables:
            self.close()
            raise BadManifestFileError(f"{path.name} holds no manifest definition tables.")

    def close(self) -> None:
        self._conn.close()

    def reopened(self) -> ManifestSource:
        """The same file and tables through a connection of its own, for another thread."""
        return ManifestSource(self.path, tables=self.tables)

    def __enter__(self) -> ManifestSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def _discover(self) -> list[SourceTable]:
        raw_names = [
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        tables = []
        for raw_name in raw_names:
            try:
                name = raw_name.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise BadManifestFileError(
                    f"{self.path.name} has a table whose name is not UTF-8 text: {raw_name[:40]!r}."
                ) from None
            if len(name) > MAX_TABLE_NAME:
                raise BadManifestFileError(
                    f"{self.path.name} has a table name longer than {MAX_TABLE_NAME} characters "
                    f"({name[:40]}…)."
                )
            quoted = '"' + name.replace('"', '""') + '"'
            columns = {
                row[1].decode().lower(): row[2].decode().upper()
                for row in self._conn.execute(f"PRAGMA table_info({quoted})")
            }
            if "json" not in columns:
                log.warning("Skipping table %s: it has no json column", name)
                continue
            if "id" in columns:
                key = "id"
            elif "key" in columns:
                key = "key"
            else:
                log.warning("Skipping table %s: it has neither an id nor a key column", name)
                continue
            query = f"SELECT count(*) FROM {quoted}"  # noqa: S608 - quoted identifier
            (count,) = self._conn.execute(query).fetchone()
            tables.append(SourceTable(name, key, int(count)))
        return tables

    def rows(self, table: SourceTable) -> Iterator[tuple[Key, bytes]]:
        """(key, raw JSON bytes) in key order; keys are ints for id tables, str for key tables."""
        # key_column is "id" or "key" (checked in _discover); the table name is quoted.
        query = f"SELECT {table.key_column}, json FROM {table.quoted} ORDER BY {table.key_column}"  # noqa: S608
        cursor = self._conn.execute(query)
        try:
            while batch := cursor.fetchmany(500):
                for key, blob in batch:
                    yield _key(table, key), _blob(table, key, blob)
        except sqlite3.DatabaseError as exc:
            raise BadManifestFileError(
                f"{self.path.name} is damaged in table {table.name}: {exc}."
            ) from None
        finally:
            cursor.close()

    def row(self, table: SourceTable, key: Key) -> bytes:
        query = f"SELECT json FROM {table.quoted} WHERE {table.key_column} = ?"  # noqa: S608
        found = self._conn.execute(query, (key,)).fetchone()
        if found is None:
            raise BadManifestFileError(f"{self.path.name} changed while it was being loaded.")
        return _blob(table, key, found[0])


def _key(table: SourceTable, key: object) -> Key:
    if table.key_column == "id":
        if not isinstance(key, int):
            raise BadManifestFileError(f"Table {table.name} has a non-integer id {key!r}.")
        if not -(2**31) <= key < 2**31:
            raise BadManifestFileError(f"Table {table.name} has an id outside 32 bits: {key}.")
        return key
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadManifestFileError(
                f"Table {table.name} has a key that is not UTF-8 text: {key[:40]!r}."
            ) from None
    if key is None:
        raise BadManifestFileError(f"Table {table.name} has a row without a key.")
    return str(key)


def _blob(table: SourceTable, key: object, blob: object) -> bytes:
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, str):
        return blob.encode("utf-8")
    raise BadManifestFileError(f"Table {table.name} row {key!r} has no JSON.")

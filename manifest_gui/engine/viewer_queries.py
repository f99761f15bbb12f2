"""Read-only queries behind the built-in viewer. No Qt here, so they are testable alone.

Every function takes an open psycopg connection (the viewer opens it with read_only=True, so
each transaction is READ ONLY) and runs one short transaction. Text from the search box or
from the data only ever travels as a query parameter; the only SQL fragments composed at run
time are fixed ones chosen from the tables below, never user text.

Paging is keyset pagination: a page starts after the last row of the previous one, in the same
ORDER BY, so page 100 costs what page 1 costs and the indexes of sql/002_viewer.sql serve the
ORDER BY (hash and name order of one table).
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .errors import ExportError

HASH_MASK = 0xFFFFFFFF
PAGE_SIZE = 200
SCHEMA_VERSION = 2  # sql/002_viewer.sql adds what these queries need


def to_unsigned(id_: int) -> int:
    """The hash as the game and the API write it (SQLite stores it as signed 32-bit)."""
    return id_ & HASH_MASK


def to_signed(hash_: int) -> int:
    """The signed 32-bit id that pk holds for an unsigned hash."""
    hash_ &= HASH_MASK
    return hash_ - (1 << 32) if hash_ >= 1 << 31 else hash_


def pk_label(pk: dict[str, Any]) -> str:
    """How a key is shown: the unsigned hash, or the text key of a TEXT-keyed table."""
    if "id" in pk:
        return str(to_unsigned(int(pk["id"])))
    return str(pk.get("key", ""))


class SortColumn(Enum):
    """What the rows can be ordered by; each maps to one fixed SQL expression below."""

    TABLE = "table"
    HASH = "hash"
    NAME = "name"
    DESCRIPTION = "description"
    CREATED = "created"
    CHANGED = "changed"


# Fixed expressions over t_manifest m. HASH and NAME match the indexes of 002 exactly.
_SORT_SQL: dict[SortColumn, sql.Composable] = {
    SortColumn.TABLE: sql.SQL("m.table_name::text"),
    SortColumn.HASH: sql.SQL("coalesce((m.pk ->> 'id')::bigint & 4294967295, -1)"),
    SortColumn.NAME: sql.SQL("coalesce(m.name, '')"),
    SortColumn.DESCRIPTION: sql.SQL(
        "coalesce(m.json -> 'displayProperties' ->> 'description', '')"
    ),
    SortColumn.CREATED: sql.SQL("m.created_by"),
    SortColumn.CHANGED: sql.SQL("coalesce(m.last_updated_by, m.created_by)"),
}


@dataclass(frozen=True)
class TableInfo:
    name: str
    live_rows: int


@dataclass(frozen=True)
class SearchTerms:
    """What the search box text means: hashes (signed ids) or a LIKE pattern for names."""

    ids: tuple[int, ...] = ()
    pattern: str | None = None

    @property
    def empty(self) -> bool:
        return not self.ids and self.pattern is None


_NUMBER = re.compile(r"^[+-]?\d{1,10}$")


def like_pattern(text: str) -> str:
    """A case-folded substring LIKE pattern; %, _ and \\ in the text match themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def parse_search(text: str) -> SearchTerms:
    """A number (signed or unsigned 32-bit) is a hash, like data.destinysets.com reads it;
    anything else, or a number in double quotes ("1000"), is a name substring."""
    text = text.strip()
    if not text:
        return SearchTerms()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        inner = text[1:-1].strip()
        return SearchTerms(pattern=like_pattern(inner)) if inner else SearchTerms()
    compact = text.replace(" ", "").replace(",", "")
    if _NUMBER.match(compact):
        number = int(compact)
        if -(1 << 31) <= number < (1 << 32):
            return SearchTerms(ids=(to_signed(number),))
    return SearchTerms(pattern=like_pattern(text))


@dataclass(frozen=True)
class RowQuery:
    """Rows of one table (text empty) or a search (in one table, or all when table is None)."""

    table: str | None = None
    text: str = ""
    sort: SortColumn = SortColumn.HASH
    descending: bool = False

    @property
    def is_search(self) -> bool:
        return bool(self.text.strip())


@dataclass(frozen=True)
class DefinitionRow:
    table_name: str
    pk: dict[str, Any]
    name: str | None
    description: str | None
    created_by: int
    created_version: str | None
    changed_by: int
    changed_version: str | None
    sort_value: Any = field(repr=False, default=None)
    json: Any = field(repr=False, default=None)

    @property
    def id(self) -> int | None:
        """The signed id, or None for a TEXT-keyed row."""
        return int(self.pk["id"]) if "id" in self.pk else None

    @property
    def hash(self) -> int | None:
        id_ = self.id
        return None if id_ is None else to_unsigned(id_)

    @property
    def label(self) -> str:
        return pk_label(self.pk)


def schema_ready(conn: psycopg.Connection) -> bool:
    """True when the manifest schema exists at the version these queries need (the viewer never
    writes: the engine applies the schema on its next check or load)."""
    with conn.transaction():
        found = conn.execute("SELECT to_regclass('manifest.t_schema_version')").fetchone()
        if not found or found[0] is None:
            return False
        row = conn.execute("SELECT max(version) FROM manifest.t_schema_version").fetchone()
    return bool(row and row[0] is not None and row[0] >= SCHEMA_VERSION)


def list_tables(conn: psycopg.Connection) -> list[TableInfo]:
    """Every table with live rows, with its live row count (counted now, not cached)."""
    with conn.transaction():
        rows = conn.execute(
            """SELECT table_name, count(*) FROM manifest.t_manifest WHERE deleted IS NULL
               GROUP BY table_name ORDER BY table_name"""
        ).fetchall()
    return [TableInfo(name, int(count)) for name, count in rows]


def version_labels(conn: psycopg.Connection) -> dict[int, str]:
    """manifest_id -> version string, for showing who created or changed a row."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT manifest_id, version ->> 'version' FROM manifest.t_manifest_version"
        ).fetchall()
    return {int(mid): str(version) for mid, version in rows}


def _filters(query: RowQuery) -> tuple[list[sql.Composable], list[Any]]:
    where: list[sql.Composable] = [sql.SQL("m.deleted IS NULL")]
    params: list[Any] = []
    if query.table is not None:
        where.append(sql.SQL("m.table_name = %s"))
        params.append(query.table)
    terms = parse_search(query.text)
    if terms.ids:
        where.append(sql.SQL("m.pk = ANY(%s::jsonb[])"))
        params.append([Jsonb({"id": id_}) for id_ in terms.ids])
    elif terms.pattern is not None:
        # TEXT-keyed rows (DestinyHistoricalStatsDefinition) match on their key as well.
        where.append(sql.SQL("(lower(m.name) LIKE %s OR lower(m.pk ->> 'key') LIKE %s)"))
        params.extend([terms.pattern, terms.pattern])
    return where, params


def fetch_rows(
    conn: psycopg.Connection,
    query: RowQuery,
    after: DefinitionRow | None = None,
    limit: int = PAGE_SIZE,
    *,
    with_json: bool = False,
) -> list[DefinitionRow]:
    """One page of live rows in the query's order, starting after `after`.

    The inner query picks the page from narrow columns only (pk, the generated name column,
    the *_by columns), so JSON is read (detoasted) for the page's rows alone."""
    where, params = _filters(query)
    sort_expr = _SORT_SQL[query.sort]
    one_table = query.table is not None
    # Keyset: (sort value, [table_name,] pk) is unique and total; the sort value comes back as
    # a column so the next page can continue from it.
    keys: list[sql.Composable] = [sql.SQL("sort_value")]
    inner_keys: list[sql.Composable] = [sort_expr]
    if not one_table:
        keys.append(sql.SQL("table_name"))
        inner_keys.append(sql.SQL("m.table_name"))
    keys.append(sql.SQL("pk"))
    inner_keys.append(sql.SQL("m.pk"))
    if after is not None:
        values: list[Any] = [after.sort_value]
        if not one_table:
            values.append(after.table_name)
        values.append(Jsonb(after.pk))
        where.append(
            sql.SQL("({}) {} ({})").format(
                sql.SQL(", ").join(inner_keys),
                sql.SQL("<" if query.descending else ">"),
                sql.SQL(", ").join(sql.Placeholder() for _ in values),
            )
        )
        params.extend(values)
    direction = sql.SQL(" DESC" if query.descending else "")
    order_inner = sql.SQL(", ").join(sql.Composed([k, direction]) for k in inner_keys)
    order_outer = sql.SQL(", ").join(sql.Composed([sql.SQL("p."), k, direction]) for k in keys)
    json_column = sql.SQL(", p.json AS full_json" if with_json else "")
    statement = sql.SQL(
        """SELECT p.table_name, p.pk, p.name, p.sort_value, p.created_by, p.changed_by,
                  p.json -> 'displayProperties' ->> 'description' AS description,
                  cv.version ->> 'version' AS created_version,
                  lv.version ->> 'version' AS changed_version{json_column}
             FROM (SELECT m.table_name::text AS table_name, m.pk, m.name, m.json,
                          {sort_expr} AS sort_value, m.created_by,
                          coalesce(m.last_updated_by, m.created_by) AS changed_by
                     FROM manifest.t_manifest m
                    WHERE {where}
                    ORDER BY {order_inner}
                    LIMIT %s) p
             LEFT JOIN manifest.t_manifest_version cv ON cv.manifest_id = p.created_by
             LEFT JOIN manifest.t_manifest_version lv ON lv.manifest_id = p.changed_by
            ORDER BY {order_outer}"""
    ).format(
        json_column=json_column,
        sort_expr=sort_expr,
        where=sql.SQL(" AND ").join(where),
        order_inner=order_inner,
        order_outer=order_outer,
    )
    params.append(limit)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params)
        return [_definition_row(row) for row in cur.fetchall()]


def _definition_row(row: dict[str, Any]) -> DefinitionRow:
    return DefinitionRow(
        table_name=row["table_name"],
        pk=row["pk"],
        name=row["name"],
        description=row["description"],
        created_by=row["created_by"],
        created_version=row["created_version"],
        changed_by=row["changed_by"],
        changed_version=row["changed_version"],
        sort_value=row["sort_value"],
        json=row.get("full_json"),
    )


def count_rows(conn: psycopg.Connection, query: RowQuery) -> int:
    """How many live rows the query matches (for the status line of a search)."""
    where, params = _filters(query)
    statement = sql.SQL("SELECT count(*) FROM manifest.t_manifest m WHERE {}").format(
        sql.SQL(" AND ").join(where)
    )
    with conn.transaction():
        row = conn.execute(statement, params).fetchone()
    return int(row[0]) if row else 0


def iter_rows(
    conn: psycopg.Connection,
    query: RowQuery,
    *,
    batch: int = 1000,
    with_json: bool = False,
    check: Callable[[], None] | None = None,
) -> Iterator[DefinitionRow]:
    """Every row of the query, page after page (export)."""
    after: DefinitionRow | None = None
    while True:
        if check is not None:
            check()
        page = fetch_rows(conn, query, after, batch, with_json=with_json)
        yield from page
        if len(page) < batch:
            return
        after = page[-1]


# Definitions and hash links ----------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    table_name: str
    pk: dict[str, Any]
    name: str | None
    json: Any
    created_by: int
    changed_by: int

    @property
    def label(self) -> str:
        return pk_label(self.pk)


def get_definition(
    conn: psycopg.Connection, table_name: str, pk: dict[str, Any]
) -> Definition | None:
    """The live definition of (table, pk), or None when there is none."""
    with conn.transaction():
        row = conn.execute(
            """SELECT table_name::text, pk, name, json, created_by,
                      coalesce(last_updated_by, created_by)
                 FROM manifest.t_manifest m
                WHERE m.pk = %s AND m.table_name = %s AND m.deleted IS NULL""",
            (Jsonb(pk), table_name),
        ).fetchone()
    return Definition(*row) if row else None


@dataclass(frozen=True)
class LinkTarget:
    table_name: str
    id: int  # signed, as pk holds it
    name: str | None

    @property
    def hash(self) -> int:
        return to_unsigned(self.id)


def lookup_hash(conn: psycopg.Connection, hash_: int) -> list[LinkTarget]:
    """Every live definition with this hash (signed or unsigned), across all tables."""
    return resolve_hashes(conn, [hash_]).get(to_unsigned(hash_), [])


def resolve_hashes(
    conn: psycopg.Connection, hashes: Collection[int]
) -> dict[int, list[LinkTarget]]:
    """unsigned hash -> the live definitions it names, for those of `hashes` that name any.
    One index lookup per hash (ux_manifest_live_pk leads with pk)."""
    ids = sorted({to_signed(h) for h in hashes if -(1 << 31) <= h < (1 << 32)})
    if not ids:
        return {}
    found: dict[int, list[LinkTarget]] = {}
    with conn.transaction():
        rows = conn.execute(
            """SELECT (m.pk ->> 'id')::bigint, m.table_name::text, m.name
                 FROM manifest.t_manifest m
                WHERE m.pk = ANY(%s::jsonb[]) AND m.deleted IS NULL
                ORDER BY 2""",
            ([Jsonb({"id": id_}) for id_ in ids],),
        ).fetchall()
    for id_, table_name, name in rows:
        found.setdefault(to_unsigned(int(id_)), []).append(LinkTarget(table_name, int(id_), name))
    return found


# History -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableChanges:
    table_name: str
    inserts: int
    updates: int
    deletes: int


_HASH_ORDER = "coalesce((pk ->> 'id')::bigint & 4294967295, -1)"


class Change(Enum):
    INSERTED = "I"
    UPDATED = "U"
    DELETED = "D"


@dataclass(frozen=True)
class ChangedRow:
    table_name: str
    pk: dict[str, Any]
    name: str | None

    @property
    def label(self) -> str:
        return pk_label(self.pk)


def version_changes(conn: psycopg.Connection, manifest_id: int) -> list[TableChanges]:
    """Per table, the rows a version inserted, updated and deleted. Updates and deletes come
    from t_manifest_history (every change is kept there, not only the last one)."""
    with conn.transaction():
        rows = conn.execute(
            """WITH i AS (SELECT table_name::text AS table_name, count(*) AS n
                            FROM manifest.t_manifest WHERE created_by = %(id)s GROUP BY 1),
                    h AS (SELECT table_name::text AS table_name,
                                 count(*) FILTER (WHERE change = 'U') AS u,
                                 count(*) FILTER (WHERE change = 'D') AS d
                            FROM manifest.t_manifest_history WHERE manifest_id = %(id)s
                           GROUP BY 1)
               SELECT table_name, coalesce(i.n, 0), coalesce(h.u, 0), coalesce(h.d, 0)
                 FROM i FULL JOIN h USING (table_name)
                ORDER BY table_name""",
            {"id": manifest_id},
        ).fetchall()
    return [TableChanges(t, int(i), int(u), int(d)) for t, i, u, d in rows]


def changed_rows(
    conn: psycopg.Connection,
    manifest_id: int,
    table_name: str,
    change: Change,
    after: ChangedRow | None = None,
    limit: int = PAGE_SIZE,
) -> list[ChangedRow]:
    """One page (in unsigned hash order) of the rows a version inserted, updated or deleted in
    a table."""
    after_pk = Jsonb(after.pk) if after is not None else None
    after_hash = None
    if after is not None:
        after_hash = to_unsigned(int(after.pk["id"])) if "id" in after.pk else -1
    if change is Change.INSERTED:
        # The name as inserted: a later change kept that JSON in the history (json_before of
        # the first change after this version); without one, the row still reads the same.
        statement = f"""SELECT m.pk,
                               CASE WHEN later.json_before IS NULL THEN m.name
                                    ELSE coalesce(
                                        later.json_before -> 'displayProperties' ->> 'name',
                                        later.json_before ->> 'statName') END
                          FROM manifest.t_manifest m
                          LEFT JOIN LATERAL (
                               SELECT h.json_before FROM manifest.t_manifest_history h
                                WHERE h.pk = m.pk AND h.table_name = m.table_name
                                  AND h.manifest_id > m.created_by
                                ORDER BY h.manifest_id LIMIT 1) later ON true
                         WHERE m.created_by = %s AND m.table_name = %s
                           AND (%s::bigint IS NULL OR ({_HASH_ORDER}, m.pk) > (%s, %s::jsonb))
                         ORDER BY {_HASH_ORDER}, m.pk LIMIT %s"""  # noqa: S608 - fixed text
        params: tuple[Any, ...] = (manifest_id, table_name, after_hash, after_hash, after_pk, limit)
    else:
        statement = f"""SELECT pk, coalesce(json_before -> 'displayProperties' ->> 'name',
                                           json_before ->> 'statName')
                         FROM manifest.t_manifest_history
                        WHERE manifest_id = %s AND table_name = %s AND change = %s
                          AND (%s::bigint IS NULL OR ({_HASH_ORDER}, pk) > (%s, %s::jsonb))
                        ORDER BY {_HASH_ORDER}, pk LIMIT %s"""  # noqa: S608 - fixed text
        params = (manifest_id, table_name, change.value, after_hash, after_hash, after_pk, limit)
    with conn.transaction():
        rows = conn.execute(statement, params).fetchall()
    return [ChangedRow(table_name, pk, name) for pk, name in rows]


@dataclass(frozen=True)
class RowDiff:
    table_name: str
    pk: dict[str, Any]
    change: Change
    before: Any  # None for an inserted row
    after: Any  # None for a deleted row


def row_diff(
    conn: psycopg.Connection, manifest_id: int, table_name: str, pk: dict[str, Any], change: Change
) -> RowDiff:
    """The JSON of a row just before and just after version `manifest_id` changed it.

    Before: what the load saved in t_manifest_history. After: the JSON that the next change of
    the same key saved as its "before" (a key stays live between two of its changes, and every
    update or removal writes history), or else the row's JSON today."""
    key = Jsonb(pk)
    with conn.transaction():
        before = None
        if change is not Change.INSERTED:
            row = conn.execute(
                """SELECT json_before FROM manifest.t_manifest_history
                    WHERE manifest_id = %s AND table_name = %s AND pk = %s AND change = %s""",
                (manifest_id, table_name, key, change.value),
            ).fetchone()
            before = row[0] if row else None
        after = None
        if change is not Change.DELETED:
            row = conn.execute(
                """SELECT json_before FROM manifest.t_manifest_history
                    WHERE pk = %s AND table_name = %s AND manifest_id > %s
                    ORDER BY manifest_id, change DESC LIMIT 1""",
                (key, table_name, manifest_id),
            ).fetchone()
            if row is None:
                row = conn.execute(
                    """SELECT json FROM manifest.t_manifest
                        WHERE pk = %s AND table_name = %s
                          AND (created_by = %s OR deleted IS NULL)
                        ORDER BY deleted IS NULL DESC LIMIT 1""",
                    (key, table_name, manifest_id),
                ).fetchone()
            after = row[0] if row else None
    return RowDiff(table_name, pk, change, before, after)


# Export ------------------------------------------------------------------------------------
EXPORT_COLUMNS = ("table", "hash", "id", "name", "description", "created_by", "last_changed_by")


def _export_record(row: DefinitionRow) -> dict[str, Any]:
    return {
        "table": row.table_name,
        "hash": row.hash if row.hash is not None else row.pk.get("key"),
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "created_by": row.created_version,
        "last_changed_by": row.changed_version,
    }


def write_csv(rows: Iterable[DefinitionRow], out: TextIO) -> int:
    """The shown columns as CSV (a header row first); returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        record = _export_record(row)
        writer.writerow(["" if record[c] is None else record[c] for c in EXPORT_COLUMNS])
        count += 1
    return count


def write_json(rows: Iterable[DefinitionRow], out: TextIO) -> int:
    """A JSON array: the shown columns of each row plus its whole definition under "json".
    Written row by row, so a 33,000-row table never sits in memory as one document."""
    count = 0
    out.write("[")
    for row in rows:
        record = _export_record(row)
        record["json"] = row.json
        out.write(",\n" if count else "\n")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def export_rows(
    conn: psycopg.Connection,
    query: RowQuery,
    path: Path,
    fmt: str,
    check: Callable[[], None] | None = None,
) -> int:
    """Write every row of `query` to `path` as "csv" or "json"; returns the row count. Written
    to a temporary name first so a failed export leaves no half file behind."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}")
    partial = path.with_name(path.name + ".partial")
    rows = iter_rows(conn, query, with_json=fmt == "json", check=check)
    # CSV with a byte-order mark: spreadsheets then read the names as UTF-8, not a code page.
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    try:
        with partial.open("w", encoding=encoding, newline="") as out:
            count = write_csv(rows, out) if fmt == "csv" else write_json(rows, out)
        partial.replace(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExportError(f"Cannot write {path}: {reason}.") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return count


__all__ = [
    "Change",
    "ChangedRow",
    "Definition",
    "DefinitionRow",
    "LinkTarget",
    "RowDiff",
    "RowQuery",
    "SearchTerms",
    "SortColumn",
    "TableChanges",
    "TableInfo",
    "changed_rows",
    "count_rows",
    "export_rows",
    "fetch_rows",
    "get_definition",
    "iter_rows",
    "list_tables",
    "lookup_hash",
    "parse_search",
    "resolve_hashes",
    "row_diff",
    "schema_ready",
    "to_signed",
    "to_unsigned",
    "version_changes",
    "version_labels",
]

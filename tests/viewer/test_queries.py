"""The viewer's Qt-free query layer against a real PostgreSQL loaded by the engine (2 versions)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from manifest_gui.engine import viewer_queries as vq
from manifest_gui.engine.database import connect
from manifest_gui.ui.viewer.json_paths import Mark, diff, json_path, link_candidates
from tests.support.manifest_factory import pk_value, to_unsigned
from tests.viewer.conftest import LoadedDatabase

ITEM = "DestinyInventoryItemDefinition"


@pytest.fixture
def conn(loaded_db: LoadedDatabase) -> Iterator[psycopg.Connection]:
    with connect(loaded_db.url, read_only=True) as conn:
        yield conn


def _all(conn: psycopg.Connection, query: vq.RowQuery, page: int = 37) -> list[vq.DefinitionRow]:
    """Every row through keyset pages of an odd size (page boundaries everywhere)."""
    rows: list[vq.DefinitionRow] = []
    while True:
        batch = vq.fetch_rows(conn, query, rows[-1] if rows else None, page)
        rows.extend(batch)
        if len(batch) < page:
            return rows


def test_parse_search_reads_hashes_signed_and_unsigned_and_quoted_numbers() -> None:
    assert vq.parse_search("3628991659").ids == (3628991659 - 2**32,)
    assert vq.parse_search("-665975637").ids == (-665975637,)
    assert vq.parse_search(" 12 ").ids == (12,)
    assert vq.parse_search('"1000"').pattern == "%1000%"
    assert vq.parse_search("100% _x\\").pattern == "%100\\% \\_x\\\\%"
    assert vq.parse_search("99999999999").pattern == "%99999999999%"  # not a 32-bit number
    assert vq.parse_search("  ").empty


def test_tables_and_live_counts_match_the_current_manifest(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    tables = {t.name: t.live_rows for t in vq.list_tables(conn)}
    assert tables == {t: n for t, n in loaded_db.v2.table_rows.items() if n}
    assert vq.schema_ready(conn)


@pytest.mark.parametrize("sort", list(vq.SortColumn))
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_cover_a_table_once_in_sql_order(
    conn: psycopg.Connection, loaded_db: LoadedDatabase, sort: vq.SortColumn, descending: bool
) -> None:
    rows = _all(conn, vq.RowQuery(ITEM, "", sort, descending))
    assert sorted(r.id or 0 for r in rows) == sorted(loaded_db.v2.ids(ITEM))
    keys = [(r.sort_value, json.dumps(r.pk)) for r in rows]
    if sort is vq.SortColumn.HASH:
        hashes = [r.hash or 0 for r in rows]
        assert hashes == sorted(hashes, reverse=descending)  # unsigned order, as the game
    values = [k[0] for k in keys]
    assert values == sorted(values, reverse=descending)
    assert len(set(keys)) == len(keys)


def test_rows_show_unsigned_hash_name_description_and_versions(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    rows = _all(conn, vq.RowQuery(ITEM), page=500)
    by_id = {r.id: r for r in rows}
    changed = next(pk for t, pk in loaded_db.v2.changes.modified if t == ITEM)
    assert isinstance(changed, int)
    row = by_id[changed]
    document = loaded_db.v2.get(ITEM, changed)
    assert row.hash == to_unsigned(changed) and row.hash >= 0
    assert row.name == document["displayProperties"]["name"]
    assert row.description == document["displayProperties"]["description"]
    assert row.created_version == "v1.0"
    assert row.changed_version == "v2.0"
    added = next(pk for t, pk in loaded_db.v2.changes.added if t == ITEM)
    assert isinstance(added, int)
    assert by_id[added].created_version == "v2.0"


def test_key_table_rows_use_their_text_key(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    table = "DestinyHistoricalStatsDefinition"
    rows = _all(conn, vq.RowQuery(table))
    assert sorted(r.label for r in rows) == sorted(loaded_db.v2.rows[table])  # type: ignore[index]
    assert all(r.hash is None for r in rows)


def test_hash_search_signed_or_unsigned_and_name_search_case_insensitive(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    id_ = next(pk for pk in loaded_db.v2.ids(ITEM) if pk < 0)
    for text in (str(id_), str(to_unsigned(id_))):
        found = vq.fetch_rows(conn, vq.RowQuery(None, text))
        assert [(r.table_name, r.id) for r in found] == [(ITEM, id_)]
    assert [r.table_name for r in vq.lookup_hash(conn, to_unsigned(id_))] == [ITEM]

    name = loaded_db.v2.get(ITEM, id_)["displayProperties"]["name"]
    part = name[1:5].upper() if len(name) > 6 else name.upper()
    found = _all(conn, vq.RowQuery(None, part))
    expected = {
        (t, pk)
        for t, rows in loaded_db.v2.rows.items()
        for pk, doc in rows.items()
        if part.lower()
        in (((doc.get("displayProperties") or {}).get("name") or doc.get("statName") or "").lower())
        or (isinstance(pk, str) and part.lower() in pk.lower())
    }
    assert {(r.table_name, r.id if r.id is not None else r.label) for r in found} == expected
    assert vq.count_rows(conn, vq.RowQuery(None, part)) == len(expected)
    only_items = _all(conn, vq.RowQuery(ITEM, part))
    assert {r.table_name for r in only_items} <= {ITEM}
    assert len(only_items) == sum(1 for t, _ in expected if t == ITEM)


def test_search_text_is_a_parameter_never_sql(conn: psycopg.Connection) -> None:
    for text in ("'; DROP TABLE manifest.t_manifest; --", "%", "_", "\\", '"'):
        vq.fetch_rows(conn, vq.RowQuery(None, text))
    assert vq.fetch_rows(conn, vq.RowQuery(None, "%%%")) == []  # % matches itself only
    assert vq.list_tables(conn)


def test_the_viewer_connection_is_read_only(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), conn.transaction():
        conn.execute("DELETE FROM manifest.t_manifest")


def test_links_resolve_hashes_of_loaded_definitions(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    documents = loaded_db.v2.rows[ITEM]  # type: ignore[index]
    live = {
        to_unsigned(pk) for rows in loaded_db.v2.rows.values() for pk in rows if isinstance(pk, int)
    }
    checked = 0
    for document in list(documents.values())[:40]:
        candidates = link_candidates(document)
        resolved = vq.resolve_hashes(conn, candidates)
        assert set(resolved) == candidates & live
        checked += len(resolved)
    assert checked > 0, "the generated items reference other definitions"


def test_version_changes_and_rows_match_what_the_factory_changed(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    changes = loaded_db.v2.changes
    assert changes is not None
    per_table = {c.table_name: c for c in vq.version_changes(conn, 2)}
    real_updates = {
        (t, pk) for t, pk in changes.modified if loaded_db.v1.get(t, pk) != loaded_db.v2.get(t, pk)
    }
    assert sum(c.updates for c in per_table.values()) == len(real_updates)
    assert sum(c.deletes for c in per_table.values()) == len(changes.deleted)
    assert sum(c.inserts for c in per_table.values()) == len(changes.added)
    first = {c.table_name: c.inserts for c in vq.version_changes(conn, 1)}
    assert first == {t: n for t, n in loaded_db.v1.table_rows.items() if n}

    for change, members in (
        (vq.Change.UPDATED, real_updates),
        (vq.Change.DELETED, changes.deleted),
        (vq.Change.INSERTED, changes.added),
    ):
        listed = set()
        for table in per_table:
            rows: list[vq.ChangedRow] = []
            while True:
                page = vq.changed_rows(conn, 2, table, change, rows[-1] if rows else None, 7)
                rows.extend(page)
                if len(page) < 7:
                    break
            listed |= {(table, r.pk.get("id", r.pk.get("key"))) for r in rows}
        assert listed == set(members), change


def test_row_diff_gives_the_json_before_and_after_a_version(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    changes = loaded_db.v2.changes
    assert changes is not None
    table, pk = next(
        (t, pk)
        for t, pk in sorted(changes.modified, key=str)
        if isinstance(pk, int) and loaded_db.v1.get(t, pk) != loaded_db.v2.get(t, pk)
    )
    result = vq.row_diff(conn, 2, table, {"id": pk}, vq.Change.UPDATED)
    assert result.before == loaded_db.v1.get(table, pk)
    assert result.after == loaded_db.v2.get(table, pk)
    _left, right = diff(result.before, result.after)
    assert any(mark is not Mark.CONTAINS for mark in right.values())
    # What version 1 inserted, as it was then (not as version 2 changed it).
    inserted = vq.row_diff(conn, 1, table, {"id": pk}, vq.Change.INSERTED)
    assert inserted.before is None and inserted.after == loaded_db.v1.get(table, pk)

    table, gone_pk = sorted(changes.deleted, key=str)[0]
    key = {"id": gone_pk} if isinstance(gone_pk, int) else {"key": gone_pk}
    gone = vq.row_diff(conn, 2, table, key, vq.Change.DELETED)
    assert gone.before == loaded_db.v1.get(table, gone_pk) and gone.after is None


def test_export_csv_and_json_of_a_table_and_a_search(
    conn: psycopg.Connection, loaded_db: LoadedDatabase, tmp_path: Path
) -> None:
    table = "DestinyClassDefinition"
    count = vq.export_rows(conn, vq.RowQuery(table), tmp_path / "t.csv", "csv")
    with (tmp_path / "t.csv").open(encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    assert count == len(records) == loaded_db.v2.table_rows[table]
    assert {int(r["hash"]) for r in records} == {to_unsigned(pk) for pk in loaded_db.v2.ids(table)}
    count = vq.export_rows(conn, vq.RowQuery(None, "a"), tmp_path / "s.json", "json")
    exported = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert len(exported) == count == vq.count_rows(conn, vq.RowQuery(None, "a"))
    first = exported[0]
    key = first["id"] if first["id"] is not None else first["hash"]
    assert first["json"] == loaded_db.v2.get(first["table"], key)
    assert not list(tmp_path.glob("*.partial"))


def test_json_paths() -> None:
    assert json_path(("perks", 0, "perkHash")) == "$.perks[0].perkHash"
    assert json_path(("stats", "1480404414")) == '$.stats["1480404414"]'
    assert link_candidates(
        {
            "hash": 5_000_000,
            "itemHash": 7,
            "list": {"plugHashes": [9, 8]},
            "index": 3,
            "big": 3_000_000_000,
            "flag": True,
        }
    ) == {7, 9, 8, 3_000_000_000}


def _name_of(document: object) -> str | None:
    if not isinstance(document, dict):
        return None
    shown = document.get("displayProperties")
    name = shown.get("name") if isinstance(shown, dict) else None
    return name if name is not None else document.get("statName")


def test_inserted_rows_show_their_name_as_inserted(
    conn: psycopg.Connection, loaded_db: LoadedDatabase
) -> None:
    """Version 1's Inserted list names each row as version 1 had it, also when version 2
    renamed it since."""
    v1, v2 = loaded_db.v1, loaded_db.v2
    renamed = 0
    for table in {c.table_name for c in vq.version_changes(conn, 1)}:
        rows: list[vq.ChangedRow] = []
        while True:
            page = vq.changed_rows(conn, 1, table, vq.Change.INSERTED, rows[-1] if rows else None)
            rows.extend(page)
            if len(page) < vq.PAGE_SIZE:
                break
        for row in rows:
            key = pk_value(row.pk)
            assert row.name == _name_of(v1.get(table, key)), (table, key)
            if (table, key) not in (v2.changes.deleted if v2.changes else ()):
                renamed += _name_of(v1.get(table, key)) != _name_of(v2.get(table, key))
    assert renamed, "the generated versions rename no row: the test proves nothing"

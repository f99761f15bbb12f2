"""Manifests that are legal SQLite but odd: a table switching key column between releases,
values the materialized views cannot cast, and files the loader must refuse in one sentence
without touching the database."""

from __future__ import annotations

import json
import random
import sqlite3
import string
from pathlib import Path
from typing import Any

import pytest

from manifest_gui.engine.database import connect, ensure_schema, migrations
from manifest_gui.engine.errors import BadManifestFileError
from manifest_gui.engine.source import ManifestSource
from tests.engine.test_load import live_rows, load, snapshot

Rows = list[tuple[Any, Any]]


def write_manifest(path: Path, tables: dict[str, tuple[str, Rows]]) -> Path:
    """A manifest SQLite file by hand: {table: ("id" | "key", [(key, json text or bytes)])}.
    No primary key, so a test can give one key twice."""
    with sqlite3.connect(path) as conn:
        for name, (key_column, rows) in tables.items():
            key_type = "INTEGER" if key_column == "id" else "TEXT"
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f"CREATE TABLE {quoted} ({key_column} {key_type}, json BLOB)")
            conn.executemany(f"INSERT INTO {quoted} VALUES (?, ?)", rows)
    conn.close()
    return path


def definition(name: str, **fields: Any) -> str:
    return json.dumps({"displayProperties": {"name": name}, **fields})


def test_a_table_that_switches_between_id_and_key_keeps_every_invariant(
    database_url: str, tmp_path: Path
) -> None:
    other = ("id", [(7, definition("Unchanged"))])
    v1 = write_manifest(
        tmp_path / "v1.sqlite3",
        {
            "DestinyThingDefinition": ("id", [(1, definition("One")), (-2, definition("Two"))]),
            "DestinyOtherDefinition": other,
        },
    )
    v2 = write_manifest(
        tmp_path / "v2.sqlite3",
        {
            "DestinyThingDefinition": ("key", [("1", definition("One")), ("b", definition("B"))]),
            "DestinyOtherDefinition": other,
        },
    )
    v3 = write_manifest(
        tmp_path / "v3.sqlite3",
        {
            "DestinyThingDefinition": ("id", [(1, definition("One again"))]),
            "DestinyOtherDefinition": other,
        },
    )
    load(database_url, v1, "v1")
    second = load(database_url, v2, "v2")
    # The key "1" is not the id 1: a new definition, and the old one is gone.
    assert (second.inserts, second.updates, second.deletes) == (2, 0, 2)
    assert set(live_rows(database_url)) == {
        ("DestinyThingDefinition", "1"),
        ("DestinyThingDefinition", "b"),
        ("DestinyOtherDefinition", 7),
    }
    third = load(database_url, v3, "v3")
    assert second.manifest_id is not None and third.manifest_id is not None
    assert (third.inserts, third.updates, third.deletes) == (1, 0, 2)
    assert live_rows(database_url) == {
        ("DestinyThingDefinition", 1): {"displayProperties": {"name": "One again"}},
        ("DestinyOtherDefinition", 7): {"displayProperties": {"name": "Unchanged"}},
    }
    with connect(database_url) as conn:
        removed = conn.execute(
            """SELECT pk, created_by, deleted_by FROM manifest.t_manifest
                WHERE deleted IS NOT NULL ORDER BY deleted_by, pk::text"""
        ).fetchall()
        history = conn.execute(
            "SELECT manifest_id, change, pk FROM manifest.t_manifest_history "
            "ORDER BY manifest_id, pk::text"
        ).fetchall()
    assert removed == [
        ({"id": -2}, second.manifest_id - 1, second.manifest_id),
        ({"id": 1}, second.manifest_id - 1, second.manifest_id),
        ({"key": "1"}, second.manifest_id, third.manifest_id),
        ({"key": "b"}, second.manifest_id, third.manifest_id),
    ]
    assert history == [
        (second.manifest_id, "D", {"id": -2}),
        (second.manifest_id, "D", {"id": 1}),
        (third.manifest_id, "D", {"key": "1"}),
        (third.manifest_id, "D", {"key": "b"}),
    ]


def test_values_the_views_cannot_cast_load_as_null(database_url: str, tmp_path: Path) -> None:
    activities = [
        (1, definition("Half light", activityLightLevel=1.5, destinationHash=12)),
        (2, definition("Words", activityLightLevel="high", placeHash="somewhere")),
        (3, definition("Huge", activityLightLevel=3_000_000_000, activityTypeHash=1e30)),
        (4, definition("Plain", activityLightLevel=1810, activityTypeHash=4_294_967_295)),
    ]
    classes = [(5, definition("Titan", classType="Titan")), (6, definition("Hunter", classType=1))]
    stats = [("kills", json.dumps({"statName": "Kills", "unitType": [1]}))]
    manifest = write_manifest(
        tmp_path / "odd.sqlite3",
        {
            "DestinyActivityDefinition": ("id", activities),
            "DestinyClassDefinition": ("id", classes),
            "DestinyHistoricalStatsDefinition": ("key", stats),
        },
    )
    assert load(database_url, manifest, "odd").loaded
    with connect(database_url) as conn:
        activity_rows = conn.execute(
            """SELECT hash, light_level, activity_type_hash, destination_hash, place_hash
                 FROM manifest.mv_activity_definitions ORDER BY hash"""
        ).fetchall()
        class_rows = conn.execute(
            "SELECT hash, class_type FROM manifest.mv_class_definitions ORDER BY hash"
        ).fetchall()
        stat_rows = conn.execute(
            "SELECT stat_id, unit_type FROM manifest.mv_historical_stats_definitions"
        ).fetchall()
    assert activity_rows == [
        (1, None, None, 12, None),
        (2, None, None, None, None),
        (3, None, None, None, None),
        (4, 1810, 4_294_967_295, None, None),
    ]
    assert class_rows == [(5, None), (6, 1)]
    assert stat_rows == [("kills", None)]


def test_the_views_keep_their_grants_through_the_upgrade(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("DROP ROLE IF EXISTS manifest_reader_test")  # other databases' leftovers
        conn.execute("CREATE ROLE manifest_reader_test")
        try:
            for number, _name, sql in migrations():
                if number < 4:
                    conn.execute(sql.encode())
            conn.execute("GRANT SELECT ON manifest.mv_class_definitions TO manifest_reader_test")
            conn.execute("GRANT SELECT ON manifest.mv_activity_definitions TO PUBLIC")
            upgrade = next(sql for number, _, sql in migrations() if number == 4)
            conn.execute(upgrade.encode())
            # information_schema does not list materialized views: ask the catalog.
            granted = conn.execute(
                """SELECT c.relname, coalesce(r.rolname, 'PUBLIC')
                     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) acl
                     LEFT JOIN pg_roles r ON r.oid = acl.grantee
                    WHERE c.relnamespace = 'manifest'::regnamespace AND c.relkind = 'm'
                      AND acl.grantee <> c.relowner ORDER BY 1"""
            ).fetchall()
            (definition_text,) = conn.execute(
                "SELECT pg_get_viewdef('manifest.mv_class_definitions'::regclass)"
            ).fetchone()  # type: ignore[misc]
            conn.rollback()
        finally:
            conn.execute("DROP ROLE IF EXISTS manifest_reader_test")
            conn.commit()
    assert granted == [
        ("mv_activity_definitions", "PUBLIC"),
        ("mv_class_definitions", "manifest_reader_test"),
    ]
    assert "fn_json_integer" in definition_text


def random_text(length: int) -> str:
    # Random letters: PostgreSQL compresses a repeated string below the index limit.
    chooser = random.Random(length)
    return "".join(chooser.choice(string.ascii_letters) for _ in range(length))


@pytest.mark.parametrize("first_load", [True, False], ids=["first-load", "later-load"])
@pytest.mark.parametrize(
    ("table", "match"),
    [
        (("id", [(1, definition("A")), (2, definition("B")), (1, definition("A2"))]), "twice"),
        (("key", [("k", definition("A")), ("k", definition("A"))]), "twice"),
        (("id", [(1, definition(random_text(4000)))]), "too large for PostgreSQL to index"),
        (("key", [(random_text(4000), definition("A"))]), "too large for PostgreSQL to index"),
        (("key", [(b"\xff\xfe bad", definition("A"))]), "not UTF-8"),
    ],
    ids=["duplicate-id", "duplicate-key", "huge-name", "huge-key", "non-utf8-key"],
)
def test_a_refused_manifest_says_why_and_changes_nothing(
    database_url: str,
    tmp_path: Path,
    table: tuple[str, Rows],
    match: str,
    first_load: bool,
) -> None:
    if not first_load:
        good = write_manifest(
            tmp_path / "good.sqlite3", {"DestinyGoodDefinition": ("id", [(1, definition("G"))])}
        )
        load(database_url, good, "good")
    else:
        with connect(database_url) as conn:
            ensure_schema(conn)
    before = snapshot(database_url)
    bad = write_manifest(tmp_path / "bad.sqlite3", {"DestinyOddDefinition": table})
    with pytest.raises(BadManifestFileError, match=match):
        load(database_url, bad, "bad")
    assert snapshot(database_url) == before


def test_table_names_are_checked_before_loading(tmp_path: Path) -> None:
    long_name = write_manifest(
        tmp_path / "long.sqlite3", {"D" * 101: ("id", [(1, definition("A"))])}
    )
    with pytest.raises(BadManifestFileError, match="longer than 100 characters"):
        ManifestSource(long_name)
    exactly = write_manifest(tmp_path / "ok.sqlite3", {"D" * 100: ("id", [(1, definition("A"))])})
    with ManifestSource(exactly) as source:
        assert [table.name for table in source.tables] == ["D" * 100]

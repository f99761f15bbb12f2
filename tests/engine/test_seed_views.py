"""The seed's views and sample queries on a database loaded by this project.

The seed (the cloud pipeline this project replaces) described its materialized views and its
example queries in ../shared/reference/seed/seed-sql.md. A tool written against that database
must keep working here: the views have the seed's columns, types and indexes, and every
sample query gives the right answer. The manifest is a generated one with Bungie's real
definitions (read from ../shared/reference/bungie/definitions) in place of the generated
tables of the same name.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

from manifest_gui.engine.database import connect, ensure_schema, migrations
from tests.engine.test_foundations import REPO
from tests.engine.test_load import live_rows, load
from tests.support import skip_or_fail
from tests.support.manifest_factory import (
    ManifestFactory,
    Pk,
    read_manifest,
    require_reference_dir,
    to_signed,
    to_unsigned,
)

Content = dict[str, dict[Pk, Any]]

ACTIVITY = "DestinyActivityDefinition"
ACTIVITY_TYPE = "DestinyActivityTypeDefinition"
MODE = "DestinyActivityModeDefinition"
STATS = "DestinyHistoricalStatsDefinition"
CLASS = "DestinyClassDefinition"
# A second "Raid" type without an identifier: the seed's query must leave its activities out.
UNNAMED_RAID_HASH = 123_456_789


def seed_era_content(factory: ManifestFactory) -> Content:
    """A generated manifest with the real definitions in place of its tables of the same name,
    plus the older fields the seed's queries read (activityTypeName, identifier, modeName,
    modeType), which today's definitions no longer carry."""
    content: Content = dict(read_manifest(factory.generate(seed=501, rows=3000).path))
    for file in sorted((require_reference_dir() / "definitions").glob("Destiny*Definition.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        content[file.stem] = {to_signed(int(key)): obj for key, obj in data.items()}

    types = content[ACTIVITY_TYPE]
    for index, obj in enumerate(types.values()):
        name = obj["displayProperties"].get("name", "")
        obj["activityTypeName"] = name
        if name == "Raid" or index % 2 == 0:
            obj["identifier"] = f"TYPE_{index}"
    types[UNNAMED_RAID_HASH] = {"hash": UNNAMED_RAID_HASH, "activityTypeName": "Raid"}
    type_hashes = sorted(obj["hash"] for obj in types.values())
    for index, obj in enumerate(content[ACTIVITY].values()):
        obj["activityTypeHash"] = type_hashes[index % len(type_hashes)]

    stats = list(content[STATS].values())
    modes = content[MODE]
    extra = {
        # matches the first stat's first mode
        11: {"modeName": "Rumble", "modeType": stats[0]["modes"][0]},
        # a Rumble no stat is kept for
        12: {"modeName": "Rumble", "modeType": 1},
        # another mode, which the containment test leaves out
        13: {"modeName": "Control", "modeType": stats[1]["modes"][0]},
        14: {"modeName": "Rumble", "modeType": stats[-1]["modes"][-1]},
    }
    for pk, fields in extra.items():
        modes[pk] = {"displayProperties": {"name": fields["modeName"]}, "hash": pk, **fields}
    return content


def write_sqlite(path: Path, content: Mapping[str, Mapping[Pk, Any]]) -> Path:
    """A manifest file as Bungie writes one: a table per type, id INTEGER or key TEXT."""
    with sqlite3.connect(path) as db:
        for table, rows in content.items():
            column = "key" if any(isinstance(pk, str) for pk in rows) else "id"
            kind = "TEXT" if column == "key" else "INTEGER"
            db.execute(f"CREATE TABLE {table} ({column} {kind} PRIMARY KEY, json BLOB)")
            db.executemany(
                f"INSERT INTO {table} VALUES (?, ?)",
                [(pk, json.dumps(obj, ensure_ascii=False)) for pk, obj in rows.items()],
            )
    db.close()
    return path


def next_version(content: Content) -> Content:
    """The next release: every 11th row of a table removed, every 7th changed, a row added to
    every table, one table gone and one new."""
    result: Content = {}
    for table, rows in content.items():
        if table == "DestinyGenderDefinition":
            continue  # removed with all its rows
        kept: dict[Pk, Any] = {}
        for index, (pk, obj) in enumerate(sorted(rows.items(), key=lambda item: str(item[0]))):
            if index % 11 == 3:
                continue
            kept[pk] = {**obj, "seedRevision": 2} if index % 7 == 2 else obj
        if any(isinstance(pk, str) for pk in rows):
            kept["seedNewStat"] = {"statId": "seedNewStat", "statName": "New", "modes": []}
        else:
            new = next(n for n in range(1000, 2000) if n not in rows)
            kept[new] = {"displayProperties": {"name": "New"}, "hash": new}
        result[table] = kept
    result["DestinyEventCardDefinition"] = {5: {"hash": 5}, 6: {"hash": 6}}
    return result


@pytest.fixture
def seed_manifest(manifest_factory: ManifestFactory, tmp_path: Path) -> tuple[Content, Path]:
    content = seed_era_content(manifest_factory)
    return content, write_sqlite(tmp_path / "seed-era.sqlite3", content)


def rows(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(query.encode()).fetchall()]


def test_the_seeds_views_have_its_columns_types_and_indexes(
    database_url: str, seed_manifest: tuple[Content, Path]
) -> None:
    content, path = seed_manifest
    load(database_url, path, "seed-era")
    with connect(database_url) as conn:
        columns = {
            (view, column): kind
            for view, column, kind in conn.execute(
                """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
                     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                    WHERE c.relnamespace = 'manifest'::regnamespace AND c.relkind = 'm'
                      AND a.attnum > 0 AND NOT a.attisdropped"""
            )
        }
        indexed = rows(
            conn,
            """SELECT c.relname, array_agg(a.attname ORDER BY k.ord)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE c.relnamespace = 'manifest'::regnamespace AND c.relkind = 'm'
                GROUP BY c.relname, i.indexrelid""",
        )
        activities = rows(
            conn,
            "SELECT activity_hash, activity_name, pvp_flag FROM manifest.mv_activity_definitions"
            " ORDER BY activity_hash",
        )
        classes = rows(
            conn,
            "SELECT class_hash, class_type, class_name FROM manifest.mv_class_definitions"
            " ORDER BY class_type",
        )
        hunters = rows(
            conn, "SELECT class_name FROM manifest.mv_class_definitions WHERE class_type = '1'"
        )
        stats = rows(
            conn,
            "SELECT stat_id, stat_name FROM manifest.mv_historical_stats_definitions"
            " ORDER BY stat_id",
        )
        pvp = rows(
            conn,
            "SELECT activity_hash FROM manifest.mv_activity_definitions WHERE pvp_flag"
            " ORDER BY activity_hash",
        )

    seed_columns = {
        ("mv_activity_definitions", "activity_hash"): "bigint",
        ("mv_activity_definitions", "activity_name"): "text",
        ("mv_activity_definitions", "pvp_flag"): "boolean",
        ("mv_class_definitions", "class_hash"): "bigint",
        ("mv_class_definitions", "class_type"): "integer",
        ("mv_class_definitions", "class_name"): "text",
        ("mv_historical_stats_definitions", "stat_id"): "text",
        ("mv_historical_stats_definitions", "stat_name"): "text",
    }
    assert {key: columns.get(key) for key in seed_columns} == seed_columns
    assert {
        ("mv_activity_definitions", ("activity_hash",)),
        ("mv_activity_definitions", ("pvp_flag", "activity_hash")),
        ("mv_historical_stats_definitions", ("stat_id",)),
    } <= {(view, tuple(names)) for view, names in indexed}

    expected_activities = sorted(
        (obj["hash"], obj["displayProperties"]["name"], obj["isPvP"])
        for obj in content[ACTIVITY].values()
    )
    assert activities == expected_activities
    assert any(hash_ >= 2**31 for hash_, _, _ in activities)  # unsigned, as the JSON has it
    assert pvp == [(hash_,) for hash_, _, flag in expected_activities if flag]
    real_classes = json.loads(
        (require_reference_dir() / "definitions" / f"{CLASS}.json").read_text(encoding="utf-8")
    )
    assert classes == sorted(
        ((int(key), obj["classType"], obj["displayProperties"]["name"])
         for key, obj in real_classes.items()),
        key=lambda row: row[1],
    )  # fmt: skip
    assert hunters == [("Hunter",)]
    assert stats == sorted((obj["statId"], obj["statName"]) for obj in content[STATS].values())


# The seed's counts of one version's changes per table: inserted, changed, removed rows.
VERSION_COUNTS = (
    "created_by = %(current)s",
    "last_updated_by = %(current)s AND created_by < %(current)s",
    "deleted_by = %(current)s",
)


def counts_by_table(conn: psycopg.Connection, condition: str, current: int) -> dict[str, int]:
    query = "SELECT table_name, count(*) FROM manifest.t_manifest WHERE {} GROUP BY table_name"
    return dict(conn.execute(query.format(condition).encode(), {"current": current}).fetchall())


def test_the_seeds_sample_queries_answer_right(
    database_url: str, seed_manifest: tuple[Content, Path], tmp_path: Path
) -> None:
    content, path = seed_manifest
    first = load(database_url, path, "seed-era")
    with connect(database_url) as conn:
        by_mode = rows(
            conn,
            """SELECT s.pk ->> 'key' AS stat, m.json ->> 'modeName' AS mode_name
                 FROM manifest.t_manifest s
                CROSS JOIN LATERAL jsonb_array_elements_text(s.json -> 'modes') AS e(mode_type)
                 JOIN manifest.t_manifest m
                   ON m.table_name = 'DestinyActivityModeDefinition'
                  AND m.json @> '{"modeName": "Rumble"}'
                  AND m.json ->> 'modeType' = e.mode_type
                WHERE s.table_name = 'DestinyHistoricalStatsDefinition'
                ORDER BY mode_name, stat""",
        )
        raids = rows(
            conn,
            """SELECT a.pk ->> 'id', t.json ->> 'identifier'
                 FROM manifest.t_manifest a
                 JOIN manifest.t_manifest t
                   ON t.table_name = 'DestinyActivityTypeDefinition'
                  AND t.json @> ('{ "hash" : ' || (a.json ->> 'activityTypeHash') || ' }')::jsonb
                WHERE a.table_name = 'DestinyActivityDefinition'
                  AND t.json ->> 'activityTypeName' = 'Raid'
                  AND t.json ->> 'identifier' IS NOT NULL
                ORDER BY 1""",
        )
        wanted = max(content[ACTIVITY].values(), key=lambda obj: obj["hash"])
        by_hash = conn.execute(
            "SELECT pk ->> 'id' FROM manifest.t_manifest"
            " WHERE json @> %s::jsonb AND table_name = %s",
            (json.dumps({"hash": wanted["hash"]}), ACTIVITY),
        ).fetchall()

    rumble = {
        str(obj["modeType"]) for obj in content[MODE].values() if obj.get("modeName") == "Rumble"
    }
    expected_by_mode = sorted(
        (stat["statId"], "Rumble")
        for stat in content[STATS].values()
        for mode in stat["modes"]
        if str(mode) in rumble
    )
    assert by_mode == expected_by_mode and len(by_mode) >= 2
    named_raids = {
        obj["hash"]: obj["identifier"]
        for obj in content[ACTIVITY_TYPE].values()
        if obj.get("activityTypeName") == "Raid" and "identifier" in obj
    }
    expected_raids = sorted(
        (str(pk), named_raids[obj["activityTypeHash"]])
        for pk, obj in content[ACTIVITY].items()
        if obj["activityTypeHash"] in named_raids
    )
    assert raids == expected_raids and raids
    assert by_hash == [(str(to_signed(wanted["hash"])),)]

    # Version over version, for the current version.
    after = next_version(content)
    second = load(database_url, write_sqlite(tmp_path / "next.sqlite3", after), "next")
    with connect(database_url) as conn:
        (current,) = conn.execute(
            "SELECT manifest_id FROM manifest.t_manifest_version WHERE current"
        ).fetchone()  # type: ignore[misc]
        created, updated, deleted = (
            counts_by_table(conn, condition, current) for condition in VERSION_COUNTS
        )
        activities = rows(
            conn, "SELECT activity_hash FROM manifest.mv_activity_definitions ORDER BY 1"
        )
    assert first.manifest_id is not None and current == second.manifest_id == first.manifest_id + 1

    def changed(table: str) -> int:
        before, now = content.get(table, {}), after.get(table, {})
        return sum(1 for pk in now if pk in before and now[pk] != before[pk])

    tables = set(content) | set(after)
    expected_created = Counter(
        {t: sum(1 for pk in after.get(t, {}) if pk not in content.get(t, {})) for t in tables}
    )
    expected_updated = Counter({t: changed(t) for t in tables})
    expected_deleted = Counter(
        {t: sum(1 for pk in content.get(t, {}) if pk not in after.get(t, {})) for t in tables}
    )
    assert created == +expected_created
    assert updated == +expected_updated
    assert deleted == +expected_deleted
    assert deleted["DestinyGenderDefinition"] == len(content["DestinyGenderDefinition"])
    assert created["DestinyEventCardDefinition"] == 2
    assert activities == sorted((obj["hash"],) for obj in after[ACTIVITY].values())
    assert live_rows(database_url) == {
        (table, pk): obj for table, table_rows in after.items() for pk, obj in table_rows.items()
    }


SEED_VIEWS = ("mv_activity_definitions", "mv_class_definitions", "mv_historical_stats_definitions")


def view_shapes(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """Each view's definition, its indexes and its grants: what an upgrade must get right."""
    return rows(
        conn,
        """SELECT c.relname, pg_get_viewdef(c.oid),
                  ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
                         WHERE i.indrelid = c.oid ORDER BY 1),
                  ARRAY(SELECT acl.privilege_type || ' ' || coalesce(r.rolname, 'PUBLIC')
                          FROM aclexplode(c.relacl) acl
                          LEFT JOIN pg_roles r ON r.oid = acl.grantee
                         WHERE acl.grantee <> c.relowner ORDER BY 1)
             FROM pg_class c
            WHERE c.relnamespace = 'manifest'::regnamespace AND c.relkind = 'm'
            ORDER BY 1""",
    )


def test_the_upgrade_keeps_grants_and_leaves_views_others_depend_on(database_url: str) -> None:
    role = "manifest_seed_views_test"
    with connect(database_url) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")  # other databases' leftovers
        conn.execute(f"CREATE ROLE {role}")
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        try:
            for number, _name, sql in migrations():
                if number < 5:
                    conn.execute(sql.encode())
            conn.execute(f"GRANT SELECT ON manifest.mv_class_definitions TO {role}")
            conn.execute("GRANT SELECT ON manifest.mv_activity_definitions TO PUBLIC")
            conn.execute(
                "CREATE VIEW public.my_stats AS"
                " SELECT stat_id, unit_type FROM manifest.mv_historical_stats_definitions"
            )
            upgrade = next(sql for number, _, sql in migrations() if number == 5)
            conn.execute(upgrade.encode())
            shapes = {view: rest for view, *rest in view_shapes(conn)}
            columns = {
                view: [
                    name
                    for (name,) in conn.execute(
                        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                        " AND attnum > 0 ORDER BY attnum",
                        (f"manifest.{view}",),
                    )
                ]
                for view in SEED_VIEWS
            }
            conn.rollback()
        finally:
            conn.execute(f"DROP ROLE IF EXISTS {role}")
            conn.commit()
    assert shapes["mv_activity_definitions"][2] == ["SELECT PUBLIC"]
    assert shapes["mv_class_definitions"][2] == [f"SELECT {role}"]
    assert columns["mv_activity_definitions"][:3] == ["activity_hash", "activity_name", "pvp_flag"]
    assert columns["mv_class_definitions"][:3] == ["class_hash", "class_type", "class_name"]
    # Left alone, with a notice: version 4's columns, and it still has the seed's two.
    assert "key" not in columns["mv_historical_stats_definitions"]
    assert [n for n in notices if "mv_historical_stats_definitions" in n] == [
        "manifest.mv_historical_stats_definitions has dependent objects; it keeps its columns"
    ]


def test_psql_install_gives_what_the_app_gives(
    pg_server: Any, database_url: str, seed_manifest: tuple[Content, Path]
) -> None:
    psql = shutil.which("psql")
    if psql is None:
        skip_or_fail("psql is not installed (Debian: postgresql-client)")
    by_hand = pg_server.create_database()
    try:
        done = subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", by_hand, "-f", "sql/install.sql"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with connect(database_url) as conn:
            ensure_schema(conn)
            conn.commit()
            by_app = view_shapes(conn)
        with connect(by_hand) as conn:
            assert view_shapes(conn) == by_app
        # and the hand-made schema loads and answers like the app's
        _, path = seed_manifest
        load(by_hand, path, "seed-era")
        with connect(by_hand) as conn:
            (hunter,) = conn.execute(
                "SELECT class_name FROM manifest.mv_class_definitions WHERE class_type = '1'"
            ).fetchone()  # type: ignore[misc]
        assert hunter == "Hunter"
    finally:
        pg_server.drop_database(by_hand)


def test_unsigned_hashes_match_the_rows_key(seed_manifest: tuple[Content, Path]) -> None:
    """The test data itself: the JSON's hash is the row's key read unsigned (what the views'
    fallback to the key relies on)."""
    content, _ = seed_manifest
    for table in (ACTIVITY, CLASS):
        assert all(to_unsigned(int(pk)) == obj["hash"] for pk, obj in content[table].items())

"""The changed load sends only what changed, and leaves the views as their definitions say."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from manifest_gui.engine.database import connect, ensure_schema
from manifest_gui.engine.loader import MATERIALIZED_VIEWS, LoadResult, load_manifest
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.row_stream import send_rows
from manifest_gui.engine.source import ManifestSource
from tests.support.manifest_factory import ManifestFactory, json_text

ACTIVITIES = "DestinyActivityDefinition"


def load(url: str, manifest: Path, version: str) -> LoadResult:
    with ManifestSource(manifest) as source, connect(url) as conn:
        return load_manifest(
            conn, source, version=version, path=f"/{version}", language="en", progress=Progress()
        )


def stale_view_rows(conn: psycopg.Connection, view: str) -> int:
    """Rows in which the view and its own definition, run now, differ (0 when fresh)."""
    (definition,) = conn.execute(
        "SELECT pg_get_viewdef(format('manifest.%%I', %s::text)::regclass)", (view,)
    ).fetchone()  # type: ignore[misc]
    query = psycopg.sql.SQL(
        "SELECT count(*) FROM ((TABLE {view} EXCEPT ALL ({definition}))"
        " UNION ALL (({definition}) EXCEPT ALL TABLE {view})) d"
    ).format(
        view=psycopg.sql.Identifier("manifest", view),
        definition=psycopg.sql.SQL(definition.rstrip().rstrip(";")),  # the catalog's own text
    )
    (count,) = conn.execute(query).fetchone()  # type: ignore[misc]
    return int(count)


def test_a_changed_load_stages_new_changed_and_removed_rows_only(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=81, rows=1500)
    v2 = manifest_factory.generate(seed=82, version_of=v1, new_tables=1, dropped_tables=1)
    changes = v2.changes
    assert changes is not None and changes.added and changes.modified and changes.deleted
    load(database_url, v1.path, "v1")
    with ManifestSource(v2.path) as source, connect(database_url) as conn:
        (manifest_id,) = conn.execute(
            "INSERT INTO manifest.t_manifest_version (version) VALUES ('{}') RETURNING manifest_id"
        ).fetchone()  # type: ignore[misc]
        changed_tables = send_rows(conn, source, manifest_id, Progress(), into_empty=False)
        staged = conn.execute(
            "SELECT table_name, pk, json IS NOT NULL FROM manifest.t_manifest_stage"
        ).fetchall()
        conn.rollback()
    with_json = {(table, pk.get("id", pk.get("key"))) for table, pk, has in staged if has}
    without_json = {(table, pk.get("id", pk.get("key"))) for table, pk, has in staged if not has}
    assert len(staged) == len(with_json) + len(without_json)  # each key once
    assert with_json == changes.added | changes.modified
    assert without_json == changes.deleted
    assert changed_tables == {table for table, _ in with_json | without_json}


def test_rows_stored_without_a_digest_are_compared_by_their_json(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=83, rows=600)
    load(database_url, v1.path, "v1")
    with connect(database_url) as conn:
        conn.execute("UPDATE manifest.t_manifest SET json_digest = NULL WHERE created_by = 1")
        conn.commit()
    again = load(database_url, v1.path, "v1-again")
    assert (again.inserts, again.updates, again.deletes) == (0, 0, 0)
    with connect(database_url) as conn:
        (missing,) = conn.execute(
            "SELECT count(*) FROM manifest.t_manifest WHERE json_digest IS NULL"
        ).fetchone()  # type: ignore[misc]
        (history,) = conn.execute("SELECT count(*) FROM manifest.t_manifest_history").fetchone()  # type: ignore[misc]
    assert (missing, history) == (0, 0)  # the digests are back, and nothing counted as changed


def test_the_views_follow_a_change_to_their_table_and_keep_the_rest(
    database_url: str, manifest_factory: ManifestFactory, tmp_path: Path
) -> None:
    v1 = manifest_factory.generate(seed=84, rows=1500)
    load(database_url, v1.path, "v1")
    # v2: one activity renamed, nothing else changed, so two of the views are left alone.
    v2 = tmp_path / "v2.sqlite3"
    shutil.copyfile(v1.path, v2)
    activity_id = min(int(pk) for table, pk in v1.expected() if table == ACTIVITIES)
    activity: Any = v1.get(ACTIVITIES, activity_id)
    activity["displayProperties"]["name"] = "Renamed by the next release"
    with sqlite3.connect(v2) as sqlite:
        sqlite.execute(
            f"UPDATE {ACTIVITIES} SET json = ? WHERE id = ?", (json_text(activity), activity_id)
        )
    sqlite.close()
    result = load(database_url, v2, "v2")
    assert (result.inserts, result.updates, result.deletes) == (0, 1, 0)
    with connect(database_url) as conn:
        (name,) = conn.execute(
            "SELECT activity_name FROM manifest.mv_activity_definitions WHERE hash = %s",
            (activity_id & 0xFFFFFFFF,),
        ).fetchone()  # type: ignore[misc]
        assert name == "Renamed by the next release"
        assert {view: stale_view_rows(conn, view) for view in MATERIALIZED_VIEWS} == dict.fromkeys(
            MATERIALIZED_VIEWS, 0
        )


def test_the_changed_load_schema(database_url: str) -> None:
    with connect(database_url) as conn:
        ensure_schema(conn)
        (has_lz4,) = conn.execute(
            "SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        ).fetchone()  # type: ignore[misc]
        storage: dict[str, str] = dict(
            conn.execute(
                """SELECT attrelid::regclass::text, attstorage FROM pg_attribute
                    WHERE attrelid IN ('manifest.t_manifest'::regclass,
                                       'manifest.t_manifest_stage'::regclass)
                      AND attname = 'json'"""
            ).fetchall()
        )
        (settings,) = conn.execute(
            "SELECT proconfig FROM pg_proc WHERE oid = 'manifest.fn_load_manifest'::regproc"
        ).fetchone()  # type: ignore[misc]
        (digest_index,) = conn.execute(
            "SELECT pg_get_indexdef('manifest.ix_manifest_live_digest'::regclass)"
        ).fetchone()  # type: ignore[misc]
    # Compressed with LZ4 where the server has it, else stored uncompressed; the stage never.
    assert storage == {
        "manifest.t_manifest": "x" if has_lz4 else "e",
        "manifest.t_manifest_stage": "e",
    }
    assert {"enable_hashjoin=off", "enable_mergejoin=off"} <= set(settings)
    assert "INCLUDE (pk, json_digest) WHERE (deleted IS NULL)" in digest_index

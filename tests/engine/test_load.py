"""The load invariants, over several successive versions, against real PostgreSQL servers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from manifest_gui.engine.database import connect, current_version, table_counts, versions
from manifest_gui.engine.errors import BadManifestFileError, CancelledError, LoadInProgressError
from manifest_gui.engine.loader import LoadResult, load_manifest
from manifest_gui.engine.progress import Progress, ProgressEvent
from manifest_gui.engine.source import ManifestSource
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory


def load(url: str, manifest: Path, version: str, progress: Progress | None = None) -> LoadResult:
    with ManifestSource(manifest) as source, connect(url) as conn:
        return load_manifest(
            conn,
            source,
            version=version,
            path=f"/content/{version}.content",
            language="en",
            progress=progress or Progress(),
        )


def live_rows(url: str) -> dict[tuple[str, Any], Any]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, pk, json FROM manifest.t_manifest WHERE deleted IS NULL"
        ).fetchall()
    live: dict[tuple[str, Any], Any] = {}
    for table, pk, data in rows:
        key = (table, pk.get("id", pk.get("key")))
        assert key not in live, f"two live rows for {key}"
        live[key] = data
    return live


def snapshot(url: str) -> list[tuple[Any, ...]]:
    """Everything a load could touch, to prove a failed one changed nothing."""
    with connect(url) as conn:
        data = conn.execute(
            """SELECT table_name, pk::text, json::text, created_by, last_updated_by, deleted_by,
                      deleted IS NULL FROM manifest.t_manifest ORDER BY 1, 2, 4"""
        ).fetchall()
        data += conn.execute(
            "SELECT manifest_id, version::text, current FROM manifest.t_manifest_version ORDER BY 1"
        ).fetchall()
        data += conn.execute("SELECT count(*) FROM manifest.t_manifest_history").fetchall()
    return data


def assert_loaded(url: str, manifest: GeneratedManifest) -> None:
    assert live_rows(url) == manifest.expected()


def test_successive_versions_keep_every_invariant(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=11, rows=1500)
    v2 = manifest_factory.generate(seed=12, version_of=v1, new_tables=1)
    v3 = manifest_factory.generate(seed=13, version_of=v2, new_tables=0, dropped_tables=1)
    v4 = manifest_factory.generate(
        seed=14, version_of=v3, changed=0.0, deleted=0.0, added=0.0, new_tables=0
    )
    results = []
    for number, manifest in enumerate((v1, v2, v3, v4), start=1):
        result = load(database_url, manifest.path, f"v{number}")
        results.append(result)
        assert result.loaded and result.manifest_id == number
        assert result.rows == manifest.total_rows
        assert_loaded(database_url, manifest)
        with connect(database_url) as conn:
            current = current_version(conn)
            assert current is not None and current.manifest_id == number
            assert [v.current for v in versions(conn)].count(True) == 1
            assert {t.table_name: t.live_rows for t in table_counts(conn)} == {
                table: rows for table, rows in manifest.table_rows.items() if rows
            }

    assert (results[0].inserts, results[0].updates, results[0].deletes) == (v1.total_rows, 0, 0)
    for result, manifest in zip(results[1:], (v2, v3, v4), strict=True):
        changes = manifest.changes
        assert changes is not None
        assert result.inserts == len(changes.added)
        assert result.updates == len(changes.modified)
        assert result.deletes == len(changes.deleted)
    assert (results[3].inserts, results[3].updates, results[3].deletes) == (0, 0, 0)

    # created_by / last_updated_by / deleted_by name the versions that did it.
    with connect(database_url) as conn:
        for manifest_id, manifest in ((2, v2), (3, v3)):
            changes = manifest.changes
            assert changes is not None
            by = {
                column: {
                    (table, pk.get("id", pk.get("key")))
                    for table, pk in conn.execute(
                        psycopg.sql.SQL(
                            "SELECT table_name, pk FROM manifest.t_manifest WHERE {} = %s"
                        ).format(psycopg.sql.Identifier(column)),
                        (manifest_id,),
                    )
                }
                for column in ("created_by", "last_updated_by", "deleted_by")
            }
            assert by["created_by"] == set(changes.added)
            assert by["deleted_by"] == set(changes.deleted)
            # A row changed again by a later version names that later version.
            later = v3.changes.modified if manifest_id == 2 and v3.changes else frozenset()
            assert by["last_updated_by"] == set(changes.modified) - set(later)
        # The JSON before each change is kept for diffs.
        history = conn.execute(
            "SELECT change, count(*) FROM manifest.t_manifest_history WHERE manifest_id = 2 "
            "GROUP BY change ORDER BY change"
        ).fetchall()
        assert dict(history) == {
            k: v
            for k, v in {"D": len(v2.changes.deleted), "U": len(v2.changes.modified)}.items()
            if v
        }
        table, pk = next(iter(v2.changes.modified))
        key = "id" if isinstance(pk, int) else "key"
        (before,) = conn.execute(
            "SELECT json_before FROM manifest.t_manifest_history WHERE manifest_id = 2 "
            "AND table_name = %s AND pk = %s::jsonb",
            (table, Jsonb({key: pk})),
        ).fetchone()  # type: ignore[misc]
        assert before == v1.get(table, pk)


def test_seed_sample_queries(database_url: str, manifest_factory: ManifestFactory) -> None:
    v1 = manifest_factory.generate(seed=21, rows=800)
    v2 = manifest_factory.generate(seed=22, version_of=v1)
    load(database_url, v1.path, "v1")
    load(database_url, v2.path, "v2")
    table, pk = sorted(v2.expected(), key=str)[0]
    name = v2.get(table, pk).get("displayProperties", {}).get("name")
    with connect(database_url) as conn:
        if name is not None:
            found = conn.execute(
                "SELECT pk FROM manifest.t_manifest WHERE table_name = %s AND deleted IS NULL "
                "AND json @> %s::jsonb",
                (table, Jsonb({"displayProperties": {"name": name}})),
            ).fetchall()
            assert {"id" if isinstance(pk, int) else "key": pk} in [row[0] for row in found]
        counts = conn.execute(
            """SELECT v.manifest_id,
                      (SELECT count(*) FROM manifest.t_manifest WHERE created_by = v.manifest_id),
                      (SELECT count(*) FROM manifest.t_manifest
                        WHERE last_updated_by = v.manifest_id),
                      (SELECT count(*) FROM manifest.t_manifest WHERE deleted_by = v.manifest_id)
                 FROM manifest.t_manifest_version v ORDER BY 1"""
        ).fetchall()
    changes = v2.changes
    assert changes is not None
    assert counts == [
        (1, v1.total_rows, 0, 0),
        (2, len(changes.added), len(changes.modified), len(changes.deleted)),
    ]


def test_reference_definitions_and_materialized_views(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    reference = manifest_factory.reference()
    result = load(database_url, reference.path, "reference")
    assert result.inserts == reference.total_rows
    assert_loaded(database_url, reference)
    with connect(database_url) as conn:
        classes: dict[str, int] = dict(
            conn.execute("SELECT name, hash FROM manifest.mv_class_definitions").fetchall()
        )
        assert classes["Titan"] == 3655393761  # unsigned, as the API writes it
        assert set(classes) == {"Titan", "Hunter", "Warlock"}
        perks = conn.execute(
            "SELECT live_rows FROM manifest.vw_manifest_tables "
            "WHERE table_name = 'DestinySandboxPerkDefinition'"
        ).fetchone()
        assert perks == (5203,)


def test_unchanged_manifest_loads_as_a_version_with_no_changes(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=31, rows=500)
    load(database_url, v1.path, "v1")
    again = load(database_url, v1.path, "v1-again")
    assert (again.inserts, again.updates, again.deletes) == (0, 0, 0)
    assert_loaded(database_url, v1)


def test_failed_load_leaves_the_database_as_it_was(
    database_url: str, manifest_factory: ManifestFactory, tmp_path: Path
) -> None:
    v1 = manifest_factory.generate(seed=41, rows=600)
    load(database_url, v1.path, "v1")
    before = snapshot(database_url)
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(manifest_factory.generate(seed=42, version_of=v1).path.read_bytes())
    with sqlite3.connect(bad) as conn:
        table = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name DESC LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            f'UPDATE "{table}" SET json = ? WHERE rowid = (SELECT max(rowid) FROM "{table}")',
            ('{"broken": ',),
        )
    conn.close()
    with pytest.raises(BadManifestFileError, match="cannot store as JSON"):
        load(database_url, bad, "bad")
    assert snapshot(database_url) == before
    # And the next good load works (no lock or stage left behind).
    v2 = manifest_factory.generate(seed=43, version_of=v1)
    assert load(database_url, v2.path, "v2").loaded  # (ids may skip one: sequences don't roll back)
    assert_loaded(database_url, v2)


class CancelHalfway:
    """A progress listener that cancels its own handle halfway through the rows."""

    def __init__(self, manifest: GeneratedManifest) -> None:
        self.total = manifest.total_rows
        self.progress = Progress(self, interval=0)

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "load" and event.done >= self.total // 2:
            self.progress.cancel()


def test_cancelled_load_leaves_the_database_as_it_was(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=51, rows=600)
    v2 = manifest_factory.generate(seed=52, version_of=v1)
    v3 = manifest_factory.generate(seed=53, rows=3000)
    load(database_url, v1.path, "v1")
    before = snapshot(database_url)
    for manifest in (v2, v3):
        with pytest.raises(CancelledError):
            load(database_url, manifest.path, "cancelled", CancelHalfway(manifest).progress)
        assert snapshot(database_url) == before


def test_second_loader_is_told_a_load_is_running(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=61, rows=1500)
    v2 = manifest_factory.generate(seed=62, version_of=v1)
    reached, release = threading.Event(), threading.Event()

    def pause_in_the_middle(event: ProgressEvent) -> None:
        if event.stage == "load" and event.done > 0 and not reached.is_set():
            reached.set()
            release.wait(30)

    outcome: list[object] = []

    def first() -> None:
        try:
            outcome.append(load(database_url, v1.path, "v1", Progress(pause_in_the_middle, 0)))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert reached.wait(30)
        with pytest.raises(LoadInProgressError, match="Another load is running"):
            load(database_url, v2.path, "v2")
    finally:
        release.set()
        thread.join(60)
    assert isinstance(outcome[0], LoadResult) and outcome[0].manifest_id == 1
    assert_loaded(database_url, v1)
    assert load(database_url, v2.path, "v2").loaded
    assert_loaded(database_url, v2)


def test_skip_if_current_does_not_load_twice(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=71, rows=300)
    with ManifestSource(v1.path) as source, connect(database_url) as conn:
        first = load_manifest(
            conn,
            source,
            version="v",
            path="/p",
            language="en",
            progress=Progress(),
            skip_if_current=True,
        )
        second = load_manifest(
            conn,
            source,
            version="v",
            path="/p",
            language="en",
            progress=Progress(),
            skip_if_current=True,
        )
    assert first.loaded and not second.loaded and second.manifest_id == first.manifest_id


def test_blob_json_and_signed_ids(database_url: str, manifest_factory: ManifestFactory) -> None:
    v1 = manifest_factory.generate(seed=81, rows=400, json_as_blob=True)
    load(database_url, v1.path, "v1")
    assert_loaded(database_url, v1)
    with connect(database_url) as conn:
        (negative,) = conn.execute(
            "SELECT count(*) FROM manifest.t_manifest WHERE (pk ->> 'id')::bigint < 0"
        ).fetchone()  # type: ignore[misc]
    assert negative > 0


def test_load_stage_starts_before_the_file_is_counted(
    database_url: str, manifest_factory: ManifestFactory, tmp_path: Path
) -> None:
    # Counting a full-size file's rows and taking the lock take seconds: the window shows a
    # busy bar (total unknown) for that time instead of a bar that stands still at 0%.
    from manifest_gui.engine.service import ManifestService
    from manifest_gui.engine.settings import Settings

    manifest = manifest_factory.generate(seed=31, rows=400)
    events: list[ProgressEvent] = []
    service = ManifestService(Settings(database_url=database_url, data_dir=str(tmp_path)))
    result = service.load_file(manifest.path, Progress(events.append, 0))
    loads = [event for event in events if event.stage == "load" and event.message is None]
    assert loads[0].total is None and loads[0].done == 0
    assert loads[-1].finished and loads[-1].total == result.rows == manifest.total_rows
    assert all(event.total == manifest.total_rows for event in loads[1:])


def test_every_row_read_is_reported_before_the_database_applies_them(
    database_url: str, manifest_factory: ManifestFactory
) -> None:
    # With a throttled handle the last position would be swallowed and the window's bar would
    # stand at 99% while indexes are built and changes applied.
    manifest = manifest_factory.generate(seed=32, rows=300)
    events: list[ProgressEvent] = []
    load(database_url, manifest.path, "v1", Progress(events.append, interval=3600))
    loads = [e for e in events if e.stage == "load"]
    applying = next(i for i, e in enumerate(loads) if e.message and "Applying" in e.message)
    before = [e for e in loads[:applying] if e.message is None]
    assert before[-1].done == before[-1].total == manifest.total_rows and not before[-1].finished

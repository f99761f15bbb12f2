"""How a load refreshes the views at its end: plainly (about twice as fast) right before commit
when nobody holds them, CONCURRENTLY when a reader sits idle in its transaction on one, never
waiting for the reader. (Mid-load, where the reading of the rest of the file hides it, a view is
refreshed CONCURRENTLY.)"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from manifest_gui.engine.database import connect
from manifest_gui.engine.loader import MATERIALIZED_VIEWS, VIEW_TABLES, load_manifest
from manifest_gui.engine.progress import Progress, ProgressEvent
from manifest_gui.engine.source import ManifestSource
from tests.engine.test_load_changed import stale_view_rows
from tests.support.manifest_factory import ManifestFactory

ACTIVITY_VIEW = "mv_activity_definitions"
READ_ACTIVITIES = f"SELECT count(*) FROM manifest.{ACTIVITY_VIEW}"
APPLYING = "Applying changes"  # the message once every row is read, before the end's refresh


@pytest.fixture
def unsettled_v2(
    database_url: str, manifest_factory: ManifestFactory, caplog: pytest.LogCaptureFixture
) -> Iterator[Path]:
    """v1 loaded (its first load refreshes all three views plainly, at its end); yields a next
    version that changes every view's table and has no table after them, so nothing is
    settled mid-load and every view is refreshed at the end."""
    v1 = manifest_factory.generate(seed=701, rows=600)
    v2 = manifest_factory.generate(seed=702, version_of=v1, changed=0.5, deleted=0.1, added=0.1)
    assert v2.changes is not None
    touched = {table for table, _ in v2.changes.modified | v2.changes.deleted | v2.changes.added}
    assert set(VIEW_TABLES.values()) <= touched
    unsettled = v2.path.with_name("v2-unsettled.sqlite3")
    shutil.copyfile(v2.path, unsettled)
    last_view_table = max(VIEW_TABLES.values())
    with sqlite3.connect(unsettled) as db:
        names = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for name in names:
            if name > last_view_table:
                db.execute(f'DROP TABLE "{name}"')
    db.close()
    caplog.set_level(logging.INFO, logger="manifest_gui.engine.loader")
    load(database_url, v1.path, Progress())
    assert refreshes(caplog) == dict.fromkeys(MATERIALIZED_VIEWS, "plainly")
    caplog.clear()
    yield unsettled


def load(url: str, manifest: Path, progress: Progress) -> None:
    with ManifestSource(manifest) as source, connect(url) as conn:
        load_manifest(
            conn,
            source,
            version="v",
            path=str(manifest),
            language="en",
            progress=progress,
            lock_wait=2,
        )


def refreshes(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """view -> "plainly" / "concurrently", from the loader's log of the last load."""
    found: dict[str, str] = {}
    for record in caplog.records:
        if record.name == "manifest_gui.engine.loader" and record.msg.startswith("Refreshed %s"):
            view, how = record.args[0], record.args[1]  # type: ignore[index]
            assert view not in found, "a view was refreshed twice"
            found[str(view)] = str(how)
    return found


def read_now(url: str) -> int:
    """Read the activity view from a new session that waits for no lock."""
    with psycopg.connect(url) as conn:
        conn.execute("SET lock_timeout = '500ms'")
        (count,) = conn.execute(READ_ACTIVITIES).fetchone()  # type: ignore[misc]
        return int(count)


def assert_loaded(url: str, manifest: Path) -> None:
    """The file's rows are the live ones, and every view is as its definition says."""
    with ManifestSource(manifest) as source:
        rows = source.total_rows
    with connect(url) as conn:
        (live,) = conn.execute(
            "SELECT count(*) FROM manifest.t_manifest WHERE deleted IS NULL"
        ).fetchone()  # type: ignore[misc]
        assert live == rows
        for view in MATERIALIZED_VIEWS:
            assert stale_view_rows(conn, view) == 0, view


def test_views_nobody_reads_are_refreshed_plainly_at_the_very_end(
    database_url: str, unsettled_v2: Path, caplog: pytest.LogCaptureFixture
) -> None:
    readable_until_the_end: list[int] = []

    def read_before_the_refresh(event: ProgressEvent) -> None:
        # Every row read, the stage about to be applied: the views are not locked yet.
        if event.message and event.message.startswith(APPLYING):
            readable_until_the_end.append(read_now(database_url))

    caplog.set_level(logging.INFO, logger="manifest_gui.engine.loader")
    load(database_url, unsettled_v2, Progress(read_before_the_refresh, interval=0))
    assert len(readable_until_the_end) == 1
    assert refreshes(caplog) == dict.fromkeys(MATERIALIZED_VIEWS, "plainly")
    assert_loaded(database_url, unsettled_v2)


@pytest.mark.parametrize("reader_since", ["before the load", "during the load"])
def test_a_view_a_reader_holds_is_refreshed_concurrently_and_the_load_goes_ahead(
    database_url: str,
    unsettled_v2: Path,
    caplog: pytest.LogCaptureFixture,
    reader_since: str,
) -> None:
    """A reader idle in its transaction after reading the activity view (since before the load,
    or since every row was read): that view is refreshed CONCURRENTLY, the others plainly,
    and the load commits without waiting for the reader (a plain refresh would wait 2 s and
    fail), while the reader was never blocked."""
    with ExitStack() as readers:

        def start_reader() -> psycopg.Connection:
            reader = readers.enter_context(psycopg.connect(database_url))
            reader.execute("SET lock_timeout = '500ms'")  # a view the load holds: fail, not hang
            reader.execute(READ_ACTIVITIES)
            readers.callback(reader.rollback)
            return reader

        held: list[psycopg.Connection] = []

        def read_during_the_load(event: ProgressEvent) -> None:
            if event.message and event.message.startswith(APPLYING) and not held:
                held.append(start_reader())

        if reader_since == "before the load":
            held.append(start_reader())
        caplog.set_level(logging.INFO, logger="manifest_gui.engine.loader")
        load(database_url, unsettled_v2, Progress(read_during_the_load, interval=0))
        assert len(held) == 1
        reader = held[0]
        with connect(database_url) as conn:
            (state, waiting) = conn.execute(
                """SELECT state, EXISTS (SELECT 1 FROM pg_locks l
                                          WHERE l.pid = a.pid AND NOT l.granted)
                     FROM pg_stat_activity a WHERE pid = %s""",
                (reader.info.backend_pid,),
            ).fetchone()  # type: ignore[misc]
        assert (state, waiting) == ("idle in transaction", False)
        expected = dict.fromkeys(MATERIALIZED_VIEWS, "plainly")
        expected[ACTIVITY_VIEW] = "concurrently"
        assert refreshes(caplog) == expected
        # The reader goes on in its transaction and sees the new version's rows.
        (count,) = reader.execute(READ_ACTIVITIES).fetchone()  # type: ignore[misc]
        assert count == read_now(database_url)
    assert_loaded(database_url, unsettled_v2)

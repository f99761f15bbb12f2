"""Switching databases in Settings: the built-in viewer follows (two real databases with
different manifests loaded by the engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.ui.viewer import ViewerWidget
from tests.gui.conftest import AppFactory
from tests.support.manifest_factory import GeneratedManifest, ManifestFactory
from tests.support.postgres import PostgresServer

WAIT = 30_000


@pytest.fixture
def other_database_url(pg_server: PostgresServer) -> Iterator[str]:
    """A second empty database on the same server (dropped after the app has shut down)."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def load(url: str, manifest: GeneratedManifest, version: str, data_dir: Path) -> None:
    with ManifestService(Settings(database_url=url, data_dir=str(data_dir))) as service:
        service.load_sqlite(
            manifest.path, version, f"/common/destiny2_content/sqlite/en/{version}.content"
        )


def shown_tables(viewer: ViewerWidget) -> dict[str, int]:
    return {table.name: table.live_rows for table in viewer.browse.tables_model.tables()}


def expected(manifest: GeneratedManifest) -> dict[str, int]:
    return {name: rows for name, rows in manifest.table_rows.items() if rows}


def versions_shown(viewer: ViewerWidget) -> list[str]:
    model = viewer.history.versions_model
    found = [model.version_at(row) for row in range(model.rowCount())]
    return [version.version for version in found if version is not None]


def test_the_viewer_follows_a_database_switch(
    qtbot: Any,
    other_database_url: str,
    database_url: str,
    make_app: AppFactory,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
) -> None:
    first = manifest_factory.generate(seed=41, rows=600)
    second = manifest_factory.generate(seed=7, rows=250)
    load(database_url, first, "first-1.0", tmp_path / "load")
    load(other_database_url, second, "second-2.0", tmp_path / "load")
    assert expected(first) != expected(second)

    app = make_app(database_url=database_url)
    viewer = app.window.viewer
    assert isinstance(viewer, ViewerWidget)
    with qtbot.waitSignal(viewer.tablesLoaded, timeout=WAIT):
        app.window.tabs.setCurrentWidget(viewer)  # first shown: the viewer loads its tables
    assert shown_tables(viewer) == expected(first)
    qtbot.waitUntil(lambda: versions_shown(viewer) == ["first-1.0"], timeout=WAIT)
    table = next(iter(expected(first)))
    with qtbot.waitSignal(viewer.browse.rows_model.pageLoaded, timeout=WAIT):
        viewer.browse.select_table(table)

    # Settings → Database → another server URL → OK.
    dialog = app.open_settings()
    dialog.server_radio.setChecked(True)
    dialog.database_url_edit.setText(other_database_url)
    with (
        qtbot.waitSignal(app.jobFinished, timeout=WAIT),
        qtbot.waitSignal(viewer.tablesLoaded, timeout=WAIT) as loaded,
    ):
        dialog.accept()
    assert loaded.args == [len(expected(second))]
    assert shown_tables(viewer) == expected(second)
    qtbot.waitUntil(lambda: versions_shown(viewer) == ["second-2.0"], timeout=WAIT)
    assert app.settings.database_url == other_database_url
    if table in expected(second):  # the same table stays open, with the new rows
        rows = viewer.browse.rows_model
        qtbot.waitUntil(lambda: not rows.loading and rows.rowCount() > 0, timeout=WAIT)
        assert rows.total == expected(second)[table]

    # And back: the first database's content again.
    dialog = app.open_settings()
    dialog.database_url_edit.setText(database_url)
    with (
        qtbot.waitSignal(app.jobFinished, timeout=WAIT),
        qtbot.waitSignal(viewer.tablesLoaded, timeout=WAIT),
    ):
        dialog.accept()
    assert shown_tables(viewer) == expected(first)
    qtbot.waitUntil(lambda: versions_shown(viewer) == ["first-1.0"], timeout=WAIT)

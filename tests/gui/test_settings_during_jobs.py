"""Settings saved while a job runs, quitting with a change pending, and --no-check."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar

from manifest_gui import __main__ as entry
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.ui.main_window import MainWindow
from tests.gui.conftest import AppFactory, Published
from tests.support.bungie_server import BungieServer, slow_body
from tests.support.manifest_factory import ManifestFactory


def start_slow_load(qtbot: Any, app: Any, bungie_server: BungieServer) -> None:
    bungie_server.queue(slow_body(chunk_size=2048, interval=0.05), route="content")
    app.check_and_load()
    download = app.window.findChild(QProgressBar, "downloadProgressBar")
    qtbot.waitUntil(lambda: download.value() > 0, timeout=30_000)
    assert app.runner.busy


def test_settings_saved_during_a_load_wait_for_it(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    with qtbot.waitSignal(app.jobFinished, timeout=60_000) as finished:
        start_slow_load(qtbot, app, bungie_server)
        service = app.service
        app.apply_settings(dataclasses.replace(app.settings, language="fr"))
        assert app.settings.language == "fr"  # saved and shown at once...
        assert service.settings.language == "en"  # ...but the running load keeps its own
        app.cancel()
    assert finished.args == ["update", "cancelled"]
    assert app.service is service and service.settings.language == "fr"


def test_quitting_with_a_database_switch_pending_starts_nothing(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    tmp_path: Path,
) -> None:
    made: list[ManifestService] = []

    def counting_factory(settings: Settings, secrets: Any) -> ManifestService:
        service = ManifestService(settings, secrets)
        made.append(service)
        return service

    app = make_app(
        database_url=database_url,
        bungie_root=bungie_server.base_url,
        service_factory=counting_factory,
    )
    start_slow_load(qtbot, app, bungie_server)
    app.apply_settings(dataclasses.replace(app.settings, database_url=None))
    assert app.settings_pending
    app.shutdown()
    qtbot.wait(300)  # let the cancelled job's last signals arrive
    assert len(made) == 1, "a new service (and its embedded server) was made after quitting"
    assert not app.runner.busy


@pytest.mark.usefixtures("published")
def test_no_check_still_shows_the_database_version(
    qtbot: Any,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = manifest_factory.generate(rows=40)
    with ManifestService(Settings(database_url=database_url, data_dir=str(tmp_path))) as service:
        service.load_sqlite(manifest.path, "no-check-1.0", "/p/world_sql_content_nc.content")
    monkeypatch.setenv("MANIFEST_GUI_DATABASE_URL", database_url)
    monkeypatch.setenv("MANIFEST_GUI_BUNGIE_ROOT", bungie_server.base_url)
    monkeypatch.setenv("MANIFEST_GUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    qt_app = QApplication.instance()
    shown: list[str] = []

    def read_then_quit() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                label = widget.findChild(QLabel, "databaseVersionLabel")
                if "no-check-1.0" not in label.text():
                    QTimer.singleShot(100, read_then_quit)
                    return
                shown.append(label.text())
                widget.quit_action.trigger()

    QTimer.singleShot(100, read_then_quit)
    QTimer.singleShot(30_000, qt_app.quit)  # never hang the suite
    before = len(bungie_server.requests)
    assert entry.main(["--gui", "--no-check"]) == 0
    assert shown and "no-check-1.0" in shown[0]
    assert len(bungie_server.requests) == before, "--no-check asked Bungie.net"

"""Known errors show their one sentence; anything else opens the details dialog."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

from manifest_gui.engine.bungie import KEY_ERRORS
from manifest_gui.engine.secrets import SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.ui.error_dialog import ErrorDialog
from tests.gui.conftest import AppFactory, quick_service, run_job
from tests.support.bungie_server import BungieServer, error_envelope, throttled

MAINTENANCE = "Bungie.net is down for maintenance; try again later."
THROTTLED = "Bungie.net is throttling requests; try again in a few minutes."


def status(app: Any) -> str:
    return str(app.window.findChild(QLabel, "statusLabel").text())


@pytest.mark.parametrize(
    ("answer", "sentence"),
    [
        pytest.param(error_envelope(5), MAINTENANCE, id="maintenance"),
        pytest.param(error_envelope(2101), KEY_ERRORS[2101], id="bad-key"),
        pytest.param(throttled(36), THROTTLED, id="throttled"),
    ],
)
def test_bungie_errors_show_their_sentence(
    qtbot: Any, make_app: AppFactory, bungie_server: BungieServer, answer: Any, sentence: str
) -> None:
    app = make_app(bungie_root=bungie_server.base_url)
    bungie_server.queue(answer, times=2)  # the quick client tries twice
    assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
    assert status(app) == f"Failed: {sentence}"
    assert app.window.log_view.lines()[-1].endswith(sentence)
    assert not app.error_dialogs


def test_network_refused(qtbot: Any, make_app: AppFactory, refused_url: str) -> None:
    app = make_app(bungie_root=refused_url)
    assert run_job(qtbot, app, app.check) == ("check", "failed")
    host = refused_url.split("://", 1)[1]
    assert status(app) == (
        f"Failed: {host} refused the connection; check the network and the Bungie.net root."
    )


def test_database_unreachable(
    qtbot: Any, make_app: AppFactory, bungie_server: BungieServer
) -> None:
    app = make_app(
        bungie_root=bungie_server.base_url, database_url="postgresql://nobody@127.0.0.1:1/none"
    )
    assert run_job(qtbot, app, app.check) == ("check", "failed")
    text = status(app)
    assert text.startswith("Failed: Cannot connect to the database 127.0.0.1:1/none:"), text
    assert "\n" not in text


def test_an_unexpected_error_opens_the_details_dialog(
    qtbot: Any, make_app: AppFactory, bungie_server: BungieServer
) -> None:
    class Broken(ManifestService):
        def check(self, progress: Any = None) -> Any:
            raise RuntimeError("a bug in the engine")

    def broken(settings: Settings, secrets: SecretStore) -> ManifestService:
        return Broken(settings, secrets)

    app = make_app(bungie_root=bungie_server.base_url, service_factory=broken)
    assert run_job(qtbot, app, app.check) == ("check", "error")
    assert status(app) == "Failed: an unexpected error (RuntimeError); details are in the log."
    assert len(app.error_dialogs) == 1
    dialog = app.error_dialogs[0]
    assert isinstance(dialog, ErrorDialog) and dialog.isVisible()
    details = dialog.findChild(QPlainTextEdit, "errorDetails").toPlainText()
    assert "Traceback" in details and "a bug in the engine" in details
    assert str(app.log_file) in dialog.findChild(QLabel, "errorLogLabel").text()
    dialog.copy_details()
    copied = QApplication.clipboard().text()
    assert "a bug in the engine" in copied and "Traceback" in copied
    assert copied.startswith("manifest-gui ") and "The check job failed" in copied
    dialog.reject()
    qtbot.waitUntil(lambda: not app.error_dialogs)
    # The app keeps running: the next job starts.
    assert app.runner.start("noop", lambda progress: None)
    qtbot.waitUntil(lambda: not app.runner.busy)


def test_unexpected_error_is_logged_with_its_traceback(
    qtbot: Any, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(service_factory=quick_service)
    with caplog.at_level("ERROR"):
        dialog = app.show_bug("ValueError: boom", "Traceback (most recent call last):\n", "X")
    assert "Traceback" in caplog.text
    dialog.reject()


def test_a_failed_first_check_still_shows_the_database(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: Any,
    tmp_path: Any,
) -> None:
    """First run without an API key: Bungie.net refuses, but the database side is read."""
    manifest = manifest_factory.generate(seed=77, rows=80)
    with ManifestService(Settings(database_url=database_url, data_dir=str(tmp_path / "d"))) as s:
        s.load_sqlite(manifest.path, "v-local", "/local.content")
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    label = app.window.findChild(QLabel, "databaseVersionLabel")
    assert label.text() == "Not read yet."
    bungie_server.queue(error_envelope(2101))  # the key is missing or invalid
    assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
    assert status(app) == f"Failed: {KEY_ERRORS[2101]}"
    rows = f"{manifest.total_rows:,} live rows"
    assert "v-local" in label.text() and rows in label.text(), label.text()

"""An unusable data dir in the window: a dialog names the path and opens Settings on the data
folder, where another one can be chosen; a folder that cannot be used is refused there too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QMessageBox, QPushButton

from tests.gui.conftest import AppFactory, Published, run_job
from tests.support.bungie_server import BungieServer


def _dialog(app: Any) -> QMessageBox:
    dialog = app.window.findChild(QMessageBox, "dataDirDialog")
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_at_start_a_dialog_names_the_data_dir_and_opens_settings_on_it(
    qtbot: Any, make_app: AppFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "data"  # the data dir make_app uses, as a file
    blocker.write_text("not a folder")
    app = make_app()
    dialog = _dialog(app)
    assert str(blocker) in dialog.text()
    assert "Settings" in dialog.informativeText()
    assert app.dialogs.data_dir_dialog is dialog
    dialog.findChild(QPushButton, "dataDirSettingsButton").click()
    qtbot.waitUntil(lambda: app.settings_dialog is not None)
    settings = app.settings_dialog
    edit = settings.findChild(QLineEdit, "dataDirEdit")
    assert settings.tabs.currentWidget() is settings.database_page and edit.text() == str(blocker)

    # A folder that cannot be used is refused with the sentence; a good one is saved.
    edit.setText(str(blocker / "inside"))
    settings.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    error = settings.findChild(QLabel, "settingsErrorLabel")
    assert settings.isVisible() and "cannot be used" in error.text()
    good = tmp_path / "good data"
    edit.setText(str(good))
    settings.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: app.settings_dialog is None)
    assert app.settings.data_dir == str(good) and good.is_dir()


def test_a_load_that_meets_an_unusable_data_dir_opens_the_dialog(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"  # make_app's data dir
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    assert app.dialogs.data_dir_dialog is None  # a usable folder: no dialog at start
    (data / "cache").mkdir(parents=True, exist_ok=True)
    (data / "cache").rmdir()
    (data / "cache").write_text("in the way")
    assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
    dialog = _dialog(app)
    assert str(data / "cache") in dialog.text()
    dialog.reject()
    qtbot.waitUntil(lambda: app.dialogs.data_dir_dialog is None)

"""Every objectName that automation uses is still there, on a widget of the expected type, and
found the way automation finds it: from the window, the QApplication, or the Settings dialog."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSystemTrayIcon,
)

from tests.gui.conftest import AppFactory

WINDOW_NAMES: dict[str, type] = {
    "checkLoadButton": QPushButton,
    "checkButton": QPushButton,
    "cancelButton": QPushButton,
    "downloadProgressBar": QProgressBar,
    "extractProgressBar": QProgressBar,
    "uploadProgressBar": QProgressBar,
    "loadProgressBar": QProgressBar,
    "remoteVersionLabel": QLabel,
    "databaseVersionLabel": QLabel,
    "statusLabel": QLabel,
    "nextCheckLabel": QLabel,
    "databaseDescriptionLabel": QLabel,
    "downloadDetailLabel": QLabel,
    "extractDetailLabel": QLabel,
    "uploadDetailLabel": QLabel,
    "loadDetailLabel": QLabel,
    "pollCheckBox": QCheckBox,
    "logView": QPlainTextEdit,
    # The viewer's
    "tableList": QAbstractItemView,
    "rowsView": QAbstractItemView,
    "searchEdit": QLineEdit,
    "jsonTree": QAbstractItemView,
    "historyView": QAbstractItemView,
}
SETTINGS_NAMES: dict[str, type] = {"apiKeyEdit": QLineEdit, "databaseUrlEdit": QLineEdit}
ACTIONS = ("settingsAction", "quitAction")


def test_the_window_widgets_keep_their_names(make_app: AppFactory) -> None:
    app = make_app()
    missing = {
        name: kind.__name__
        for name, kind in WINDOW_NAMES.items()
        if app.window.findChild(kind, name) is None
    }
    assert missing == {}


@pytest.mark.parametrize("name", ACTIONS)
def test_the_actions_keep_their_names_and_work(make_app: AppFactory, name: str) -> None:
    app = make_app()
    action = app.window.findChild(QAction, name)
    assert action is not None and action.isEnabled()
    if name == "settingsAction":
        action.trigger()
        dialog = app.settings_dialog
        assert dialog is not None
        for field, kind in SETTINGS_NAMES.items():
            assert dialog.findChild(kind, field) is not None, field
        dialog.reject()


def test_log_view_is_a_plain_text_view(make_app: AppFactory) -> None:
    # LogView is what the window's log is; automation reads its text.
    app = make_app()
    log_view = app.window.findChild(QPlainTextEdit, "logView")
    app.window.log("hello from the test")
    assert "hello from the test" in log_view.toPlainText()


@pytest.mark.display
def test_the_tray_icon_is_found_from_the_application(qtbot: Any, make_app: AppFactory) -> None:
    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    app = make_app(tray=True)
    app.setParent(QApplication.instance())
    try:
        assert QApplication.instance().findChild(QSystemTrayIcon, "trayIcon") is app.tray
    finally:
        app.setParent(None)

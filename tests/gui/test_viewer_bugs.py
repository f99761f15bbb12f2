"""A bug in a viewer query (here a TypeError) reaches the error dialog with its traceback, like
a bug in any other job; the viewer itself shows a short sentence, not the exception's text."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from manifest_gui.ui.viewer import viewer_widget
from tests.gui.conftest import AppFactory


def test_a_viewer_query_bug_opens_the_error_dialog(
    qtbot: Any, make_app: AppFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_tables(conn: Any) -> None:
        raise TypeError("a bug in a viewer query")

    monkeypatch.setattr(viewer_widget, "_tables_if_ready", broken_tables)
    app = make_app(database_url=database_url)
    failures: list[str] = []
    app.viewer.failed.connect(failures.append)
    app.viewer.refresh()
    qtbot.waitUntil(lambda: len(app.error_dialogs) == 1, timeout=20_000)
    dialog = app.error_dialogs[0]
    assert "TypeError: a bug in a viewer query" in dialog.summary
    details = dialog.findChild(QPlainTextEdit, "errorDetails").toPlainText()
    assert "Traceback" in details and "broken_tables" in details
    message = app.viewer.findChild(QLabel, "viewerMessage").text()
    assert message == "An unexpected error (TypeError); details are in the log."
    assert failures == [message]
    assert "Failed: an unexpected error (TypeError)" in app.window.version_panel.status_label.text()
    dialog.reject()
    qtbot.waitUntil(lambda: not app.error_dialogs)


def test_a_known_viewer_failure_stays_a_sentence_without_a_dialog(
    qtbot: Any, make_app: AppFactory
) -> None:
    app = make_app()  # a database nobody answers at
    failures: list[str] = []
    app.viewer.failed.connect(failures.append)
    app.viewer.refresh()
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    assert failures[0].startswith("Cannot connect to the database"), failures
    assert app.error_dialogs == []

"""Keyboard use: Alt mnemonics never collide, Esc cancels only where the load is shown."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QLineEdit,
    QTabWidget,
    QWidget,
)

from tests.gui.conftest import AppFactory, Published, db_state
from tests.support.bungie_server import BungieServer, slow_body

MNEMONIC = re.compile(r"&([^&\s])")


def _mnemonic(text: str) -> str | None:
    found = MNEMONIC.search(text.replace("&&", ""))
    return found.group(1).lower() if found else None


def visible_mnemonics(window: QWidget) -> list[tuple[str, str]]:
    """(letter, text) for every Alt+letter reachable in `window` as it is shown now."""
    texts: list[str] = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisibleTo(window):
            continue
        if isinstance(widget, QAbstractButton | QGroupBox):
            texts.append(widget.text() if isinstance(widget, QAbstractButton) else widget.title())
        elif isinstance(widget, QLabel) and widget.buddy() is not None:
            texts.append(widget.text())
        elif isinstance(widget, QTabWidget):
            texts.extend(widget.tabText(i) for i in range(widget.count()))
    menu_bar = getattr(window, "menuBar", None)
    if callable(menu_bar):
        texts.extend(action.text() for action in menu_bar().actions())
    return [(letter, text) for text in texts if (letter := _mnemonic(text))]


def assert_unique(found: list[tuple[str, str]]) -> None:
    counts = Counter(letter for letter, _ in found)
    clashes = {letter: [t for ltr, t in found if ltr == letter] for letter, n in counts.items()}
    clashes = {letter: texts for letter, texts in clashes.items() if len(texts) > 1}
    assert not clashes, f"Alt+letter used twice: {clashes}"


def test_main_window_mnemonics_are_unique(
    qtbot: Any, make_app: AppFactory, database_url: str, s3_bucket: str
) -> None:
    app = make_app(database_url=database_url, s3_bucket=s3_bucket)
    window = app.window
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        found = visible_mnemonics(window)
        assert len(found) >= 5
        assert_unique(found)


def test_settings_mnemonics_are_unique_on_every_page(
    qtbot: Any, make_app: AppFactory, database_url: str, s3_bucket: str
) -> None:
    app = make_app(database_url=database_url, s3_bucket=s3_bucket)
    dialog = app.open_settings()
    tabs = dialog.tabs
    assert tabs.count() == 5  # General, Database, Archive, Notifications, Desktop
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        found = visible_mnemonics(dialog)
        assert len(found) >= 4
        assert_unique(found)
    dialog.reject()


def test_escape_cancels_from_the_manifest_page_but_not_from_the_viewer(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    window = app.window
    window.activateWindow()
    qtbot.waitActive(window)
    before = db_state(database_url)
    bungie_server.queue(slow_body(chunk_size=2048, interval=0.05), route="content")
    with qtbot.waitSignal(app.jobFinished, timeout=60_000) as finished:
        app.check_and_load()
        download = window.progress_panel.findChild(QWidget, "downloadProgressBar")
        qtbot.waitUntil(lambda: download.value() > 0, timeout=30_000)

        window.tabs.setCurrentIndex(1)  # the viewer: Esc belongs to its search box
        search = window.findChild(QLineEdit, "searchEdit")
        search.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is search)
        qtbot.keyClick(search, Qt.Key.Key_Escape)
        qtbot.wait(300)
        assert app.runner.busy, "Esc in the viewer stopped the load"

        window.tabs.setCurrentIndex(0)
        window.log_view.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.log_view)
        qtbot.keyClick(window.log_view, Qt.Key.Key_Escape)
    assert finished.args == ["update", "cancelled"]
    assert db_state(database_url) == before


def _tab_chain(window: QWidget, count: int) -> list[str]:
    """objectNames in Tab order from the window, as Tab visits them (focusable, shown)."""
    names: list[str] = []
    widget: QWidget | None = window
    for _ in range(200):
        widget = widget.nextInFocusChain()
        if widget is window or len(names) == count:
            break
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(window):
            names.append(widget.objectName())
    return names


def test_tab_order_follows_the_page_top_to_bottom(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app()
    chain = _tab_chain(app.window, 20)
    order = ["pollCheckBox", "checkLoadButton", "checkButton", "cancelButton", "logView"]
    positions = [chain.index(name) for name in order]
    assert positions == sorted(positions), chain
    dialog = app.open_settings()
    chain = _tab_chain(dialog, 6)
    assert chain.index("qt_tabwidget_tabbar") < chain.index("apiKeyEdit"), chain
    dialog.reject()

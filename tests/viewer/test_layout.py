"""The viewer's layout at the window's sizes: names fit, nothing widens the window."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from manifest_gui.ui.main_window import MainWindow
from manifest_gui.ui.viewer import ViewerWidget
from tests.viewer.test_viewer import ITEM, WAIT, _open_table

# A 1024-pixel-wide laptop screen less its window frame.
SMALL_SCREEN_WIDTH = 1000


def test_table_names_fit_at_the_default_window_width(qtbot: Any, viewer: ViewerWidget) -> None:
    viewer.resize(MainWindow.DEFAULT_SIZE[0], MainWindow.DEFAULT_SIZE[1] - 80)
    viewer.show()
    qtbot.waitExposed(viewer)
    table_list = viewer.browse.table_list
    needed = table_list.fontMetrics().horizontalAdvance("PresentationNode")
    assert table_list.columnWidth(0) >= needed, "table names are cut off"
    assert viewer.browse.search_edit.width() >= 150
    changes = viewer.history.changes_view
    assert changes.columnWidth(0) >= changes.fontMetrics().horizontalAdvance("InventoryItem")


def test_a_long_name_never_widens_the_viewer(qtbot: Any, viewer: ViewerWidget) -> None:
    viewer.resize(SMALL_SCREEN_WIDTH, 700)
    viewer.show()
    qtbot.waitExposed(viewer)
    before = viewer.minimumSizeHint().width()
    assert before <= SMALL_SCREEN_WIDTH
    _open_table(qtbot, viewer, ITEM)
    with qtbot.waitSignal(viewer.detail.definitionShown, timeout=WAIT):
        viewer.browse.rows_view.selectRow(0)
    # What a long name (some lore entries) and a long export path would do to fixed labels.
    viewer.detail.title.setText("Exotic " * 20 + "DestinyInventoryItemDefinition" * 6)
    viewer.browse.status.setText("Exported 33,000 rows to /" + "folder/" * 60 + "items.csv.")
    QApplication.processEvents()  # let the layouts recompute, as the event loop would
    assert viewer.minimumSizeHint().width() == before
    assert viewer.width() == SMALL_SCREEN_WIDTH


def test_ctrl_f_goes_to_the_search_box(qtbot: Any, viewer: ViewerWidget) -> None:
    viewer.show()
    viewer.activateWindow()
    qtbot.waitActive(viewer)
    viewer.browse.rows_view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is viewer.browse.rows_view)
    qtbot.keyClick(viewer.browse.rows_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert viewer.browse.search_edit.hasFocus()

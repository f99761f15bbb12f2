"""The log pane: timestamped events of recent runs (the full log is in the log file)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFontDatabase, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LEVEL_COLOURS = {"error": "#b42318", "warning": "#9a6700"}


class LogView(QPlainTextEdit):
    """Read-only, bounded, monospace; new lines scroll into view unless the user scrolled up."""

    MAX_LINES = 2000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logView")
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setMaximumBlockCount(self.MAX_LINES)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("Events of this session appear here.")

    def add(self, text: str, level: str = "info", when: datetime | None = None) -> None:
        stamp = (when or datetime.now()).strftime("%H:%M:%S")
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.document().isEmpty():
            cursor.insertBlock()
        fmt = QTextCharFormat()
        if level in LEVEL_COLOURS:
            fmt.setForeground(QColor(LEVEL_COLOURS[level]))
        cursor.insertText(f"{stamp}  {text}", fmt)
        if at_bottom:
            bar.setValue(bar.maximum())
            # The range can grow only once the new line is laid out: follow it then too.
            QTimer.singleShot(0, self, self._scroll_to_end)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # A window re-laid out (a status line that wraps) must not leave the newest lines
        # below the edge: a log that showed its end keeps showing it.
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        super().resizeEvent(event)
        if at_bottom:
            self._scroll_to_end()
            QTimer.singleShot(0, self, self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()

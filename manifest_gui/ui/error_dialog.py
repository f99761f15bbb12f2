"""The dialog for an unexpected error (a bug): what happened, details to copy, the log file."""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .. import __version__


class ErrorDialog(QDialog):
    def __init__(
        self,
        summary: str,
        details: str,
        log_file: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("manifest-gui: unexpected error")
        self.resize(640, 420)
        self.log_file = log_file
        self.summary = summary

        heading = QLabel(
            f"<b>{_escape(summary)}</b><br>This is a bug in manifest-gui, not something you "
            "did. The app keeps running; the details below help to fix it."
        )
        heading.setWordWrap(True)
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        self.setWindowIcon(icon)

        self.details_edit = QPlainTextEdit(details)
        self.details_edit.setObjectName("errorDetails")
        self.details_edit.setReadOnly(True)
        self.details_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        where = (
            f"The traceback is also in the log file:\n{log_file}"
            if log_file
            else "The traceback is also in the log."
        )
        self.log_label = QLabel(where)
        self.log_label.setObjectName("errorLogLabel")
        self.log_label.setWordWrap(True)
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy details")
        self.copy_button.setObjectName("copyDetailsButton")
        self.copy_button.clicked.connect(self.copy_details)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        if log_file is not None:
            folder = QPushButton("Open &log folder")
            folder.clicked.connect(self._open_log_folder)
            buttons.addButton(folder, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.details_edit, 1)
        layout.addWidget(self.log_label)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        """Everything a bug report needs: versions, what failed, and the traceback."""
        report = (
            f"manifest-gui {__version__} · Python {platform.python_version()} · "
            f"Qt {qVersion()} · {platform.platform()}\n{self.summary}\n\n"
            f"{self.details_edit.toPlainText()}"
        )
        QGuiApplication.clipboard().setText(report)

    def _open_log_folder(self) -> None:
        if self.log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file.parent)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

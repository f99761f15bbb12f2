"""The dialog for a data dir the app cannot use (a file in its place, a read-only file system, no
write permission, a full disk): it names the folder and points to Settings, where another one
can be chosen. One at a time: a poller meeting the same problem again opens no second one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from .. import APP_NAME
from ..engine.datadir import DataDirError, DiskFullError


class DataDirDialog(QMessageBox):
    def __init__(
        self,
        error: DataDirError | DiskFullError,
        open_settings: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("dataDirDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle(f"{APP_NAME}: the data folder cannot be used")
        self.setText(f"manifest-gui cannot keep its files in\n{error.path}")
        self.setInformativeText(
            f"{error}\n\nChoose another data folder in Settings (or set MANIFEST_GUI_DATA_DIR), "
            "or fix this one and try again."
        )
        self.path = error.path
        self.settings_button = self.addButton("Open &Settings…", QMessageBox.ButtonRole.AcceptRole)
        self.settings_button.setObjectName("dataDirSettingsButton")
        self.addButton(QMessageBox.StandardButton.Close)
        self.settings_button.clicked.connect(open_settings)

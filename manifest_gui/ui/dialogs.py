"""The window's modeless dialogs, at most one of each: Settings, Load from archive, and the one
that says the data folder cannot be used.

The dialogs only choose; what they choose comes back as a signal (settingsChosen, archiveChosen)
for the Application to apply or run like any other job.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from ..engine.datadir import DataDirError, DiskFullError
from ..engine.secrets import SecretStore
from ..engine.service import ManifestService
from ..engine.settings import Settings
from .archive_dialog import ArchiveDialog
from .data_dir_dialog import DataDirDialog
from .settings_dialog import SettingsDialog


class Dialogs(QObject):
    settingsChosen = Signal(object)  # Settings, from OK in the Settings dialog
    settingsDialogOpened = Signal(object)  # SettingsDialog: other parts may add_tab() to it
    archiveChosen = Signal(str)  # the key of an archived manifest to load
    dataDirSettingsRequested = Signal()  # Settings, opened on the data folder

    def __init__(self, parent_window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = parent_window
        self.settings_dialog: SettingsDialog | None = None
        self.archive_dialog: ArchiveDialog | None = None
        self.data_dir_dialog: DataDirDialog | None = None

    def open_settings(
        self, settings: Settings, secrets: SecretStore, *, tray_available: bool
    ) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return self.settings_dialog
        dialog = SettingsDialog(
            settings, secrets, tray_available=tray_available, parent=self._window
        )
        self.settings_dialog = dialog
        dialog.finished.connect(self._on_settings_finished)
        self.settingsDialogOpened.emit(dialog)
        dialog.open()
        return dialog

    @Slot(int)
    def _on_settings_finished(self, _result: int) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is None:
            return
        if dialog.result_settings is not None:
            self.settingsChosen.emit(dialog.result_settings)
        dialog.deleteLater()

    def follow_polling(self, enabled: bool) -> None:
        """An open Settings dialog follows a switch made elsewhere, or its OK would undo it."""
        if self.settings_dialog is not None:
            self.settings_dialog.follow_polling(enabled)

    def open_archive(self, service: ManifestService) -> None:
        if self.archive_dialog is not None:
            return
        dialog = ArchiveDialog(service, self._window)
        self.archive_dialog = dialog
        dialog.loadRequested.connect(self.archiveChosen)
        dialog.finished.connect(self._on_archive_finished)
        dialog.open()

    @Slot(int)
    def _on_archive_finished(self, _result: int) -> None:
        dialog, self.archive_dialog = self.archive_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    @Slot(object)
    def show_data_dir_problem(self, error: DataDirError | DiskFullError) -> None:
        """Name the unusable data folder and offer Settings; a poller meeting the same problem
        again opens no second dialog."""
        if self.data_dir_dialog is not None:
            return
        dialog = DataDirDialog(error, self.dataDirSettingsRequested.emit, self._window)
        self.data_dir_dialog = dialog
        dialog.finished.connect(self._on_data_dir_finished)
        dialog.open()

    @Slot(int)
    def _on_data_dir_finished(self, _result: int) -> None:
        dialog, self.data_dir_dialog = self.data_dir_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def close_all(self) -> None:
        """At quit: Settings as if cancelled, and the data dir dialog."""
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        if self.data_dir_dialog is not None:
            self.data_dir_dialog.reject()

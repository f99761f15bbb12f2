"""The window's modeless dialogs, at most one of each: Settings, Load from archive, and the one
that says the data folder cannot be used.

The dialogs only choose; what they choose comes back as a signal (settingsChosen, archiveChosen)
for the Application to apply or run like any other job.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QDialog, QWidget

from ..engine.datadir import DataDirError, DiskFullError
from ..engine.secrets import SecretStore
from ..engine.service import ManifestService
from ..engine.settings import Settings
from .archive_dialog import ArchiveDialog
from .data_dir_dialog import DataDirDialog
from .settings_dialog import SettingsDialog

DialogT = TypeVar("DialogT", bound=QDialog)


class _OneDialog(Generic[DialogT]):
    """At most one open dialog of a kind: forgotten and deleted once it has finished."""

    def __init__(self) -> None:
        self.dialog: DialogT | None = None

    def open(self, dialog: DialogT) -> None:
        self.dialog = dialog
        dialog.finished.connect(self._on_finished)
        dialog.open()

    def _on_finished(self, _result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()


class Dialogs(QObject):
    settingsChosen = Signal(object)  # Settings, from OK in the Settings dialog
    settingsDialogOpened = Signal(object)  # SettingsDialog: other parts may add_tab() to it
    archiveChosen = Signal(str)  # the key of an archived manifest to load
    dataDirSettingsRequested = Signal()  # Settings, opened on the data folder

    def __init__(self, parent_window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = parent_window
        self.settings_dialog: SettingsDialog | None = None
        self._archive = _OneDialog[ArchiveDialog]()
        self._data_dir = _OneDialog[DataDirDialog]()

    @property
    def archive_dialog(self) -> ArchiveDialog | None:
        return self._archive.dialog

    @property
    def data_dir_dialog(self) -> DataDirDialog | None:
        return self._data_dir.dialog

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
        dialog.loadRequested.connect(self.archiveChosen)
        self._archive.open(dialog)

    @Slot(object)
    def show_data_dir_problem(self, error: DataDirError | DiskFullError) -> None:
        """Name the unusable data folder and offer Settings; a poller meeting the same problem
        again opens no second dialog."""
        if self.data_dir_dialog is None:
            self._data_dir.open(
                DataDirDialog(error, self.dataDirSettingsRequested.emit, self._window)
            )

    def close_all(self) -> None:
        """At quit: Settings as if cancelled, and the data dir dialog."""
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        if self.data_dir_dialog is not None:
            self.data_dir_dialog.reject()

"""Load from the archive: the manifests archived in S3 (version, language, date, size), listed
in a worker thread; the user picks one and the main window runs the load.

The dialog only chooses: it emits loadRequested(key) and closes, so the load goes through the
window's one job runner with its progress and cancel like every other load.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.archive import ArchivedManifest
from ..engine.progress import Progress
from ..engine.service import ManifestService
from ..engine.wording import size as format_size
from .workers import JobRunner

log = logging.getLogger(__name__)

ERROR_COLOUR = "#b42318"
COLUMNS = ("Version", "Language", "Archived", "Size")
KEY_ROLE = Qt.ItemDataRole.UserRole


class ArchiveDialog(QDialog):
    """Lists the archive on open; Load (or a double-click) emits loadRequested(key)."""

    loadRequested = Signal(str)
    # Emitted in the GUI thread once the listing thread has ended and the table is filled (row
    # count) or the failure shown (its sentence); tests wait on them.
    listed = Signal(int)
    listFailed = Signal(str)

    def __init__(self, service: ManifestService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("archiveDialog")
        self.setWindowTitle("Load from the archive")
        self.resize(760, 420)
        self._service = service
        self._manifests: list[ArchivedManifest] = []
        self._runner = self._new_runner()
        self._outcome: tuple[bool, int | str] | None = None  # reported once the thread ended

        self.status_label = QLabel()
        self.status_label.setObjectName("archiveStatusLabel")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("archiveTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda _row, _column: self.request_load())

        self.buttons = QDialogButtonBox()
        self.load_button = QPushButton("&Load")
        self.load_button.setObjectName("archiveLoadButton")
        self.load_button.setDefault(True)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.setObjectName("archiveRefreshButton")
        self.buttons.addButton(self.load_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.load_button.clicked.connect(self.request_load)
        self.refresh_button.clicked.connect(self.refresh)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self._update_buttons()
        self.refresh()

    def _new_runner(self) -> JobRunner:
        runner = JobRunner(self, name="archive-list")
        runner.succeeded.connect(self._on_listed)
        runner.failed.connect(self._on_failed)
        runner.busyChanged.connect(self._update_buttons)
        runner.finished.connect(self._on_finished)
        return runner

    # Listing -------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """List the archive in a worker thread (S3 calls must not block the window)."""
        service = self._service

        def run(_progress: Progress) -> list[ArchivedManifest]:
            return service.archive_list()

        if self._runner.start("archive-list", run):
            self._set_status("Listing the archive…")

    @Slot(str, object)
    def _on_listed(self, _kind: str, manifests: object) -> None:
        assert isinstance(manifests, list)
        self._manifests = manifests
        self.table.setRowCount(0)
        for item in manifests:
            self._add_row(item)
        if manifests:
            self.table.selectRow(0)
            self._set_status(f"{len(manifests)} archived manifest(s). Pick one to load.")
        else:
            self._set_status("The archive holds no manifests yet.")
        self._outcome = (True, len(manifests))

    def _add_row(self, item: ArchivedManifest) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        cells = (
            item.version or item.name,
            item.language,
            f"{item.last_modified.astimezone():%Y-%m-%d %H:%M}",
            format_size(item.size),
        )
        for column, text in enumerate(cells):
            cell = QTableWidgetItem(text)
            cell.setData(KEY_ROLE, item.key)
            cell.setToolTip(f"{item.key}\n{item.content_path}")
            if column == 3:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, cell)

    @Slot(str, object, str)
    def _on_failed(self, _kind: str, error: object, details: str) -> None:
        if details:  # a bug, not the environment: keep the traceback in the log
            log.error("Listing the archive failed unexpectedly:\n%s", details)
            text = f"Listing the archive failed unexpectedly: {error}"
        else:
            text = str(error)
        self._set_status(text, error=True)
        self._outcome = (False, text)

    @Slot(str)
    def _on_finished(self, _kind: str) -> None:
        self._update_buttons()
        outcome, self._outcome = self._outcome, None
        if outcome is None:
            return
        ok, value = outcome
        if ok:
            self.listed.emit(value)
        else:
            self.listFailed.emit(value)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")

    # Choosing ------------------------------------------------------------------------------
    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        cell = self.table.item(rows[0].row(), 0)
        key = cell.data(KEY_ROLE) if cell is not None else None
        return str(key) if key else None

    def manifests(self) -> list[ArchivedManifest]:
        return list(self._manifests)

    @Slot()
    def request_load(self) -> None:
        key = self.selected_key()
        if key is None or self._runner.busy:
            return
        self.loadRequested.emit(key)
        self.accept()

    @Slot()
    def _update_buttons(self, *_args: object) -> None:
        busy = self._runner.busy
        self.refresh_button.setEnabled(not busy)
        self.load_button.setEnabled(not busy and self.selected_key() is not None)

    def done(self, result: int) -> None:
        # Closing never waits for a listing (S3 can be slow to answer): a running one ends on
        # its own in a detached runner that outlives the dialog and reports to nobody.
        if self._runner.detach():
            self._outcome = None
            self._runner = self._new_runner()
            self._update_buttons()
        super().done(result)

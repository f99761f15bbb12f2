"""Version history: every version (historyView); for one version its changes per table; for
one table and kind of change the rows; for one row its JSON before and after."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from manifest_gui.engine.database import DatabaseVersion, versions
from manifest_gui.engine.viewer_queries import (
    Change,
    RowDiff,
    TableChanges,
    row_diff,
    version_changes,
)

from .diff_view import DiffView
from .history_model import ChangedRowsModel, ChangesModel, VersionsModel
from .runner import QueryRunner
from .widgets import named

HISTORY_TAG = "history"
DIFF_TAG = "diff"
_CHANGE_LABELS = (
    (Change.UPDATED, "Updated"),
    (Change.DELETED, "Deleted"),
    (Change.INSERTED, "Inserted"),
)


def _table_view(name: str, parent: QWidget) -> QTableView:
    view = named(QTableView(parent), name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(22)
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class HistoryView(QWidget):
    failed = Signal(str)
    versionsLoaded = Signal(int)
    changesLoaded = Signal(int)
    diffShown = Signal()

    def __init__(self, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.versions_model = VersionsModel(self)
        self.changes_model = ChangesModel(self)
        self.rows_model = ChangedRowsModel(runner, self)

        self.versions_view = _table_view("historyView", self)
        self.versions_view.setModel(self.versions_model)
        self.versions_view.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch
        )
        self.versions_view.horizontalHeader().setStretchLastSection(False)
        self.changes_view = _table_view("changesView", self)
        self.changes_view.setModel(self.changes_model)
        self.changes_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.changes_view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.changes_view.horizontalHeader().setStretchLastSection(False)
        self.change_kind = named(QComboBox(self), "changeKind")
        for change, label in _CHANGE_LABELS:
            self.change_kind.addItem(label, change.value)
        self.rows_view = _table_view("changedRowsView", self)
        self.rows_view.setModel(self.rows_model)
        self.diff_view = DiffView(self)
        self.status = named(QLabel(self), "historyStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        rows_box = QWidget(self)
        rows_layout = QVBoxLayout(rows_box)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        kind_bar = QHBoxLayout()
        kind_bar.addWidget(QLabel("Rows:"))
        kind_bar.addWidget(self.change_kind, 1)
        rows_layout.addLayout(kind_bar)
        rows_layout.addWidget(self.rows_view, 1)

        # Changes per table above the changed rows, both beside the diff, which needs the width.
        changes_and_rows = QSplitter(Qt.Orientation.Vertical, self)
        changes_and_rows.addWidget(self.changes_view)
        changes_and_rows.addWidget(rows_box)
        changes_and_rows.setChildrenCollapsible(False)
        changes_and_rows.setSizes([260, 300])
        changes_and_rows.setMinimumWidth(self.fontMetrics().horizontalAdvance("M" * 30))
        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(changes_and_rows)
        lower.addWidget(self.diff_view)
        lower.setChildrenCollapsible(False)
        lower.setStretchFactor(0, 2)
        lower.setStretchFactor(1, 3)
        lower.setSizes([420, 640])
        outer = QSplitter(Qt.Orientation.Vertical, self)
        outer.addWidget(self.versions_view)
        outer.addWidget(lower)
        outer.setStretchFactor(0, 1)
        outer.setStretchFactor(1, 3)
        outer.setSizes([110, 560])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer, 1)
        layout.addWidget(self.status)

        self.versions_view.selectionModel().selectionChanged.connect(self._on_version)
        self.changes_view.selectionModel().currentChanged.connect(self._on_change_cell)
        self.change_kind.currentIndexChanged.connect(self._load_rows)
        self.rows_view.selectionModel().selectionChanged.connect(self._on_row)
        self.rows_model.failed.connect(self._show_error)
        self._table: str | None = None

    # Loading -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the versions (after a load), keeping the selected version when it still exists."""
        selected = self.selected_version()
        keep = selected.manifest_id if selected is not None else None
        self._runner.submit(
            versions,
            lambda found: self._on_versions(found, keep),
            lambda message: self._show_error(message),
            tag=HISTORY_TAG,
            cancel_tag=True,
        )

    def _on_versions(self, found: list[DatabaseVersion], keep: int | None) -> None:
        self.versions_model.set_versions(found)
        self.changes_model.set_changes([])
        self.rows_model.set_key(None)
        self.diff_view.clear()
        self.versions_view.resizeColumnsToContents()
        self.versions_view.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.Stretch
        )
        self.versionsLoaded.emit(len(found))
        row = 0
        if keep is not None:
            for candidate in range(self.versions_model.rowCount()):
                version = self.versions_model.version_at(candidate)
                if version is not None and version.manifest_id == keep:
                    row = candidate
        if self.versions_model.rowCount():
            self.versions_view.selectRow(row)
        else:
            self.status.setText("No version loaded yet.")

    def selected_version(self) -> DatabaseVersion | None:
        rows = self.versions_view.selectionModel().selectedRows()
        return self.versions_model.version_at(rows[0].row()) if rows else None

    def select_version(self, manifest_id: int) -> None:
        for row in range(self.versions_model.rowCount()):
            version = self.versions_model.version_at(row)
            if version is not None and version.manifest_id == manifest_id:
                self.versions_view.selectRow(row)

    def _on_version(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        version = self.selected_version()
        self.changes_model.set_changes([])
        self.rows_model.set_key(None)
        self.diff_view.clear()
        self._table = None
        if version is None:
            return
        manifest_id = version.manifest_id
        self.status.setText(f"Loading the changes of version {version.version} …")
        self._runner.submit(
            lambda conn: version_changes(conn, manifest_id),
            lambda changes: self._on_changes(manifest_id, changes),
            lambda message: self._show_error(message),
            tag=HISTORY_TAG,
            cancel_tag=True,
        )

    def _on_changes(self, manifest_id: int, changes: list[TableChanges]) -> None:
        version = self.selected_version()
        if version is None or version.manifest_id != manifest_id:
            return
        self.changes_model.set_changes(changes)
        self.changes_view.resizeColumnsToContents()
        total = [
            sum(getattr(c, kind) for c in changes) for kind in ("inserts", "updates", "deletes")
        ]
        self.status.setText(
            f"Version {version.version} (#{manifest_id}): {total[0]:,} inserted, "
            f"{total[1]:,} updated, {total[2]:,} deleted in {len(changes)} tables."
        )
        self.changesLoaded.emit(len(changes))
        if changes:
            # Start where the interesting rows are: the first table with updates.
            row = next((i for i, c in enumerate(changes) if c.updates), 0)
            self.changes_view.setCurrentIndex(self.changes_model.index(row, 0))

    def _on_change_cell(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        entry = self.changes_model.changes()[current.row()]
        self._table = entry.table_name
        change = self.changes_model.change_of_column(current.column())
        if change is None:  # the table's name: keep the kind of change if it has rows here
            counts = {
                Change.UPDATED: entry.updates,
                Change.DELETED: entry.deletes,
                Change.INSERTED: entry.inserts,
            }
            if not counts[self.current_change()]:
                change = next((kind for kind, _ in _CHANGE_LABELS if counts[kind]), None)
        if change is not None:
            position = self.change_kind.findData(change.value)
            if position != self.change_kind.currentIndex():
                self.change_kind.setCurrentIndex(position)  # triggers _load_rows
                return
        self._load_rows()

    def _load_rows(self) -> None:
        version = self.selected_version()
        self.diff_view.clear()
        if version is None or self._table is None:
            self.rows_model.set_key(None)
            return
        self.rows_model.set_key(version.manifest_id, self._table, self.current_change())

    def current_change(self) -> Change:
        return Change(self.change_kind.currentData())

    def set_change(self, change: Change) -> None:
        self.change_kind.setCurrentIndex(self.change_kind.findData(change.value))

    def _on_row(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.rows_view.selectionModel().selectedRows()
        key = self.rows_model.key
        row = self.rows_model.row_at(rows[0].row()) if rows else None
        if row is None or key is None:
            return
        manifest_id, table_name, change = key
        pk = row.pk
        self._runner.submit(
            lambda conn: row_diff(conn, manifest_id, table_name, pk, change),
            self._on_diff,
            lambda message: self._show_error(message),
            tag=DIFF_TAG,
            cancel_tag=True,
        )

    def _on_diff(self, result: RowDiff) -> None:
        self.diff_view.show_diff(result)
        self.diffShown.emit()

    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        self.failed.emit(message)

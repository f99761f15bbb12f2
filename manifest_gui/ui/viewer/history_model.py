"""History models: every version (historyView), one version's changes per table, and the rows
of one kind of change in one table (lazy, like the rows view)."""

from __future__ import annotations

from typing import Any

import psycopg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from manifest_gui.engine.database import DatabaseVersion
from manifest_gui.engine.viewer_queries import (
    PAGE_SIZE,
    Change,
    ChangedRow,
    TableChanges,
    changed_rows,
)

from .runner import QueryRunner

Index = QModelIndex | QPersistentModelIndex
VERSION_ROLE = Qt.ItemDataRole.UserRole + 1
TABLE_ROLE = Qt.ItemDataRole.UserRole + 2
CHANGE_ROLE = Qt.ItemDataRole.UserRole + 3
ROW_ROLE = Qt.ItemDataRole.UserRole + 4
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class _Table(QAbstractTableModel):
    headers: tuple[str, ...] = ()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.headers)
        ):
            return self.headers[section]
        return None


class VersionsModel(_Table):
    """Every loaded version, newest first."""

    headers = ("Id", "Version", "Content path", "Loaded", "Inserts", "Updates", "Deletes")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._versions: list[DatabaseVersion] = []

    def set_versions(self, versions: list[DatabaseVersion]) -> None:
        self.beginResetModel()
        self._versions = sorted(versions, key=lambda v: v.manifest_id, reverse=True)
        self.endResetModel()

    def version_at(self, row: int) -> DatabaseVersion | None:
        return self._versions[row] if 0 <= row < len(self._versions) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._versions)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        version = self.version_at(index.row()) if index.isValid() else None
        if version is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            values: tuple[Any, ...] = (
                version.manifest_id,
                version.version + ("  (current)" if version.current else ""),
                version.path,
                version.loaded_at.strftime("%Y-%m-%d %H:%M"),
                version.inserts,
                version.updates,
                version.deletes,
            )
            value = values[column] if 0 <= column < len(values) else None
            if isinstance(value, int):
                return f"{value:,}"
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 4, 5, 6):
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return version.loaded_at.isoformat(timespec="seconds")
        if role == VERSION_ROLE:
            return version
        return None


class ChangesModel(_Table):
    """One version's inserts, updates and deletes per table."""

    headers = ("Table", "Inserted", "Updated", "Deleted")
    _KINDS = (None, Change.INSERTED, Change.UPDATED, Change.DELETED)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._changes: list[TableChanges] = []

    def set_changes(self, changes: list[TableChanges]) -> None:
        self.beginResetModel()
        self._changes = list(changes)
        self.endResetModel()

    def changes(self) -> list[TableChanges]:
        return list(self._changes)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._changes)

    def change_of_column(self, column: int) -> Change | None:
        return self._KINDS[column] if 0 <= column < len(self._KINDS) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._changes):
            return None
        item = self._changes[index.row()]
        column = index.column()
        counts = (item.inserts, item.updates, item.deletes)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return item.table_name.removeprefix("Destiny").removesuffix("Definition")
            return f"{counts[column - 1]:,}" if 1 <= column <= 3 else None
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return item.table_name
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return _RIGHT
        if role == TABLE_ROLE:
            return item.table_name
        if role == CHANGE_ROLE:
            change = self.change_of_column(column)
            return change.value if change is not None else None
        return None


class ChangedRowsModel(_Table):
    """Rows one version inserted, updated or deleted in one table, fetched page by page."""

    headers = ("Hash", "Name")
    loadingChanged = Signal(bool)
    pageLoaded = Signal(int)
    failed = Signal(str)

    def __init__(self, runner: QueryRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._rows: list[ChangedRow] = []
        self._key: tuple[int, str, Change] | None = None
        self._generation = 0
        self._loading = False
        self._exhausted = True

    @property
    def key(self) -> tuple[int, str, Change] | None:
        return self._key

    def set_key(
        self, manifest_id: int | None, table_name: str = "", change: Change = Change.UPDATED
    ) -> None:
        self._generation += 1
        self.beginResetModel()
        self._key = None if manifest_id is None else (manifest_id, table_name, change)
        self._rows = []
        self._exhausted = self._key is None
        self._loading = False
        self.endResetModel()
        self._request()

    def _request(self) -> None:
        key = self._key
        if key is None or self._loading or self._exhausted:
            return
        after = self._rows[-1] if self._rows else None
        generation = self._generation
        self._loading = True
        self.loadingChanged.emit(True)

        def job(conn: psycopg.Connection) -> list[ChangedRow]:
            return changed_rows(conn, key[0], key[1], key[2], after, PAGE_SIZE)

        self._runner.submit(
            job,
            lambda rows: self._on_page(generation, rows),
            lambda message: self._on_error(generation, message),
        )

    def _on_page(self, generation: int, rows: list[ChangedRow]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self.loadingChanged.emit(False)
        if len(rows) < PAGE_SIZE:
            self._exhausted = True
        if rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.pageLoaded.emit(len(self._rows))

    def _on_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._loading = False
            self._exhausted = True
            self.loadingChanged.emit(False)
            self.failed.emit(message)

    def row_at(self, row: int) -> ChangedRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not parent.isValid():
            self._request()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return row.label if index.column() == 0 else (row.name or "")
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 0:
            return _RIGHT
        if role == ROW_ROLE:
            return row
        return None

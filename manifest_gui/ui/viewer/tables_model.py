"""The loaded tables and their live row counts (tableList)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from manifest_gui.engine.viewer_queries import TableInfo

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
HEADERS = ("Table", "Rows")
Index = QModelIndex | QPersistentModelIndex


class TablesModel(QAbstractTableModel):
    """Table name and live rows; sorted by a QSortFilterProxyModel in the view."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._tables: list[TableInfo] = []

    def set_tables(self, tables: list[TableInfo]) -> None:
        self.beginResetModel()
        self._tables = list(tables)
        self.endResetModel()

    def tables(self) -> list[TableInfo]:
        return list(self._tables)

    def row_of(self, name: str) -> int:
        for row, table in enumerate(self._tables):
            if table.name == name:
                return row
        return -1

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tables)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._tables):
            return None
        table = self._tables[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return table.name.removeprefix("Destiny").removesuffix("Definition") or table.name
            return f"{table.live_rows:,}"
        if role == Qt.ItemDataRole.EditRole:  # what the proxy sorts on
            return table.name if column == 0 else table.live_rows
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{table.name}: {table.live_rows:,} live rows"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == NAME_ROLE:
            return table.name
        return None

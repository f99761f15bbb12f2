"""Rows of one table or of a search (rowsView), fetched lazily page by page in a worker.

Why lazy: DestinyInventoryItemDefinition has ~33,000 rows of ~7.5 KB of JSON each. The view
asks for more (canFetchMore/fetchMore) as it scrolls; each page is one keyset query in the
worker thread, so the GUI never waits. Sorting is an ORDER BY in SQL: sort() restarts the
query in the new order. A new query bumps a generation number so that a page of an older
query that arrives late is ignored.
"""

from __future__ import annotations

from typing import Any

import psycopg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from manifest_gui.engine.viewer_queries import (
    PAGE_SIZE,
    DefinitionRow,
    RowQuery,
    SortColumn,
    count_rows,
    fetch_rows,
)

from .runner import QueryRunner

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex

FIRST_PAGE = PAGE_SIZE
NEXT_PAGE = 1000
SEARCH_TAG = "rows"

# (header, sort column) in table mode; a search across tables adds the table column first.
_COLUMNS: tuple[tuple[str, SortColumn], ...] = (
    ("Hash", SortColumn.HASH),
    ("Name", SortColumn.NAME),
    ("Description", SortColumn.DESCRIPTION),
    ("Created by", SortColumn.CREATED),
    ("Last changed by", SortColumn.CHANGED),
)
_TABLE_COLUMN = ("Table", SortColumn.TABLE)


class RowsModel(QAbstractTableModel):
    """Signals are emitted in the GUI thread (the runner relays worker results)."""

    loadingChanged = Signal(bool)
    pageLoaded = Signal(int)  # rows in the model after the page
    countKnown = Signal(int)  # total matches of a search
    failed = Signal(str)

    def __init__(self, runner: QueryRunner, parent: Any = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._query: RowQuery | None = None
        self._rows: list[DefinitionRow] = []
        self._generation = 0
        self._loading = False
        self._exhausted = True
        self._total: int | None = None

    # Query -----------------------------------------------------------------------------------
    @property
    def query(self) -> RowQuery | None:
        return self._query

    @property
    def columns(self) -> tuple[tuple[str, SortColumn], ...]:
        if self._query is not None and self._query.is_search and self._query.table is None:
            return (_TABLE_COLUMN, *_COLUMNS)
        return _COLUMNS

    def column_of(self, sort: SortColumn) -> int:
        for column, (_header, key) in enumerate(self.columns):
            if key is sort:
                return column
        return -1

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    @property
    def total(self) -> int | None:
        """Known number of matching rows (table size, or a search's count once known)."""
        return self._total

    def set_query(self, query: RowQuery | None, total: int | None = None) -> None:
        """Show `query` from its first page; None empties the view."""
        self._generation += 1
        self._runner.cancel(SEARCH_TAG)
        self.beginResetModel()
        self._query = query
        self._rows = []
        self._exhausted = query is None
        self._total = total
        self.endResetModel()
        self._set_loading(False)
        if query is not None:
            self._request(FIRST_PAGE)
            if query.is_search:
                generation = self._generation
                self._runner.submit(
                    lambda conn: count_rows(conn, query),
                    lambda count: self._on_count(generation, count),
                    tag=SEARCH_TAG,
                )

    def refresh(self) -> None:
        """Same query again from the first page (after a load)."""
        self.set_query(self._query, self._total)

    def _request(self, limit: int) -> None:
        query = self._query
        if query is None or self._loading or self._exhausted:
            return
        after = self._rows[-1] if self._rows else None
        generation = self._generation
        self._set_loading(True)

        def job(conn: psycopg.Connection) -> list[DefinitionRow]:
            return fetch_rows(conn, query, after, limit)

        self._runner.submit(
            job,
            lambda rows: self._on_page(generation, limit, rows),
            lambda message: self._on_error(generation, message),
            tag=SEARCH_TAG,
        )

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loadingChanged.emit(loading)

    def _on_page(self, generation: int, limit: int, rows: list[DefinitionRow]) -> None:
        if generation != self._generation:
            return
        self._set_loading(False)
        if len(rows) < limit:
            self._exhausted = True
            if self._total is None and self._query is not None and not self._query.is_search:
                self._total = len(self._rows) + len(rows)
        if rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        if self._exhausted and self._query is not None and self._query.is_search:
            self._on_count(generation, len(self._rows))
        self.pageLoaded.emit(len(self._rows))

    def _on_count(self, generation: int, count: int) -> None:
        if generation == self._generation and self._total != count:
            self._total = count
            self.countKnown.emit(count)

    def _on_error(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self._set_loading(False)
        self._exhausted = True
        self.failed.emit(message)

    def row_at(self, row: int) -> DefinitionRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def loaded_rows(self) -> list[DefinitionRow]:
        return list(self._rows)

    # Qt model --------------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not parent.isValid():
            self._request(NEXT_PAGE)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        columns = self.columns
        if self._query is None or not 0 <= column < len(columns):
            return
        sort = columns[column][1]
        descending = order == Qt.SortOrder.DescendingOrder
        if (sort, descending) == (self._query.sort, self._query.descending):
            return
        query = RowQuery(self._query.table, self._query.text, sort, descending)
        self.set_query(query, self._total)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            columns = self.columns
            return columns[section][0] if 0 <= section < len(columns) else None
        return section + 1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        columns = self.columns
        if row is None or not 0 <= index.column() < len(columns):
            return None
        sort = columns[index.column()][1]
        if role == Qt.ItemDataRole.DisplayRole:
            if sort is SortColumn.TABLE:
                return row.table_name
            if sort is SortColumn.HASH:
                return row.label
            if sort is SortColumn.NAME:
                return row.name or ""
            if sort is SortColumn.DESCRIPTION:
                return (row.description or "").replace("\n", " ")
            if sort is SortColumn.CREATED:
                return _version_text(row.created_by, row.created_version)
            return _version_text(row.changed_by, row.changed_version)
        if role == Qt.ItemDataRole.ToolTipRole:
            if sort is SortColumn.HASH and row.id is not None:
                return f"hash {row.hash} (signed id {row.id})"
            if sort is SortColumn.DESCRIPTION and row.description:
                return row.description
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and sort is SortColumn.HASH:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == ROW_ROLE:
            return row
        return None


def _version_text(manifest_id: int, version: str | None) -> str:
    return f"{version} (#{manifest_id})" if version else f"#{manifest_id}"

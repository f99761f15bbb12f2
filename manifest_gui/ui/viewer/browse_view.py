"""Tables (tableList) with live row counts, the search box (searchEdit) and the rows
(rowsView) of the selected table or of the search, with export."""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from manifest_gui.engine.viewer_queries import (
    DefinitionRow,
    RowQuery,
    SortColumn,
    TableInfo,
    parse_search,
)

from .rows_model import RowsModel
from .runner import QueryRunner
from .tables_model import NAME_ROLE, TablesModel
from .widgets import named

SEARCH_DEBOUNCE_MS = 250


class BrowseView(QWidget):
    """Emits rowSelected(table, pk) for the detail view; exportRequested(fmt) for the widget."""

    rowSelected = Signal(str, object)
    exportRequested = Signal(str)
    exportCancelRequested = Signal()
    tableSelected = Signal(str)

    def __init__(self, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_tables()
        self._build_rows(runner)
        self._lay_out()
        self._connect()
        self._table: str | None = None

    def _build_tables(self) -> None:
        self.tables_model = TablesModel(self)
        self.tables_proxy = QSortFilterProxyModel(self)
        self.tables_proxy.setSourceModel(self.tables_model)
        self.tables_proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self.tables_proxy.setFilterRole(NAME_ROLE)
        self.tables_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table_filter = named(QLineEdit(self), "tableFilter")
        self.table_filter.setPlaceholderText("Filter tables")
        self.table_filter.setClearButtonEnabled(True)
        self.table_list = named(QTreeView(self), "tableList")
        self.table_list.setModel(self.tables_proxy)
        self.table_list.setRootIsDecorated(False)
        self.table_list.setUniformRowHeights(True)
        self.table_list.setAlternatingRowColors(True)
        self.table_list.setSortingEnabled(True)
        self.table_list.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

    def _build_rows(self, runner: QueryRunner) -> None:
        self.search_edit = named(QLineEdit(self), "searchEdit")
        self.search_edit.setPlaceholderText("Search by hash or name")
        self.search_edit.setToolTip(
            'A hash (signed or unsigned) or part of a name; "1000" (in quotes) for a number in '
            "names. Ctrl+F"
        )
        self.search_edit.setClearButtonEnabled(True)
        self.only_table = named(QCheckBox("Selected table only", self), "searchInTable")
        self.export_csv_button = named(QToolButton(self), "exportCsvButton", "Export CSV…")
        self.export_json_button = named(QToolButton(self), "exportJsonButton", "Export JSON…")
        self.cancel_export_button = named(QToolButton(self), "cancelExportButton", "Cancel export")
        self.cancel_export_button.hide()
        self.rows_model = RowsModel(runner, self)
        self.rows_view = named(QTableView(self), "rowsView")
        self.rows_view.setModel(self.rows_model)
        self.rows_view.setSortingEnabled(True)
        self.rows_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rows_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.rows_view.setAlternatingRowColors(True)
        self.rows_view.setWordWrap(False)
        self.rows_view.verticalHeader().setDefaultSectionSize(22)
        self.rows_view.verticalHeader().hide()
        self.rows_view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.rows_view.horizontalHeader().setStretchLastSection(True)
        self.status = named(QLabel(self), "rowsStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def _lay_out(self) -> None:
        # Wide enough for the table names and their counts; the search box for a name.
        metrics = self.fontMetrics()
        left = QWidget(self)
        left.setMinimumWidth(metrics.horizontalAdvance("PresentationNode") + 90)
        self.search_edit.setMinimumWidth(metrics.horizontalAdvance("Search: a hash or") + 30)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table_filter)
        left_layout.addWidget(self.table_list, 1)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.only_table)
        right_layout.addLayout(bar)
        right_layout.addWidget(self.rows_view, 1)
        # Export under the rows it writes, beside their count (and so off the crowded top bar).
        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.export_csv_button)
        footer.addWidget(self.export_json_button)
        footer.addWidget(self.cancel_export_button)
        right_layout.addLayout(footer)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([250, 650])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self.focus_search)

        self._debounce = QTimer(self)
        self._debounce.setObjectName("searchDebounce")
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_query)
        self.search_edit.textChanged.connect(self._debounce.start)
        self.search_edit.returnPressed.connect(self.apply_query)
        self.only_table.toggled.connect(lambda _checked: self.apply_query())
        self.table_filter.textChanged.connect(self.tables_proxy.setFilterFixedString)
        self.table_list.selectionModel().selectionChanged.connect(self._on_table)
        self.rows_view.selectionModel().selectionChanged.connect(self._on_row)
        # A click on the row already selected (e.g. after Back) opens it again.
        self.rows_view.clicked.connect(self._on_row_clicked)
        self.rows_model.modelReset.connect(self._sync_sort_indicator)
        self.rows_model.pageLoaded.connect(self._update_status)
        self.rows_model.countKnown.connect(self._update_status)
        self.rows_model.loadingChanged.connect(self._update_status)
        self.rows_model.failed.connect(self.status.setText)
        self.export_csv_button.clicked.connect(lambda: self.exportRequested.emit("csv"))
        self.export_json_button.clicked.connect(lambda: self.exportRequested.emit("json"))
        self.cancel_export_button.clicked.connect(self.exportCancelRequested)

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def set_exporting(self, exporting: bool) -> None:
        """While an export runs: its Cancel button instead of the export buttons."""
        self.export_csv_button.setVisible(not exporting)
        self.export_json_button.setVisible(not exporting)
        self.cancel_export_button.setVisible(exporting)

    # Tables ----------------------------------------------------------------------------------
    def set_tables(self, tables: list[TableInfo]) -> None:
        """New counts after a load; keeps the selected table selected."""
        keep = self._table
        blocker = self.table_list.selectionModel().blockSignals(True)
        self.tables_model.set_tables(tables)
        self.table_list.selectionModel().blockSignals(blocker)
        if keep is not None and self.tables_model.row_of(keep) >= 0:
            self.select_table(keep, reload=True)
        else:
            self._table = None
        # A new version changed the rows: run the shown query again even though it reads the
        # same (same table, search and sort), with the table's new total.
        self.apply_query(force=True)

    def select_table(self, name: str, reload: bool = False) -> None:
        row = self.tables_model.row_of(name)
        if row < 0:
            return
        index = self.tables_proxy.mapFromSource(self.tables_model.index(row, 0))
        if reload or name != self._table:
            self._table = None  # so that the selection handler reloads it
        self.table_list.setCurrentIndex(index)
        if self._table != name:
            self._table = name
            self.tableSelected.emit(name)
            self.apply_query()

    @property
    def table(self) -> str | None:
        return self._table

    def _on_table(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        name = indexes[0].data(NAME_ROLE)
        if isinstance(name, str) and name != self._table:
            self._table = name
            self.tableSelected.emit(name)
            self.apply_query()

    def _table_total(self, name: str) -> int | None:
        row = self.tables_model.row_of(name)
        return self.tables_model.tables()[row].live_rows if row >= 0 else None

    # Query -----------------------------------------------------------------------------------
    def current_query(self) -> RowQuery | None:
        """What rowsView shows: the search when there is one, else the selected table."""
        text = self.search_edit.text().strip()
        previous = self.rows_model.query
        sort, descending = SortColumn.HASH, False
        if previous is not None:
            sort, descending = previous.sort, previous.descending
        if text and not parse_search(text).empty:
            table = self._table if self.only_table.isChecked() else None
            if sort is SortColumn.TABLE and table is not None:
                sort = SortColumn.HASH
            return RowQuery(table, text, sort, descending)
        if self._table is None:
            return None
        if sort is SortColumn.TABLE:
            sort = SortColumn.HASH
        return RowQuery(self._table, "", sort, descending)

    def apply_query(self, *, force: bool = False) -> None:
        """Run the current query now (the debounce timer calls this); the previous query's
        pending pages are cancelled by the model. Unchanged, it runs again only when forced."""
        self._debounce.stop()
        query = self.current_query()
        if query == self.rows_model.query and not force:
            return
        total = None
        if query is not None and not query.is_search and query.table is not None:
            total = self._table_total(query.table)
        self.rows_model.set_query(query, total)

    def refresh_rows(self) -> None:
        self.rows_model.refresh()

    def _sync_sort_indicator(self) -> None:
        query = self.rows_model.query
        if query is None:
            return
        column = self.rows_model.column_of(query.sort)
        order = Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder
        header = self.rows_view.horizontalHeader()
        if column >= 0 and (header.sortIndicatorSection(), header.sortIndicatorOrder()) != (
            column,
            order,
        ):
            blocker = header.blockSignals(True)
            header.setSortIndicator(column, order)
            header.blockSignals(blocker)

    def _update_status(self) -> None:
        model = self.rows_model
        query = model.query
        if query is None:
            self.status.setText("Select a table, or type in the search box.")
            return
        shown = model.rowCount()
        where = query.table or "all tables"
        if query.is_search:
            found = f"{model.total:,} matches" if model.total is not None else "searching"
            text = f"{found} in {where}; {shown:,} shown"
        else:
            total = f" of {model.total:,}" if model.total is not None else ""
            text = f"{where}: {shown:,}{total} rows shown"
        if model.loading:
            text += " — loading…"
        self.status.setText(text)

    # Rows ------------------------------------------------------------------------------------
    def _on_row(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.rows_view.selectionModel().selectedRows()
        row = self.rows_model.row_at(rows[0].row()) if rows else None
        if row is not None:
            self.rowSelected.emit(row.table_name, row.pk)

    def _on_row_clicked(self, index: QModelIndex) -> None:
        row = self.rows_model.row_at(index.row())
        if row is not None:
            self.rowSelected.emit(row.table_name, row.pk)

    def selected_row(self) -> DefinitionRow | None:
        index: QModelIndex = self.rows_view.currentIndex()
        return self.rows_model.row_at(index.row()) if index.isValid() else None

"""The built-in viewer: browse definitions (tables, search, rows, JSON with hash links) and the
version history. The main window adds it as the "Browse" tab and calls refresh() after loads.

Three worker threads, each with its own read-only connection, so a slow query in one area
never holds up another: rows (table pages and searches; stale searches cancelled on the
server), detail (definitions, link resolution, table counts) and history. Exports run on a
fourth thread of their own while they last. Call shutdown() (closeEvent does) to join them.
After the app switches to another database, switch_database() drops the connections and shows
the new database's content.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from manifest_gui.engine.errors import CancelledError
from manifest_gui.engine.viewer_queries import (
    RowQuery,
    TableInfo,
    export_rows,
    list_tables,
    schema_ready,
)

from .browse_view import BrowseView
from .detail_view import DetailView
from .history_view import HistoryView
from .runner import QueryRunner
from .widgets import named

log = logging.getLogger(__name__)


class ViewerWidget(QWidget):
    """A QWidget over the database that url_provider() names (called in a worker thread)."""

    tablesLoaded = Signal(int)
    exportFinished = Signal(str, int)  # path, rows
    exportFailed = Signal(str)
    failed = Signal(str)
    bugFound = Signal(str, str, str)  # summary, traceback, error name: for the error dialog

    def __init__(self, url_provider: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self._url_provider = url_provider
        self.rows_runner = QueryRunner(url_provider, "viewer-rows", self)
        self.detail_runner = QueryRunner(url_provider, "viewer-detail", self)
        self.history_runner = QueryRunner(url_provider, "viewer-history", self)
        for runner in (self.rows_runner, self.detail_runner, self.history_runner):
            runner.bugFound.connect(self.bugFound)
        self._export_runner: QueryRunner | None = None
        self._export_cancelled = threading.Event()

        self.browse = BrowseView(self.rows_runner, self)
        self.detail = DetailView(self.detail_runner, self)
        self.history = HistoryView(self.history_runner, self)
        self.message = named(QLabel(self), "viewerMessage")
        self.message.setWordWrap(True)
        self.message.hide()

        definitions = QSplitter(Qt.Orientation.Horizontal, self)
        definitions.addWidget(self.browse)
        definitions.addWidget(self.detail)
        definitions.setChildrenCollapsible(False)
        definitions.setStretchFactor(0, 3)
        definitions.setStretchFactor(1, 2)
        definitions.setSizes([760, 520])
        self.tabs = named(QTabWidget(self), "viewerTabs")
        self.tabs.addTab(definitions, "Definitions")
        self.tabs.addTab(self.history, "History")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

        self.browse.rowSelected.connect(self.detail.show_definition)
        self.browse.exportRequested.connect(self._ask_export)
        self.browse.exportCancelRequested.connect(self.cancel_export)
        for source in (self.browse.rows_model.failed, self.detail.failed, self.history.failed):
            source.connect(self.failed)
        self.exportFinished.connect(
            lambda path, rows: self.browse.status.setText(f"Exported {rows:,} rows to {path}.")
        )
        self.exportFailed.connect(lambda message: self.browse.status.setText(message))
        self._shut_down = False
        self._refreshed = False

    # Public API --------------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Reload counts, rows, the open definition and the history (after each load)."""
        if self._shut_down:
            return
        self._refreshed = True
        self.detail_runner.submit(
            _tables_if_ready,
            self._on_tables,
            self._on_error,
            tag="tables",
            cancel_tag=True,
        )

    @Slot()
    def switch_database(self) -> None:
        """The database changed (Settings): drop every query and connection of the old one,
        forget what it showed, and load the new one's tables (now, or when first shown).

        Each runner closes its connection after its running query (cancelled); the jobs
        submitted afterwards connect again through url_provider(), which names the new
        database by then."""
        if self._shut_down:
            return
        for runner in (self.rows_runner, self.detail_runner, self.history_runner):
            runner.reset()
        self.detail.clear()
        self.browse.rows_model.set_query(None)
        history = self.history
        history.versions_model.set_versions([])
        history.changes_model.set_changes([])
        history.rows_model.set_key(None)
        history.diff_view.clear()
        self.message.hide()
        if self._refreshed:
            self.refresh()

    def _on_tables(self, tables: list[TableInfo] | None) -> None:
        if tables is None:
            self._show_message(
                "No manifest has been loaded into this database yet (or its schema predates the "
                "viewer): check for an update or load a file first."
            )
            self.browse.set_tables([])
            self.tablesLoaded.emit(0)
            return
        self.message.hide()
        self.browse.set_tables(tables)
        self.detail.reload()
        self.history.refresh()
        self.tablesLoaded.emit(len(tables))

    def _on_error(self, message: str) -> None:
        self._show_message(message)
        self.failed.emit(message)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def export_to(self, path: Path, fmt: str, query: RowQuery | None = None) -> bool:
        """Export the shown table or search (or `query`) to `path` as "csv" or "json" in a
        worker; exportFinished or exportFailed tells the outcome. False if nothing to export
        or an export is already running."""
        query = query or self.browse.rows_model.query
        if query is None or self._export_runner is not None:
            return False
        runner = QueryRunner(self._url_provider, "viewer-export", self)
        runner.bugFound.connect(self.bugFound)
        self._export_runner = runner
        target = Path(path)
        # Between fetches the worker writes the file, out of reach of a server-side cancel:
        # it checks this flag after every batch.
        cancelled = self._export_cancelled = threading.Event()

        def check() -> None:
            if cancelled.is_set():
                raise CancelledError("Export cancelled.")

        def done(count: int) -> None:
            self._end_export()
            self.exportFinished.emit(str(target), count)

        def failed(message: str) -> None:
            self._end_export()
            self.exportFailed.emit(message)

        runner.submit(lambda conn: export_rows(conn, query, target, fmt, check), done, failed)
        self.browse.set_exporting(True)
        self.browse.status.setText(f"Exporting to {target.name}…")
        return True

    @Slot()
    def cancel_export(self) -> None:
        """Stop the running export; its partial file is removed and nothing is written."""
        if self._export_runner is None:
            return
        self._export_cancelled.set()
        self._export_runner.cancel_all()  # and interrupt a fetch in flight
        self._end_export()
        self.exportFailed.emit("Export cancelled; no file was written.")

    def _end_export(self) -> None:
        runner, self._export_runner = self._export_runner, None
        if runner is not None:
            self._export_cancelled.set()  # a shutdown mid-export stops it the same way
            runner.stop()
            runner.deleteLater()
        self.browse.set_exporting(False)

    def _ask_export(self, fmt: str) -> None:
        query = self.browse.rows_model.query
        if query is None:
            return
        stem = query.table or "search"
        suffix = "CSV files (*.csv)" if fmt == "csv" else "JSON files (*.json)"
        name, _ = QFileDialog.getSaveFileName(self, "Export", f"{stem}.{fmt}", suffix)
        if name:
            self.export_to(Path(name), fmt)

    def shutdown(self) -> None:
        """Stop every worker thread and close their connections (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        for runner in (self.rows_runner, self.detail_runner, self.history_runner):
            runner.stop()
        self._end_export()

    def showEvent(self, event: QShowEvent) -> None:
        """First shown: load the tables (no connection is opened before the tab is seen)."""
        super().showEvent(event)
        if not self._refreshed:
            self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def _tables_if_ready(conn: Any) -> list[TableInfo] | None:
    return list_tables(conn) if schema_ready(conn) else None

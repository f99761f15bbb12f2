"""One definition: its JSON as an expandable tree (jsonTree) and as indented text, copy of a
value or its path, and hash links with back/forward like a browser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from manifest_gui.engine.viewer_queries import (
    Definition,
    LinkTarget,
    get_definition,
    pk_label,
    resolve_hashes,
)

from .json_paths import json_path, link_candidates, postgres_path, value_text
from .json_tree_model import (
    LINK_ROLE,
    PATH_ROLE,
    VALUE_COLUMN,
    VALUE_ROLE,
    JsonTreeModel,
)
from .runner import QueryRunner
from .widgets import button_row, named

DETAIL_TAG = "detail"


@dataclass(frozen=True)
class Location:
    table_name: str
    pk: dict[str, Any]


@dataclass(frozen=True)
class _Loaded:
    definition: Definition | None
    links: dict[int, list[LinkTarget]]


def _load(conn: psycopg.Connection, location: Location) -> _Loaded:
    definition = get_definition(conn, location.table_name, location.pk)
    if definition is None:
        return _Loaded(None, {})
    return _Loaded(definition, resolve_hashes(conn, link_candidates(definition.json)))


def configure_json_tree(view: QTreeView) -> None:
    view.setUniformRowHeights(True)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
    header = view.header()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
    view.setColumnWidth(0, 220)
    view.setColumnWidth(1, 260)


class DetailView(QWidget):
    """Shows the definition at a Location; navigate() follows a link and records history."""

    definitionShown = Signal(str, object)  # table_name, pk (GUI thread)
    failed = Signal(str)

    def __init__(self, runner: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._history: list[Location] = []
        self._position = -1
        self._loading: Location | None = None
        self._definition: Definition | None = None
        self.badge: Any = None  # the definition's icon and watch button (attach_badge)

        self.back_button = named(QToolButton(self), "backButton", "◀ Back")
        self.back_button.setToolTip("Back (Alt+Left)")
        self.back_button.setShortcut(QKeySequence(QKeySequence.StandardKey.Back))
        self.forward_button = named(QToolButton(self), "forwardButton", "Forward ▶")
        self.forward_button.setToolTip("Forward (Alt+Right)")
        self.forward_button.setShortcut(QKeySequence(QKeySequence.StandardKey.Forward))
        self.copy_value_button = named(QToolButton(self), "copyValueButton", "Copy value")
        self.copy_path_button = named(QToolButton(self), "copyPathButton", "Copy path")
        self.title = named(QLabel("Select a row to see its definition.", self), "detailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        # A long name wraps within the space it is given instead of widening the window.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(120)

        self.model = JsonTreeModel(self)
        self.tree = named(QTreeView(self), "jsonTree")
        self.tree.setModel(self.model)
        configure_json_tree(self.tree)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.text = named(QPlainTextEdit(self), "jsonText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs = named(QTabWidget(self), "detailTabs")
        self.tabs.addTab(self.tree, "Tree")
        self.tabs.addTab(self.text, "Text")

        bar = button_row(
            [self.back_button, self.forward_button],
            [self.copy_value_button, self.copy_path_button],
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        # Its own line: a long name and table wrap, not squeeze. attach_badge() adds the icon.
        self._title_row = QHBoxLayout()
        self._title_row.addWidget(self.title, 1)
        layout.addLayout(self._title_row)
        layout.addWidget(self.tabs, 1)

        copy_action = QAction("Copy value", self.tree)
        copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy_action.triggered.connect(self.copy_value)
        self.tree.addAction(copy_action)

        self.back_button.clicked.connect(self.back)
        self.forward_button.clicked.connect(self.forward)
        self.copy_value_button.clicked.connect(self.copy_value)
        self.copy_path_button.clicked.connect(self.copy_path)
        self.tree.clicked.connect(self._on_clicked)
        self.tree.activated.connect(self._on_activated)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self._update_buttons()

    # Navigation --------------------------------------------------------------------------------
    @property
    def location(self) -> Location | None:
        return self._history[self._position] if 0 <= self._position < len(self._history) else None

    @property
    def definition(self) -> Definition | None:
        return self._definition

    def show_definition(self, table_name: str, pk: dict[str, Any]) -> None:
        """Open a definition as a new step in the history (like following a link)."""
        location = Location(table_name, dict(pk))
        if location == self.location:
            return
        del self._history[self._position + 1 :]
        self._history.append(location)
        self._position = len(self._history) - 1
        self._open(location)

    def follow(self, target: LinkTarget) -> None:
        self.show_definition(target.table_name, {"id": target.id})

    def back(self) -> None:
        if self._position > 0:
            self._position -= 1
            self._open(self._history[self._position])

    def forward(self) -> None:
        if self._position + 1 < len(self._history):
            self._position += 1
            self._open(self._history[self._position])

    def can_go_back(self) -> bool:
        return self._position > 0

    def can_go_forward(self) -> bool:
        return self._position + 1 < len(self._history)

    def reload(self) -> None:
        if self.location is not None:
            self._open(self.location)

    def clear(self) -> None:
        self._runner.cancel(DETAIL_TAG)
        self._history.clear()
        self._position = -1
        self._definition = None
        self.model.set_document(None)
        self.text.clear()
        self.title.setText("Select a row to see its definition.")
        self._update_buttons()

    def _open(self, location: Location) -> None:
        self._loading = location
        self._update_buttons()
        self.title.setText(f"{location.table_name} {pk_label(location.pk)} …")
        self._runner.submit(
            lambda conn: _load(conn, location),
            lambda loaded: self._on_loaded(location, loaded),
            lambda message: self._on_failed(location, message),
            tag=DETAIL_TAG,
            cancel_tag=True,
        )

    def _on_loaded(self, location: Location, loaded: _Loaded) -> None:
        if location != self._loading:
            return
        self._loading = None
        self._definition = loaded.definition
        if loaded.definition is None:
            self.model.set_document(None)
            self.text.setPlainText("")
            self.title.setText(
                f"{location.table_name} {pk_label(location.pk)} is not in the current version."
            )
        else:
            definition = loaded.definition
            self.model.set_document(definition.json)
            self.model.set_links(loaded.links)
            self.text.setPlainText(json.dumps(definition.json, indent=2, ensure_ascii=False))
            self.tree.expandToDepth(0)
            name = definition.name or "(no name)"
            extra = f", signed id {location.pk['id']}" if "id" in location.pk else ""
            self.title.setText(
                f"<b>{_escape(name)}</b> — {location.table_name} {definition.label}{extra}"
            )
        self._update_buttons()
        self.definitionShown.emit(location.table_name, location.pk)

    def _on_failed(self, location: Location, message: str) -> None:
        if location == self._loading:
            self._loading = None
            self.title.setText(message)
            self._update_buttons()
            self.failed.emit(message)

    def attach_badge(self, badge: Any) -> None:
        """Show the definition's icon (badge.icon_label) and watch button beside the title."""
        self.badge = badge
        self._title_row.insertWidget(0, badge.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        self._title_row.addWidget(badge.watch_button, 0, Qt.AlignmentFlag.AlignTop)
        self._update_buttons()

    def _update_badge(self) -> None:
        definition, location = self._definition, self.location
        if definition is None or location is None or self._loading or "id" not in location.pk:
            self.badge.show_definition(None, None, None, None)
        else:
            unsigned = int(location.pk["id"]) & 0xFFFFFFFF
            self.badge.show_definition(
                location.table_name, unsigned, definition.name, definition.json
            )

    def _update_buttons(self) -> None:
        if self.badge is not None:
            self._update_badge()
        self.back_button.setEnabled(self.can_go_back())
        self.forward_button.setEnabled(self.can_go_forward())
        has_document = self.model.rowCount() > 0
        self.copy_value_button.setEnabled(has_document)
        self.copy_path_button.setEnabled(has_document)

    # Links and copying -------------------------------------------------------------------------
    def _on_clicked(self, index: QModelIndex) -> None:
        # Values, the "Links to" column, and keys that are hashes (drawn as links) follow.
        self._on_activated(index)

    def _on_activated(self, index: QModelIndex) -> None:
        target = index.data(LINK_ROLE)
        if isinstance(target, LinkTarget):
            self.follow(target)

    def _current(self) -> QModelIndex:
        index = self.tree.currentIndex()
        return index.siblingAtColumn(0) if index.isValid() else index

    def copy_value(self) -> str:
        """Copy the selected node's value (the whole document when nothing is selected)."""
        index = self._current()
        value = index.data(VALUE_ROLE) if index.isValid() else self.model.document()
        text = value_text(value)
        QGuiApplication.clipboard().setText(text)
        return text

    def copy_path(self, postgres: bool = False) -> str:
        index = self._current()
        path = index.data(PATH_ROLE) if index.isValid() else ()
        text = postgres_path(path) if postgres else json_path(path)
        QGuiApplication.clipboard().setText(text)
        return text

    def _context_menu(self, point: QPoint) -> None:
        index = self.tree.indexAt(point)
        if not index.isValid():
            return
        self.tree.setCurrentIndex(index)
        menu = QMenu(self.tree)
        menu.addAction("Copy value", self.copy_value)
        menu.addAction("Copy path", self.copy_path)
        menu.addAction("Copy path for PostgreSQL", lambda: self.copy_path(postgres=True))
        target = index.siblingAtColumn(VALUE_COLUMN).data(LINK_ROLE)
        if isinstance(target, LinkTarget):
            menu.addSeparator()
            menu.addAction(
                f"Open {target.table_name.removeprefix('Destiny')} {target.hash}",
                lambda: self.follow(target),
            )
        menu.popup(self.tree.viewport().mapToGlobal(point))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""A definition's JSON as a tree: key, value, and where a hash value links to.

Nodes are built once from the parsed JSON (the largest definitions have a few thousand
nodes). Links are filled in later, when the worker has resolved which integers are hashes of
loaded definitions; diff marks colour the nodes of a before/after comparison.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from manifest_gui.engine.viewer_queries import LinkTarget

from .json_paths import Mark, Path, PathKey, hash_candidate, key_hash_candidate, preferred_table

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
LINK_ROLE = Qt.ItemDataRole.UserRole + 2  # LinkTarget of the value (or of the key column)
VALUE_ROLE = Qt.ItemDataRole.UserRole + 3  # the parsed JSON of the node
MARK_ROLE = Qt.ItemDataRole.UserRole + 4

KEY_COLUMN, VALUE_COLUMN, LINK_COLUMN = range(3)
HEADERS = ("Key", "Value", "Links to")

_MARK_COLOURS = {
    Mark.ADDED: QColor(198, 239, 206),
    Mark.REMOVED: QColor(255, 199, 206),
    Mark.CHANGED: QColor(255, 235, 156),
    Mark.CONTAINS: QColor(255, 248, 220),
}
_LINK_COLOUR = QColor(20, 90, 200)
_PREVIEW_CHARS = 120

Index = QModelIndex | QPersistentModelIndex


class _Node:
    __slots__ = ("children", "key", "parent", "path", "row", "value")

    def __init__(self, key: PathKey | None, value: Any, parent: _Node | None, row: int) -> None:
        self.key = key
        self.value = value
        self.parent = parent
        self.row = row
        self.path: Path = () if parent is None or key is None else (*parent.path, key)
        self.children: list[_Node] = []
        if isinstance(value, dict):
            self.children = [_Node(k, v, self, i) for i, (k, v) in enumerate(value.items())]
        elif isinstance(value, list):
            self.children = [_Node(i, v, self, i) for i, v in enumerate(value)]


def _preview(value: Any) -> str:
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + '…"'
    return json.dumps(value)


class JsonTreeModel(QAbstractItemModel):
    """Read-only tree over one JSON document (the root's children are the top-level keys)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = _Node(None, None, None, 0)
        self._links: dict[int, list[LinkTarget]] = {}
        self._marks: dict[Path, Mark] = {}
        self._by_path: dict[Path, _Node] = {}

    # Content -------------------------------------------------------------------------------
    def set_document(self, document: Any, marks: dict[Path, Mark] | None = None) -> None:
        self.beginResetModel()
        self._root = _Node(None, document, None, 0)
        self._links = {}
        self._marks = marks or {}
        self._by_path = {}
        stack = [self._root]
        while stack:
            node = stack.pop()
            self._by_path[node.path] = node
            stack.extend(node.children)
        self.endResetModel()

    def document(self) -> Any:
        return self._root.value

    def set_links(self, links: dict[int, list[LinkTarget]]) -> None:
        """Resolved hashes (unsigned hash -> definitions); repaints the value and link columns."""
        self._links = links
        if self._root.children:
            self._emit_all_changed(self.index(0, 0))

    def _emit_all_changed(self, top: QModelIndex) -> None:
        def visit(parent: QModelIndex) -> None:
            rows = self.rowCount(parent)
            if rows:
                self.dataChanged.emit(
                    self.index(0, 0, parent),
                    self.index(rows - 1, LINK_COLUMN, parent),
                )
                for row in range(rows):
                    child = self.index(row, 0, parent)
                    if self.rowCount(child):
                        visit(child)

        visit(QModelIndex())

    def marks(self) -> dict[Path, Mark]:
        return self._marks

    def index_for_path(self, path: Path) -> QModelIndex:
        node = self._by_path.get(path)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row, 0, node)

    def link_for(self, index: Index) -> LinkTarget | None:
        node = self._node(index)
        if node is None:
            return None
        parent_key = node.parent.key if node.parent is not None else None
        if index.column() == KEY_COLUMN:
            candidate = key_hash_candidate(node.key)
        else:
            if node.path == ("hash",):
                return None
            candidate = hash_candidate(node.value, node.key, parent_key)
            if candidate is None:
                candidate = key_hash_candidate(node.key) if index.column() == LINK_COLUMN else None
        if candidate is None:
            return None
        targets = self._links.get(candidate)
        if not targets:
            return None
        tables = [t.table_name for t in targets]
        return targets[preferred_table(node.key, parent_key, tables)]

    def _targets_for(self, index: Index) -> list[LinkTarget]:
        node = self._node(index)
        if node is None:
            return []
        parent_key = node.parent.key if node.parent is not None else None
        candidate = hash_candidate(node.value, node.key, parent_key)
        if candidate is None or node.path == ("hash",):
            candidate = key_hash_candidate(node.key)
        return self._links.get(candidate, []) if candidate is not None else []

    # Qt model --------------------------------------------------------------------------------
    def _node(self, index: Index) -> _Node | None:
        if not index.isValid():
            return None
        node = index.internalPointer()
        return node if isinstance(node, _Node) else None

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= len(HEADERS) or row < 0:
            return QModelIndex()
        parent_node = self._node(parent) if parent.isValid() else self._root
        if parent_node is None or row >= len(parent_node.children):
            return QModelIndex()
        return self.createIndex(row, column, parent_node.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self._node(index)
        if node is None or node.parent is None or node.parent is self._root:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        node = self._node(parent) if parent.isValid() else self._root
        return len(node.children) if node is not None else 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

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

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._node(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == KEY_COLUMN:
                return f"[{node.key}]" if isinstance(node.key, int) else str(node.key)
            if column == VALUE_COLUMN:
                return _preview(node.value)
            targets = self._targets_for(index)
            if not targets:
                return None
            return "; ".join(
                f"{t.name or '(no name)'} · {t.table_name.removeprefix('Destiny')}" for t in targets
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == VALUE_COLUMN and isinstance(node.value, str) and len(node.value) > 60:
                return node.value
            link = self.link_for(index)
            if link is not None:
                return f"Open {link.table_name} {link.hash} ({link.name or 'no name'})"
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if self.link_for(index) is not None:
                return QBrush(_LINK_COLOUR)
            return None
        if role == Qt.ItemDataRole.FontRole:
            if self.link_for(index) is not None:
                font = QFont()
                font.setUnderline(True)
                return font
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            mark = self._marks.get(node.path)
            return QBrush(_MARK_COLOURS[mark]) if mark is not None else None
        if role == PATH_ROLE:
            return node.path
        if role == VALUE_ROLE:
            return node.value
        if role == LINK_ROLE:
            return self.link_for(index)
        if role == MARK_ROLE:
            mark = self._marks.get(node.path)
            return mark.value if mark is not None else None
        return None

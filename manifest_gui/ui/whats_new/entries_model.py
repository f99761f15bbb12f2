"""The What's new tree: sections, their entries (icon, name, kind, hash) and each changed
entry's changes (what, before → after). A filter proxy narrows it to one section and to the
text in the filter box."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QFont

from ...engine.notes_model import Change, Entry, EntryKind, ReleaseNotes, Section
from .icon_loader import IconLoader
from .notes_words import (
    KIND_COLOURS,
    change_name,
    change_values,
    entry_name,
    short_table,
    value_text,
)

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1  # the Entry of an entry row (and of its changes)
SECTION_ROLE = Qt.ItemDataRole.UserRole + 2  # the section key of any row
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3  # the text the filter box looks in
Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NAME = 0
    KIND = 1
    CHANGE = 2
    HASH = 3


# Qt asks for index() tens of thousands of times when the tree opens every entry; len() of the
# enum class costs more than the rest of index() together.
COLUMN_COUNT = len(Column)

HEADERS = {
    Column.NAME: "Name",
    Column.KIND: "Kind",
    Column.CHANGE: "Change",
    Column.HASH: "Table · hash / path",
}


@dataclass(eq=False)
class _Node:
    """A row: a Section, an Entry or a Change, with its place in the tree."""

    item: Section | Entry | Change
    section: str
    parent: int  # node id of the parent, -1 for a section
    row: int
    entry: Entry | None = None  # the entry of an entry or change row
    children: list[int] = field(default_factory=list)


class EntriesModel(QAbstractItemModel):
    def __init__(self, icons: IconLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons = icons
        self._nodes: list[_Node] = []
        self._sections: list[int] = []
        self._by_icon: dict[str, list[int]] = {}
        self.notes: ReleaseNotes | None = None
        icons.iconArrived.connect(self._on_icon)

    def set_notes(self, notes: ReleaseNotes | None) -> None:
        self.beginResetModel()
        self.notes = notes
        self._nodes, self._sections, self._by_icon = [], [], {}
        for section in notes.sections if notes else ():
            if not section.entries:
                continue  # the counts say it; an empty heading says nothing
            section_id = self._add(_Node(section, section.key, -1, len(self._sections)))
            self._sections.append(section_id)
            for entry in section.entries:
                entry_id = self._add_child(section_id, _Node(entry, section.key, section_id, 0))
                self._nodes[entry_id].entry = entry
                if entry.icon:
                    self._by_icon.setdefault(entry.icon, []).append(entry_id)
                for change in entry.changes:
                    node = _Node(change, section.key, entry_id, 0, entry=entry)
                    self._add_child(entry_id, node)
        self.endResetModel()

    def _add(self, node: _Node) -> int:
        self._nodes.append(node)
        return len(self._nodes) - 1

    def _add_child(self, parent_id: int, node: _Node) -> int:
        children = self._nodes[parent_id].children
        node.row = len(children)
        node_id = self._add(node)
        children.append(node_id)
        return node_id

    # Tree structure ---------------------------------------------------------------------------
    def _node_id(self, index: Index) -> int:
        return int(index.internalId()) if index.isValid() else -1

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        children = self._nodes[parent.internalId()].children if parent.isValid() else self._sections
        if not (0 <= row < len(children) and 0 <= column < COLUMN_COUNT):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        parent_id = self._nodes[self._node_id(index)].parent
        if parent_id < 0:
            return QModelIndex()
        return self.createIndex(self._nodes[parent_id].row, 0, parent_id)

    def _children(self, node_id: int) -> list[int]:
        return self._sections if node_id < 0 else self._nodes[node_id].children

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._children(self._node_id(parent)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return COLUMN_COUNT

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    # Data -------------------------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._nodes[self._node_id(index)]
        if role == SECTION_ROLE:
            return node.section
        if role == ENTRY_ROLE:
            return node.entry
        item = node.item
        if isinstance(item, Section):
            return self._section_data(item, Column(index.column()), role)
        if isinstance(item, Entry):
            return self._entry_data(item, Column(index.column()), role)
        return self._change_data(item, Column(index.column()), role)

    def _section_data(self, section: Section, column: Column, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == Column.NAME:
                return f"{section.title} ({len(section.entries):,})"
            return None
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == SEARCH_ROLE:
            return section.title
        return None

    def _entry_data(self, entry: Entry, column: Column, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                Column.NAME: entry_name(entry),
                Column.KIND: str(entry.kind),
                Column.CHANGE: _entry_summary(entry),
                Column.HASH: f"{short_table(entry.table)} · {entry.hash}",
            }[column]
        if role == Qt.ItemDataRole.DecorationRole and column == Column.NAME:
            return self._icons.icon(entry.icon, fetch=False)  # the view asks for visible rows
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.KIND:
            return QBrush(QColor(KIND_COLOURS[entry.kind]))
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.HASH:
            return QBrush(QColor("#0b57d0"))  # a link: a click opens it in Browse
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.HASH:
                return f"Open {entry.table} {entry.hash} in Browse"
            return f"{entry_name(entry)}\n{entry.table} {entry.hash}"
        if role == SEARCH_ROLE:
            return f"{entry.name or ''} {entry.hash} {entry.kind} {entry.table}"
        return None

    def _change_data(self, change: Change, column: Column, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                Column.NAME: change_name(change),
                Column.KIND: None,
                Column.CHANGE: change_values(change),
                Column.HASH: change.path if change.label else None,  # else the name says it
            }[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{change.path}\nbefore: {value_text(change.before, 2000)}"
                f"\nafter: {value_text(change.after, 2000)}"
            )
        if role == SEARCH_ROLE:
            return f"{change.label or ''} {change.path}"
        return None

    @Slot(str)
    def _on_icon(self, path: str) -> None:
        for node_id in self._by_icon.get(path, ()):
            index = self.createIndex(self._nodes[node_id].row, Column.NAME, node_id)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def entry_rows(self) -> int:
        return sum(len(self._nodes[s].children) for s in self._sections)


def _entry_summary(entry: Entry) -> str:
    if entry.kind == EntryKind.CHANGED:
        count = len(entry.changes)
        return f"{count} change{'' if count == 1 else 's'}" if count else "changed"
    return {
        EntryKind.ADDED: "new",
        EntryKind.REMOVED: "removed",
        EntryKind.UNCLASSIFIED: "no longer redacted",
        EntryKind.RECLASSIFIED: "now redacted",
    }.get(entry.kind, "")


class EntriesFilter(QSortFilterProxyModel):
    """One section (or all) and the filter box's words: a row shows when every word is in
    its name, hash, kind, table or change path (a matching entry keeps its changes)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._section: str | None = None
        self._words: list[str] = []
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(True)

    def set_section(self, key: str | None) -> None:
        self._change_filter(lambda: setattr(self, "_section", key))

    def set_text(self, text: str) -> None:
        self._change_filter(lambda: setattr(self, "_words", text.casefold().split()))

    def _change_filter(self, change: Callable[[], None]) -> None:
        # Qt 6.10 replaced invalidateFilter() (now deprecated) with a begin/end pair.
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        if self._section is not None and index.data(SECTION_ROLE) != self._section:
            return False
        if not self._words:
            return True
        if not source_parent.isValid():  # a section row shows when an entry of it does
            return False
        haystack = str(index.data(SEARCH_ROLE) or "").casefold()
        return all(word in haystack for word in self._words)

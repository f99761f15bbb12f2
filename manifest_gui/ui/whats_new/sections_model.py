"""The What's new section list: "All sections" first, then each section with its number of
entries (sections without entries are left out). Its rows carry the section key."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ...engine.notes_model import ReleaseNotes
from .notes_words import entry_count

KEY_ROLE = Qt.ItemDataRole.UserRole + 1  # the section key; None for "All sections"
COUNT_ROLE = Qt.ItemDataRole.UserRole + 2


class SectionsModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str | None, str, int]] = []  # key, title, entries

    def set_notes(self, notes: ReleaseNotes | None) -> None:
        self.beginResetModel()
        self._rows = []
        if notes is not None:
            self._rows.append((None, "All sections", entry_count(notes.sections)))
            self._rows += [(s.key, s.title, len(s.entries)) for s in notes.sections if s.entries]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        key, title, count = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{title}  ({count:,})"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{count:,} entr{'y' if count == 1 else 'ies'} in {title}"
        if role == KEY_ROLE:
            return key
        if role == COUNT_ROLE:
            return count
        return None

    def row_of(self, key: str | None) -> int:
        return next((row for row, (k, _t, _c) in enumerate(self._rows) if k == key), -1)

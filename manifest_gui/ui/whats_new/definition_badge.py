"""The icon of the definition the viewer's detail pane shows, and its Watch this / Stop
watching button: two widgets the pane places beside its title (DetailView.attach_badge)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from .icon_loader import ICON_SIZE, IconLoader
from .watches import WatchButton, Watches


def icon_path(document: Any) -> str | None:
    """displayProperties.icon of a definition's JSON, when it has one."""
    if not isinstance(document, dict):
        return None
    display = document.get("displayProperties")
    icon = display.get("icon") if isinstance(display, dict) else None
    return icon if isinstance(icon, str) and icon else None


class DefinitionBadge(QObject):
    def __init__(self, icons: IconLoader, watches: Watches, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("definitionBadge")
        self._icons = icons
        self._path: str | None = None
        self.icon_label = QLabel()
        self.icon_label.setObjectName("detailIcon")
        self.icon_label.setFixedSize(ICON_SIZE, ICON_SIZE)
        self.watch_button = WatchButton(watches)
        icons.iconArrived.connect(self._on_icon)
        self.show_definition(None, None, None, None)

    def show_definition(
        self, table: str | None, hash_: int | None, name: str | None, document: Any
    ) -> None:
        """The shown definition (its table, unsigned hash, name and JSON), or None's."""
        self._path = icon_path(document)
        self.watch_button.set_definition(table, hash_, name)
        self.icon_label.setVisible(table is not None)
        self._draw()

    @property
    def icon_path(self) -> str | None:
        return self._path

    def _draw(self) -> None:
        self.icon_label.setPixmap(self._icons.icon(self._path).pixmap(ICON_SIZE, ICON_SIZE))
        self.icon_label.setToolTip(self._path or "No icon")

    @Slot(str)
    def _on_icon(self, path: str) -> None:
        if path == self._path:
            self._draw()

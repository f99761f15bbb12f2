"""Definition icons for the window: the engine's IconStore (its fixed pool fetches and reads
the files) with the pictures handed to the GUI thread as they arrive.

The pool thread decodes the file into a QImage (QImage, unlike QPixmap, may be made outside
the GUI thread) and emits iconArrived; the GUI thread only turns it into a QIcon. A missing
icon is the placeholder, never an error.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPen, QPixmap

from ...engine.icons import IconStore, is_icon_path

log = logging.getLogger(__name__)

ICON_SIZE = 40  # pixels the lists show an icon at (Bungie's are 96)
MAX_ICONS = 600  # pictures kept in memory


@functools.cache
def placeholder_icon(size: int = ICON_SIZE) -> QIcon:
    """A grey rounded square with a question mark: no icon, or it could not be had."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#9aa0a6"), 1.5))
    painter.setBrush(QColor("#e8eaed"))
    painter.drawRoundedRect(QRectF(1.5, 1.5, size - 3, size - 3), 5, 5)
    font = QFont()
    font.setPixelSize(int(size * 0.55))
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#80868b"))
    painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "?")
    painter.end()
    return QIcon(pixmap)


class IconLoader(QObject):
    """GUI-side handle over one IconStore. icon(path) answers at once (the icon, or the
    placeholder while it is fetched); iconArrived(path) says when a real one is ready."""

    iconArrived = Signal(str)
    _decoded = Signal(str, object)  # path, QImage or None; emitted in a pool thread

    def __init__(self, store: IconStore | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("iconLoader")
        self._store = store
        # The newest MAX_ICONS pictures (a release can name thousands; each is ~25 KB).
        self._icons: OrderedDict[str, QIcon] = OrderedDict()
        self._missing: set[str] = set()
        self._asked: set[str] = set()
        self._closed = False
        self._decoded.connect(self._on_decoded)

    @property
    def store(self) -> IconStore | None:
        return self._store

    def set_store(self, store: IconStore | None) -> None:
        """Another Bungie.net root or data dir (Settings): icons are asked for again."""
        old, self._store = self._store, store
        if old is not None and old is not store:
            old.close()
        self._icons.clear()
        self._missing.clear()
        self._asked.clear()

    def icon(self, path: str | None, *, fetch: bool = True) -> QIcon:
        """The icon of `path` if it has arrived, else the placeholder (and, with fetch, it is
        asked for). Lists pass fetch=False and ask for the rows on screen only: a view sizing
        its rows reads every row's icon, and a release can name thousands."""
        if not path or not is_icon_path(path):
            return placeholder_icon()
        found = self._icons.get(path)
        if found is not None:
            self._icons.move_to_end(path)
            return found
        if fetch:
            self.request(path)
        return placeholder_icon()

    def has_icon(self, path: str | None) -> bool:
        return bool(path) and path in self._icons

    def is_missing(self, path: str | None) -> bool:
        """True once `path` is known to have no picture (failed or not an image)."""
        return bool(path) and path in self._missing

    def request(self, path: str) -> None:
        if self._store is None or path in self._asked or path in self._icons:
            return
        self._asked.add(path)
        self._store.request(path, self._decode_in_pool)

    def retry_missing(self) -> None:
        """Ask again for icons that failed (after a load, when the network may be back)."""
        if self._store is not None:
            self._store.forget_failures()
        self._asked -= self._missing
        self._missing.clear()

    def _decode_in_pool(self, path: str, file: Path | None) -> None:
        if self._closed:  # a fetch that ended after close(): this object may be gone
            return
        image = QImage(str(file)) if file is not None else None
        if image is None or image.isNull():
            self._decoded.emit(path, None)
            return
        # One size for every icon (Bungie's are 96 px, some smaller): sharp on HiDPI too.
        side = 2 * ICON_SIZE
        if image.width() != side:
            image = image.scaled(
                side,
                side,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self._decoded.emit(path, image)

    @Slot(str, object)
    def _on_decoded(self, path: str, image: QImage | None) -> None:
        if self._store is None:
            return
        if image is None:
            self._missing.add(path)
            return
        self._icons[path] = QIcon(QPixmap.fromImage(image))
        while len(self._icons) > MAX_ICONS:
            evicted, _icon = self._icons.popitem(last=False)
            self._asked.discard(evicted)  # asked again (from the disk cache) when shown again
        self.iconArrived.emit(path)

    def close(self) -> None:
        self._closed = True
        if self._store is not None:
            self._store.close()

"""The application and tray icons, read from the shipped resources/ folder."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from pathlib import Path

from PySide6.QtGui import QIcon, QPixmap

from ..engine.database import shipped_folder

TRAY_STATES = ("idle", "working", "loaded", "failed")
_SIZES = (16, 22, 32, 48, 64, 128, 256)


def _add_files(icon: QIcon, name: str) -> QIcon:
    folder = shipped_folder("resources")
    for size in _SIZES:
        entry = folder / f"{name}-{size}.png"
        if entry.is_file():
            pixmap = QPixmap()
            # Read through Traversable: the folder may live inside a zip (an installed wheel).
            if pixmap.loadFromData(entry.read_bytes(), "PNG"):
                icon.addPixmap(pixmap)
    svg = folder / f"{name}.svg"
    if svg.is_file():
        # QIcon reads SVG only from a real file; copy it out when the folder is not one.
        path = Path(str(svg))
        if not path.is_file():
            with (
                contextlib.suppress(OSError),
                tempfile.NamedTemporaryFile(suffix=".svg", delete=False) as handle,
            ):
                handle.write(svg.read_bytes())
                path = Path(handle.name)
        icon.addFile(str(path))
    return icon


@functools.cache
def app_icon() -> QIcon:
    return _add_files(QIcon(), "manifest-gui")


@functools.cache
def tray_icon(state: str) -> QIcon:
    if state not in TRAY_STATES:
        raise ValueError(f"unknown tray state {state!r}")
    return _add_files(QIcon(), f"tray-{state}")

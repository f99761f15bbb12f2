"""Regenerate the application and tray icons in resources/ (SVG, plus PNG renders).

Run `.venv/bin/python -m tests.gui.make_icons` after changing the drawing below; the files are
committed so the app never needs this script at runtime.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"

# A database cylinder on a rounded tile; the tray states add a coloured badge.
TILE = """<rect x="2" y="2" width="60" height="60" rx="13" fill="url(#tile)"/>
  <defs>
    <linearGradient id="tile" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/>
    </linearGradient>
  </defs>"""

CYLINDER = """<path d="M14 17 V45 A16 6 0 0 0 46 45 V17 Z" fill="#eef2f8"/>
  <path d="M14 26 A16 6 0 0 0 46 26 M14 35.5 A16 6 0 0 0 46 35.5" fill="none"
        stroke="{band}" stroke-width="2.4"/>
  <ellipse cx="30" cy="17" rx="16" ry="6" fill="#ffffff" stroke="{band}" stroke-width="1.6"/>"""

BADGES = {
    "idle": "",
    "working": """<circle cx="47" cy="47" r="14" fill="#2f7de1" stroke="#ffffff" stroke-width="3"/>
  <path d="M47 39 V53 M41 47.5 L47 54 L53 47.5" fill="none" stroke="#ffffff" stroke-width="3.4"
        stroke-linecap="round" stroke-linejoin="round"/>""",
    "loaded": """<circle cx="47" cy="47" r="14" fill="#2e9d50" stroke="#ffffff" stroke-width="3"/>
  <path d="M40.5 47.5 L45.5 52.5 L54 42.5" fill="none" stroke="#ffffff" stroke-width="3.6"
        stroke-linecap="round" stroke-linejoin="round"/>""",
    "failed": """<circle cx="47" cy="47" r="14" fill="#d23b3b" stroke="#ffffff" stroke-width="3"/>
  <path d="M47 39.5 V48.5" fill="none" stroke="#ffffff" stroke-width="3.8"
        stroke-linecap="round"/>
  <circle cx="47" cy="54" r="2.2" fill="#ffffff"/>""",
}


def svg(badge: str, top: str = "#34507f", bottom: str = "#1c2b48") -> str:
    band = "#9fb0cc"
    body = "\n  ".join(
        part
        for part in (TILE.format(top=top, bottom=bottom), CYLINDER.format(band=band), badge)
        if part
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">\n'
        f"  {body}\n</svg>\n"
    )


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    RESOURCES.mkdir(exist_ok=True)
    files = {"manifest-gui": svg("")}
    files.update({f"tray-{state}": svg(badge) for state, badge in BADGES.items()})
    for name, text in files.items():
        (RESOURCES / f"{name}.svg").write_text(text, encoding="utf-8")
        renderer = QSvgRenderer(text.encode())
        for size in (16, 22, 32, 48, 64, 128, 256):
            if name != "manifest-gui" and size > 64:
                continue
            image = QImage(size, size, QImage.Format.Format_ARGB32)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter)
            painter.end()
            image.save(str(RESOURCES / f"{name}-{size}.png"))
    del app
    print(f"Wrote {len(files)} icons to {RESOURCES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

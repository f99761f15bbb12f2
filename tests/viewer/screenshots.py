"""Screenshots of the viewer over real loaded data, for the README and for looking at.

    python -m tests.viewer.screenshots [--database-url URL] [--out resources/screenshots]

Without a URL it starts a throwaway embedded PostgreSQL and loads two generated versions
(tests.support.manifest_factory) through the engine, like the tests do. Writes:
viewer-tables.png (tables and rows), viewer-json.png (a definition's JSON tree with hash
links), viewer-history.png (a version's changes and a before/after diff).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ITEM = "DestinyInventoryItemDefinition"


def _wait(signal: Any, ms: int = 20_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def _settle(ms: int = 150) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shoot(url: str, out: Path) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from manifest_gui.ui.main_window import MainWindow
    from manifest_gui.ui.viewer import ViewerWidget
    from manifest_gui.ui.viewer.json_tree_model import LINK_ROLE

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    widget = ViewerWidget(lambda: url)
    # The size the viewer gets in the window at its default size (less tabs and status bar).
    width, height = MainWindow.DEFAULT_SIZE
    widget.resize(width, height - 70)
    widget.show()
    written = []
    try:
        widget.refresh()
        _wait(widget.tablesLoaded)
        browse = widget.browse
        browse.select_table(ITEM)
        _wait(browse.rows_model.pageLoaded)
        browse.rows_view.resizeColumnToContents(0)
        # A definition with links in its tree.
        detail = widget.detail
        for row in range(browse.rows_model.rowCount()):
            browse.rows_view.selectRow(row)
            _wait(detail.definitionShown)
            model = detail.model
            has_link = any(
                model.index(r, 1).data(LINK_ROLE) is not None
                or any(
                    model.index(c, 1, model.index(r, 0)).data(LINK_ROLE) is not None
                    for c in range(model.rowCount(model.index(r, 0)))
                )
                for r in range(model.rowCount())
            )
            if has_link and (browse.rows_model.row_at(row).name or ""):
                break
        detail.tree.expandToDepth(1)
        _settle()
        app.processEvents()
        written.append(out / "viewer-tables.png")
        widget.grab().save(str(written[-1]))
        detail.tree.collapseAll()
        for r in range(detail.model.rowCount()):
            index = detail.model.index(r, 0)
            if detail.model.rowCount(index) and any(
                detail.model.index(c, 1, index).data(LINK_ROLE) is not None
                for c in range(detail.model.rowCount(index))
            ):
                detail.tree.expand(index)
        _settle()
        written.append(out / "viewer-json.png")
        detail.grab().save(str(written[-1]))

        widget.tabs.setCurrentIndex(1)
        history = widget.history
        while history.changes_model.rowCount() == 0 or history.rows_model.rowCount() == 0:
            _settle(50)
        history.rows_view.selectRow(0)
        _wait(history.diffShown)
        _settle()
        written.append(out / "viewer-history.png")
        widget.grab().save(str(written[-1]))
    finally:
        widget.shutdown()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "screenshots")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tests.support.postgres import ensure_runtime_dir

    ensure_runtime_dir()
    if args.database_url:
        written = shoot(args.database_url, args.out)
    else:
        from tests.support.manifest_factory import ManifestFactory
        from tests.support.postgres import start_server
        from tests.viewer.conftest import load_two_versions

        server = start_server("embedded")
        try:
            url = server.create_database("screenshots")
            with tempfile.TemporaryDirectory() as tmp:
                load_two_versions(url, ManifestFactory(Path(tmp)), Path(tmp) / "data", rows=3000)
                written = shoot(url, args.out)
        finally:
            server.stop()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

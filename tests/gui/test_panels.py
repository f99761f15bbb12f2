"""Progress bars per stage, geometry, shortcuts, and main()'s contract."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from manifest_gui import __main__ as entry
from manifest_gui.engine.progress import ProgressEvent
from manifest_gui.ui.main_window import MainWindow
from manifest_gui.ui.progress_panel import ProgressPanel
from tests.gui.conftest import AppFactory


def test_bars_follow_each_stage(qtbot: Any) -> None:
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    download, load = panel.bar("download"), panel.bar("load")

    panel.on_event(ProgressEvent("download", 0, None, "bytes", "x.content"))
    assert download.maximum() == 0, "unknown total: a busy bar"
    panel.on_event(ProgressEvent("download", 5 << 20, None, "bytes"))
    assert "5.2 MB" in panel.stages["download"].detail.text()
    panel.on_event(ProgressEvent("download", 8 << 20, 8 << 20, "bytes", finished=True))
    assert download.value() == download.maximum() > 0
    assert panel.stages["extract"].detail.text() == ""

    panel.on_event(ProgressEvent("load", 0, 1000, "rows"))
    assert "not needed" in panel.stages["extract"].detail.text()
    panel.on_event(ProgressEvent("load", 250, 1000, "rows", "DestinyLoreDefinition"))
    assert load.value() == load.maximum() // 4
    assert "DestinyLoreDefinition" in load.format()
    assert panel.stages["load"].detail.text().startswith("250 of 1,000 rows")
    panel.on_event(ProgressEvent("load", 1000, 1000, "rows"))
    assert load.maximum() == 0, "all rows read, the database applies them: busy"
    assert "applying changes" in panel.stages["load"].detail.text()
    panel.stop()
    assert load.maximum() > 0 and "stopped" in panel.stages["load"].detail.text()
    panel.reset()
    assert all(state.bar.value() == 0 for state in panel.stages.values())


def test_geometry_is_remembered(qtbot: Any, make_app: AppFactory) -> None:
    first = make_app()
    first.window.resize(first.window.width(), 520)
    width = first.window.width()
    first.shutdown()
    second = make_app()
    assert (second.window.width(), second.window.height()) == (width, 520)


def test_default_size_and_shortcuts(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app()
    window = app.window
    screen = window.screen().availableGeometry()
    smallest = window.minimumSizeHint()
    expected = (
        max(smallest.width(), min(window.DEFAULT_SIZE[0], int(screen.width() * 0.9))),
        max(smallest.height(), min(window.DEFAULT_SIZE[1], int(screen.height() * 0.9))),
    )
    assert (window.width(), window.height()) == expected
    assert window.check_load_action.shortcut() == QKeySequence("F5")
    assert window.cancel_action.shortcut() == QKeySequence("Esc")
    assert not window.file_action.shortcut().isEmpty()
    assert not window.settings_action.shortcut().isEmpty()
    assert window.tabs.tabText(0) == "Ma&nifest"


def test_main_reuses_the_application_and_returns_an_int(qtbot: Any) -> None:
    qt_app = QApplication.instance()
    seen: list[MainWindow] = []

    def quit_from_the_window() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                assert QApplication.instance() is qt_app
                # The window's objects are reachable from the application automation has.
                assert qt_app.findChild(QObject, "application") is not None
                seen.append(widget)
                widget.quit_action.trigger()

    QTimer.singleShot(200, quit_from_the_window)
    QTimer.singleShot(20_000, qt_app.quit)  # never hang the suite
    code = entry.main(["--gui", "--no-check"])
    assert code == 0 and isinstance(code, int)
    assert seen, "main() did not show the window"
    assert QApplication.instance() is qt_app
    assert qt_app.findChild(QObject, "application") is None  # nothing kept for the next run


def test_without_a_tray_closing_the_window_quits(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app(tray=False)
    assert app.tray is None and not app.window.hide_on_close
    with qtbot.waitSignal(app.quitRequested, timeout=1000):
        app.window.close()
    assert app.is_shut_down


QUIT_SOON = """
import sys
from PySide6.QtCore import QTimer
from manifest_gui import app as app_module

start = app_module.Application.start

def start_then_quit(self, *args, **kwargs):
    start(self, *args, **kwargs)

    def quit_when_busy():
        if not self.runner.busy:
            QTimer.singleShot(100, quit_when_busy)
            return
        self.quit()  # while the startup job is blocked in the keyring

    QTimer.singleShot(200, quit_when_busy)

app_module.Application.start = start_then_quit
from manifest_gui.__main__ import main
sys.exit(main(["--gui", "--no-check"]))  # main() makes the QApplication, as for a user
"""


def test_quitting_with_a_worker_blocked_in_the_keyring_exits_cleanly(tmp_path: Any) -> None:
    """A keyring prompt nobody answers blocks the job that reads the database password: Quit
    still ends the process promptly and without Qt's abort for a running QThread."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        PYTHONPATH=str(repo),
        QT_QPA_PLATFORM="offscreen",
        PYTHON_KEYRING_BACKEND="tests.support.blocking_keyring.Keyring",
        MANIFEST_GUI_DATABASE_URL="postgresql://someone@127.0.0.1:1/nowhere",
    )
    env["MANIFEST_GUI_DATA_DIR"] = str(tmp_path / "data")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", QUIT_SOON],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "QThread: Destroyed while thread" not in done.stderr
    assert took < 45, f"quitting took {took:.0f} s"

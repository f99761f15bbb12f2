"""The tray on a real tray host (Xvfb + trayer) and the API key in a real OS keyring.

Both need tests/run's throwaway desktop; elsewhere they skip with a reason (and fail in CI,
through the display/keyring markers handled in tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

import keyring
import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QSystemTrayIcon

from manifest_gui.engine.secrets import API_KEY_ENTRY, SecretStore
from tests.gui.conftest import AppFactory, Published, run_job
from tests.support.bungie_server import BungieServer, error_envelope, not_found


@pytest.mark.display
def test_main_puts_the_tray_icon_where_automation_finds_it(qtbot: Any) -> None:
    """Through main(), as a user starts it: qApp.findChild(QSystemTrayIcon, "trayIcon")."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from manifest_gui import __main__ as entry

    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    qt_app = QApplication.instance()
    found: list[QSystemTrayIcon] = []

    def look_then_quit() -> None:
        tray = qt_app.findChild(QSystemTrayIcon, "trayIcon")
        if tray is None or tray.geometry().isEmpty():
            QTimer.singleShot(100, look_then_quit)  # not embedded in the tray host yet
            return
        found.append(tray)
        tray.contextMenu().actions()[-1].trigger()  # Quit, from the tray menu

    QTimer.singleShot(200, look_then_quit)
    QTimer.singleShot(20_000, qt_app.quit)  # never hang the suite
    assert entry.main(["--gui", "--no-check"]) == 0
    assert found, "no trayIcon under the QApplication"
    assert qt_app.findChild(QSystemTrayIcon, "trayIcon") is None  # nothing left behind


@pytest.mark.display
def test_tray_icon_menu_close_to_tray_and_states(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    app = make_app(tray=True, database_url=database_url, bungie_root=bungie_server.base_url)
    tray = app.tray
    assert tray is not None and tray.objectName() == "trayIcon"
    # isVisible() is True even without a tray host: the geometry proves the icon is embedded.
    qtbot.waitUntil(lambda: tray.isVisible() and not tray.geometry().isEmpty(), timeout=5000)
    assert tray.state == "idle"

    menu = tray.contextMenu()
    menu.aboutToShow.emit()
    texts = [action.text() for action in menu.actions() if not action.isSeparator()]
    assert texts == ["Check && &Load now", "&Open manifest-gui", "&Pause polling", "&Quit"]

    tray.pause_action.trigger()
    assert not app.settings.poll_enabled
    assert app.window.findChild(QLabel, "nextCheckLabel").text() == "Automatic checks are paused."
    menu.aboutToShow.emit()
    assert tray.pause_action.text() == "&Resume polling"
    tray.pause_action.trigger()
    assert app.settings.poll_enabled

    notices: list[tuple[str, str, bool]] = []
    tray.notify = lambda title, text, error=False: notices.append((title, text, error))

    # Closing the window keeps the app in the tray, and says so once.
    app.window.close()
    assert not app.window.isVisible() and not app.is_shut_down
    assert [n[0] for n in notices] == ["manifest-gui is still running"]
    tray.open_action.trigger()
    assert app.window.isVisible()
    app.window.close()
    assert len(notices) == 1

    # Hidden: a new manifest loaded is announced, and the icon says so until the window opens.
    states: list[str] = []
    app.runner.started.connect(lambda kind: states.append(tray.state))
    assert run_job(qtbot, app, tray.check_load_action.trigger) == ("update", "ok")
    assert states == ["working"]
    assert tray.state == "loaded"
    # The notice names what changed: it comes once the release notes are read.
    qtbot.waitUntil(lambda: notices[-1][0] == "New manifest loaded", timeout=10_000)
    assert published.version in notices[-1][1]
    # The next poll finds nothing new: the load nobody has seen yet stays the icon's news.
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    assert tray.state == "loaded" and published.version in tray.toolTip()
    tray.open_action.trigger()
    assert tray.state == "idle"

    # Bungie.net answered, then the download failed: that is a failed load, not a check.
    app.window.close()
    bungie_server.publish(
        published.content,
        version="next-release",
        path="/common/destiny2_content/sqlite/en/world_sql_content_next.content",
    )
    bungie_server.queue(not_found(), route="content", times=10)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
    assert notices[-1][0] == "Load failed", notices[-1]
    tray.open_action.trigger()

    # A failed check while hidden: a notification with the sentence, the failed icon.
    app.window.close()
    bungie_server.queue(error_envelope(5), times=2)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
    assert tray.state == "failed"
    assert notices[-1] == (
        "Check failed",
        "Bungie.net is down for maintenance; try again later.",
        True,
    )

    # An unexpected error while hidden: a notification that points to the log, and the
    # details dialog for when the user looks.
    app.excepthook(ZeroDivisionError, ZeroDivisionError("division by zero"), None)
    assert notices[-1] == ("Unexpected error", "ZeroDivisionError; details are in the log.", True)
    assert len(app.error_dialogs) == 1
    app.error_dialogs[0].reject()

    with qtbot.waitSignal(app.quitRequested, timeout=5000):
        tray.quit_action.trigger()
    assert app.is_shut_down


@pytest.mark.display
def test_a_vanished_tray_host_brings_the_hidden_window_back(
    qtbot: Any, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qt does not say when the panel holding the tray goes away: the app looks, and a hidden
    window comes back (closing it then quits) instead of running on with no way back."""
    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    app = make_app(tray=True)
    app.window.close()
    assert not app.window.isVisible() and app.window.hide_on_close
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))
    app.check_tray_host()
    assert app.window.isVisible() and not app.window.hide_on_close
    assert "system tray went away" in app.window.log_view.toPlainText()
    monkeypatch.undo()  # the panel is back
    app.check_tray_host()
    assert app.window.hide_on_close


@pytest.mark.keyring
def test_api_key_round_trips_through_the_os_keyring(qtbot: Any, make_app: AppFactory) -> None:
    secrets = SecretStore()  # the OS keyring, as the app uses it
    assert secrets.keyring_available(), secrets.backend_name()
    chain = getattr(secrets.backend, "backends", [secrets.backend])
    assert any("SecretService" in type(backend).__module__ for backend in chain), chain
    make_app.secrets = secrets
    app = make_app()
    secrets.delete_api_key()

    dialog = app.open_settings()
    qtbot.keyClicks(dialog.findChild(QLineEdit, "apiKeyEdit"), "os-keyring-key-42")
    dialog.accept()
    assert keyring.get_keyring().get_password("manifest-gui", API_KEY_ENTRY) == "os-keyring-key-42"
    assert SecretStore().api_key() == "os-keyring-key-42"  # a fresh store reads it back

    again = app.open_settings()
    assert "stored in the keyring" in again.findChild(QLabel, "apiKeyStatusLabel").text()
    again.clear_api_key()
    again.accept()
    assert keyring.get_keyring().get_password("manifest-gui", API_KEY_ENTRY) is None

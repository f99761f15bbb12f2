"""The tray icon beside the window: whether closing hides or quits, the one-time notice that the
app keeps running, and a watch for the tray host (a panel) going away.

Only built when QSystemTrayIcon.isSystemTrayAvailable(): without a tray, closing quits.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QSystemTrayIcon

from .. import APP_NAME
from .main_window import MainWindow
from .tray import TrayIcon

TRAY_WATCH_MS = 5_000  # how often to look whether the system tray is still there


class TrayHost(QObject):
    def __init__(
        self,
        window: MainWindow,
        state: QSettings,
        log: Callable[[str], None],
        show_window: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self._state = state
        self._log = log
        self._show_window = show_window
        self.quitting = False  # set on Quit: closing no longer hides
        self.tray = TrayIcon(parent)
        window.hide_on_close = True
        window.hiddenToTray.connect(self._on_hidden_to_tray)
        # Qt says nothing when the tray host goes away: look now and then, so a hidden window
        # never ends up with no icon to bring it back.
        self._watch = QTimer(self)
        self._watch.setObjectName("trayWatch")
        self._watch.setInterval(TRAY_WATCH_MS)
        self._watch.timeout.connect(self.check_host)
        self._watch.start()

    @staticmethod
    def available(wanted: bool | None) -> bool:
        """Whether to have a tray: as asked (None: when there is one), and only if there is."""
        has_tray = QSystemTrayIcon.isSystemTrayAvailable()
        return has_tray and (wanted is None or wanted)

    @Slot()
    def check_host(self) -> None:
        """Without a tray host, closing must quit and a hidden window must come back."""
        available = QSystemTrayIcon.isSystemTrayAvailable()
        if not available and self.window.hide_on_close:
            self.window.hide_on_close = False
            if not self.window.isVisible():
                self._show_window()
            self._log("The system tray went away: the window stays open, and closing it quits.")
        elif available and not self.window.hide_on_close and not self.quitting:
            self.window.hide_on_close = True

    @Slot()
    def _on_hidden_to_tray(self) -> None:
        self._state.setValue("geometry", self.window.saveGeometry())
        if not self._state.value("tray_notice_shown", False, bool):
            self.tray.notify(
                f"{APP_NAME} is still running",
                "It keeps checking for new manifests from the system tray. "
                "Choose Quit in the tray menu to stop it.",
            )
            self._state.setValue("tray_notice_shown", True)
            self._log("The window was closed; the app keeps running in the system tray.")
        self._state.sync()

    def stop(self) -> None:
        self._watch.stop()
        self.tray.dispose()

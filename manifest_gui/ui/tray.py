"""The system-tray icon: its picture shows the state, its menu the few things worth a click.

Only created when QSystemTrayIcon.isSystemTrayAvailable(): isVisible() says True even without a
tray host, so it proves nothing.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .icons import tray_icon


class TrayState(StrEnum):
    IDLE = "idle"
    WORKING = "working"
    LOADED = "loaded"  # a new manifest, until the window is opened
    FAILED = "failed"


STATE_WORDS = {
    TrayState.IDLE: "idle",
    TrayState.WORKING: "working…",
    TrayState.LOADED: "a new manifest was loaded",
    TrayState.FAILED: "the last run failed",
}


class TrayIcon(QSystemTrayIcon):
    checkLoadRequested = Signal()
    cancelRequested = Signal()
    openRequested = Signal()
    pauseToggled = Signal(bool)  # True: pause
    quitRequested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trayIcon")
        self.state: TrayState | None = None
        self.busy = False
        self.polling = True
        self.summary = ""
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.check_load_action = QAction("Check && &Load now", self.menu)
        self.check_load_action.setObjectName("trayCheckLoadAction")
        self.check_load_action.triggered.connect(self._check_load_or_cancel)
        self.open_action = QAction("&Open manifest-gui", self.menu)
        self.open_action.setObjectName("trayOpenAction")
        self.open_action.triggered.connect(self.openRequested)
        self.pause_action = QAction("&Pause polling", self.menu)
        self.pause_action.setObjectName("trayPauseAction")
        self.pause_action.triggered.connect(lambda: self.pauseToggled.emit(self.polling))
        self.quit_action = QAction("&Quit", self.menu)
        self.quit_action.setObjectName("trayQuitAction")
        self.quit_action.triggered.connect(self.quitRequested)
        self.menu.addAction(self.check_load_action)
        self.menu.addAction(self.open_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        # Rebuilt just before it shows, so it never lags behind the app's state.
        self.menu.aboutToShow.connect(self.update_menu)
        self.setContextMenu(self.menu)
        self.activated.connect(self._on_activated)
        self.set_state(TrayState.IDLE)
        self.update_menu()

    def set_state(self, state: TrayState, summary: str | None = None) -> None:
        if summary is not None:
            self.summary = summary
        if state != self.state:
            self.state = state
            self.setIcon(tray_icon(state))
        tip = f"manifest-gui: {STATE_WORDS[TrayState(state)]}"
        if self.summary:
            tip += f"\n{self.summary}"
        self.setToolTip(tip)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.update_menu()

    def set_polling(self, polling: bool) -> None:
        self.polling = polling
        self.update_menu()

    @Slot()
    def update_menu(self) -> None:
        self.check_load_action.setText(
            "&Cancel the running job" if self.busy else "Check && &Load now"
        )
        self.pause_action.setText("&Pause polling" if self.polling else "&Resume polling")

    def _check_load_or_cancel(self) -> None:
        if self.busy:
            self.cancelRequested.emit()
        else:
            self.checkLoadRequested.emit()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.openRequested.emit()

    def notify(self, title: str, text: str, *, error: bool = False) -> None:
        icon = (
            QSystemTrayIcon.MessageIcon.Warning
            if error
            else QSystemTrayIcon.MessageIcon.Information
        )
        self.showMessage(title, text, icon, 8000)

    def dispose(self) -> None:
        self.hide()
        self.setContextMenu(None)  # type: ignore[arg-type]
        self.menu.deleteLater()

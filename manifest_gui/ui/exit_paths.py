"""Every way the app is asked to end, handled like the Quit action.

- SIGTERM, SIGINT, SIGHUP (logout, `kill`, `systemctl --user stop`, Ctrl+C): see unix_signals.
- QApplication.quit() from a session manager or an embedding program. Qt turns it into a Quit
  event that any visible top-level widget vetoes: the tray's own icon widget or a tray balloon
  would keep the app running. The event is taken here instead: the app quits as with Quit, then
  QApplication.exit(), which nothing can veto, ends the event loop.
- The end of the session: commitDataRequest saves the window state first.

Closing the window to the tray stays what it is: the user's close, not the application's quit.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtGui import QSessionManager
from PySide6.QtWidgets import QApplication

from .unix_signals import SignalWatcher

log = logging.getLogger(__name__)


class ExitPaths(QObject):
    """Routes signals, QApplication.quit() and the session's end to `quit`, then exits 0.

    `quit` does what the Quit action does (cancel the job, save the window state, stop the
    embedded server); `save_state` only saves, for the session manager's commitDataRequest.
    """

    def __init__(
        self,
        qt_app: QApplication,
        quit: Callable[[], None],
        save_state: Callable[[], None],
        *,
        watch_signals: bool = True,
    ) -> None:
        super().__init__(qt_app)
        self.setObjectName("exitPaths")
        self._qt_app = qt_app
        self._quit = quit
        self._save_state = save_state
        self.ending = False
        self.reason = ""
        self.signals: SignalWatcher | None = None
        if watch_signals and threading.current_thread() is threading.main_thread():
            self.signals = SignalWatcher(self)
            self.signals.received.connect(self._on_signal)
        qt_app.installEventFilter(self)
        qt_app.commitDataRequest.connect(self._on_commit_data)
        qt_app.aboutToQuit.connect(self._on_about_to_quit)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._qt_app and event.type() == QEvent.Type.Quit:
            self.end("the application was asked to quit")
            return True  # handled: end() has already told the loop to exit
        return False

    def end(self, reason: str) -> None:
        """Quit like the Quit action, then leave the event loop with status 0."""
        if not self.ending:
            self.ending = True
            self.reason = reason
            log.info("Quitting: %s", reason)
            self._quit()
        self._qt_app.exit(0)

    @Slot(int)
    def _on_signal(self, signum: int) -> None:
        self.end(f"received {signal.Signals(signum).name}")

    @Slot(QSessionManager)
    def _on_commit_data(self, _manager: QSessionManager) -> None:
        # The session may end right after this: keep what a Quit would keep, refuse nothing.
        log.info("The session manager asked to save state")
        self._save_state()

    @Slot()
    def _on_about_to_quit(self) -> None:
        # QApplication.exit() called by someone else: the loop ends without a Quit event.
        if not self.ending:
            self.ending = True
            self.reason = "the event loop was ended"
            log.info("Quitting: %s", self.reason)
            self._quit()

    def close(self) -> None:
        """Stop watching and leave the QApplication (main() is returning). Idempotent."""
        self._qt_app.removeEventFilter(self)
        for signal_, slot in (
            (self._qt_app.commitDataRequest, self._on_commit_data),
            (self._qt_app.aboutToQuit, self._on_about_to_quit),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                signal_.disconnect(slot)
        if self.signals is not None:
            self.signals.close()
            self.signals = None
        self.setParent(None)
        self.deleteLater()

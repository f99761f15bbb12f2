"""SIGTERM, SIGINT and SIGHUP delivered to the GUI thread as a Qt signal.

A Python signal handler runs only when the interpreter executes its next bytecode, and while
Qt's event loop waits in C++ that may be never. Instead the C-level handler writes the signal's
number to a socket pair (signal.set_wakeup_fd); a QSocketNotifier on the other end wakes the
event loop, and `received` is emitted in the GUI thread, where ending the app is safe.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from PySide6.QtCore import QObject, QSocketNotifier, Signal, Slot

log = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def ending_signals() -> tuple[signal.Signals, ...]:
    """The signals that end the window: logout, `kill`, Ctrl+C, a closed terminal."""
    names = ("SIGTERM", "SIGINT", "SIGHUP")
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: nothing to do, the notifier has the work."""


class SignalWatcher(QObject):
    """Turns the ending signals into `received(signum)` in the GUI thread until close()."""

    received = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signals can only be watched from the main thread")
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_readable)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        # set_wakeup_fd only writes for signals with a Python handler: install a silent one.
        self._previous: dict[signal.Signals, Handler] = {}
        for signum in ending_signals():
            self._previous[signum] = signal.signal(signum, _ignore)
        self._closed = False

    @Slot()
    def _on_readable(self) -> None:
        try:
            data = self._reader.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:
            if signum in self._previous:
                log.info("Received %s", signal.Signals(signum).name)
                self.received.emit(signum)

    def close(self) -> None:
        """Give the signals back to their previous handlers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._notifier.setEnabled(False)
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        current = signal.set_wakeup_fd(self._previous_fd)
        if current != self._writer.fileno():  # someone else took it since: leave theirs
            signal.set_wakeup_fd(current)
        for end in (self._reader, self._writer):
            with contextlib.suppress(OSError):
                end.close()

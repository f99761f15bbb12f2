"""One window per user and data dir: a second launch hands over to the running one and exits.

The running window listens on a QLocalServer whose name comes from the user and the data dir's
resolved path. A new launch first tries to connect: when a window answers, it asks it to show
itself (or, with --hidden, only says it was launched) and exits 0. When nobody answers, a name
left behind by a crashed window is removed and this launch listens in its place. A lock file
around that try-then-listen keeps two launches at the same moment from both becoming servers.
CLI subcommands never go through here.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import tempfile
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from .. import APP_NAME

log = logging.getLogger(__name__)

CONNECT_MS = 1_000
ANSWER_MS = 3_000
LOCK_MS = 10_000
ACK = b"ok\n"


class Request(StrEnum):
    """What a second launch asks of the running window."""

    SHOW = "show"  # raise and activate the window
    HIDDEN = "hidden"  # a --hidden launch (e.g. at login): leave the window as it is


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's uid without a passwd entry)
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


def server_name(data_dir: Path) -> str:
    """The local server's name for this user and data dir (short: a Unix socket path)."""
    try:
        resolved = data_dir.resolve()
    except OSError:
        resolved = Path(os.path.abspath(data_dir))
    key = f"{_user()}\0{resolved}".encode()
    return f"{APP_NAME}-{hashlib.sha256(key).hexdigest()[:24]}"


class SingleInstance(QObject):
    """Claims the data dir for this window, or hands over to the window that has it."""

    showRequested = Signal()  # another launch asked for the window

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self.server: QLocalServer | None = None
        self._lock = QLockFile(str(Path(tempfile.gettempdir()) / f"{self.name}.lock"))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone

    def claim(self, request: Request) -> bool:
        """True: this process is now the window of its data dir. False: a running window got
        `request` and this launch should exit."""
        locked = self._lock.tryLock(LOCK_MS)
        if not locked:
            log.warning("The single-instance lock %s stayed busy; starting anyway", self.name)
        try:
            if self._hand_over(request):
                return False
            self._listen()
            return True
        finally:
            if locked:
                self._lock.unlock()

    def _hand_over(self, request: Request) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_MS):
            return False
        socket.write(f"{request}\n".encode())
        socket.waitForBytesWritten(CONNECT_MS)
        while socket.bytesAvailable() < len(ACK) and socket.waitForReadyRead(ANSWER_MS):
            pass
        answered = bytes(socket.readAll().data()).startswith(ACK)
        socket.disconnectFromServer()
        if not answered:
            # Connected but silent: a window stuck in a long call. It is alive; still yield.
            log.warning("The running %s did not answer; not starting a second one", APP_NAME)
        return True

    def _listen(self) -> None:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # Nobody answered, so a socket file left by a crashed window is stale: remove it.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning(
                    "Could not listen as %s (%s): a second launch will open a second window",
                    self.name,
                    server.errorString(),
                )
                server.deleteLater()
                return
        server.newConnection.connect(self._on_new_connection)
        self.server = server
        log.info("Listening for other launches as %s", server.fullServerName())

    @Slot()
    def _on_new_connection(self) -> None:
        server = self.server
        while server is not None and server.hasPendingConnections():
            socket = server.nextPendingConnection()
            if socket is None:
                break
            socket.setParent(self)
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        line = bytes(socket.readLine().data()).decode("utf-8", "replace").strip()
        socket.write(ACK)
        socket.flush()
        if line == Request.SHOW:
            log.info("Another launch asked for the window: showing it")
            self.showRequested.emit()
        elif line == Request.HIDDEN:
            log.info("Another launch with --hidden: already running, nothing to do")
        else:
            log.warning("Ignored an unknown request from another launch: %r", line[:40])
        socket.disconnectFromServer()

    def close(self) -> None:
        """Stop listening (removes the socket file) and leave the parent. Idempotent."""
        if self.server is not None:
            self.server.close()
            self.server.deleteLater()
            self.server = None
        self.setParent(None)
        self.deleteLater()


def claim_window(data_dir: Path, *, hidden: bool, parent: QObject) -> SingleInstance | None:
    """This launch's claim on its data dir; None when a running window took the request and
    this launch should exit 0. Close the returned object when the window ends."""
    instance = SingleInstance(data_dir, parent)
    if instance.claim(Request.HIDDEN if hidden else Request.SHOW):
        return instance
    log.info("%s already runs for %s: handed over to it", APP_NAME, data_dir)
    instance.setParent(None)
    instance.deleteLater()
    return None

"""Starting the window: the command-line options, Qt's set-up, logging, and the event loop.

main() builds the Application and runs it until Quit. Process-wide concerns of the window (its
options, Qt's message handler, the excepthook, the exit code) live here, apart from the
Application, which only wires the app's parts together.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import APP_NAME, __version__
from ..app import AUTO, Application
from ..engine.errors import ManifestGuiError
from ..engine.jobs import StatusJob
from ..engine.settings import load_settings
from ..logs import hold_early_records, setup_logging
from .exit_paths import ExitPaths
from .icons import app_icon
from .single_instance import claim_window

log = logging.getLogger(__name__)


def _qt_message_handler(kind: QtMsgType, _context: object, message: str) -> None:
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(kind, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog=APP_NAME, add_help=True)
    parser.add_argument("--hidden", action="store_true", help="start in the system tray")
    parser.add_argument(
        "--no-check", action="store_true", help="do not check Bungie.net at startup"
    )
    return parser.parse_known_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Open the window; return the exit code (never calls sys.exit)."""
    try:
        args, qt_args = _parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help or a bad option
        return int(exc.code) if isinstance(exc.code, int) else 2
    existing = QApplication.instance()
    owns_qt = not isinstance(existing, QApplication)  # else the caller owns the process
    qt_app = existing if isinstance(existing, QApplication) else QApplication([APP_NAME, *qt_args])
    qt_app.setApplicationName(APP_NAME)
    qt_app.setApplicationVersion(__version__)
    qt_app.setWindowIcon(app_icon())
    quit_on_close = qt_app.quitOnLastWindowClosed()
    qt_app.setQuitOnLastWindowClosed(False)  # the Application decides (tray or not)
    try:
        hold_early_records()
        settings = load_settings()
        log_file = setup_logging(settings.log_path)
    except ManifestGuiError as exc:
        QMessageBox.critical(None, APP_NAME, str(exc))
        return 1
    instance = claim_window(settings.data_path, hidden=args.hidden, parent=qt_app)
    if instance is None:  # the data dir's running window took the request: nothing to open
        qt_app.setQuitOnLastWindowClosed(quit_on_close)
        return 0
    previous_handler = qInstallMessageHandler(_qt_message_handler)
    previous_hook = sys.excepthook
    try:
        # A child of the QApplication: automation finds the window's and tray's objects (e.g.
        # qApp.findChild(QSystemTrayIcon, "trayIcon")) from the application it already has.
        application = Application(settings, log_file=log_file, parent=qt_app)
        application.setObjectName("application")
    except ManifestGuiError as exc:  # e.g. an invalid setting from the environment
        instance.close()
        qInstallMessageHandler(previous_handler)
        QMessageBox.critical(None, APP_NAME, str(exc))
        return 1
    sys.excepthook = application.excepthook
    application.quitRequested.connect(qt_app.quit)
    # Signals, QApplication.quit() and the session's end quit like Quit, even with a tray.
    exits = ExitPaths(qt_app, application.quit, application.save_geometry)
    instance.showRequested.connect(application.show_window)
    try:
        # --no-check still reads the database side, so the panel is never blank.
        application.start(
            hidden=True if args.hidden else None,
            startup_job=StatusJob() if args.no_check else AUTO,
        )
        code = qt_app.exec()
    finally:
        instance.close()
        application.shutdown()
        exits.close()  # after shutdown: a signal during it must not kill the process midway
        application.window.deleteLater()
        application.setParent(None)  # a reused QApplication does not keep this run's objects
        sys.excepthook = previous_hook
        qInstallMessageHandler(previous_handler)
        qt_app.setQuitOnLastWindowClosed(quit_on_close)
    if application.threads_left_running and owns_qt:
        # A worker is blocked where no cancel reaches (a keyring prompt, a call without a
        # timeout). Destroying its QThread at interpreter exit would abort the process: end it
        # here instead, with the database already safe (a load rolls back with its session).
        log.warning("Quitting while a worker thread is still blocked")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    return int(code)

"""The desktop app: the Application object wires the engine's service, the window, the tray, the
poll scheduler and the job runner together; main() runs it.

Every engine call goes through the JobRunner (a worker thread, one job at a time); the
Application only reacts to the runner's signals in the GUI thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import (
    QObject,
    QSettings,
    QTimer,
    QtMsgType,
    QUrl,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QSystemTrayIcon

from . import APP_NAME, __version__
from .engine.database import describe_url
from .engine.errors import CancelledError, ManifestGuiError
from .engine.loader import LoadResult
from .engine.progress import Progress, ProgressEvent
from .engine.secrets import SecretStore
from .engine.service import CheckResult, ManifestService, Status
from .engine.settings import Settings, load_settings, save_settings
from .logs import LOG_FILE, hold_early_records, setup_logging
from .ui.error_dialog import ErrorDialog
from .ui.formatting import amount, duration
from .ui.icons import app_icon
from .ui.main_window import MainWindow
from .ui.scheduler import PollScheduler, now_local
from .ui.settings_dialog import SettingsDialog
from .ui.tray import TrayIcon
from .ui.workers import JobRunner, join_running_threads, wait_for_detached

log = logging.getLogger(__name__)

ServiceFactory = Callable[[Settings, SecretStore], ManifestService]
LOADING_KINDS = frozenset({"update", "poll", "force", "file", "archive"})
UPDATE_KINDS = frozenset({"update", "poll", "force"})  # check Bungie.net, then load
# Jobs whose service.warnings belong to them (update() and load_from_archive() reset them).
WARNING_KINDS = frozenset({"update", "poll", "force", "archive"})
# Settings that need a new service (another database or data folder) rather than an update.
DATABASE_FIELDS = ("database_url", "data_dir")
STAGE_WORDS = {
    "check": "Checking Bungie.net…",
    "download": "Downloading the manifest…",
    "extract": "Extracting the manifest…",
    "load": "Loading the manifest into PostgreSQL…",
    "upload": "Archiving the manifest in S3…",
}
# Once the check has answered, the stages name the version being loaded.
VERSION_STAGE_WORDS = {
    "download": "downloading…",
    "extract": "extracting…",
    "upload": "archiving in S3…",
    "load": "loading into PostgreSQL…",
}
TRAY_WATCH_MS = 5_000  # how often to look whether the system tray is still there

JOB_WORDS = {
    "check": "Checking Bungie.net…",
    "update": "Checking Bungie.net…",
    "poll": "Automatic check…",
    "force": "Reloading the manifest…",
    "file": "Loading the file…",
    "archive": "Loading from the archive…",
    "status": "Reading the database…",
    "switch": "Switching databases…",
}


def default_service_factory(settings: Settings, secrets: SecretStore) -> ManifestService:
    return ManifestService(settings, secrets)


def window_state() -> QSettings:
    """Window geometry and one-time notices (never secrets): an INI file in the config dir."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, "window")


def _report_status(service: ManifestService, progress: Progress) -> None:
    """In a worker: read the database side and hand it to the window as a "status" event."""
    try:
        status = service.status()
    except ManifestGuiError:
        return  # the job's own steps meet the same problem and report it
    progress.start("status")
    progress.finish(0, result=status)


class Application(QObject):
    """Owns the service, window, tray, scheduler and runner; decides what each event means."""

    jobFinished = Signal(str, str)  # kind, outcome: ok | failed | cancelled | error (a bug)
    quitRequested = Signal()  # main() ends its event loop on this

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        secrets: SecretStore | None = None,
        service_factory: ServiceFactory = default_service_factory,
        settings_path: Path | None = None,
        state: QSettings | None = None,
        tray: bool | None = None,
        log_file: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else load_settings(settings_path)
        self.secrets = secrets if secrets is not None else SecretStore()
        self._factory = service_factory
        self._settings_path = settings_path
        self.state = state if state is not None else window_state()
        self.log_file = log_file or self.settings.log_path / LOG_FILE
        self.service = service_factory(self.settings, self.secrets)
        self._pending_settings: Settings | None = None
        self._database_shown = False  # the version panel shows the database side
        self.threads_left_running = False  # set by shutdown(): a job that would not stop
        self._unseen_load: str | None = None  # the tray's summary of a load made while hidden
        self._quitting = False
        self._shut_down = False
        self._job_started: datetime | None = None
        self._job_service: ManifestService | None = None  # the service the running job uses
        self._job_version: str | None = None  # the version an update job is loading
        self._warnings_shown = 0  # of the running job's service.warnings, already in the log
        self._outcome = "error"  # of the running job, reported by jobFinished
        self._archive_dialog: QDialog | None = None  # imported on first use (boto3)
        self.settings_dialog: SettingsDialog | None = None
        self.error_dialogs: list[ErrorDialog] = []

        self.runner = JobRunner(self)
        self.runner.started.connect(self._on_job_started)
        self.runner.progressed.connect(self._on_progress)
        self.runner.succeeded.connect(self._on_job_succeeded)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.finished.connect(self._on_job_finished)

        self.window = MainWindow()
        w = self.window
        w.checkLoadRequested.connect(self.check_and_load)
        w.checkRequested.connect(self.check)
        w.loadFileRequested.connect(self.load_file)
        w.forceReloadRequested.connect(self.force_reload)
        w.cancelRequested.connect(self.cancel)
        w.settingsRequested.connect(self.open_settings)
        w.archiveRequested.connect(self.open_archive)
        w.quitRequested.connect(self.quit)
        w.openLogRequested.connect(self.open_log)
        w.hiddenToTray.connect(self._on_hidden_to_tray)
        w.closed.connect(self._on_window_closed)
        w.version_panel.pollToggled.connect(self.set_polling)

        self.scheduler = PollScheduler(
            self.settings.poll_minutes,
            self._scheduler_busy,
            enabled=self.settings.poll_enabled,
            parent=self,
        )
        self.scheduler.due.connect(self._on_poll_due)
        self.scheduler.skipped.connect(
            lambda: self._log("Skipped an automatic check: a job is running.")
        )
        self.scheduler.nextCheckChanged.connect(self._show_next_check)
        w.version_panel.set_poll_minutes(self.settings.poll_minutes)
        w.version_panel.set_polling(self.settings.poll_enabled)

        want_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        self.tray: TrayIcon | None = None
        if want_tray and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = TrayIcon(self)
            self.tray.checkLoadRequested.connect(self.check_and_load)
            self.tray.cancelRequested.connect(self.cancel)
            self.tray.openRequested.connect(self.show_window)
            self.tray.pauseToggled.connect(lambda pause: self.set_polling(not pause))
            self.tray.quitRequested.connect(self.quit)
            self.tray.set_polling(self.settings.poll_enabled)
        w.hide_on_close = self.tray is not None
        if self.tray is not None:
            # Qt says nothing when the tray host (a panel) goes away: look now and then, so a
            # hidden window never ends up with no icon to bring it back.
            self._tray_watch = QTimer(self)
            self._tray_watch.setObjectName("trayWatch")
            self._tray_watch.setInterval(TRAY_WATCH_MS)
            self._tray_watch.timeout.connect(self.check_tray_host)
            self._tray_watch.start()

        self._plug_in_viewer()
        self._plug_in_archive()
        self._show_upload_row()
        self._show_database_description()
        w.version_panel.set_status("Idle.")
        w.restore_geometry(self.state.value("geometry"))

    # Optional parts written by other features ---------------------------------------------------
    def _plug_in_viewer(self) -> None:
        try:
            from .ui.viewer import ViewerWidget
        except ImportError:
            return
        self.window.add_viewer(ViewerWidget(self.database_url, parent=self.window))

    def _plug_in_archive(self) -> None:
        try:
            from .ui import archive_dialog  # noqa: F401
        except ImportError:
            return
        self.window.enable_archive()

    def database_url(self) -> str:
        """For the viewer, which calls it in its own worker (it may start the embedded server)."""
        return self.service.database_url()

    # Lifetime -----------------------------------------------------------------------------------
    def start(self, *, hidden: bool | None = None, startup_job: str | None = "auto") -> None:
        """Show the window (or stay in the tray), start polling and the first job."""
        hidden = self.settings.start_hidden if hidden is None else hidden
        if self.tray is not None:
            self.tray.show()
        if not (hidden and self.tray is not None):
            self.show_window()
        self.scheduler.start()
        self._log(f"{APP_NAME} {__version__} started; database: {self._database_words()}.")
        if startup_job == "auto":
            startup_job = "poll" if self.settings.poll_enabled else "check"
        if startup_job:
            self._start(startup_job)

    @Slot()
    def check_tray_host(self) -> None:
        """Without a tray host, closing must quit and a hidden window must come back."""
        if self.tray is None or self._shut_down:
            return
        available = QSystemTrayIcon.isSystemTrayAvailable()
        if not available and self.window.hide_on_close:
            self.window.hide_on_close = False
            if not self.window.isVisible():
                self.show_window()
            self._log("The system tray went away: the window stays open, and closing it quits.")
        elif available and not self.window.hide_on_close and not self._quitting:
            self.window.hide_on_close = True

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        self._unseen_load = None
        if self.tray is not None and self.tray.state == "loaded":
            self.tray.set_state("idle")  # the user has seen the news

    def shutdown(self) -> None:
        """Stop timers, join the worker, save geometry, stop the embedded server. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self.scheduler.stop()
        if self.tray is not None:
            self._tray_watch.stop()
        if self.runner.busy:
            log.info("Quitting: cancelling the %s job", self.runner.kind)
        joined = self.runner.shutdown()
        wait_for_detached()  # jobs of dialogs closed while they ran (listing, connection test)
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        viewer = self.window.viewer
        stop_viewer = getattr(viewer, "shutdown", None)
        if callable(stop_viewer):
            stop_viewer()
        self.save_geometry()
        if self.tray is not None:
            self.tray.dispose()
        for dialog in self.error_dialogs:
            dialog.close()
        # e.g. a settings dialog's clear-cache job; a job already known to be stuck (blocked in
        # a keyring prompt or a call with no timeout) is not waited for twice.
        if not join_running_threads(10_000 if joined else 1_000):
            joined = False
            log.warning("A worker thread did not stop in time")
        self.threads_left_running = not joined
        self.service.close()
        log.info("%s stopped", APP_NAME)

    @Slot()
    def quit(self) -> None:
        self._quitting = True
        self.window.hide_on_close = False
        self.save_geometry()
        self.window.hide()
        self.shutdown()
        self.quitRequested.emit()

    def save_geometry(self) -> None:
        if self.window.isVisible():
            self.state.setValue("geometry", self.window.saveGeometry())
            self.state.sync()

    @Slot()
    def _on_hidden_to_tray(self) -> None:
        self.state.setValue("geometry", self.window.saveGeometry())
        if self.tray is not None and not self.state.value("tray_notice_shown", False, bool):
            self.tray.notify(
                f"{APP_NAME} is still running",
                "It keeps checking for new manifests from the system tray. "
                "Choose Quit in the tray menu to stop it.",
            )
            self.state.setValue("tray_notice_shown", True)
            self._log("The window was closed; the app keeps running in the system tray.")
        self.state.sync()

    @Slot()
    def _on_window_closed(self) -> None:
        if not self._quitting:  # no tray: closing the window quits
            self.quit()

    # Actions ------------------------------------------------------------------------------------
    @Slot()
    def check_and_load(self) -> bool:
        return self._start("update")

    @Slot()
    def check(self) -> bool:
        return self._start("check")

    @Slot()
    def force_reload(self) -> bool:
        return self._start("force")

    @Slot(Path)
    def load_file(self, path: Path) -> bool:
        return self._start("file", path)

    @Slot()
    def refresh_status(self) -> bool:
        return self._start("status")

    @Slot()
    def cancel(self) -> None:
        if self.runner.busy and not self.runner.cancelling:
            self._log("Cancelling…")
            self.window.version_panel.set_status("Cancelling…", "busy")
            self.window.cancel_button.setEnabled(False)
            self.runner.cancel()

    @Slot(str)
    def load_from_archive(self, key: str) -> bool:
        self._log(f"Loading {key} from the archive.")
        return self._start("archive", key=key)

    def _start(self, kind: str, path: Path | None = None, *, key: str | None = None) -> bool:
        if self._shut_down:
            return False
        if self.runner.busy:
            self._log(f"A job is running; {kind} was not started.")
            return False
        service = self.service  # the job keeps the service it started with
        # Until the database side was shown once, read it first: a check that then fails (no
        # key yet, Bungie.net down) still leaves the database's version on screen.
        read_first = not self._database_shown
        function: Callable[[Progress], Any]
        if kind == "check":

            def function(progress: Progress) -> Any:
                if read_first:
                    _report_status(service, progress)
                return service.check(progress), service.status()

        elif kind in ("update", "poll", "force"):
            force = kind == "force"

            def function(progress: Progress) -> Any:
                if read_first:
                    _report_status(service, progress)
                loaded = service.update(force=force, progress=progress)
                return loaded, service.status(), list(service.warnings)

        elif kind == "file":
            assert path is not None
            file_path = path

            def function(progress: Progress) -> Any:
                return service.load_file(file_path, progress), service.status(), []

        elif kind == "archive":
            assert key is not None
            archive_key = key

            def function(progress: Progress) -> Any:
                loaded = service.load_from_archive(archive_key, progress)
                return loaded, service.status(), list(service.warnings)

        elif kind == "status":

            def function(progress: Progress) -> Any:
                return service.status()

        else:
            raise ValueError(f"unknown job {kind!r}")
        if kind == "file":
            self._log(f"Loading {path}.")
        self._job_service = service
        self._job_version = None
        self._warnings_shown = 0
        return self.runner.start(kind, function)

    # The runner's signals, in the GUI thread ----------------------------------------------------
    @Slot(str)
    def _on_job_started(self, kind: str) -> None:
        self._job_started = now_local()
        self.window.set_busy(True, cancellable=kind != "status")
        if kind in LOADING_KINDS:
            self.window.progress_panel.reset()
        self.window.version_panel.set_status(JOB_WORDS.get(kind, "Working…"), "busy")
        if kind != "status":
            self._log(JOB_WORDS.get(kind, kind))
        if self.tray is not None and kind != "status":
            # Reading the database cannot be cancelled: the tray menu offers no Cancel for it.
            self.tray.set_busy(True)
            self.tray.set_state("working", JOB_WORDS.get(kind, kind))

    @Slot(object)
    def _on_progress(self, event: ProgressEvent) -> None:
        if event.message:
            self._on_message(event)
            return
        if event.stage == "status" and isinstance(event.result, Status):
            self._show_status(event.result)
            return
        if event.stage == "check" and event.finished and isinstance(event.result, CheckResult):
            self._on_checked(event.result)
        self.window.progress_panel.on_event(event)
        if event.done == 0 and not event.finished and event.stage in STAGE_WORDS:
            if not self.runner.cancelling:
                self.window.version_panel.set_status(self._stage_words(event.stage), "busy")
            if event.stage in ("download", "extract", "upload", "load") and event.total:
                what = f" {event.detail}" if event.detail and event.stage != "load" else ""
                self._log(f"{event.stage.capitalize()}{what}: {amount(event.total, event.unit)}.")

    def _on_message(self, event: ProgressEvent) -> None:
        if event.level == "warning":  # a best-effort step (archiving) failed; the job goes on
            if self.runner.kind in WARNING_KINDS:
                self._warnings_shown += 1
            self._log(event.message or "", "warning")
            return
        self._log(event.message or "")

    def _on_checked(self, check: CheckResult) -> None:
        """The check stage of an update has answered: show Bungie.net's version, and that it is
        being loaded now, not only when the whole job ends."""
        kind = self.runner.kind
        if kind not in UPDATE_KINDS or not (check.update_available or kind == "force"):
            return
        version = check.remote.version
        self._job_version = version
        self._show_check(check)
        if self.runner.cancelling:
            return
        head = f"Reloading {version}." if kind == "force" else f"Update available: {version}."
        self.window.version_panel.set_status(f"{head} Loading it…", "update")
        if self.tray is not None:
            self.tray.set_state("working", f"Loading {version}…")

    def _stage_words(self, stage: str) -> str:
        version = self._job_version
        if version is None or stage not in VERSION_STAGE_WORDS:
            return STAGE_WORDS[stage]
        head = (
            f"Reloading {version}:"
            if self.runner.kind == "force"
            else f"Update available: {version};"
        )
        return f"{head} {VERSION_STAGE_WORDS[stage]}"

    def _show_warnings(self, warnings: list[str]) -> list[str]:
        """Log the job's warnings not shown yet, in the warning colour; return all of them."""
        for warning in warnings[self._warnings_shown :]:
            self._log(f"Archiving failed: {warning}", "warning")
        self._warnings_shown = len(warnings)
        if warnings:
            self.window.progress_panel.set_note("upload", "failed: not archived (see the log)")
        return warnings

    @Slot(str, object)
    def _on_job_succeeded(self, kind: str, result: Any) -> None:
        panel = self.window.version_panel
        if kind == "check":
            check, status = result
            self._show_check(check)
            self._show_status(status)
            if check.update_available:
                text = f"Update available: {check.remote.version}."
                panel.set_status(text, "update")
            else:
                text = "Up to date."
                panel.set_status(text, "ok")
            self._log(f"Bungie.net has {check.remote.version}. {text}")
            self._set_tray("idle", text)
        elif kind in LOADING_KINDS:
            loaded, status, warnings = result
            if self.runner.cancelling:  # Cancel came after the commit: say why it did not apply
                self._log("Too late to cancel: the load had already been saved.")
            self._show_loaded(kind, loaded, status, warnings)
            if kind in ("update", "poll", "force"):
                self.scheduler.reschedule()
        elif kind == "status":
            self._show_status(result)
            panel.set_status("Idle.")
        self._outcome = "ok"

    def _show_loaded(
        self, kind: str, loaded: LoadResult, status: Status, warnings: list[str]
    ) -> None:
        panel = self.window.version_panel
        if kind not in ("file", "archive"):
            panel.show_remote(loaded.version, loaded.path, self._job_started or now_local())
        self._show_status(status)
        self._show_warnings(warnings)
        # The load went ahead; a best-effort failure (archiving) is a warning beside it.
        note = "\n".join(f"Not archived: {warning}" for warning in warnings)
        panel.status_label.setToolTip(note)
        hidden = self.tray is not None and not self.window.isVisible()
        if not loaded.loaded:
            text = f"Up to date: {loaded.version}."
            panel.set_status(text, "ok")
            self._log(text)
            self._set_tray("idle", f"{text}\n{note}" if note else text)
            if hidden and self.tray is not None and note:
                self.tray.notify("Manifest not archived", note, error=True)
            return
        text = (
            f"Loaded {loaded.version} as #{loaded.manifest_id}: {loaded.rows:,} rows "
            f"({loaded.inserts:,} new, {loaded.updates:,} changed, {loaded.deletes:,} removed) "
            f"in {duration(loaded.seconds)}."
        )
        panel.set_status(text, "ok")
        self._log(text)
        self._set_tray("loaded", f"{text}\n{note}" if note else text)
        if hidden and self.tray is not None:
            if note:
                self.tray.notify("New manifest loaded, not archived", f"{text}\n{note}", error=True)
            else:
                self.tray.notify("New manifest loaded", text)
        viewer = self.window.viewer
        refresh = getattr(viewer, "refresh", None)
        if callable(refresh):
            refresh()

    @Slot(str, object, str)
    def _on_job_failed(self, kind: str, error: object, details: str) -> None:
        panel = self.window.version_panel
        self.window.progress_panel.stop()
        service = self._job_service
        if service is not None and kind in WARNING_KINDS:
            self._show_warnings(list(service.warnings))
        if isinstance(error, CancelledError):
            elapsed = self.runner.cancel_requested_at
            panel.set_status(str(error), "neutral")
            self._log(str(error), "warning")
            if elapsed is not None:
                log.info("Cancelled in %.2f s", time.monotonic() - elapsed)
            self._set_tray("idle", str(error))
            self._outcome = "cancelled"
            return
        if isinstance(error, ManifestGuiError) and not details:
            sentence = str(error)
            panel.set_status(f"Failed: {sentence}", "error")
            self._log(sentence, "error")
            self._set_tray("failed", sentence)
            if self.tray is not None and not self.window.isVisible():
                # Once Bungie.net has answered (a version to load), what failed is the load.
                checking = kind in ("check", "update", "poll") and self._job_version is None
                title = "Check failed" if checking else "Load failed"
                self.tray.notify(title, sentence, error=True)
            self._outcome = "failed"
            return
        name = type(error).__name__
        self._show_bug(f"The {kind} job failed: {name}: {error}", details, name)
        self._outcome = "error"

    @Slot(str)
    def _on_job_finished(self, kind: str) -> None:
        self._job_service = None
        self._job_version = None
        self.window.set_busy(False)
        if self.tray is not None:
            self.tray.set_busy(False)
        outcome, self._outcome = self._outcome, "error"
        if self._shut_down and self.runner.shutdown_outcome is not None:
            outcome = self.runner.shutdown_outcome  # its own report came too late to be seen
        self.jobFinished.emit(kind, outcome)  # the runner is free again when this arrives
        if self._pending_settings is not None and not self._shut_down:
            pending, self._pending_settings = self._pending_settings, None
            self._update_service(pending)

    # Bugs ---------------------------------------------------------------------------------------
    def _show_bug(self, summary: str, details: str, error_name: str) -> ErrorDialog:
        log.error("%s\n%s", summary, details.rstrip())
        self.window.version_panel.set_status(
            f"Failed: an unexpected error ({error_name}); details are in the log.", "error"
        )
        self._log(f"Unexpected error: {summary}", "error")
        self._set_tray("failed", "An unexpected error happened; see the log.")
        if self.tray is not None and not self.window.isVisible():
            self.tray.notify(
                "Unexpected error", f"{error_name}; details are in the log.", error=True
            )
        dialog = ErrorDialog(summary, details, self.log_file, self.window)
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.error_dialogs.append(dialog)
        dialog.show()
        return dialog

    def _forget_dialog(self, dialog: ErrorDialog) -> None:
        if dialog in self.error_dialogs:
            self.error_dialogs.remove(dialog)
        dialog.deleteLater()

    def excepthook(
        self,
        kind: type[BaseException],
        value: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """For exceptions escaping Qt slots: log, show details, keep running."""
        details = "".join(traceback.format_exception(kind, value, tb))
        self._show_bug(f"{kind.__name__}: {value}", details, kind.__name__)

    # Polling ------------------------------------------------------------------------------------
    def _scheduler_busy(self) -> bool:
        # Only a running job defers a check; an open dialog (Archive, Settings) does not.
        return self.runner.busy

    @Slot()
    def _on_poll_due(self) -> None:
        self._start("poll")

    @Slot(bool)
    def set_polling(self, enabled: bool) -> None:
        if self.settings_dialog is not None:
            # An open Settings dialog follows, or its OK would undo this (tray or checkbox).
            self.settings_dialog.poll_enabled_box.setChecked(enabled)
        if enabled == self.settings.poll_enabled:
            return
        self._apply_settings(dataclasses.replace(self.settings, poll_enabled=enabled))

    @Slot(object)
    def _show_next_check(self, moment: datetime | None) -> None:
        self.window.version_panel.show_next_check(moment, now_local())

    # Settings -----------------------------------------------------------------------------------
    @Slot()
    def open_settings(self) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return self.settings_dialog
        dialog = SettingsDialog(
            self.settings, self.secrets, tray_available=self.tray is not None, parent=self.window
        )
        self.settings_dialog = dialog
        dialog.finished.connect(self._on_settings_finished)
        dialog.open()
        return dialog

    @Slot(int)
    def _on_settings_finished(self, _result: int) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is None:
            return
        if dialog.result_settings is not None:
            self._apply_settings(dialog.result_settings)
            self._log("Settings saved.")
        dialog.deleteLater()

    def _apply_settings(self, new: Settings) -> None:
        self.settings = new
        try:
            save_settings(new, self._settings_path)
        except OSError as exc:
            self._log(f"The settings could not be saved: {exc.strerror or exc}.", "error")
        self.scheduler.set_minutes(new.poll_minutes)
        self.scheduler.set_enabled(new.poll_enabled)
        panel = self.window.version_panel
        panel.set_poll_minutes(new.poll_minutes)
        panel.set_polling(new.poll_enabled)
        if self.tray is not None:
            self.tray.set_polling(new.poll_enabled)
        if self.runner.busy:
            # The running job keeps the settings it started with (a language changed halfway
            # would name the download in one language and the load in another).
            self._pending_settings = new
        else:
            self._update_service(new)
        self._show_upload_row()
        self._show_database_description()

    def _update_service(self, new: Settings) -> None:
        current = self.service.settings
        if any(getattr(current, name) != getattr(new, name) for name in DATABASE_FIELDS):
            self._switch_service(new)
        else:
            # Same database: the service only needs the new settings (language, root...).
            self.service.settings = new.validated()

    def _switch_service(self, settings: Settings) -> None:
        old = self.service
        self.service = self._factory(settings, self.secrets)
        new = self.service
        self._log(f"Database: {self._database_words()}.")
        # The viewer asks database_url() (now the new service's) when it connects again.
        viewer = self.window.viewer
        switch = getattr(viewer, "switch_database", None)
        if callable(switch):
            switch()

        def function(progress: Progress) -> Any:
            old.close()  # stops the old embedded server, in the worker
            return new.status()

        self.runner.start("status", function)

    def _show_upload_row(self) -> None:
        """The Upload bar exists for the S3 archive: shown only while a bucket is set (and
        Load from archive is enabled only then)."""
        self.window.progress_panel.set_stage_visible("upload", bool(self.settings.s3_bucket))
        self.window.set_archive_configured(bool(self.settings.s3_bucket))

    def _show_database_description(self) -> None:
        self.window.database_label.setText(f"Database: {self._database_words()}")

    def _database_words(self) -> str:
        url = self.settings.database_url
        if not url:
            return f"embedded PostgreSQL in {self.settings.embedded_database_path}"
        return f"PostgreSQL at {describe_url(url)}"

    # Archive (another feature; present when its module is) --------------------------------------
    @Slot()
    def open_archive(self) -> None:
        if self.runner.busy or self._archive_dialog is not None:
            return
        try:
            from .ui.archive_dialog import ArchiveDialog
        except ImportError:
            return
        dialog = ArchiveDialog(self.service, self.window)
        self._archive_dialog = dialog
        # The dialog only chooses; the load runs here, with progress and cancel like any other.
        dialog.loadRequested.connect(self.load_from_archive)
        dialog.finished.connect(self._on_archive_finished)
        dialog.open()

    @Slot(int)
    def _on_archive_finished(self, _result: int) -> None:
        dialog, self._archive_dialog = self._archive_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    # Small helpers ------------------------------------------------------------------------------
    @Slot()
    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file)))

    def _show_check(self, check: CheckResult) -> None:
        self.window.version_panel.show_remote(
            check.remote.version, check.remote.path, check.checked_at
        )

    def _show_status(self, status: Status) -> None:
        self._database_shown = True
        self.window.version_panel.show_database(
            status.current, status.live_rows if status.current else None
        )

    def _set_tray(self, state: str, summary: str) -> None:
        if self.tray is None:
            return
        if state == "loaded" and not self.window.isVisible():
            self._unseen_load = summary  # until the window is opened (show_window)
        elif state == "idle" and self._unseen_load is not None:
            # A later poll found nothing new: the load the user has not seen stays the news.
            state, summary = "loaded", self._unseen_load
        self.tray.set_state(state, summary)

    def _log(self, text: str, level: str = "info") -> None:
        self.window.log_view.add(text, level)
        getattr(log, level if level in ("warning", "error") else "info")("%s", text)


# Entry point ------------------------------------------------------------------------------------
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
    previous_handler = qInstallMessageHandler(_qt_message_handler)
    previous_hook = sys.excepthook
    try:
        # A child of the QApplication: automation finds the window's and tray's objects (e.g.
        # qApp.findChild(QSystemTrayIcon, "trayIcon")) from the application it already has.
        application = Application(settings, log_file=log_file, parent=qt_app)
        application.setObjectName("application")
    except ManifestGuiError as exc:  # e.g. an invalid setting from the environment
        qInstallMessageHandler(previous_handler)
        QMessageBox.critical(None, APP_NAME, str(exc))
        return 1
    sys.excepthook = application.excepthook
    application.quitRequested.connect(qt_app.quit)
    try:
        # --no-check still reads the database side, so the panel is never blank.
        application.start(
            hidden=True if args.hidden else None, startup_job="status" if args.no_check else "auto"
        )
        code = qt_app.exec()
    finally:
        application.shutdown()
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

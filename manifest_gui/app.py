"""The desktop app's wiring: the Application owns the engine's service, the window, the tray, the
poll scheduler and the job runner, and connects them. ui/launch.py's main() runs it.

The path of a click: the window asks (a signal) → the Application builds the JobSpec and starts
it on the JobRunner (a worker thread, one job at a time) → the service reports typed progress
and partial results, and the job ends with a typed JobResult → the FeedbackPresenter words
them and tells the window and the tray. The Application itself only wires, keeps the app's
lifetime, applies settings and switches services when the database changes.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from PySide6.QtCore import QObject, QSettings, QUrl, Signal, SignalInstance, Slot
from PySide6.QtGui import QDesktopServices

from . import APP_NAME, __version__
from .engine.bungie import ThrottledUntilError
from .engine.datadir import data_dir_problem
from .engine.jobs import (
    ArchiveJob,
    CheckJob,
    FileJob,
    ForceJob,
    JobSpec,
    Outcome,
    PollJob,
    StatusJob,
    UpdateJob,
)
from .engine.progress import Progress
from .engine.secrets import SecretStore
from .engine.service import ManifestService
from .engine.settings import Settings, load_settings, save_settings
from .engine.wording import database_words
from .logs import LOG_FILE
from .ui.archive_dialog import ArchiveDialog
from .ui.desktop_settings import add_desktop_page
from .ui.dialogs import Dialogs
from .ui.error_dialog import ErrorDialog
from .ui.main_window import MainWindow
from .ui.news_plugin import plug_in as plug_in_news
from .ui.presenter import FeedbackPresenter
from .ui.scheduler import PollScheduler, now_local
from .ui.settings_dialog import SettingsDialog
from .ui.tray import TrayIcon
from .ui.tray_host import TrayHost
from .ui.viewer import ViewerWidget
from .ui.workers import JobEnd, JobRunner, join_running_threads, wait_for_detached

log = logging.getLogger(__name__)

ServiceFactory = Callable[[Settings, SecretStore], ManifestService]
# Settings that need a new service (another database or data folder) rather than an update.
DATABASE_FIELDS = ("database_url", "data_dir")


AUTO: Final = "auto"  # start()'s default first job: poll when polling is on, else check


def default_service_factory(settings: Settings, secrets: SecretStore) -> ManifestService:
    return ManifestService(settings, secrets)


def window_state() -> QSettings:
    """Window geometry and one-time notices (never secrets): an INI file in the config dir."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, "window")


class Application(QObject):
    """Wires the service, window, tray, scheduler, runner and presenter; keeps their lifetime."""

    jobFinished = Signal(str, str)  # JobKind, Outcome; the runner is free again
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
        self.threads_left_running = False  # set by shutdown(): a job that would not stop
        self._quitting = False
        self._shut_down = False

        self.runner = JobRunner(self)
        self.window = MainWindow()
        self.tray_host: TrayHost | None = None
        if TrayHost.available(tray):
            self.tray_host = TrayHost(self.window, self.state, self._log, self.show_window, self)
        self.tray: TrayIcon | None = self.tray_host.tray if self.tray_host else None
        self.presenter = FeedbackPresenter(self.window, self.runner, self.tray, self.log_file, self)
        self.presenter.jobFinished.connect(self._on_job_finished)
        self.runner.ended.connect(self._on_job_ended)
        self.dialogs = Dialogs(self.window, self)
        self.dialogs.settingsChosen.connect(self._on_settings_chosen)
        self.dialogs.archiveChosen.connect(self.load_from_archive)
        _connect_requests(self)

        self.scheduler = _make_scheduler(self)

        # The viewer connects again (to database_url(), the new service's) after a switch.
        self.viewer = ViewerWidget(self.database_url, parent=self.window)
        self.window.add_viewer(self.viewer)
        self.presenter.loadFinished.connect(lambda _loaded: self.viewer.refresh())
        self.viewer.bugFound.connect(self.show_bug)
        self.presenter.dataDirUnusable.connect(self.dialogs.show_data_dir_problem)
        self.dialogs.dataDirSettingsRequested.connect(lambda: self.open_settings().show_data_dir())
        self.news = plug_in_news(self)  # What's new, icons, watches, Discord, tray news
        # Start at login and the menu entry: applied on OK at once, even while a job runs.
        self.settingsDialogOpened.connect(lambda d: add_desktop_page(d, self._log))
        self._show_settings()
        self.window.show_status("Idle.")
        self.window.restore_geometry(self.state.value("geometry"))

    def database_url(self) -> str:
        """For the viewer, which calls it in its own worker (it may start the embedded server)."""
        return self.service.database_url()

    @property
    def error_dialogs(self) -> list[ErrorDialog]:
        return self.presenter.error_dialogs

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    # Lifetime -----------------------------------------------------------------------------------
    def start(
        self, *, hidden: bool | None = None, startup_job: JobSpec | Literal["auto"] | None = AUTO
    ) -> None:
        """Show the window (or stay in the tray), start polling and the first job."""
        hidden = self.settings.start_hidden if hidden is None else hidden
        if self.tray is not None:
            self.tray.show()
        if not (hidden and self.tray is not None):
            self.show_window()
        self.scheduler.start()
        self._log(f"{APP_NAME} {__version__} started; database: {database_words(self.settings)}.")
        problem = data_dir_problem(self.settings.data_path)
        if problem is not None:
            self._log(str(problem), "error")
            self.dialogs.show_data_dir_problem(problem)
        if startup_job == AUTO:
            startup_job = PollJob() if self.settings.poll_enabled else CheckJob()
        if isinstance(startup_job, JobSpec):
            self.run(startup_job)

    @Slot()
    def check_tray_host(self) -> None:
        if self.tray_host is not None and not self._shut_down:
            self.tray_host.check_host()

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        self.presenter.window_shown()

    def shutdown(self) -> None:
        """Stop timers, join the worker, save geometry, stop the embedded server. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self.presenter.shutting_down = True
        self.scheduler.stop()
        if self.runner.busy:
            log.info("Quitting: cancelling the %s job", self.runner.kind)
        joined = self.runner.shutdown()
        wait_for_detached()  # jobs of dialogs closed while they ran (listing, connection test)
        self.dialogs.close_all()
        self.viewer.shutdown()
        self.news.shutdown()
        self.save_geometry()
        if self.tray_host is not None:
            self.tray_host.stop()
        self.presenter.close_dialogs()
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
        if self.tray_host is not None:
            self.tray_host.quitting = True
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
    def _on_window_closed(self) -> None:
        if not self._quitting:  # no tray: closing the window quits
            self.quit()

    # Jobs ---------------------------------------------------------------------------------------
    @Slot()
    def check_and_load(self) -> bool:
        return self.run(UpdateJob(read_first=not self.presenter.database_shown))

    @Slot()
    def check(self) -> bool:
        return self.run(CheckJob(read_first=not self.presenter.database_shown))

    @Slot()
    def force_reload(self) -> bool:
        return self.run(ForceJob(read_first=not self.presenter.database_shown))

    @Slot(Path)
    def load_file(self, path: Path) -> bool:
        if self.can_run():
            self._log(f"Loading {path}.")
        return self.run(FileJob(path=path))

    @Slot(str)
    def load_from_archive(self, key: str) -> bool:
        self._log(f"Loading {key} from the archive.")
        return self.run(ArchiveJob(key=key))

    def can_run(self) -> bool:
        return not self._shut_down and not self.runner.busy

    def run(self, spec: JobSpec) -> bool:
        """Start a job on the runner with the current service; False when one is running."""
        if self._shut_down:
            return False
        if self.runner.busy:
            self._log(f"A job is running; {spec.kind} was not started.")
            return False
        service = self.service  # the job keeps the service it started with

        def function(progress: Progress) -> object:
            return spec.run(service, progress)

        self.presenter.begin(spec)
        return self.runner.start(spec.kind, function)

    @Slot()
    def cancel(self) -> None:
        if self.runner.busy and not self.runner.cancelling:
            self.presenter.cancelling()
            self.runner.cancel()

    @Slot(object)
    def _on_job_ended(self, end: JobEnd) -> None:
        spec = self.presenter.spec
        if end.outcome is Outcome.OK and spec is not None and spec.checks_bungie and spec.loads:
            self.scheduler.reschedule()
        elif isinstance(end.error, ThrottledUntilError):
            self.scheduler.not_before(end.error.retry_at)  # Bungie.net asked for that long

    @Slot(str, str)
    def _on_job_finished(self, kind: str, outcome: str) -> None:
        self.jobFinished.emit(kind, outcome)
        if self._pending_settings is not None and not self._shut_down:
            pending, self._pending_settings = self._pending_settings, None
            self._update_service(pending)

    # Bugs ---------------------------------------------------------------------------------------
    def show_bug(self, summary: str, details: str, error_name: str) -> ErrorDialog:
        return self.presenter.show_bug(summary, details, error_name)

    def excepthook(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        """For exceptions escaping Qt slots: log, show details, keep running."""
        details = "".join(traceback.format_exception(kind, value, tb))
        self.show_bug(f"{kind.__name__}: {value}", details, kind.__name__)

    # Polling ------------------------------------------------------------------------------------
    @Slot()
    def _on_poll_due(self) -> None:
        self.run(PollJob(read_first=not self.presenter.database_shown))

    @Slot(bool)
    def set_polling(self, enabled: bool) -> None:
        self.dialogs.follow_polling(enabled)  # from the tray or the window's checkbox
        if enabled == self.settings.poll_enabled:
            return
        self.apply_settings(dataclasses.replace(self.settings, poll_enabled=enabled))

    @Slot(object)
    def _show_next_check(self, moment: datetime | None) -> None:
        self.window.show_next_check(moment, now_local())

    # Settings -----------------------------------------------------------------------------------
    @property
    def settings_dialog(self) -> SettingsDialog | None:
        return self.dialogs.settings_dialog

    @property
    def settingsDialogOpened(self) -> SignalInstance:
        """Emitted with each new SettingsDialog: other parts may add_tab() to it."""
        return self.dialogs.settingsDialogOpened

    @Slot()
    def open_settings(self) -> SettingsDialog:
        return self.dialogs.open_settings(
            self.settings, self.secrets, tray_available=self.tray is not None
        )

    @Slot(object)
    def _on_settings_chosen(self, settings: Settings) -> None:
        self.apply_settings(settings)
        self._log("Settings saved.")

    def apply_settings(self, new: Settings) -> None:
        """Save and apply new settings; a running job keeps the ones it started with."""
        self.settings = new
        try:
            save_settings(new, self._settings_path)
        except OSError as exc:
            self._log(f"The settings could not be saved: {exc.strerror or exc}.", "error")
        self.scheduler.set_minutes(new.poll_minutes)
        self.scheduler.set_enabled(new.poll_enabled)
        if self.tray is not None:
            self.tray.set_polling(new.poll_enabled)
        if self.runner.busy:
            # A language changed halfway would name the download in one language and the load
            # in another.
            self._pending_settings = new
        else:
            self._update_service(new)
        self._show_settings()

    @property
    def settings_pending(self) -> bool:
        """New settings wait for the running job to end."""
        return self._pending_settings is not None

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
        self._log(f"Database: {database_words(settings)}.")
        self.viewer.switch_database()
        self.run(StatusJob(close_first=old))

    def _show_settings(self) -> None:
        """What the window shows of the settings: polling, the Upload bar and Load from
        archive (both only with an S3 bucket), and which database is used."""
        settings = self.settings
        self.window.show_polling(settings.poll_enabled, settings.poll_minutes)
        self.window.show_upload_stage(bool(settings.s3_bucket))
        self.window.set_archive_configured(bool(settings.s3_bucket))
        self.window.show_database(f"Database: {database_words(settings)}")

    # Archive ------------------------------------------------------------------------------------
    @Slot()
    def open_archive(self) -> None:
        if not self.runner.busy:
            self.dialogs.open_archive(self.service)

    @property
    def archive_dialog(self) -> ArchiveDialog | None:
        return self.dialogs.archive_dialog

    # Small helpers ------------------------------------------------------------------------------
    def _log(self, text: str, level: str = "info") -> None:
        self.presenter.log(text, level)

    @Slot()
    def open_log(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file)))


def _connect_requests(app: Application) -> None:
    """Connect what the user asks for, in the window or the tray menu, to the app."""
    w = app.window
    for asker in (w, app.tray) if app.tray is not None else (w,):
        asker.checkLoadRequested.connect(app.check_and_load)
        asker.cancelRequested.connect(app.cancel)
        asker.quitRequested.connect(app.quit)
    w.checkRequested.connect(app.check)
    w.loadFileRequested.connect(app.load_file)
    w.forceReloadRequested.connect(app.force_reload)
    w.settingsRequested.connect(app.open_settings)
    w.archiveRequested.connect(app.open_archive)
    w.openLogRequested.connect(app.open_log)
    w.closed.connect(app._on_window_closed)
    w.version_panel.pollToggled.connect(app.set_polling)
    if app.tray is not None:
        app.tray.openRequested.connect(app.show_window)
        app.tray.pauseToggled.connect(lambda pause: app.set_polling(not pause))
        app.tray.set_polling(app.settings.poll_enabled)


def _make_scheduler(app: Application) -> PollScheduler:
    """The poll timer; only a running job defers a check (an open dialog does not)."""
    scheduler = PollScheduler(
        app.settings.poll_minutes,
        lambda: app.runner.busy,
        enabled=app.settings.poll_enabled,
        parent=app,
    )
    scheduler.due.connect(app._on_poll_due)
    scheduler.skipped.connect(lambda: app._log("Skipped an automatic check: a job is running."))
    scheduler.nextCheckChanged.connect(app._show_next_check)
    return scheduler

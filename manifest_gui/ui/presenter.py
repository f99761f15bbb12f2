"""The feedback presenter: turns a job's typed progress, partial results and end into words, the
tray's state and notifications, and tells the window through its intent-level methods.

It owns the per-job state (the spec, when it started, the version an update is loading, the
outcome) and the tray policy (a load made while hidden stays the tray's news until the window
is opened). It never builds or starts a job, and never touches a widget of the window.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from ..engine.datadir import DataDirError, DiskFullError
from ..engine.jobs import JobResult, JobSpec, Outcome
from ..engine.loader import LoadResult
from ..engine.progress import Level, ProgressEvent, Stage
from ..engine.service import CheckResult, Status
from ..engine.wording import Tone, amount, check_sentence, loaded_sentence
from .error_dialog import ErrorDialog
from .main_window import MainWindow
from .scheduler import now_local
from .tray import TrayIcon, TrayState
from .workers import JobEnd, JobRunner

log = logging.getLogger(__name__)

STAGE_WORDS = {
    Stage.CHECK: "Checking Bungie.net…",
    Stage.DOWNLOAD: "Downloading the manifest…",
    Stage.EXTRACT: "Extracting the manifest…",
    Stage.LOAD: "Loading the manifest into PostgreSQL…",
    Stage.UPLOAD: "Archiving the manifest in S3…",
}
# Once the check has answered, the stages name the version being loaded.
VERSION_STAGE_WORDS = {
    Stage.DOWNLOAD: "downloading…",
    Stage.EXTRACT: "extracting…",
    Stage.UPLOAD: "archiving in S3…",
    Stage.LOAD: "loading into PostgreSQL…",
}
SIZED_STAGES = (Stage.DOWNLOAD, Stage.EXTRACT, Stage.UPLOAD, Stage.LOAD)


class FeedbackPresenter(QObject):
    """Follows the window's job runner; one job at a time."""

    jobFinished = Signal(str, str)  # JobKind, Outcome; the runner is free again
    loadFinished = Signal(object)  # LoadResult of a load that changed the database
    dataDirUnusable = Signal(object)  # DataDirError or DiskFullError: a job met the data dir

    def __init__(
        self,
        window: MainWindow,
        runner: JobRunner,
        tray: TrayIcon | None,
        log_file: Path,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.tray = tray
        self.log_file = log_file
        self._runner = runner
        self.spec: JobSpec | None = None  # of the running job
        self._started: datetime | None = None
        self._version: str | None = None  # the version an update job is loading
        self._outcome = Outcome.ERROR
        self._unseen_load: str | None = None  # the tray's summary of a load made while hidden
        self.database_shown = False  # the window shows the database side
        self.shutting_down = False
        # False once release news tells of loads in the tray (with what they changed).
        self.announce_loads = True
        self.error_dialogs: list[ErrorDialog] = []
        runner.progressed.connect(self._on_progress)
        runner.partial.connect(self._on_partial)
        runner.ended.connect(self._on_ended)
        runner.finished.connect(self._on_finished)

    # Starting and cancelling --------------------------------------------------------------------
    def begin(self, spec: JobSpec) -> None:
        """A job is about to start."""
        self.spec, self._started, self._version = spec, now_local(), None
        self._outcome = Outcome.ERROR
        self.window.set_busy(True, cancellable=spec.cancellable)
        if spec.loads:
            self.window.reset_progress()
        self.window.show_status(spec.words, Tone.BUSY)
        if spec.cancellable:
            self.log(spec.words)
        if self.tray is not None and spec.cancellable:
            # Reading the database cannot be cancelled: the tray menu offers no Cancel for it.
            self.tray.set_busy(True)
            self.tray.set_state(TrayState.WORKING, spec.words)

    def cancelling(self) -> None:
        self.log("Cancelling…")
        self.window.set_cancelling()

    def window_shown(self) -> None:
        """The user has seen the news."""
        self._unseen_load = None
        if self.tray is not None and self.tray.state == TrayState.LOADED:
            self.tray.set_state(TrayState.IDLE)

    # Progress and partial results ---------------------------------------------------------------
    @Slot(object)
    def _on_progress(self, event: ProgressEvent) -> None:
        if event.message:
            self.log(event.message, "warning" if event.level is Level.WARNING else "info")
            return
        self.window.show_progress(event)
        if event.done != 0 or event.finished or event.stage not in STAGE_WORDS:
            return
        if not self._runner.cancelling:
            self.window.show_status(self._stage_words(Stage(event.stage)), Tone.BUSY)
        if event.stage in SIZED_STAGES and event.total:
            what = f" {event.detail}" if event.detail and event.stage != Stage.LOAD else ""
            self.log(f"{event.stage.capitalize()}{what}: {amount(event.total, event.unit)}.")

    @Slot(object)
    def _on_partial(self, result: CheckResult | Status) -> None:
        if isinstance(result, Status):
            self._show_status(result)
        else:
            self._on_checked(result)

    def _on_checked(self, check: CheckResult) -> None:
        """The check stage of an update has answered: show Bungie.net's version, and that it is
        being loaded now, not only when the whole job ends."""
        spec = self.spec
        if spec is None or not (spec.checks_bungie and spec.loads):
            return
        if not (check.update_available or spec.force_load):
            return
        version = check.remote.version
        self._version = version
        self._show_check(check)
        if self._runner.cancelling:
            return
        self.window.show_status(f"{spec.version_head(version)}. Loading it…", Tone.UPDATE)
        if self.tray is not None:
            self.tray.set_state(TrayState.WORKING, f"Loading {version}…")

    def _stage_words(self, stage: Stage) -> str:
        version, spec = self._version, self.spec
        if version is None or spec is None or stage not in VERSION_STAGE_WORDS:
            return STAGE_WORDS[stage]
        return f"{spec.version_head(version)}{spec.stage_separator} {VERSION_STAGE_WORDS[stage]}"

    # The end ------------------------------------------------------------------------------------
    @Slot(object)
    def _on_ended(self, end: JobEnd) -> None:
        self._outcome = end.outcome
        if end.outcome is Outcome.OK:
            if isinstance(end.result, JobResult):  # else a job started without a JobSpec
                self._on_succeeded(end.result)
        else:
            self.window.stop_progress()
            if end.outcome is Outcome.CANCELLED:
                self._on_cancelled(str(end.error))
            elif end.outcome is Outcome.FAILED:
                self._on_failed(str(end.error))
                if isinstance(end.error, DataDirError | DiskFullError):
                    self.dataDirUnusable.emit(end.error)
            else:
                name = type(end.error).__name__
                summary = f"The {end.kind} job failed: {name}: {end.error}"
                self.show_bug(summary, end.details, name)

    def _on_succeeded(self, result: JobResult) -> None:
        if result.load is not None:
            if self._runner.cancelling:  # Cancel came after the commit: say why it did not apply
                self.log("Too late to cancel: the load had already been saved.")
            self._show_loaded(result.load)
        elif result.check is not None:
            self._show_check(result.check)
            text = check_sentence(result.check)
            tone = Tone.UPDATE if result.check.update_available else Tone.OK
            self.window.show_status(text, tone)
            self.log(f"Bungie.net has {result.check.remote.version}. {text}")
            self._set_tray(TrayState.IDLE, text)
        else:
            self.window.show_status("Idle.")
        if result.status is not None:
            self._show_status(result.status)

    def _show_loaded(self, loaded: LoadResult) -> None:
        spec = self.spec
        if spec is not None and spec.checks_bungie:
            self.window.show_remote(loaded.version, loaded.path, self._started or now_local())
        warnings = loaded.warnings
        if warnings:
            self.window.note_stage(Stage.UPLOAD, "failed: not archived (see the log)")
        # The load went ahead; a best-effort failure (archiving) is a warning beside it.
        note = "\n".join(f"Not archived: {warning}" for warning in warnings)
        text = loaded_sentence(loaded)
        self.window.show_status(text, Tone.OK, note=note)
        self.log(text)
        summary = f"{text}\n{note}" if note else text
        hidden = self.tray is not None and not self.window.isVisible()
        if not loaded.loaded:
            self._set_tray(TrayState.IDLE, summary)
            if hidden and self.tray is not None and note:
                self.tray.notify("Manifest not archived", note, error=True)
            return
        self._set_tray(TrayState.LOADED, summary)
        if hidden and self.tray is not None:
            if note:
                self.tray.notify("New manifest loaded, not archived", summary, error=True)
            elif self.announce_loads:
                self.tray.notify("New manifest loaded", text)
        self.loadFinished.emit(loaded)

    def _on_cancelled(self, sentence: str) -> None:
        asked = self._runner.cancel_requested_at
        self.window.show_status(sentence, Tone.NEUTRAL)
        self.log(sentence, "warning")
        if asked is not None:
            log.info("Cancelled in %.2f s", time.monotonic() - asked)
        self._set_tray(TrayState.IDLE, sentence)

    def _on_failed(self, sentence: str) -> None:
        self.window.show_status(f"Failed: {sentence}", Tone.ERROR)
        self.log(sentence, "error")
        self._set_tray(TrayState.FAILED, sentence)
        spec = self.spec
        if self.tray is not None and not self.window.isVisible() and spec is not None:
            # Once Bungie.net has answered (a version to load), what failed is the load.
            checking = spec.checks_bungie and not spec.force_load and self._version is None
            self.tray.notify("Check failed" if checking else "Load failed", sentence, error=True)

    @Slot(str)
    def _on_finished(self, kind: str) -> None:
        self.spec = self._version = None
        self.window.set_busy(False)
        if self.tray is not None:
            self.tray.set_busy(False)
        outcome, self._outcome = self._outcome, Outcome.ERROR
        if self.shutting_down and self._runner.shutdown_outcome is not None:
            outcome = self._runner.shutdown_outcome  # its own report came too late to be seen
        self.jobFinished.emit(kind, str(outcome))

    # Bugs ---------------------------------------------------------------------------------------
    def show_bug(self, summary: str, details: str, error_name: str) -> ErrorDialog:
        """A bug: the traceback in the log, a details dialog, and the app keeps running."""
        log.error("%s\n%s", summary, details.rstrip())
        self.window.show_status(
            f"Failed: an unexpected error ({error_name}); details are in the log.", Tone.ERROR
        )
        self.log(f"Unexpected error: {summary}", "error")
        self._set_tray(TrayState.FAILED, "An unexpected error happened; see the log.")
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

    def close_dialogs(self) -> None:
        for dialog in list(self.error_dialogs):
            dialog.close()

    # Small helpers ------------------------------------------------------------------------------
    def _show_check(self, check: CheckResult) -> None:
        self.window.show_remote(check.remote.version, check.remote.path, check.checked_at)

    def _show_status(self, status: Status) -> None:
        self.database_shown = True
        self.window.show_database_version(
            status.current, status.live_rows if status.current else None
        )

    def _set_tray(self, state: TrayState, summary: str) -> None:
        if self.tray is None:
            return
        if state is TrayState.LOADED and not self.window.isVisible():
            self._unseen_load = summary  # until the window is opened (window_shown)
        elif state is TrayState.IDLE and self._unseen_load is not None:
            # A later poll found nothing new: the load the user has not seen stays the news.
            state, summary = TrayState.LOADED, self._unseen_load
        self.tray.set_state(state, summary)

    def log(self, text: str, level: str = "info") -> None:
        """A line in the window's log and in the log file."""
        self.window.log(text, level)
        getattr(log, level if level in ("warning", "error") else "info")("%s", text)

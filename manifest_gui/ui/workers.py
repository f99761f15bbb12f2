"""Engine calls in worker threads.

A Job is a QObject moved to its own QThread; it runs one engine function that takes a Progress
handle. The engine calls the Progress listeners (positions and messages; partial results) in the
worker thread, so they only emit signals: Qt queues them to the GUI thread. The job classifies
how it ended once, as a typed JobEnd. The JobRunner lives in the GUI thread, runs one job at
a time and re-emits everything from there (pytest-qt's waitSignal must not be fed from another
thread, see platform notes). No widget is touched outside the GUI thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ..engine.jobs import Outcome, outcome_of
from ..engine.progress import Progress, ProgressEvent

log = logging.getLogger(__name__)

JobFunction = Callable[[Progress], Any]


@dataclass(frozen=True)
class JobEnd:
    """How a job ended, classified once in the worker: the result when OK, else the error and,
    for a bug (ERROR), its traceback."""

    kind: str
    outcome: Outcome
    result: Any = None
    error: BaseException | None = None
    details: str = ""


def cancel_in_background(progress: Progress, name: str = "cancel") -> threading.Thread:
    """Run `progress.cancel()` in a short-lived daemon thread and return it.

    Why: cancel() runs the engine's registered callbacks in the calling thread, and some are
    network round trips (psycopg's cancel_safe, closing a socket): the GUI thread must not
    wait for them. The cancel flag itself is set within microseconds of the thread starting.
    """

    def run() -> None:
        try:
            progress.cancel()
        except Exception:  # a callback failed: the job still sees the flag
            log.warning("A cancel callback failed", exc_info=True)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


class Job(QObject):
    """One engine call. Its signals are emitted in the worker thread."""

    progressed = Signal(object)  # ProgressEvent
    partial = Signal(object)  # a partial result (CheckResult, Status)
    ended = Signal(object)  # JobEnd
    done = Signal()

    def __init__(self, kind: str, function: JobFunction, *, interval: float = 0.1) -> None:
        super().__init__()
        self.kind = kind
        self.outcome: Outcome | None = None  # once it has ended
        self._function = function
        self.progress = Progress(self.progressed.emit, interval, on_partial=self.partial.emit)

    @Slot()
    def run(self) -> None:
        # The engine reports in this (the worker) thread: the signals only emit, Qt queues them.
        try:
            end = JobEnd(self.kind, Outcome.OK, self._function(self.progress))
        except Exception as exc:  # a bug (ERROR) shows details and logs the traceback
            outcome = outcome_of(exc)
            details = traceback.format_exc() if outcome is Outcome.ERROR else ""
            end = JobEnd(self.kind, outcome, None, exc, details)
        self.outcome = end.outcome
        try:
            self.ended.emit(end)
        finally:
            self.done.emit()


class JobRunner(QObject):
    """Runs one Job at a time in a fresh QThread; its signals come from the GUI thread."""

    started = Signal(str)  # kind
    progressed = Signal(object)  # ProgressEvent
    partial = Signal(object)  # CheckResult or Status, before the job ends
    ended = Signal(object)  # JobEnd
    # The same end, split for callers that only want a result or an error:
    succeeded = Signal(str, object)  # kind, result
    failed = Signal(str, object, str)  # kind, exception, traceback ("" for a known error)
    finished = Signal(str)  # kind; the thread has ended and the runner is free again
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, name: str = "job") -> None:
        super().__init__(parent)
        self._name = name
        self._job: Job | None = None
        self._thread: QThread | None = None
        self._kind = ""
        self._cancel_requested = False
        self._cancel_thread: threading.Thread | None = None
        self._detached = False
        self.cancel_requested_at: float | None = None
        # How the job that shutdown() joined ended: its own signals, queued for an event loop
        # that is ending, may never be delivered.
        self.shutdown_outcome: Outcome | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def kind(self) -> str:
        return self._kind if self._job is not None else ""

    @property
    def cancelling(self) -> bool:
        return self._job is not None and (self._cancel_requested or self._job.progress.cancelled)

    @property
    def progress(self) -> Progress | None:
        """The running job's progress and cancel handle (None when idle)."""
        return self._job.progress if self._job is not None else None

    def start(self, kind: str, function: JobFunction) -> bool:
        """Start `function(progress)` in a worker thread; False (and nothing done) when busy."""
        if self._job is not None:
            log.info("Not starting %s: %s is still running", kind, self._kind)
            return False
        job = Job(kind, function)
        thread = QThread()
        thread.setObjectName(f"{self._name}-{kind}")
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.progressed.connect(self._on_progressed)
        job.partial.connect(self._on_partial)
        job.ended.connect(self._on_ended)
        # Direct: the worker ends its own event loop, even while the GUI thread waits for it
        # (queued, quit would wait for the GUI thread's event loop).
        job.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        _keep_alive(thread, job)
        self._job, self._thread, self._kind = job, thread, kind
        self._cancel_requested = False
        self.cancel_requested_at = None
        self.started.emit(kind)
        self.busyChanged.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; the engine raises CancelledError and rolls back.

        Returns at once: the handle's cancel (flag and callbacks such as a database cancel
        request) runs in a short-lived thread, so the caller (the GUI thread) never blocks."""
        if self._job is not None and not self.cancelling:
            self._cancel_requested = True
            self.cancel_requested_at = time.monotonic()
            self._cancel_thread = cancel_in_background(
                self._job.progress, f"{self._name}-{self._kind}-cancel"
            )

    # Relays: these slots run in the GUI thread (the runner lives there). ----------------------
    @Slot(object)
    def _on_progressed(self, event: ProgressEvent) -> None:
        self.progressed.emit(event)

    @Slot(object)
    def _on_partial(self, result: object) -> None:
        self.partial.emit(result)

    @Slot(object)
    def _on_ended(self, end: JobEnd) -> None:
        self.ended.emit(end)
        if end.outcome is Outcome.OK:
            self.succeeded.emit(end.kind, end.result)
        else:
            self.failed.emit(end.kind, end.error, end.details)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._release()

    def _release(self) -> None:
        job, thread, kind = self._job, self._thread, self._kind
        if job is None or thread is None:
            return
        thread.wait()
        _let_go(thread)
        self._job = self._thread = None
        job.deleteLater()
        thread.deleteLater()
        self.finished.emit(kind)
        self.busyChanged.emit(False)
        if self._detached:
            _DETACHED.discard(self)
            self.deleteLater()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and join the running job (at quit and test teardown); True when joined."""
        thread = self._thread
        if thread is None:
            return True
        self.cancel()
        thread.quit()
        joined = bool(thread.wait(timeout_ms))
        if joined:
            with contextlib.suppress(RuntimeError, TypeError):
                thread.finished.disconnect(self._on_thread_finished)
            if self._job is not None:
                self.shutdown_outcome = self._job.outcome
            self._release()
            canceller = self._cancel_thread
            if canceller is not None:  # its callbacks are bounded (e.g. a 2 s cancel timeout)
                canceller.join(timeout_ms / 1000)
        else:
            log.warning("The %s job did not stop within %d ms", self._kind, timeout_ms)
        return joined

    def detach(self) -> bool:
        """Let the running job end on its own, with nobody waiting for it: cancel it, silence
        the runner's signals (the owner may be gone when the job ends), drop the parent, and
        delete the runner once its thread has ended. For dialogs that close while a job runs
        (a listing, a connection test): done() returns at once instead of joining the thread.
        False (nothing done) when no job runs; the owner may then delete the runner itself."""
        if self._job is None:
            return False
        self.cancel()
        self.blockSignals(True)  # _release still runs on the thread's finished signal
        self._detached = True
        self.setParent(None)
        _DETACHED.add(self)  # keeps it (and its QThread) alive until the thread ends
        return True


# Every started thread with its job, until the thread has ended. Why: the runner's owner (a
# widget deleted with its parent, a closed dialog) can go before the job ends, and a QThread
# destroyed while it runs aborts the whole process.
_LIVE_THREADS: list[tuple[QThread, Job]] = []


def _ended(thread: QThread) -> bool:
    try:
        return thread.isFinished()
    except RuntimeError:  # its C++ object is already deleted
        return True


def _keep_alive(thread: QThread, job: Job) -> None:
    _LIVE_THREADS[:] = [(t, j) for t, j in _LIVE_THREADS if not _ended(t)]
    _LIVE_THREADS.append((thread, job))


def _let_go(thread: QThread) -> None:
    _LIVE_THREADS[:] = [(t, j) for t, j in _LIVE_THREADS if t is not thread]


def running_threads() -> int:
    """How many job threads have started and not yet ended."""
    return sum(1 for thread, _job in _LIVE_THREADS if not _ended(thread))


def join_running_threads(timeout_ms: int = 10_000) -> bool:
    """Wait for every job thread to end (at quit, and after each test); True when all did."""
    deadline = time.monotonic() + timeout_ms / 1000
    for thread, _job in list(_LIVE_THREADS):
        left = max(0, int((deadline - time.monotonic()) * 1000))
        if _ended(thread):
            continue
        thread.quit()  # its job is done or cancelled; end the event loop it may still be in
        if not thread.wait(left):
            return False
    _LIVE_THREADS.clear()
    return True


# Runners whose owner went away while their job still ran (see JobRunner.detach).
_DETACHED: set[JobRunner] = set()


def detached_runners() -> int:
    """How many detached jobs are still running."""
    return len(_DETACHED)


def wait_for_detached(timeout_ms: int = 10_000) -> bool:
    """Join the detached jobs (at quit): a QThread must not be destroyed while it runs."""
    deadline = time.monotonic() + timeout_ms / 1000
    joined = True
    for runner in list(_DETACHED):
        left = max(0, int((deadline - time.monotonic()) * 1000))
        joined = runner.shutdown(left) and joined
    return joined

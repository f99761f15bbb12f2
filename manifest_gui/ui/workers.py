"""Engine calls in worker threads.

A Job is a QObject moved to its own QThread; it runs one engine function that takes a Progress
handle. The engine calls the Progress listener in the worker thread, so the listener only emits
a signal: Qt queues it to the GUI thread. The JobRunner lives in the GUI thread, runs one job at
a time and re-emits everything from there (pytest-qt's waitSignal must not be fed from another
thread, see platform notes). No widget is touched outside the GUI thread.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..engine.errors import ManifestGuiError
from ..engine.progress import Progress, ProgressEvent

log = logging.getLogger(__name__)

JobFunction = Callable[[Progress], Any]


class Job(QObject):
    """One engine call. Its signals are emitted in the worker thread."""

    progressed = Signal(object)  # ProgressEvent
    succeeded = Signal(object)  # the function's result
    failed = Signal(object, str)  # the exception, its traceback ("" for a known error)
    done = Signal()

    def __init__(self, kind: str, function: JobFunction, *, interval: float = 0.1) -> None:
        super().__init__()
        self.kind = kind
        self._function = function
        self.progress = Progress(self._report, interval)

    def _report(self, event: ProgressEvent) -> None:
        # Called by the engine in the worker thread: only emit, Qt queues it.
        self.progressed.emit(event)

    @Slot()
    def run(self) -> None:
        try:
            result = self._function(self.progress)
        except ManifestGuiError as exc:
            self.failed.emit(exc, "")
        except Exception as exc:  # a bug: the GUI shows details and logs the traceback
            self.failed.emit(exc, traceback.format_exc())
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()


class JobRunner(QObject):
    """Runs one Job at a time in a fresh QThread; its signals come from the GUI thread."""

    started = Signal(str)  # kind
    progressed = Signal(object)  # ProgressEvent
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
        self.cancel_requested_at: float | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def kind(self) -> str:
        return self._kind if self._job is not None else ""

    @property
    def cancelling(self) -> bool:
        return self._job is not None and self._job.progress.cancelled

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
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.done.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._job, self._thread, self._kind = job, thread, kind
        self.cancel_requested_at = None
        self.started.emit(kind)
        self.busyChanged.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        """Ask the running job to stop; the engine raises CancelledError and rolls back."""
        if self._job is not None and not self._job.progress.cancelled:
            self.cancel_requested_at = time.monotonic()
            self._job.progress.cancel()  # thread-safe: sets an event and wakes blocked reads

    # Relays: these slots run in the GUI thread (the runner lives there). ----------------------
    @Slot(object)
    def _on_progressed(self, event: ProgressEvent) -> None:
        self.progressed.emit(event)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self.succeeded.emit(self._kind, result)

    @Slot(object, str)
    def _on_failed(self, error: object, details: str) -> None:
        self.failed.emit(self._kind, error, details)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._release()

    def _release(self) -> None:
        job, thread, kind = self._job, self._thread, self._kind
        if job is None or thread is None:
            return
        thread.wait()
        self._job = self._thread = None
        job.deleteLater()
        thread.deleteLater()
        self.finished.emit(kind)
        self.busyChanged.emit(False)

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
            self._release()
        else:
            log.warning("The %s job did not stop within %d ms", self._kind, timeout_ms)
        return joined

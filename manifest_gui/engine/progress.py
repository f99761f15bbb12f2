"""The progress and cancel handle that every long engine call takes.

The engine reports through it and polls it; front ends subscribe (a terminal bar, Qt signals).
cancel() may be called from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import CancelledError

if TYPE_CHECKING:
    from .service import CheckResult, Status


class Stage(StrEnum):
    """The steps of a job, in the order an update runs them (upload: to the S3 archive)."""

    CHECK = "check"
    DOWNLOAD = "download"
    EXTRACT = "extract"
    UPLOAD = "upload"
    LOAD = "load"


class Level(StrEnum):
    """Of a message: WARNING is a best-effort step that failed while the work goes on."""

    INFO = "info"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One report: a stage's position (done of total, total None while unknown) or a message.
    Results never ride here: they go to the partial-result listener, or are returned."""

    stage: str  # a Stage
    done: int = 0
    total: int | None = None
    unit: str = ""  # "bytes" or "rows"
    detail: str = ""  # e.g. the table being loaded
    message: str | None = None  # a log line rather than a position
    finished: bool = False
    level: Level = Level.INFO


Listener = Callable[[ProgressEvent], None]
# What a job learns before it ends (the database side; Bungie.net's answer while an update goes
# on to download), for a front end to show at once.
PartialListener = Callable[["CheckResult | Status"], None]


class Progress:
    """Reports progress to an optional listener, at most every `interval` seconds per stage
    (plus every stage's start and end), and carries the cancel flag."""

    def __init__(
        self,
        listener: Listener | None = None,
        interval: float = 0.1,
        *,
        on_partial: PartialListener | None = None,
    ) -> None:
        self._listener = listener
        self._on_partial = on_partial
        self._interval = interval
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._on_cancel: list[Callable[[], None]] = []
        self._stage = ""
        self._unit = ""
        self._total: int | None = None
        self._last_emit = 0.0

    # cancel side -------------------------------------------------------------------------
    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            callbacks = list(self._on_cancel)
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` (in the cancelling thread) on cancel, e.g. to wake a blocked read.
        Returns a function that unregisters it. Runs at once when already cancelled."""
        with self._lock:
            already = self._cancelled.is_set()
            if not already:
                self._on_cancel.append(callback)
        if already:
            callback()

        def remove() -> None:
            with self._lock:
                if callback in self._on_cancel:
                    self._on_cancel.remove(callback)

        return remove

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check_cancelled(self) -> None:
        """Raise CancelledError when cancel() was called: call between batches of work."""
        if self._cancelled.is_set():
            raise CancelledError()

    # reporting side ----------------------------------------------------------------------
    def start(self, stage: str, total: int | None = None, unit: str = "", detail: str = "") -> None:
        self._stage, self._total, self._unit = stage, total, unit
        self._last_emit = time.monotonic()
        self._emit(ProgressEvent(stage, 0, total, unit, detail))

    def update(
        self, done: int, total: int | None = None, detail: str = "", *, force: bool = False
    ) -> None:
        """Report a position; at most every `interval` seconds unless `force` (e.g. the last
        position before a long step that reports none)."""
        if total is not None:
            self._total = total
        now = time.monotonic()
        if force or now - self._last_emit >= self._interval:
            self._last_emit = now
            self._emit(ProgressEvent(self._stage, done, self._total, self._unit, detail))

    def finish(self, done: int | None = None, detail: str = "") -> None:
        """Report the stage's end."""
        final = done if done is not None else (self._total or 0)
        self._emit(
            ProgressEvent(self._stage, final, self._total, self._unit, detail, finished=True)
        )

    def partial(self, result: CheckResult | Status) -> None:
        """Hand a result over before the job ends, on its own channel."""
        if self._on_partial is not None:
            self._on_partial(result)

    def message(self, text: str) -> None:
        self._emit(ProgressEvent(self._stage, message=text))

    def warning(self, text: str) -> None:
        """A message about a best-effort step that failed while the work goes on."""
        self._emit(ProgressEvent(self._stage, message=text, level=Level.WARNING))

    def _emit(self, event: ProgressEvent) -> None:
        if self._listener is not None:
            self._listener(event)


def no_progress() -> Progress:
    """A handle nobody listens to and nobody cancels."""
    return Progress()

"""Automatic checks every N minutes while the app runs.

A QTimer measures monotonic time, which on Linux stops during suspend: a 20-minute single shot
would fire 20 minutes after resume. So the due time is kept in wall-clock time and a short
heartbeat compares it with the clock; a wall-clock jump (suspend/resume, clock change) is
noticed at the next heartbeat and a check that fell due meanwhile runs right away. The
heartbeat also keeps every timer far below QTimer's 2^31 ms limit.

When Bungie.net asks for a longer wait than a run waits (ThrottleSeconds over a minute), the
time it allows the next try becomes a floor: no check is due before it, whatever the interval,
a setting change or a clock jump would say (a clock set back moves it back with the clock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

HEARTBEAT_MS = 15_000
JUMP_TOLERANCE = 30.0  # seconds the wall clock may drift from monotonic between heartbeats


def now_local() -> datetime:
    return datetime.now().astimezone()


class PollScheduler(QObject):
    """Emits `due` every `minutes` while enabled; a tick that finds a job running is skipped."""

    due = Signal()
    skipped = Signal()
    nextCheckChanged = Signal(object)  # datetime | None (None: paused)
    clockJumped = Signal(float)  # seconds the wall clock moved beyond monotonic time

    def __init__(
        self,
        minutes: int,
        is_busy: Callable[[], bool],
        *,
        enabled: bool = True,
        clock: Callable[[], datetime] = now_local,
        monotonic: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._minutes = max(1, minutes)
        self._is_busy = is_busy
        self._enabled = enabled
        self._clock = clock
        self._monotonic = monotonic
        self._next: datetime | None = None
        self._not_before: datetime | None = None  # Bungie.net allows no try before it
        self._last_wall = clock()
        self._last_mono = monotonic()
        self._timer = QTimer(self)
        self._timer.setObjectName("pollHeartbeat")
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self.tick)

    # State ------------------------------------------------------------------------------------
    @property
    def minutes(self) -> int:
        return self._minutes

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def next_check(self) -> datetime | None:
        return self._next if self._enabled else None

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self, *, due_now: bool = False) -> None:
        """Start the heartbeat; the first check is due now or after one interval."""
        self._last_wall, self._last_mono = self._clock(), self._monotonic()
        self._timer.start()
        self._schedule(self._clock() if due_now else None)

    def stop(self) -> None:
        self._timer.stop()

    def set_enabled(self, enabled: bool) -> None:
        if enabled == self._enabled:
            return
        self._enabled = enabled
        log.info("Automatic checks %s", "resumed" if enabled else "paused")
        self._schedule()

    def set_minutes(self, minutes: int) -> None:
        """A new interval counts from when the current one began, not from now: going from
        20 to 30 minutes ten minutes after a check leaves 20 to wait, not 30; a shorter
        interval already over makes the check due at the next heartbeat."""
        minutes = max(1, minutes)
        if minutes == self._minutes:
            return
        began = self._next - timedelta(minutes=self._minutes) if self._next else None
        self._minutes = minutes
        if began is None:
            self._schedule()
        else:
            self._schedule(max(began + timedelta(minutes=minutes), self._clock()))

    def reschedule(self) -> None:
        """Count the interval from now (after a check the user started by hand)."""
        self._schedule()

    def not_before(self, moment: datetime) -> None:
        """Bungie.net allows the next try at `moment`: the next check is at the later of it and
        the one planned, and no later rescheduling goes below it."""
        self._not_before = moment.astimezone()
        log.info("Bungie.net allows no check before %s", self._not_before.isoformat())
        self._schedule(self._next)

    def _schedule(self, at: datetime | None = None) -> None:
        at = at or self._clock() + timedelta(minutes=self._minutes)
        if self._not_before is not None and at < self._not_before:
            at = self._not_before
        self._next = at
        self.nextCheckChanged.emit(self.next_check)

    # The heartbeat ----------------------------------------------------------------------------
    @Slot()
    def tick(self) -> None:
        """Compare the clock with the due time (also callable by tests)."""
        wall, mono = self._clock(), self._monotonic()
        jump = (wall - self._last_wall).total_seconds() - (mono - self._last_mono)
        self._last_wall, self._last_mono = wall, mono
        if abs(jump) > JUMP_TOLERANCE:
            log.info("The clock jumped by %.0f s (suspend/resume?); checking the schedule", jump)
            self.clockJumped.emit(jump)
            limit = wall + timedelta(minutes=self._minutes)
            if self._not_before is not None:
                if jump < 0:  # the clock went back: the wait Bungie.net asked for did not
                    self._not_before += timedelta(seconds=jump)
                limit = max(limit, self._not_before)
            if self._next is not None and self._next > limit:  # the clock went back
                self._next = limit
        if not self._enabled or self._next is None:
            return
        if wall < self._next:
            self.nextCheckChanged.emit(self._next)  # lets labels count down
            return
        if self._is_busy():
            log.info("Skipping an automatic check: a job is running")
            self._schedule()
            self.skipped.emit()
            return
        self._schedule()
        self.due.emit()

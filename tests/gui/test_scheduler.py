"""Polling: due every N minutes, skipped while busy, catching up after suspend/resume."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtWidgets import QCheckBox, QLabel

from manifest_gui.ui.scheduler import PollScheduler
from tests.gui.conftest import AppFactory


class Clocks:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = datetime(2024, 11, 5, 14, 0).astimezone()
        self.mono = 1000.0

    def advance(self, seconds: float, *, suspended: bool = False) -> None:
        self.wall += timedelta(seconds=seconds)
        if not suspended:  # monotonic time stands still during suspend (Linux)
            self.mono += seconds


def scheduler(qtbot: Any, clocks: Clocks, busy: list[bool], minutes: int = 20) -> PollScheduler:
    poll = PollScheduler(
        minutes,
        lambda: busy[0],
        clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
    )
    poll.start()
    return poll


def test_due_after_the_interval_and_rescheduled(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy)
    assert poll.next_check == clocks.wall + timedelta(minutes=20)
    clocks.advance(19 * 60)
    with qtbot.assertNotEmitted(poll.due):
        poll.tick()
    clocks.advance(60)
    with qtbot.waitSignal(poll.due, timeout=100):
        poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=20)
    poll.stop()


def test_a_new_interval_counts_from_the_last_check(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy)
    began = clocks.wall
    clocks.advance(10 * 60)
    poll.set_minutes(30)
    assert poll.next_check == began + timedelta(minutes=30)
    poll.set_minutes(5)  # already five minutes overdue: check at the next heartbeat
    assert poll.next_check == clocks.wall
    with qtbot.waitSignal(poll.due, timeout=100):
        poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=5)
    poll.stop()


def test_a_tick_while_busy_is_skipped(qtbot: Any) -> None:
    clocks, busy = Clocks(), [True]
    poll = scheduler(qtbot, clocks, busy, minutes=5)
    clocks.advance(5 * 60)
    with qtbot.assertNotEmitted(poll.due), qtbot.waitSignal(poll.skipped, timeout=100):
        poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=5)
    busy[0] = False
    clocks.advance(5 * 60)
    with qtbot.waitSignal(poll.due, timeout=100):
        poll.tick()
    poll.stop()


def test_catches_up_after_suspend(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy)
    clocks.advance(10 * 60)
    poll.tick()
    clocks.advance(3 * 3600, suspended=True)  # the laptop slept three hours
    with (
        qtbot.waitSignal(poll.clockJumped, timeout=100) as jumped,
        qtbot.waitSignal(poll.due, timeout=100),
    ):
        poll.tick()
    assert jumped.args[0] > 3 * 3600 - 60
    poll.stop()


def test_clock_set_back_does_not_postpone_forever(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy)
    clocks.wall -= timedelta(days=1)
    poll.tick()
    assert poll.next_check is not None
    assert poll.next_check <= clocks.wall + timedelta(minutes=20)
    poll.stop()


def test_paused_has_no_next_check(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy)
    with qtbot.waitSignal(poll.nextCheckChanged, timeout=100) as changed:
        poll.set_enabled(False)
    assert changed.args == [None] and poll.next_check is None
    clocks.advance(3600)
    with qtbot.assertNotEmitted(poll.due):
        poll.tick()
    poll.set_enabled(True)
    assert poll.next_check == clocks.wall + timedelta(minutes=20)
    poll.stop()


def test_window_shows_next_check_and_persists_polling(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app(poll_minutes=20)
    next_label = app.window.findChild(QLabel, "nextCheckLabel")
    box = app.window.findChild(QCheckBox, "pollCheckBox")
    assert box.isChecked() and box.text() == "Check every 20 minutes"
    assert next_label.text().endswith("(in 20 min)")
    assert app.scheduler.running

    box.click()
    assert next_label.text() == "Automatic checks are paused."
    assert json.loads(make_app.settings_path.read_text())["poll_enabled"] is False
    assert not app.settings.poll_enabled

    box.click()
    assert json.loads(make_app.settings_path.read_text())["poll_enabled"] is True
    assert "(in 20 min)" in next_label.text()


def test_poll_due_while_a_job_runs_is_skipped(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app()
    started: list[str] = []
    app.runner.started.connect(started.append)
    release = threading.Event()
    assert app.runner.start("noop", lambda progress: release.wait(10))
    with qtbot.waitSignal(app.scheduler.skipped, timeout=1000):
        app.scheduler._next = datetime.now().astimezone() - timedelta(seconds=1)
        app.scheduler.tick()
    assert started == ["noop"]
    assert "Skipped an automatic check" in app.window.log_view.toPlainText()
    release.set()
    qtbot.waitUntil(lambda: not app.runner.busy)
    # Due and idle: the automatic Check & Load starts.
    with qtbot.waitSignal(app.jobFinished, timeout=30_000) as finished:
        app.scheduler._next = datetime.now().astimezone() - timedelta(seconds=1)
        app.scheduler.tick()
    assert finished.args == ["poll", "failed"]  # nothing listens at bungie_root

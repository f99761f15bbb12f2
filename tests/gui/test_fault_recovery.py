"""Two engine faults as the window meets them: a load that gives up waiting for another
session's lock, and Bungie.net asking for a wait longer than a run waits. The window shows the
engine's sentence; the next poll tries again, but never before Bungie.net allows it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from manifest_gui.app import Application
from tests.engine.test_db_faults import LOCK_WAIT, idle_reader, install_version_4
from tests.gui.conftest import AppFactory, Published, db_state, run_job
from tests.gui.test_scheduler import Clocks, scheduler
from tests.support.bungie_server import BungieServer, throttled
from tests.support.manifest_factory import ManifestFactory


def status(app: Application) -> str:
    return str(app.window.findChild(QLabel, "statusLabel").text())


def poll_now(qtbot: Any, app: Application) -> tuple[str, str]:
    """Make the scheduler's next check due and let its heartbeat start it."""

    def due() -> None:
        app.scheduler._next = datetime.now().astimezone() - timedelta(seconds=1)
        app.scheduler.tick()

    return run_job(qtbot, app, due)


# --------------------------------------------------------------------------- locks


def test_a_load_that_waits_for_a_reader_fails_and_the_next_poll_loads(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database of the app's previous release, read by a clan bot that sits idle in its
    transaction after reading a view: the load must replace that view, gives up waiting and
    rolls back; once the bot's transaction ends, the scheduler's next poll loads."""
    monkeypatch.setenv("MANIFEST_GUI_LOCK_TIMEOUT", LOCK_WAIT)
    install_version_4(database_url)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    query = "SELECT count(*) FROM manifest.mv_activity_definitions"
    with idle_reader(database_url, query, "clan-bot") as pid:
        assert run_job(qtbot, app, app.check_and_load) == ("update", "failed")
        shown = status(app)
        assert db_state(database_url) == ([], 0)
    assert shown.startswith("Failed: The "), shown
    assert f"waited {LOCK_WAIT} s for a lock held by another session" in shown
    assert f'(pid {pid}, application_name "clan-bot", idle in transaction since ' in shown
    assert "was rolled back" in shown
    assert app.window.log_view.lines()[-1].endswith(shown.removeprefix("Failed: "))
    assert not app.error_dialogs
    assert app.scheduler.next_check is not None  # polling goes on

    assert poll_now(qtbot, app) == ("poll", "ok")
    assert status(app).startswith(f"Loaded {published.version} as #1")
    versions, rows = db_state(database_url)
    assert [version["version"] for _, version, current in versions if current] == [
        published.version
    ]
    assert rows == published.manifest.total_rows


def test_a_poll_that_waits_for_a_lock_fails_and_the_next_poll_loads(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A report tool that read a view and holds the current version's row (FOR SHARE), idle
    in its transaction: the automatic load of a new release must wait to make it current,
    gives up and keeps the previous version; the poll after the tool's transaction loads."""
    monkeypatch.setenv("MANIFEST_GUI_LOCK_TIMEOUT", LOCK_WAIT)
    first = manifest_factory.generate(seed=631, rows=300)
    second = manifest_factory.generate(seed=632, version_of=first, changed=0.2)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    bungie_server.publish(manifest_factory.content_file(first))
    assert poll_now(qtbot, app) == ("poll", "ok")
    bungie_server.publish(manifest_factory.content_file(second))
    before = db_state(database_url)
    query = (
        "SELECT count(*) FROM manifest.mv_class_definitions; SELECT manifest_id"
        " FROM manifest.t_manifest_version WHERE current FOR SHARE"
    )
    with idle_reader(database_url, query, "nightly-report") as pid:
        assert poll_now(qtbot, app) == ("poll", "failed")
        assert db_state(database_url) == before
    shown = status(app)
    assert shown.startswith(f"Failed: The load waited {LOCK_WAIT} s for a lock held by "), shown
    assert f'(pid {pid}, application_name "nightly-report", idle in transaction since ' in shown
    assert app.window.log_view.lines()[-1].endswith(shown.removeprefix("Failed: "))

    assert poll_now(qtbot, app) == ("poll", "ok")
    assert status(app).startswith(f"Loaded {bungie_server.version} as #")
    versions, rows = db_state(database_url)
    current = [version["version"] for _, version, is_current in versions if is_current]
    assert current == [bungie_server.version] and len(versions) == 2  # the rollback left none
    assert rows == second.total_rows


# --------------------------------------------------------------------------- throttling


def test_a_long_throttle_holds_the_next_automatic_check_back(
    qtbot: Any, make_app: AppFactory, bungie_server: BungieServer
) -> None:
    app = make_app(bungie_root=bungie_server.base_url, poll_minutes=20)
    bungie_server.queue(throttled(36, seconds=3600))
    asked = datetime.now().astimezone()
    assert poll_now(qtbot, app) == ("poll", "failed")
    shown = status(app)
    assert shown.startswith("Failed: Bungie.net is throttling requests and allows the next try")
    assert "(in 1 h 0 min)" in shown
    next_check = app.scheduler.next_check
    assert next_check is not None
    assert next_check >= asked + timedelta(seconds=3600)  # not after the 20 minutes
    assert next_check <= datetime.now().astimezone() + timedelta(seconds=3601)
    next_label = app.window.findChild(QLabel, "nextCheckLabel").text()
    assert "(in 1 h" in next_label or "(in 60 min)" in next_label, next_label
    # A heartbeat before that time starts nothing, not even after a check by hand.
    app.scheduler.reschedule()
    assert app.scheduler.next_check == next_check
    with qtbot.assertNotEmitted(app.scheduler.due):
        app.scheduler.tick()
    assert len(bungie_server.requests) == 1


def test_a_floor_later_than_the_interval_moves_the_next_check(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy, minutes=20)
    retry_at = clocks.wall + timedelta(hours=1)
    poll.not_before(retry_at)
    assert poll.next_check == retry_at
    poll.set_minutes(5)  # a shorter interval does not bring it forward
    assert poll.next_check == retry_at
    clocks.advance(3600 - 60, suspended=True)  # a clock jump does not either
    with qtbot.assertNotEmitted(poll.due):
        poll.tick()
    clocks.advance(60)
    with qtbot.waitSignal(poll.due, timeout=100):
        poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=5)  # then the interval again
    poll.stop()


def test_a_floor_earlier_than_the_planned_check_changes_nothing(qtbot: Any) -> None:
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy, minutes=20)
    planned = poll.next_check
    poll.not_before(clocks.wall + timedelta(minutes=5))
    assert poll.next_check == planned
    clocks.advance(10 * 60, suspended=True)
    clocks.wall -= timedelta(hours=2)  # the clock set back: the interval from now, as before
    poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=20)
    poll.stop()


def test_a_clock_set_back_moves_the_floor_back_with_it(qtbot: Any) -> None:
    """Bungie.net asked for an hour of real time: a clock set back by two hours must not
    make that three."""
    clocks, busy = Clocks(), [False]
    poll = scheduler(qtbot, clocks, busy, minutes=20)
    poll.not_before(clocks.wall + timedelta(hours=1))
    clocks.advance(60)
    clocks.wall -= timedelta(hours=2)
    poll.tick()
    assert poll.next_check == clocks.wall + timedelta(minutes=59)

"""What the window shows while a job runs, and that cancelling never blocks it: the version
being loaded as soon as the check has answered; Cancel returns at once even when the engine's
cancel callbacks (a PostgreSQL cancel request) take a network round trip."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from PySide6.QtWidgets import QLabel, QProgressBar

from tests.gui.conftest import AppFactory, Published, db_state, run_job
from tests.support.bungie_server import BungieServer, slow_body
from tests.support.manifest_factory import ManifestFactory

CANCEL_DELAY = 1.0  # a slow network between the app and PostgreSQL


def label(app: Any, name: str) -> str:
    found = app.window.findChild(QLabel, name)
    assert found is not None, name
    return str(found.text())


def test_the_remote_version_shows_while_it_downloads(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    assert label(app, "remoteVersionLabel") == "Not checked yet."
    bungie_server.queue(slow_body(chunk_size=4096, interval=0.05), route="content")
    download = app.window.findChild(QProgressBar, "downloadProgressBar")

    with qtbot.waitSignal(app.jobFinished, timeout=60_000) as finished:
        app.check_and_load()
        qtbot.waitUntil(lambda: 0 < download.value() < download.maximum(), timeout=30_000)
        # The job is still downloading: the check's answer is already on screen.
        assert app.runner.busy
        remote = label(app, "remoteVersionLabel")
        assert published.version in remote and published.content.name in remote, remote
        status = label(app, "statusLabel")
        assert status == f"Update available: {published.version}; downloading…", status
        assert label(app, "databaseVersionLabel") == "Empty: no manifest loaded yet."
        app.cancel()
    assert finished.args == ["update", "cancelled"]
    assert published.version in label(app, "remoteVersionLabel"), "Bungie.net still has it"


def test_quit_during_a_download_reports_the_job_as_cancelled(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    before = db_state(database_url)
    bungie_server.queue(slow_body(chunk_size=4096, interval=0.05), route="content")
    download = app.window.findChild(QProgressBar, "downloadProgressBar")
    with qtbot.waitSignal(app.jobFinished, timeout=60_000) as finished:
        app.check_and_load()
        qtbot.waitUntil(lambda: 0 < download.value() < download.maximum(), timeout=30_000)
        app.shutdown()  # what Quit does after hiding the window
    assert finished.args == ["update", "cancelled"]
    assert not app.threads_left_running
    assert db_state(database_url) == before


def test_cancel_never_blocks_the_window(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    before = db_state(database_url)
    manifest = manifest_factory.generate(seed=4, rows=30_000)
    file = manifest_factory.content_file(manifest)

    # The loader registers its connection's cancel_safe as a cancel callback; over a slow
    # network that round trip takes a while. It must not run in the GUI thread.
    original = psycopg.Connection.cancel_safe
    senders: list[threading.Thread] = []

    def slow_cancel_safe(self: psycopg.Connection, *, timeout: float = 30.0) -> None:
        senders.append(threading.current_thread())
        time.sleep(CANCEL_DELAY)
        original(self, timeout=timeout)

    monkeypatch.setattr(psycopg.Connection, "cancel_safe", slow_cancel_safe)
    blocked: list[float] = []

    def cancel_once_loading(event: Any) -> None:
        if event.stage == "load" and event.done > 0 and not blocked:
            started = time.monotonic()
            app.cancel()
            blocked.append(time.monotonic() - started)

    app.runner.progressed.connect(cancel_once_loading)
    started = time.monotonic()
    assert run_job(qtbot, app, lambda: app.load_file(file)) == ("file", "cancelled")
    assert blocked, "the load never reported progress"
    assert blocked[0] < 0.2, f"Cancel blocked the window for {blocked[0]:.2f} s"
    assert time.monotonic() - started < 30
    assert senders and all(t is not threading.main_thread() for t in senders)
    assert label(app, "statusLabel") == "Cancelled; the database was left as it was."
    assert db_state(database_url) == before
    qtbot.waitUntil(lambda: not any(t.is_alive() for t in senders), timeout=10_000)


def test_a_cancel_after_the_commit_says_it_came_too_late(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)

    def cancel_once_saved(event: Any) -> None:
        if event.stage == "load" and event.finished:  # the load's transaction has committed
            app.cancel()

    app.runner.progressed.connect(cancel_once_saved)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    log_text = app.window.log_view.toPlainText()
    assert "Cancelling…" in log_text
    assert "Too late to cancel: the load had already been saved." in log_text
    assert db_state(database_url)[1] == published.manifest.total_rows

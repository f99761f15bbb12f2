"""Check & Load through the window against the fake Bungie.net and a real PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from tests.gui.conftest import AppFactory, Published, db_state, run_job
from tests.support.bungie_server import BungieServer, slow_body


def label(app: Any, name: str) -> str:
    return app.window.findChild(QLabel, name).text()


def button(app: Any, name: str) -> QPushButton:
    found = app.window.findChild(QPushButton, name)
    assert found is not None, name
    return found


def bar(app: Any, name: str) -> QProgressBar:
    found = app.window.findChild(QProgressBar, name)
    assert found is not None, name
    return found


def test_check_and_load_fills_the_database_and_the_window(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    kind, outcome = run_job(
        qtbot,
        app,
        lambda: qtbot.mouseClick(button(app, "checkLoadButton"), Qt.MouseButton.LeftButton),
    )
    assert (kind, outcome) == ("update", "ok")

    rows = published.manifest.total_rows
    assert label(app, "statusLabel").startswith(f"Loaded {published.version} as #1: {rows:,} rows")
    assert published.version in label(app, "remoteVersionLabel")
    assert published.content.name in label(app, "remoteVersionLabel")
    assert published.version in label(app, "databaseVersionLabel")
    assert f"{rows:,} live rows" in label(app, "databaseVersionLabel")
    for name in ("downloadProgressBar", "extractProgressBar", "loadProgressBar"):
        assert bar(app, name).value() == bar(app, name).maximum() > 0, name
    assert "rows in" in label(app, "loadDetailLabel")
    assert button(app, "checkLoadButton").isEnabled()
    assert not button(app, "cancelButton").isEnabled()
    log = app.window.log_view.toPlainText()
    assert "Loading" in log and f"Loaded {published.version}" in log

    with psycopg.connect(database_url) as conn:
        current = conn.execute(
            "SELECT version ->> 'version', version ->> 'path' FROM manifest.t_manifest_version "
            "WHERE current"
        ).fetchone()
        (live,) = conn.execute(
            "SELECT count(*) FROM manifest.t_manifest WHERE deleted IS NULL"
        ).fetchone()  # type: ignore[misc]
    assert current == (published.version, published.path)
    assert live == rows

    # Check alone now finds nothing new; Check & Load leaves the database as it is.
    assert run_job(qtbot, app, lambda: button(app, "checkButton").click()) == ("check", "ok")
    assert label(app, "statusLabel") == "Up to date."
    before = db_state(database_url)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    assert label(app, "statusLabel") == f"Up to date: {published.version}."
    assert db_state(database_url) == before


def test_one_job_at_a_time_and_cancel_within_two_seconds(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    before = db_state(database_url)
    bungie_server.queue(slow_body(chunk_size=4096, interval=0.05), route="content")
    download = bar(app, "downloadProgressBar")

    with qtbot.waitSignal(app.jobFinished, timeout=60_000) as finished:
        button(app, "checkLoadButton").click()
        assert app.runner.busy
        for name in ("checkLoadButton", "checkButton", "loadFileButton", "forceReloadButton"):
            assert not button(app, name).isEnabled(), name
        assert button(app, "cancelButton").isEnabled()
        assert not app.check(), "a second job must not start while one runs"
        qtbot.waitUntil(lambda: 0 < download.value() < download.maximum(), timeout=30_000)
        assert "left" in label(app, "downloadDetailLabel")
        started = time.monotonic()
        qtbot.mouseClick(button(app, "cancelButton"), Qt.MouseButton.LeftButton)
    took = time.monotonic() - started

    assert finished.args == ["update", "cancelled"]
    assert took < 2.0, f"cancel took {took:.2f} s"
    assert label(app, "statusLabel") == "Cancelled; the database was left as it was."
    assert db_state(database_url) == before
    assert button(app, "checkLoadButton").isEnabled()
    assert download.maximum() > 0, "no busy bar may keep spinning after a cancel"


def test_cancel_during_the_load_rolls_back(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: Any,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    before = db_state(database_url)

    bigger = manifest_factory.generate(seed=4, rows=30_000)
    file = manifest_factory.content_file(bigger)
    load = bar(app, "loadProgressBar")
    cancelled_at: list[float] = []

    def cancel_once_loading(event: Any) -> None:
        if event.stage == "load" and event.done > 0 and not cancelled_at:
            cancelled_at.append(time.monotonic())
            app.cancel()

    app.runner.progressed.connect(cancel_once_loading)
    kind, outcome = run_job(qtbot, app, lambda: app.load_file(file))
    took = time.monotonic() - cancelled_at[0]
    assert (kind, outcome) == ("file", "cancelled")
    assert took < 2.0, f"cancel took {took:.2f} s"
    assert load.value() < load.maximum()
    assert db_state(database_url) == before
    assert published.version in label(app, "databaseVersionLabel")


def test_load_from_file_and_force_reload(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
) -> None:
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    assert run_job(qtbot, app, lambda: app.load_file(published.manifest.path)) == ("file", "ok")
    assert label(app, "statusLabel").startswith(f"Loaded {published.manifest.path.name} as #1")
    assert "not needed" in label(app, "downloadDetailLabel")
    assert run_job(qtbot, app, lambda: button(app, "forceReloadButton").click()) == ("force", "ok")
    assert label(app, "statusLabel").startswith(f"Loaded {published.version} as #2")
    versions, rows = db_state(database_url)
    assert [v[0] for v in versions] == [1, 2] and versions[-1][2] is True
    assert rows == published.manifest.total_rows

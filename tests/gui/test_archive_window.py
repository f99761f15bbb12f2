"""The S3 archive in the window: the Upload bar, a failed upload as a visible warning, and
dialogs that never wait for S3 or the disk when they close. Real engine, real PostgreSQL, the
fake Bungie.net and a real S3 API (moto's server, or a slow stand-in on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import boto3
import pytest
from PySide6.QtGui import QColor, QTextFormat
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QSystemTrayIcon

from manifest_gui.engine.cache import ManifestCache, manifest_stem
from manifest_gui.ui.log_view import LEVEL_COLOURS, LogView
from manifest_gui.ui.workers import detached_runners
from tests.gui.conftest import AppFactory, Published, db_state, run_job
from tests.support.bungie_server import BungieServer

JOB_MS = 60_000


def label(app: Any, name: str) -> str:
    found = app.window.findChild(QLabel, name)
    assert found is not None, name
    return str(found.text())


def upload_bar(app: Any) -> QProgressBar:
    found = app.window.findChild(QProgressBar, "uploadProgressBar")
    assert found is not None, "no uploadProgressBar"
    return found


def coloured_lines(view: LogView) -> list[tuple[str, str]]:
    """(text, colour name) of each line of the log pane ("" for the default colour)."""
    lines = []
    block = view.document().firstBlock()
    while block.isValid():
        fragment = block.begin().fragment()
        fmt = fragment.charFormat()
        colour = ""
        if fragment.isValid() and fmt.hasProperty(QTextFormat.Property.ForegroundBrush):
            colour = fmt.foreground().color().name()
        lines.append((block.text(), colour))
        block = block.next()
    return lines


WARNING_COLOUR = QColor(LEVEL_COLOURS["warning"]).name()


def test_upload_bar_follows_the_upload_and_shows_only_with_a_bucket(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    moto_endpoint: str,
    s3_bucket: str,
) -> None:
    app = make_app(
        database_url=database_url,
        bungie_root=bungie_server.base_url,
        s3_bucket=s3_bucket,
        s3_endpoint_url=moto_endpoint,
    )
    bar = upload_bar(app)
    assert bar.isVisible(), "a bucket is configured: the Upload row shows"
    events: list[Any] = []
    app.runner.progressed.connect(
        lambda event: events.append(event) if event.stage == "upload" else None
    )
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")

    assert [e.finished for e in events if e.message is None][-1], "the upload stage ended"
    assert bar.value() == bar.maximum() > 0
    detail = label(app, "uploadDetailLabel")
    assert " in " in detail and "B" in detail, detail
    assert label(app, "statusLabel").startswith(f"Loaded {published.version} as #1")
    assert any(line.startswith("Upload ") for line in (t[10:] for t in app.window.log_view.lines()))
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    key = f"manifests/en/{manifest_stem(published.path)}.sqlite3"
    assert client.head_object(Bucket=s3_bucket, Key=key)["ContentLength"] > 0
    client.close()

    # Without a bucket there is nothing to upload: no Upload row; Settings can add one.
    plain = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    plain_bar = upload_bar(plain)
    archive_button = plain.window.findChild(QPushButton, "loadArchiveButton")
    assert plain_bar.isHidden()
    # Load from archive cannot work yet: disabled, and its tooltip says what it needs.
    assert not archive_button.isEnabled() and "Set an S3 bucket" in archive_button.toolTip()
    plain.apply_settings(dataclasses.replace(plain.settings, s3_bucket=s3_bucket))
    assert plain_bar.isVisible() and archive_button.isEnabled()
    plain.apply_settings(dataclasses.replace(plain.settings, s3_bucket=None))
    assert plain_bar.isHidden() and not archive_button.isEnabled()


def test_a_failed_upload_is_a_visible_warning_and_the_load_goes_ahead(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    aws_environment: None,
    refused_url: str,
) -> None:
    app = make_app(
        database_url=database_url,
        bungie_root=bungie_server.base_url,
        s3_bucket="manifest-gui-unreachable",
        s3_endpoint_url=refused_url,
    )
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")

    assert label(app, "statusLabel").startswith(f"Loaded {published.version} as #1"), "loaded"
    versions, rows = db_state(database_url)
    assert rows == published.manifest.total_rows and versions[-1][2] is True
    host = refused_url.split("://", 1)[1]
    warned = [
        text
        for text, colour in coloured_lines(app.window.log_view)
        if colour == WARNING_COLOUR and f"Cannot reach the S3 endpoint {host}" in text
    ]
    assert len(warned) == 1, coloured_lines(app.window.log_view)
    assert "not archived" in label(app, "uploadDetailLabel")
    assert "Cannot reach the S3 endpoint" in app.window.version_panel.status_label.toolTip()


@pytest.mark.display
def test_a_failed_upload_while_hidden_is_a_tray_notification(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    published: Published,
    aws_environment: None,
    refused_url: str,
) -> None:
    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    app = make_app(
        tray=True,
        database_url=database_url,
        bungie_root=bungie_server.base_url,
        s3_bucket="manifest-gui-unreachable",
        s3_endpoint_url=refused_url,
    )
    tray = app.tray
    assert tray is not None
    notices: list[tuple[str, str, bool]] = []

    def record(title: str, text: str, error: bool = False) -> None:
        notices.append((title, text, error))

    tray.notify = record  # type: ignore[method-assign]
    app.window.close()  # to the tray
    assert not app.window.isVisible()
    notices.clear()

    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    assert len(notices) == 1, notices
    title, text, error = notices[0]
    assert title == "New manifest loaded, not archived" and error
    assert published.version in text and "Cannot reach the S3 endpoint" in text
    assert tray.state == "loaded"


def test_closing_the_archive_dialog_never_waits_for_s3(
    qtbot: Any, make_app: AppFactory, slow_s3_endpoint: str
) -> None:
    app = make_app(s3_bucket="manifest-gui-slow", s3_endpoint_url=slow_s3_endpoint)
    app.open_archive()
    dialog = app.archive_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: not dialog.findChild(QPushButton, "archiveRefreshButton").isEnabled())
    started = time.monotonic()
    dialog.reject()  # while S3 takes 2 s to answer the listing
    took = time.monotonic() - started
    assert took < 0.5, f"closing the dialog blocked the window for {took:.2f} s"
    assert app.archive_dialog is None
    # The listing ends on its own a little later; nothing is left running.
    qtbot.waitUntil(lambda: detached_runners() == 0, timeout=15_000)


def test_clear_cache_runs_in_a_worker_and_closing_settings_never_waits(
    qtbot: Any, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    cached = app.settings.cache_path / "en" / "world_sql_content_x.sqlite3"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x" * (2 << 20))
    threads: list[threading.Thread] = []
    original = ManifestCache.clear

    def slow_clear(self: ManifestCache) -> int:  # a slow disk
        threads.append(threading.current_thread())
        time.sleep(0.8)
        return original(self)

    monkeypatch.setattr(ManifestCache, "clear", slow_clear)

    # Clearing, and the new size, come from a worker.
    dialog = app.open_settings()
    widget = dialog.archive_widget
    qtbot.waitUntil(lambda: widget.cache_size_label.text() == "2.1 MB", timeout=10_000)
    started = time.monotonic()
    with qtbot.waitSignal(widget.cacheCleared, timeout=10_000) as cleared:
        widget.clear_cache_button.click()
        assert time.monotonic() - started < 0.5, "the click waited for the disk"
        assert widget.cache_size_label.text() == "clearing…"
        assert not widget.clear_cache_button.isEnabled()
    assert cleared.args == [2 << 20]
    assert threads and threads[0] is not threading.main_thread()
    assert not cached.exists()
    assert widget.cache_size_label.text() == "empty"
    dialog.reject()

    # Closing Settings while a clear runs returns at once; the clear finishes on its own.
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"y" * 1024)
    dialog = app.open_settings()
    dialog.archive_widget.clear_cache()
    started = time.monotonic()
    dialog.reject()
    took = time.monotonic() - started
    assert took < 0.5, f"closing Settings blocked the window for {took:.2f} s"
    qtbot.waitUntil(lambda: detached_runners() == 0, timeout=10_000)
    assert not cached.exists()

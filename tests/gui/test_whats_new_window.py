"""Release news in the real window: after a load that changed the database the What's new page
comes first with the notes of that load, an entry opens in Browse, the Discord webhook gets the
notes (a failure is a warning in the log), and a reload that changed nothing does neither."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from manifest_gui.app import Application
from manifest_gui.engine.viewer_queries import to_signed
from manifest_gui.ui.notification_settings import NotificationSettingsWidget
from manifest_gui.ui.tray_news import NotifyPolicy
from tests.gui.conftest import AppFactory, run_job
from tests.support.bungie_server import BungieServer
from tests.support.discord_server import DiscordServer, server_error
from tests.support.manifest_factory import ManifestFactory

WAIT_MS = 30_000


@pytest.fixture
def discord() -> Iterator[DiscordServer]:
    with DiscordServer() as server:
        yield server


def _load(qtbot: Any, app: Application) -> None:
    """Check & Load, then wait for the page to show the notes and the post to end."""
    with qtbot.waitSignal(app.news.news.notified, timeout=WAIT_MS):
        assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    qtbot.waitUntil(lambda: not app.news.page.loader.busy, timeout=WAIT_MS)


def test_a_changed_load_shows_whats_new_first_and_posts_to_discord(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    discord: DiscordServer,
) -> None:
    bungie_server.any_icon = True
    first = manifest_factory.generate(seed=5, rows=1500)
    second = manifest_factory.generate(seed=6, version_of=first, changed=0.1, added=0.02)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    app.secrets.set_discord_webhook_url(discord.webhook_url)
    page = app.news.page
    assert app.window.tabs.indexOf(page) == 1 and app.window.tabs.tabText(1) == "&What's new"

    bungie_server.publish(manifest_factory.content_file(first))
    _load(qtbot, app)
    assert app.window.tabs.currentWidget() is page
    assert page.notes is not None and page.notes.first_load
    assert len(discord.accepted) == 1, "a first load posts one short message"

    app.window.tabs.setCurrentIndex(0)
    bungie_server.publish(manifest_factory.content_file(second))
    _load(qtbot, app)
    assert app.window.tabs.currentWidget() is page, "shown first after a load that changed"
    notes = page.notes
    assert notes is not None and notes.from_version is not None
    assert notes.to_version.manifest_id == 2 and notes.from_version.manifest_id == 1
    assert page.entries_model.entry_rows() == sum(len(s.entries) for s in notes.sections) > 0
    assert len(discord.accepted) >= 2
    assert "not sent" not in app.window.log_view.toPlainText()

    # An entry opens in Browse, with the viewer's detail pane on it.
    entry = next(e for s in notes.sections for e in s.entries if e.kind != "removed")
    with qtbot.waitSignal(app.viewer.detail.definitionShown, timeout=WAIT_MS) as shown:
        page.openRequested.emit(entry.table, entry.hash)
    assert shown.args == [entry.table, {"id": to_signed(entry.hash)}]
    assert app.window.tabs.currentWidget() is app.viewer

    # Reloading the same release changes nothing: no page switch, nothing posted.
    posted = len(discord.accepted)
    app.window.tabs.setCurrentIndex(0)
    assert run_job(qtbot, app, app.force_reload) == ("force", "ok")
    qtbot.wait(300)
    assert app.window.tabs.currentIndex() == 0
    assert len(discord.accepted) == posted


def test_a_failed_post_is_a_warning_and_the_load_stands(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    discord: DiscordServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from manifest_gui.engine import discord as discord_module

    monkeypatch.setattr(discord_module, "BACKOFF", 0.01)
    first = manifest_factory.generate(seed=7, rows=800)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    app.secrets.set_discord_webhook_url(discord.webhook_url)
    discord.queue(server_error(500), times=10)
    bungie_server.publish(manifest_factory.content_file(first))
    with qtbot.waitSignal(app.news.news.warning, timeout=WAIT_MS) as warned:
        assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    assert warned.args[0].startswith("The Discord notification was not sent")
    assert "unexpectedly" not in warned.args[0], "the server's failure, not a bug"
    qtbot.waitUntil(lambda: warned.args[0] in app.window.log_view.toPlainText())
    assert discord.token not in app.window.log_view.toPlainText()
    assert app.news.page.notes is not None, "the notes show all the same"


def test_settings_have_a_notifications_tab_that_stores_the_policy_and_url(
    qtbot: Any, make_app: AppFactory, discord: DiscordServer
) -> None:
    app = make_app()
    dialog = app.open_settings()
    tab = dialog.findChild(NotificationSettingsWidget, "notificationSettings")
    assert tab is not None and dialog.tabs.indexOf(tab) >= 0
    assert app.news.policy() is NotifyPolicy.ALWAYS
    tab.policy_buttons[NotifyPolicy.WATCHED].click()
    tab.webhook_edit.setText(discord.webhook_url)
    dialog.accept()
    assert app.news.policy() is NotifyPolicy.WATCHED
    assert app.secrets.discord_webhook_url() == discord.webhook_url
    assert discord.token not in app.state.fileName() and discord.token not in str(
        [app.state.value(k) for k in app.state.allKeys()]
    )


def test_the_detail_pane_has_an_icon_and_a_watch_button(qtbot: Any, make_app: AppFactory) -> None:
    app = make_app()
    badge = app.viewer.detail.badge
    assert badge is not None and not badge.watch_button.isEnabled()
    assert badge.watch_button.window() is app.window
    assert app.viewer.findChild(QWidget, "detailIcon") is badge.icon_label


@pytest.mark.display
def test_a_load_while_hidden_is_one_line_in_the_tray_and_its_click_opens_whats_new(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    from manifest_gui.engine.watchlist import watched_entries

    qtbot.waitUntil(QSystemTrayIcon.isSystemTrayAvailable, timeout=5000)
    first = manifest_factory.generate(seed=8, rows=1200)
    second = manifest_factory.generate(seed=9, version_of=first, changed=0.1, added=0.02)
    app = make_app(tray=True, database_url=database_url, bungie_root=bungie_server.base_url)
    bungie_server.publish(manifest_factory.content_file(first))
    _load(qtbot, app)
    app.window.close()  # to the tray
    assert not app.window.isVisible()
    plugin = app.news

    # Only when watched items change: nothing watched changed, so nothing is said.
    plugin.set_policy(NotifyPolicy.WATCHED)
    bungie_server.publish(manifest_factory.content_file(second))
    _load(qtbot, app)
    assert plugin.last_tray_message is None
    notes = plugin.page.notes
    assert notes is not None and not watched_entries(
        (e for s in notes.sections for e in s.entries), app.news.news.watches.all()
    )

    # Always: the next release is one line naming what changed.
    plugin.set_policy(NotifyPolicy.ALWAYS)
    bungie_server.publish(manifest_factory.content_file(first))  # back: a changed load too
    _load(qtbot, app)
    assert plugin.last_tray_message is not None
    title, line = plugin.last_tray_message
    assert title == "New manifest loaded"
    assert line.startswith(f"New manifest {bungie_server.version}: ")
    app.window.tabs.setCurrentIndex(0)
    assert app.tray is not None
    app.tray.messageClicked.emit()
    qtbot.waitUntil(app.window.isVisible, timeout=5000)
    assert app.window.tabs.currentWidget() is plugin.page


def test_quitting_does_not_wait_out_a_discord_rate_limit(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    discord: DiscordServer,
) -> None:
    import time

    from tests.support.discord_server import rate_limited

    first = manifest_factory.generate(seed=10, rows=600)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    app.secrets.set_discord_webhook_url(discord.webhook_url)
    discord.queue(rate_limited(40))
    bungie_server.publish(manifest_factory.content_file(first))
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    qtbot.waitUntil(lambda: len(discord.requests) == 1, timeout=WAIT_MS)
    started = time.monotonic()
    app.shutdown()
    assert time.monotonic() - started < 10, "the 40 s wait was cut short"
    assert discord.accepted == []


def test_another_database_starts_the_page_afresh(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
) -> None:
    first = manifest_factory.generate(seed=12, rows=600)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    bungie_server.publish(manifest_factory.content_file(first))
    _load(qtbot, app)
    page = app.news.page
    assert page.notes is not None and app.window.tabs.currentWidget() is page
    other = dataclasses.replace(app.settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    with qtbot.waitSignal(page.failed, timeout=WAIT_MS):  # it reads the new one at once
        app.dialogs.settingsChosen.emit(other)
    assert page.notes is None and page.entries_model.rowCount() == 0
    assert "Cannot connect" in page.message.text()
    qtbot.waitUntil(lambda: not app.runner.busy, timeout=WAIT_MS)


def test_a_post_held_by_a_rate_limit_does_not_hold_up_the_next_notes(
    qtbot: Any,
    make_app: AppFactory,
    database_url: str,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    discord: DiscordServer,
) -> None:
    from tests.support.discord_server import rate_limited

    first = manifest_factory.generate(seed=13, rows=600)
    second = manifest_factory.generate(seed=14, version_of=first, changed=0.1)
    app = make_app(database_url=database_url, bungie_root=bungie_server.base_url)
    app.secrets.set_discord_webhook_url(discord.webhook_url)
    discord.queue(rate_limited(30))
    bungie_server.publish(manifest_factory.content_file(first))
    assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    qtbot.waitUntil(lambda: len(discord.requests) == 1, timeout=WAIT_MS)
    bungie_server.publish(manifest_factory.content_file(second))
    page = app.news.page
    with qtbot.waitSignal(page.notesShown, timeout=15_000) as shown:
        assert run_job(qtbot, app, app.check_and_load) == ("update", "ok")
    assert shown.args[0].notes.to_version.manifest_id == 2
    assert discord.accepted == [], "the first post still waits out its rate limit"

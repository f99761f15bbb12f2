"""Settings' Notifications tab: the webhook URL in the keyring with a Test button against the
Discord stand-in, the tray notification policy, and the shared watchlist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifest_gui.engine.errors import ConfigurationError
from manifest_gui.engine.secrets import DISCORD_WEBHOOK_ENTRY, SecretStore
from manifest_gui.engine.watchlist import Watchlist
from manifest_gui.ui.notification_settings import NotificationSettingsWidget
from manifest_gui.ui.tray_news import NotifyPolicy, tray_news
from manifest_gui.ui.whats_new import Watches
from tests.gui.conftest import MemoryKeyring
from tests.gui.whats_new_support import known_notes
from tests.support.discord_server import DiscordServer, server_error

WAIT_MS = 30_000


@pytest.fixture
def discord() -> Iterator[DiscordServer]:
    with DiscordServer() as server:
        yield server


@pytest.fixture
def watches(tmp_path: Path) -> Watches:
    return Watches(Watchlist(tmp_path / "watchlist.json"))


def _widget(qtbot: Any, secrets: SecretStore, watches: Watches) -> NotificationSettingsWidget:
    widget = NotificationSettingsWidget(secrets, watches, NotifyPolicy.WATCHED)
    qtbot.addWidget(widget)
    return widget


def test_the_webhook_url_is_stored_in_the_keyring_on_apply(
    qtbot: Any,
    secrets: SecretStore,
    memory_keyring: MemoryKeyring,
    watches: Watches,
    discord: DiscordServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    widget = _widget(qtbot, secrets, watches)
    assert widget.webhook_edit.echoMode() == widget.webhook_edit.EchoMode.Password
    assert not widget.test_button.isEnabled() and not widget.clear_url_button.isEnabled()
    assert "No webhook is set" in widget.webhook_status.text()
    widget.webhook_edit.setText(discord.webhook_url)
    assert widget.test_button.isEnabled()
    widget.validate()
    widget.apply(session_only=False)
    assert secrets.get(DISCORD_WEBHOOK_ENTRY) == discord.webhook_url
    # Never in a log record or any file of the test's folders.
    assert discord.token not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert discord.token.encode() not in path.read_bytes(), path

    again = _widget(qtbot, secrets, watches)
    assert again.webhook_edit.text() == ""
    assert "stored in the keyring" in again.webhook_status.text()
    assert again.clear_url_button.isEnabled()
    again.clear_url()
    again.apply(session_only=False)
    assert secrets.get(DISCORD_WEBHOOK_ENTRY) is None


def test_an_invalid_url_is_refused_without_quoting_it(
    qtbot: Any, secrets: SecretStore, watches: Watches
) -> None:
    widget = _widget(qtbot, secrets, watches)
    widget.webhook_edit.setText("ftp://secret-token-here")
    with pytest.raises(ConfigurationError) as refused:
        widget.validate()
    assert "secret-token-here" not in str(refused.value)


def test_the_test_button_posts_a_message_and_says_how_it_went(
    qtbot: Any, secrets: SecretStore, watches: Watches, discord: DiscordServer
) -> None:
    widget = _widget(qtbot, secrets, watches)
    widget.webhook_edit.setText(discord.webhook_url)
    with qtbot.waitSignal(widget._tester.finished, timeout=WAIT_MS):
        widget.test_button.click()
    assert widget.test_result.text() == "The test message was posted."
    assert len(discord.accepted) == 1
    assert secrets.get(DISCORD_WEBHOOK_ENTRY) is None, "a test stores nothing"

    discord.queue(server_error(500), times=10)
    with qtbot.waitSignal(widget._tester.finished, timeout=WAIT_MS):
        widget.test_button.click()
    failure = widget.test_result.text()
    assert failure and failure != "The test message was posted."
    assert discord.token not in failure and discord.webhook_path not in failure


def test_policy_and_watches(qtbot: Any, secrets: SecretStore, watches: Watches) -> None:
    widget = _widget(qtbot, secrets, watches)
    assert widget.policy() is NotifyPolicy.WATCHED
    widget.policy_buttons[NotifyPolicy.NEVER].click()
    assert widget.policy() is NotifyPolicy.NEVER
    assert widget.watch_list.item(0).text() == "Nothing is watched yet."
    assert not widget.remove_watch_button.isEnabled()
    qtbot.keyClicks(widget.watch_text_edit, "Pinnacle")
    widget.add_watch_button.click()
    watches.watch_definition("DestinyInventoryItemDefinition", 2222)  # a Watch this elsewhere
    texts = [widget.watch_list.item(r).text() for r in range(widget.watch_list.count())]
    assert texts == [
        "#1  names containing 'Pinnacle'",
        "#2  hash 2222 in DestinyInventoryItemDefinition",
    ]
    widget.watch_list.setCurrentRow(0)
    widget.remove_watch_button.click()
    assert [w.hash for w in watches.all()] == [2222]


def test_the_tray_news_follows_the_policy() -> None:
    from manifest_gui.engine.watchlist import Watch, with_watched

    notes = known_notes()
    watched = with_watched(notes, [Watch(1, hash=2222)])
    line = "New manifest 245000.26.12.01: 2 weapons, 2 armour, 1 activity"
    assert tray_news(notes, NotifyPolicy.ALWAYS) == line
    assert tray_news(notes, NotifyPolicy.WATCHED) is None
    assert tray_news(watched, NotifyPolicy.WATCHED) == line + "; 1 watched item changed"
    assert tray_news(watched, NotifyPolicy.NEVER) is None
    assert NotifyPolicy.parse("nonsense") is NotifyPolicy.ALWAYS

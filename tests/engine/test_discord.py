"""The Discord notifier against a local stand-in for Discord's webhook API (real HTTP).

Messages are built from release notes made here with known entries; the end-to-end checks
through the CLI (real loads, real notes) are in test_discord_cli.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from manifest_gui.engine.discord import (
    DiscordError,
    DiscordWebhook,
    checked_webhook_url,
    redact,
    retry_after,
    send_test_message,
)
from manifest_gui.engine.discord_messages import (
    EMBEDS_PER_MESSAGE,
    WebhookMessage,
    release_messages,
)
from manifest_gui.engine.errors import CancelledError, ConfigurationError
from manifest_gui.engine.loader import LoadResult
from manifest_gui.engine.notes_model import (
    Change,
    Entry,
    EntryKind,
    ReleaseNotes,
    Section,
    TableCounts,
    VersionRef,
)
from manifest_gui.engine.notify import NotifyOutcome, NotifySkip, notify_after_load
from manifest_gui.engine.progress import Progress, ProgressEvent
from manifest_gui.engine.secrets import DISCORD_WEBHOOK_ENVIRONMENT, SecretStore
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from manifest_gui.engine.watchlist import Watch, with_watched
from tests.support.bungie_server import refused_url
from tests.support.discord_server import (
    DiscordServer,
    client_error,
    hang,
    limit_violations,
    no_content,
    ok_json,
    rate_limited,
    server_error,
)
from tests.support.memory_keyring import MemoryKeyring

ITEMS = "DestinyInventoryItemDefinition"
ROOT = "https://www.bungie.net"


@pytest.fixture
def discord() -> Iterator[DiscordServer]:
    with DiscordServer() as server:
        yield server


def fast_webhook(url: str, **options: float) -> DiscordWebhook:
    """Short backoff and timeout: the failure paths run in a fraction of a second."""
    settings: dict[str, float] = {"backoff": 0.05, "timeout": 2.0, **options}
    return DiscordWebhook(
        url,
        backoff=settings["backoff"],
        timeout=settings["timeout"],
        max_rate_limit_wait=settings.get("max_rate_limit_wait", 60.0),
    )


def stat(name: str, stat_hash: int, before: int, after: int) -> Change:
    return Change(f"stats.stats.{stat_hash}.value", name, before, after)


def big_release(entries_per_section: int = 40, name_length: int = 30) -> ReleaseNotes:
    """Many entries with long names and many changes: forces splitting and the attachment."""
    weapons = tuple(
        Entry(
            EntryKind.ADDED if n % 3 else EntryKind.CHANGED,
            ITEMS,
            3_000_000_000 + n,
            f"Weapon {n:03d} " + "x" * name_length,
            f"/common/destiny2_content/icons/w{n}.jpg",
            ()
            if n % 3
            else tuple(stat(f"Stat {k} " + "y" * 300, 1000 + k, k, k + 10) for k in range(30)),
        )
        for n in range(entries_per_section)
    )
    armor = tuple(
        Entry(EntryKind.REMOVED, ITEMS, 2_000_000 + n, f"Helmet {n:03d}", None)
        for n in range(entries_per_section)
    )
    return ReleaseNotes(
        VersionRef(1, "1000.26.01.01"),
        VersionRef(2, "1001.26.02.01"),
        {ITEMS: TableCounts(entries_per_section, entries_per_section, entries_per_section)},
        (Section("weapons", "Weapons", weapons), Section("armor", "Armor", armor)),
    )


def small_release() -> ReleaseNotes:
    entries = (
        Entry(EntryKind.ADDED, ITEMS, 1363886209, "Gjallarhorn", "/icons/gjally.jpg"),
        Entry(
            EntryKind.CHANGED,
            ITEMS,
            4_000_000_001,
            "Fatebringer",
            "/icons/fate.jpg",
            (stat("Rounds Per Minute", 4284893193, 120, 140),),
        ),
    )
    return ReleaseNotes(
        VersionRef(1, "v1"),
        VersionRef(2, "v2"),
        {ITEMS: TableCounts(1, 1, 0)},
        (Section("weapons", "Weapons", entries),),
    )


# --------------------------------------------------------------------------- messages


def test_a_big_release_is_split_within_limits_with_watched_first_and_the_rest_attached(
    discord: DiscordServer,
) -> None:
    notes = with_watched(
        big_release(), [Watch(1, hash=2_000_000 + 39), Watch(2, text="WEAPON 007")]
    )
    markdown = "# Notes\n" + "\n".join(f"- {e.name}" for s in notes.sections for e in s.entries)
    messages = release_messages(notes, bungie_root=ROOT, markdown=markdown, max_embeds=30)

    with fast_webhook(discord.webhook_url) as webhook:
        assert webhook.post_all(messages) == len(messages)

    posted = discord.accepted
    assert len(posted) == len(discord.requests) == len(messages) >= 4
    for request in posted:
        assert limit_violations(request) == [], request.payload
        assert len(request.payload["embeds"]) <= EMBEDS_PER_MESSAGE  # type: ignore[index]
    first = posted[0].payload
    assert first is not None
    assert "1001.26.02.01" in first["content"] and "1000.26.01.01" in first["content"]
    assert "**Weapons**: 26 new, 14 changed" in first["content"]
    assert "**Armor**: 40 removed" in first["content"]
    assert "Watched: Weapon 007" in first["content"] and "Helmet 039" in first["content"]
    titles = [embed["title"] for r in posted for embed in (r.payload or {}).get("embeds", [])]
    assert titles[0].startswith("★ Weapon 007") and titles[1] == "★ Helmet 039"
    assert len(titles) == 30
    assert all(title.count("Weapon 007") == 0 for title in titles[2:])  # each entry once
    # The last message says how many were left out and attaches the whole Markdown.
    last = posted[-1]
    assert last.payload is not None
    assert last.payload["content"].startswith("…and 50 more")
    filename, data = last.files["files[0]"]
    assert filename == "release-notes-1001.26.02.01.md"
    assert data.decode() == markdown
    assert last.payload["attachments"] == [{"id": 0, "filename": filename}]
    # Embeds: kind, stat changes as fields, icon as an absolute Bungie.net URL.
    embeds = [embed for r in posted for embed in (r.payload or {}).get("embeds", [])]
    changed = next(embed for embed in embeds if embed["title"].startswith("Weapon 000"))
    assert changed["description"].startswith("Changed · InventoryItem")
    assert changed["fields"][0]["value"] == "0 → 10"
    assert changed["thumbnail"] == {"url": f"{ROOT}/common/destiny2_content/icons/w0.jpg"}
    assert "…and 18 more changes" in changed["description"]


def test_every_message_stays_within_limits_whatever_the_lengths(discord: DiscordServer) -> None:
    """Names, stat labels and values far beyond Discord's limits are cut, never rejected."""
    huge = "ü" * 5000
    entry = Entry(
        EntryKind.CHANGED,
        ITEMS,
        7,
        huge,
        "/i.png",
        tuple(Change(f"a.{huge}.{k}", huge, huge, {"x": huge}) for k in range(40)),
    )
    notes = ReleaseNotes(
        VersionRef(1, huge),
        VersionRef(2, huge),
        {f"Destiny{k}{huge[:50]}Definition": TableCounts(1, 1, 1) for k in range(200)},
        tuple(Section(f"s{k}", huge[:300], (entry,) * 3) for k in range(60)),
    )
    notes = with_watched(notes, [Watch(1, hash=7)])
    messages = release_messages(notes, bungie_root=ROOT, markdown=huge)
    with fast_webhook(discord.webhook_url) as webhook:
        webhook.post_all(messages)
    assert len(discord.accepted) == len(messages)
    for request in discord.accepted:
        assert limit_violations(request) == []


def test_stand_in_rejects_a_body_over_the_limits(discord: DiscordServer) -> None:
    """The limit check is not vacuous: an oversized message is refused and named."""
    too_long = WebhookMessage("x" * 2001)
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post(too_long)
    assert "HTTP 400" in str(caught.value) and "Invalid Form Body" in str(caught.value)
    assert discord.requests[0].violations == ["content has 2001 characters (limit 2000)"]


def test_first_load_is_one_short_message_and_no_change_is_none() -> None:
    counts = {f"Destiny{n}Definition": TableCounts(n * 10, 0, 0) for n in range(1, 40)}
    first = ReleaseNotes(None, VersionRef(1, "245000.26.12.01"), counts, ())
    messages = release_messages(first, bungie_root=ROOT, markdown="# all of it")
    assert len(messages) == 1 and messages[0].embeds == () and messages[0].attachment is None
    text = messages[0].content
    assert "245000.26.12.01" in text and "7,800 definitions in 39 tables" in text
    assert "39: 390" in text.splitlines()[1]  # the largest table first
    assert len(text) <= 2000

    unchanged = ReleaseNotes(VersionRef(1, "a"), VersionRef(2, "a"), {}, ())
    assert release_messages(unchanged, bungie_root=ROOT, markdown="") == []


def test_mentions_are_never_pinged() -> None:
    notes = small_release()
    message = release_messages(notes, bungie_root=ROOT)[0]
    assert message.payload()["allowed_mentions"] == {"parse": []}


# --------------------------------------------------------------------------- the webhook client


@pytest.mark.parametrize("in_body", [True, False], ids=["retry_after", "Retry-After"])
def test_a_429_is_waited_out_and_the_order_kept(discord: DiscordServer, in_body: bool) -> None:
    messages = [WebhookMessage(f"message {n}") for n in range(4)]
    discord.queue(rate_limited(0.4 if in_body else 1, in_body=in_body, in_header=not in_body))
    with fast_webhook(discord.webhook_url) as webhook:
        assert webhook.post_all(messages) == 4
    contents = [r.payload["content"] for r in discord.requests]  # type: ignore[index]
    assert contents == ["message 0", "message 0", "message 1", "message 2", "message 3"]
    assert [r.status for r in discord.requests] == [429, 204, 204, 204, 204]
    waited = discord.requests[1].time - discord.requests[0].time
    assert waited >= (0.4 if in_body else 1.0) - 0.01


def test_a_429_in_the_middle_keeps_the_order(discord: DiscordServer) -> None:
    messages = [WebhookMessage(f"message {n}") for n in range(3)]
    discord.queue(no_content(), rate_limited(0.2), rate_limited(0.2))
    with fast_webhook(discord.webhook_url) as webhook:
        webhook.post_all(messages)
    assert [r.payload["content"] for r in discord.accepted] == [  # type: ignore[index]
        "message 0",
        "message 1",
        "message 2",
    ]


def test_a_wait_beyond_the_bound_gives_up_at_once(discord: DiscordServer) -> None:
    discord.queue(rate_limited(3600))
    started = time.monotonic()
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post_all([WebhookMessage("a"), WebhookMessage("b")])
    assert time.monotonic() - started < 5
    assert "3600 s" in str(caught.value) and caught.value.posted == 0
    assert len(discord.requests) == 1


def test_server_errors_are_tried_again(discord: DiscordServer) -> None:
    discord.queue(server_error(500), server_error(502))
    with fast_webhook(discord.webhook_url) as webhook:
        webhook.post(WebhookMessage("hello"))
    assert [r.status for r in discord.requests] == [500, 502, 204]


def test_persistent_server_errors_end_in_a_sentence_without_the_token(
    discord: DiscordServer,
) -> None:
    discord.queue(server_error(503), times=3)
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post_all([WebhookMessage("a"), WebhookMessage("b")])
    assert str(caught.value) == "127.0.0.1 answered HTTP 503 (tried 3 times)."
    assert len(discord.requests) == 3


def test_later_failure_says_how_many_were_posted(discord: DiscordServer) -> None:
    discord.queue(no_content(), client_error(404))
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post_all([WebhookMessage("a"), WebhookMessage("b"), WebhookMessage("c")])
    assert caught.value.posted == 1
    assert str(caught.value) == (
        "127.0.0.1 refused the message (HTTP 404: Unknown Webhook); check the webhook URL in "
        "Settings. 1 of 3 messages had been posted."
    )
    assert len(discord.requests) == 2  # c is not sent after b failed: it would come first


def test_refused_connection_is_tried_again_then_a_sentence() -> None:
    url = refused_url() + "/api/webhooks/1/" + "s3cr3t-token-value"
    started = time.monotonic()
    with fast_webhook(url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post(WebhookMessage("hello"))
    assert time.monotonic() - started >= 0.05 + 0.1 - 0.01  # two backoffs
    assert str(caught.value) == (
        "127.0.0.1 refused the connection; check the webhook URL (tried 3 times)."
    )


def test_a_server_that_never_answers_times_out(discord: DiscordServer) -> None:
    discord.queue(hang(), times=2)
    with fast_webhook(discord.webhook_url, timeout=0.3) as webhook:
        webhook.post(WebhookMessage("hello"))  # the third try gets the 204
    assert [r.status for r in discord.requests] == [None, None, 204]

    discord.queue(hang(), times=3)
    with (
        fast_webhook(discord.webhook_url, timeout=0.3) as webhook,
        pytest.raises(DiscordError) as e,
    ):
        webhook.post(WebhookMessage("hello"))
    assert str(e.value) == "127.0.0.1 did not answer in time (tried 3 times)."


def test_cancel_ends_a_request_waiting_for_its_answer(discord: DiscordServer) -> None:
    discord.queue(hang())
    progress = Progress()
    threading.Timer(0.3, progress.cancel).start()
    started = time.monotonic()
    with DiscordWebhook(discord.webhook_url, timeout=30) as webhook, pytest.raises(CancelledError):
        webhook.post(WebhookMessage("hello"), progress)
    assert time.monotonic() - started < 5


def test_cancel_ends_a_rate_limit_wait(discord: DiscordServer) -> None:
    discord.queue(rate_limited(50))
    progress = Progress()
    threading.Timer(0.3, progress.cancel).start()
    started = time.monotonic()
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(CancelledError):
        webhook.post(WebhookMessage("hello"), progress)
    assert time.monotonic() - started < 5


def test_the_token_is_redacted_from_what_the_server_says(discord: DiscordServer) -> None:
    discord.queue(client_error(401, f"Invalid Webhook Token {discord.token}", 50027))
    with fast_webhook(discord.webhook_url) as webhook, pytest.raises(DiscordError) as caught:
        webhook.post(WebhookMessage("x"))
    assert discord.token not in str(caught.value)
    assert "Invalid Webhook Token …" in str(caught.value)
    assert redact(f"see {discord.webhook_url}!", discord.webhook_url) == "see <webhook URL>!"


def test_test_message_posts_once(discord: DiscordServer) -> None:
    discord.queue(ok_json())  # a relay that answers like ?wait=true: 200 and the message
    send_test_message(discord.webhook_url)
    assert [(r.status, r.payload["content"]) for r in discord.requests] == [  # type: ignore[index]
        (200, "manifest-gui can post release notes here.")
    ]


def test_retry_after_sources(discord: DiscordServer) -> None:
    import requests

    discord.queue(rate_limited(2.5, in_body=False), rate_limited(0.25, in_header=False))
    with requests.Session() as session:
        assert retry_after(session.post(discord.webhook_url, json={})) == 2.0  # header rounds
        assert retry_after(session.post(discord.webhook_url, json={})) == 0.25


# --------------------------------------------------------------------------- the secret


def test_webhook_url_is_kept_in_the_keyring_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = MemoryKeyring()
    store = SecretStore(backend)
    assert store.discord_webhook_url() is None
    store.set_discord_webhook_url("  https://discord.com/api/webhooks/1/abc  \n")
    assert backend.data == {
        ("manifest-gui", "discord-webhook-url"): "https://discord.com/api/webhooks/1/abc"
    }
    assert store.discord_webhook_url() == "https://discord.com/api/webhooks/1/abc"
    monkeypatch.setenv(DISCORD_WEBHOOK_ENVIRONMENT, "http://relay.example:8080/hook")
    assert store.discord_webhook_url() == "http://relay.example:8080/hook"
    monkeypatch.delenv(DISCORD_WEBHOOK_ENVIRONMENT)
    store.delete_discord_webhook_url()
    assert store.discord_webhook_url() is None and backend.data == {}


@pytest.mark.parametrize(
    "url", ["ftp://host/hooks/secret-token", "discord.com/api/webhooks/1/secret-token", "http://"]
)
def test_only_http_urls_are_accepted_and_never_quoted(url: str) -> None:
    store = SecretStore(MemoryKeyring())
    with pytest.raises(ConfigurationError) as caught:
        store.set_discord_webhook_url(url)
    assert "secret-token" not in str(caught.value)
    assert store.discord_webhook_url() is None
    assert checked_webhook_url("http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"


# --------------------------------------------------------------------------- after a load


def service_with_webhook(url: str | None, database_url: str) -> ManifestService:
    secrets = SecretStore(MemoryKeyring())
    if url:
        secrets.set_discord_webhook_url(url)
    return ManifestService(Settings(database_url=database_url), secrets)


CHANGED = LoadResult(True, 2, "v2", "v2", rows=10, inserts=1)


def test_notify_skips_unchanged_loads_and_a_missing_webhook(discord: DiscordServer) -> None:
    service = service_with_webhook(discord.webhook_url, refused_url().replace("http", "postgresql"))
    for unchanged in (
        LoadResult(False, 2, "v2", "v2"),  # already up to date
        LoadResult(True, 3, "v2", "v2", rows=10),  # the same file again
    ):
        assert notify_after_load(service, unchanged) == NotifyOutcome(skipped=NotifySkip.UNCHANGED)
    no_webhook = service_with_webhook(None, refused_url().replace("http", "postgresql"))
    assert notify_after_load(no_webhook, CHANGED).skipped is NotifySkip.NO_WEBHOOK
    assert discord.requests == []


def test_notify_turns_every_failure_into_a_warning(discord: DiscordServer) -> None:
    """Notes that cannot be read (no database), and a webhook URL that is not one."""
    events: list[ProgressEvent] = []
    service = service_with_webhook(discord.webhook_url, refused_url().replace("http", "postgresql"))
    outcome = notify_after_load(service, CHANGED, Progress(events.append), notes=None)
    assert outcome.posted == 0 and outcome.warning is not None
    assert outcome.warning.startswith("The Discord notification was not sent: ")
    assert [e.message for e in events if e.level == "warning"] == [outcome.warning]
    assert discord.requests == []


def test_notify_posts_given_notes_and_a_cancel_is_a_warning(discord: DiscordServer) -> None:
    service = service_with_webhook(discord.webhook_url, "postgresql://127.0.0.1:1/unused")
    outcome = notify_after_load(service, CHANGED, notes=small_release())
    assert outcome.posted == 1 and outcome.warning is None
    assert "Gjallarhorn" in discord.accepted[0].text

    discord.queue(rate_limited(30))
    progress = Progress()
    threading.Timer(0.3, progress.cancel).start()
    outcome = notify_after_load(service, CHANGED, progress, notes=small_release())
    assert outcome.warning == (
        "The Discord notification was not sent: Cancelled before every message was posted."
    )

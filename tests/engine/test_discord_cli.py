"""Discord notifications and the watchlist end to end: real `manifest-gui` processes load real
definitions and a next release with known changes into PostgreSQL, and post to a local
stand-in for Discord's webhook API."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifest_gui.engine.secrets import SecretStore
from tests.conftest import IsolatedEnv
from tests.support.bungie_server import refused_url
from tests.support.discord_server import DiscordServer, limit_violations, rate_limited
from tests.support.manifest_factory import ManifestFactory, to_signed
from tests.support.processes import run_cli

ITEMS = "DestinyInventoryItemDefinition"
RPM, IMPACT = 4284893193, 4043523819  # DestinyStatDefinition: Rounds Per Minute, Impact
OLD_RIFLES = {3_500_000_000 + n: f"Old Rifle {n:02d}" for n in range(40)}
NEW_RIFLES = {3_600_000_000 + n: f"Brand New Rifle {n:02d}" for n in range(45)}
TUNED = 3_500_000_000  # Old Rifle 00: RPM 120 -> 140 in the next release
GONE = 3_500_000_039  # Old Rifle 39: removed in the next release


def weapon(hash_: int, name: str, rpm: int = 120) -> dict[str, Any]:
    return {
        "hash": hash_,
        "index": hash_ % 1000,
        "redacted": False,
        "itemType": 3,
        "displayProperties": {
            "name": name,
            "description": "",
            "icon": f"/common/destiny2_content/icons/{hash_}.jpg",
            "hasIcon": True,
        },
        "stats": {
            "stats": {
                str(RPM): {"statHash": RPM, "value": rpm},
                str(IMPACT): {"statHash": IMPACT, "value": 50},
            }
        },
    }


def release(factory: ManifestFactory, name: str, items: dict[int, dict[str, Any]]) -> Path:
    """Bungie's real definitions (stat names) plus these inventory items, as `name`."""
    path = factory.directory / name
    shutil.copyfile(factory.reference().path, path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {ITEMS} (id INTEGER PRIMARY KEY NOT NULL, json BLOB)")
        conn.executemany(
            f"INSERT INTO {ITEMS} VALUES (?, ?)",
            [(to_signed(h), json.dumps(item)) for h, item in items.items()],
        )
    return path


@pytest.fixture
def releases(manifest_factory: ManifestFactory) -> tuple[Path, Path]:
    first = {h: weapon(h, name) for h, name in OLD_RIFLES.items()}
    second = {h: item for h, item in first.items() if h != GONE}
    second[TUNED] = weapon(TUNED, OLD_RIFLES[TUNED], rpm=140)
    second |= {h: weapon(h, name) for h, name in NEW_RIFLES.items()}
    return (
        release(manifest_factory, "release-1.sqlite3", first),
        release(manifest_factory, "release-2.sqlite3", second),
    )


@pytest.fixture
def discord() -> Iterator[DiscordServer]:
    with DiscordServer() as server:
        yield server


@pytest.fixture
def env(database_url: str, discord: DiscordServer) -> dict[str, str]:
    environment = dict(os.environ)
    environment["MANIFEST_GUI_DATABASE_URL"] = database_url
    environment["MANIFEST_GUI_DISCORD_WEBHOOK_URL"] = discord.webhook_url
    return environment


def written_files(isolated_env: IsolatedEnv) -> list[Path]:
    """Every file the runs wrote (settings, watchlist, logs, cache), but the database's."""
    return [p for p in isolated_env.root.rglob("*") if p.is_file() and "postgres" not in p.parts]


def everything_posted(discord: DiscordServer) -> str:
    """Every message's text and attached file, as one string."""
    parts = []
    for request in discord.accepted:
        parts.append(request.text)
        parts += [data.decode("utf-8") for _, data in request.files.values()]
    return "\n".join(parts)


def test_loads_post_release_notes_within_limits_and_in_order(
    env: dict[str, str],
    discord: DiscordServer,
    releases: tuple[Path, Path],
    isolated_env: IsolatedEnv,
) -> None:
    first, second = releases
    outputs: list[str] = []

    loaded = run_cli(env, "load", "--file", str(first))
    outputs += [loaded.stdout, loaded.stderr]
    assert (loaded.returncode, loaded.stderr) == (0, "")
    # A first load: one short message with the version and its counts.
    assert len(discord.accepted) == 1
    message = discord.accepted[0].payload
    assert message is not None and message["embeds"] == []
    assert "release-1.sqlite3" in message["content"] and "first time" in message["content"]
    assert "InventoryItem: 40" in message["content"]

    for target in (str(to_signed(TUNED)), "new rifle 44"):
        watched = run_cli(env, "watch", "add", target)
        assert watched.returncode == 0, watched.stderr
    discord.queue(discord.default, rate_limited(1.0))  # the second message of the release
    loaded = run_cli(env, "load", "--file", str(second))
    outputs += [loaded.stdout, loaded.stderr]
    assert (loaded.returncode, loaded.stderr) == (0, "")

    requests = discord.requests[1:]
    assert [r.status for r in requests][:3] == [204, 429, 204]
    assert requests[2].time - requests[1].time >= 0.99  # the 429 was waited out
    assert requests[2].body == requests[1].body  # the same message again: order kept
    posted = discord.accepted[1:]
    assert len(posted) >= 4
    for request in posted:
        assert limit_violations(request) == []
    summary = posted[0].payload
    assert summary is not None
    assert "release-2.sqlite3" in summary["content"]
    assert "45 new" in summary["content"] and "1 changed" in summary["content"]
    titles = [e["title"] for r in posted for e in (r.payload or {}).get("embeds", [])]
    assert sorted(titles[:2]) == ["★ Brand New Rifle 44", "★ Old Rifle 00"]  # watched first
    tuned = next(e for e in posted[0].payload["embeds"] if e["title"] == "★ Old Rifle 00")  # type: ignore[index]
    assert {"name": "Rounds Per Minute", "value": "120 → 140", "inline": True} in tuned["fields"]
    assert tuned["thumbnail"]["url"].endswith(f"/common/destiny2_content/icons/{TUNED}.jpg")
    # Everything new is named, in an embed or in the attached notes.
    assert posted[-1].payload["content"].startswith("…and ")  # type: ignore[index]
    assert "files[0]" in posted[-1].files
    text = everything_posted(discord)
    for name in [*NEW_RIFLES.values(), OLD_RIFLES[GONE]]:
        assert name in text

    # The same file again changes nothing: nothing is posted.
    before = len(discord.requests)
    loaded = run_cli(env, "load", "--file", str(second))
    outputs += [loaded.stdout, loaded.stderr]
    assert loaded.returncode == 0, loaded.stderr
    assert len(discord.requests) == before

    # The token is in no output, log, settings or watchlist file.
    files = written_files(isolated_env)
    assert any(p.suffix == ".log" for p in files)
    for path in files:
        assert discord.token.encode() not in path.read_bytes(), path
    for output in outputs:
        assert discord.token not in output


def test_notes_watched_holds_the_watched_hash_and_the_text_match(
    env: dict[str, str], discord: DiscordServer, releases: tuple[Path, Path]
) -> None:
    for path in releases:
        assert run_cli(env, "load", "--file", str(path)).returncode == 0
    assert run_cli(env, "watch", "add", str(TUNED)).returncode == 0
    assert run_cli(env, "watch", "add", "NEW RIFLE 07", "--table", "InventoryItem").returncode == 0
    notes = run_cli(env, "notes", "--json")
    assert notes.returncode == 0, notes.stderr
    watched = json.loads(notes.stdout)["watched"]
    assert sorted((e["hash"], e["name"], e["kind"]) for e in watched) == [
        (TUNED, "Old Rifle 00", "changed"),
        (3_600_000_007, "Brand New Rifle 07", "added"),
    ]


def test_an_unreachable_webhook_is_a_warning_and_the_load_stands(
    env: dict[str, str], releases: tuple[Path, Path]
) -> None:
    token = "unreachable-webhook-token-0123456789"
    env["MANIFEST_GUI_DISCORD_WEBHOOK_URL"] = f"{refused_url()}/api/webhooks/42/{token}"
    loaded = run_cli(env, "load", "--file", str(releases[0]), "--json")
    assert loaded.returncode == 0
    assert json.loads(loaded.stdout)["loaded"] is True
    assert loaded.stderr.splitlines() == [
        "warning: The Discord notification was not sent: 127.0.0.1 refused the connection; "
        "check the webhook URL (tried 3 times)."
    ]
    assert token not in loaded.stdout + loaded.stderr
    status = run_cli(env, "status", "--json")
    assert json.loads(status.stdout)["current"]["version"] == "release-1.sqlite3"


@pytest.mark.keyring
def test_the_webhook_url_from_the_os_keyring(
    env: dict[str, str],
    discord: DiscordServer,
    releases: tuple[Path, Path],
    isolated_env: IsolatedEnv,
) -> None:
    """Stored as the Settings dialog stores it, read by a cron-like CLI run, in no file."""
    secrets = SecretStore()  # the OS keyring of tests/run's session
    secrets.set_discord_webhook_url(discord.webhook_url)
    try:
        del env["MANIFEST_GUI_DISCORD_WEBHOOK_URL"]
        loaded = run_cli(env, "load", "--file", str(releases[0]))
        assert (loaded.returncode, loaded.stderr) == (0, "")
        assert len(discord.accepted) == 1
        for path in written_files(isolated_env):
            assert discord.token.encode() not in path.read_bytes(), path
    finally:
        secrets.delete_discord_webhook_url()
    assert SecretStore().discord_webhook_url() is None

"""The local cache: reuse of a cached content path, pruning, size and clear."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from manifest_gui.engine.cache import ManifestCache, manifest_stem
from manifest_gui.engine.progress import Progress
from manifest_gui.engine.service import RemoteVersion
from manifest_gui.engine.settings import Settings
from tests.support.bungie_server import BungieServer
from tests.support.manifest_factory import ManifestFactory

from .conftest import make_service

DAY = 86400


def age(path: Path, days: float) -> None:
    when = time.time() - days * DAY
    os.utime(path, (when, when))


def published(
    bungie_server: BungieServer, content: Path, tmp_path: Path
) -> tuple[Settings, RemoteVersion]:
    """Release `content` on the stand-in; settings for a service that fetches it."""
    path = bungie_server.publish(content)
    settings = Settings(data_dir=str(tmp_path / "data"), bungie_root=bungie_server.base_url)
    return settings, RemoteVersion(bungie_server.version, path["en"])


def test_names_follow_the_content_path(tmp_path: Path) -> None:
    cache = ManifestCache(tmp_path)
    path = "/common/destiny2_content/sqlite/de/world_sql_content_abc.content"
    assert manifest_stem(path) == "world_sql_content_abc"
    assert cache.content_file("de", path) == tmp_path / "de" / "world_sql_content_abc.content"
    assert cache.sqlite_file("de", path) == tmp_path / "de" / "world_sql_content_abc.sqlite3"


def test_size_prune_and_clear(tmp_path: Path) -> None:
    cache = ManifestCache(tmp_path / "cache", days=7)
    assert cache.size() == 0 and cache.prune() == [] and cache.clear() == 0  # no folder yet
    old = cache.folder("en") / "old.sqlite3"
    fresh = cache.folder("en") / "fresh.content"
    other = cache.folder("fr") / "older.content"
    for path, size in ((old, 1000), (fresh, 500), (other, 250)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    age(old, 8)
    age(other, 30)
    age(fresh, 6.9)
    assert cache.size() == 1750

    assert sorted(cache.prune()) == sorted([old, other])
    assert fresh.exists() and not old.exists()
    assert not cache.folder("fr").exists()  # emptied folders go too
    assert cache.size() == 500

    assert cache.clear() == 500
    assert cache.size() == 0 and cache.root.is_dir()


def test_clear_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    cache = ManifestCache(tmp_path / "cache")
    cache.folder("en").mkdir(parents=True)
    (cache.folder("en") / "link").symlink_to(outside)
    cache.clear()
    assert outside.read_text() == "keep me"


def test_a_cached_content_path_is_not_downloaded_again(
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    content = manifest_factory.content_file(manifest_factory.generate(rows=50))
    settings, remote = published(bungie_server, content, tmp_path)
    with make_service(settings) as service:
        first = service.fetch(remote, Progress())
        assert len(bungie_server.content_requests) == 1
        assert service.fetch(remote, Progress()) == first  # the extracted file is reused
        first.unlink()
        assert service.fetch(remote, Progress()) == first  # re-extracted from the .content
    assert len(bungie_server.content_requests) == 1


def test_a_reused_file_is_touched_so_the_next_prune_keeps_it(
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    content = manifest_factory.content_file(manifest_factory.generate(rows=50))
    settings, remote = published(bungie_server, content, tmp_path)
    with make_service(settings) as service:
        sqlite_path = service.fetch(remote, Progress())
        age(sqlite_path, 10)
        service.fetch(remote, Progress())
        service.cache().prune()
    assert sqlite_path.exists()


def test_update_prunes_old_files_after_the_load(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
) -> None:
    settings = dataclasses.replace(service_settings, s3_bucket=None, cache_days=3)
    stale = settings.cache_path / "en" / "world_sql_content_stale.sqlite3"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    age(stale, 4)
    bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(rows=50)))
    with make_service(settings) as service:
        assert service.update().loaded
    assert not stale.exists()
    assert sorted(p.suffix for p in (settings.cache_path / "en").iterdir()) == [
        ".content",
        ".sqlite3",
    ]


def test_a_run_that_finds_nothing_new_prunes_too(
    service_settings: Settings,
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
) -> None:
    """A cron job's usual run is "already up to date": old files must go then as well."""
    settings = dataclasses.replace(service_settings, s3_bucket=None, cache_days=3)
    bungie_server.publish(manifest_factory.content_file(manifest_factory.generate(rows=50)))
    with make_service(settings) as service:
        assert service.update().loaded
        stale = settings.cache_path / "en" / "world_sql_content_stale.sqlite3"
        stale.write_bytes(b"old")
        age(stale, 4)
        assert not service.update().loaded  # up to date
    assert not stale.exists()


def test_a_download_that_is_not_a_manifest_is_not_kept(
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from manifest_gui.engine.errors import BadManifestFileError
    from tests.support.manifest_factory import write_content_zip

    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    # A SQLite header followed by garbage: extraction accepts it, the manifest reader does not.
    fake = tmp_path / "fake.sqlite3"
    fake.write_bytes(b"SQLite format 3\x00" + b"\x5a" * 8192)
    bad = write_content_zip(fake, tmp_path / "world_sql_content_bad.content")
    settings, remote = published(bungie_server, bad, tmp_path)
    with make_service(settings) as service:
        cache = service.cache()
        for attempt in (1, 2):
            with pytest.raises(BadManifestFileError):
                service.fetch(remote, Progress())
            assert not cache.content_file("en", remote.path).exists()
            assert not cache.sqlite_file("en", remote.path).exists()
            assert len(bungie_server.content_requests) == attempt  # downloaded afresh


def test_a_damaged_cached_database_is_dropped_and_fetched_again(
    bungie_server: BungieServer,
    manifest_factory: ManifestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from manifest_gui.engine.errors import BadManifestFileError

    monkeypatch.setenv("MANIFEST_GUI_API_KEY", "test-api-key")
    content = manifest_factory.content_file(manifest_factory.generate(rows=50))
    settings, remote = published(bungie_server, content, tmp_path)
    with make_service(settings) as service:
        sqlite_path = service.fetch(remote, Progress())
        good = sqlite_path.read_bytes()
        sqlite_path.write_bytes(good[:16] + b"\x00" * (len(good) - 16))  # disk damage
        with pytest.raises(BadManifestFileError):
            service.fetch(remote, Progress())
        assert not sqlite_path.exists()
        assert service.fetch(remote, Progress()).read_bytes() == good
    assert len(bungie_server.content_requests) == 2

"""The icon store against the Bungie.net stand-in over real HTTP, with real files on disk."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from manifest_gui.engine.icons import WORKERS, IconStore
from tests.support.bungie_server import (
    BungieServer,
    delayed,
    disconnect,
    html_page,
    http_error,
    not_found,
    png_image,
)


@pytest.fixture
def store(bungie_server: BungieServer, tmp_path: Path) -> Iterator[IconStore]:
    icons = IconStore(bungie_server.base_url, tmp_path / "data" / "icons", days=7)
    yield icons
    icons.close()


def test_fetches_an_icon_once_and_serves_it_from_disk(
    bungie_server: BungieServer, store: IconStore
) -> None:
    path = bungie_server.serve_icon("ace.png", (200, 30, 30))
    file = store.request(path).result(timeout=10)
    assert file is not None and file.parent == store.folder
    assert file.read_bytes() == png_image((200, 30, 30))
    assert store.request(path).result(timeout=10) == file
    assert store.get(path) == file
    assert len(bungie_server.requests_to(path)) == 1  # the others came from the disk cache
    # A new store over the same folder (the next run) does not ask Bungie.net either.
    again = IconStore(bungie_server.base_url, store.folder)
    try:
        assert again.get(path) == file
    finally:
        again.close()
    assert len(bungie_server.requests_to(path)) == 1


@pytest.mark.parametrize(
    "answer",
    [not_found(), http_error(500), disconnect(), html_page(200)],
    ids=["404", "500", "nothing", "html"],
)
def test_a_failed_icon_is_none_and_nothing_is_cached(
    bungie_server: BungieServer, store: IconStore, answer: object
) -> None:
    path = bungie_server.serve_icon("broken.png")
    bungie_server.queue(answer, route=path)  # type: ignore[arg-type]
    called: list[tuple[str, Path | None]] = []
    done = threading.Event()

    def callback(asked: str, file: Path | None) -> None:
        called.append((asked, file))
        done.set()

    assert store.request(path, callback).result(timeout=20) is None
    assert done.wait(5)
    assert called == [(path, None)]
    assert not store.folder.exists() or not any(store.folder.iterdir())
    # Failed recently: not asked for again on every redraw...
    assert store.get(path) is None
    assert len(bungie_server.requests_to(path)) == 1
    # ...until the failures are forgotten (after a load), when the icon arrives.
    store.forget_failures()
    assert store.get(path) is not None
    assert len(bungie_server.requests_to(path)) == 2


def test_offline_every_icon_is_none_quickly(refused_url: str, tmp_path: Path) -> None:
    store = IconStore(refused_url, tmp_path / "icons")
    try:
        started = time.monotonic()
        futures = [store.request(f"/common/destiny2_content/icons/{i}.png") for i in range(20)]
        assert [future.result(timeout=30) for future in futures] == [None] * 20
        assert time.monotonic() - started < 10
    finally:
        store.close()


def test_paths_that_are_not_bungie_paths_are_never_fetched(
    bungie_server: BungieServer, store: IconStore
) -> None:
    for path in ("", "icons/x.png", "//evil.example/x.png", "https://evil.example/x.png"):
        assert store.request(path).result(timeout=5) is None
    assert bungie_server.requests == []


def test_a_fixed_pool_however_many_icons_are_asked_for(
    bungie_server: BungieServer, store: IconStore
) -> None:
    paths = [bungie_server.serve_icon(f"{i}.png") for i in range(40)]
    for path in paths:
        bungie_server.queue(delayed(0.05), route=path)
    before = {t.name for t in threading.enumerate() if t.name.startswith("icons")}
    assert not before
    futures = [store.request(path) for path in paths]
    peak = 0
    while not all(future.done() for future in futures):
        alive = [t for t in threading.enumerate() if t.name.startswith("icons")]
        peak = max(peak, len(alive))
        time.sleep(0.01)
    assert all(future.result() is not None for future in futures)
    assert 1 <= peak <= WORKERS


def test_the_same_icon_asked_for_twice_at_once_is_fetched_once(
    bungie_server: BungieServer, store: IconStore
) -> None:
    path = bungie_server.serve_icon("same.png")
    bungie_server.queue(delayed(0.3), route=path)
    first, second = store.request(path), store.request(path)
    assert first.result(timeout=10) == second.result(timeout=10) is not None
    assert len(bungie_server.requests_to(path)) == 1


def test_prune_removes_icons_unused_for_the_cache_lifetime(
    bungie_server: BungieServer, store: IconStore
) -> None:
    old_path = bungie_server.serve_icon("old.png")
    new_path = bungie_server.serve_icon("new.png")
    old, new = store.get(old_path), store.get(new_path)
    assert old is not None and new is not None
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    os.utime(new, (eight_days_ago, eight_days_ago))
    assert store.cached(new_path) == new  # used now: kept by the prune
    assert store.prune() == [old]
    assert not old.exists() and new.exists()


def test_url_joins_the_root_and_the_path(tmp_path: Path) -> None:
    store = IconStore("https://www.bungie.net", tmp_path)
    try:
        assert (
            store.url("/common/destiny2_content/icons/a.png")
            == "https://www.bungie.net/common/destiny2_content/icons/a.png"
        )
        assert store.file_for("/a/x.png") != store.file_for("/b/x.png")
        assert store.file_for("/a/x.PNG").suffix == ".png"
    finally:
        store.close()


def test_closed_store_answers_none_without_asking(
    bungie_server: BungieServer, tmp_path: Path
) -> None:
    store = IconStore(bungie_server.base_url, tmp_path / "icons")
    store.close()
    path = bungie_server.serve_icon("late.png")
    assert store.request(path).result(timeout=5) is None
    assert bungie_server.requests == []


def test_the_stand_in_can_answer_any_icon_path(
    bungie_server: BungieServer, store: IconStore
) -> None:
    path = "/common/destiny2_content/icons/0123456789abcdef.png"
    assert store.get(path) is None, "unknown paths are 404 by default"
    bungie_server.any_icon = True
    store.forget_failures()
    file = store.get(path)
    assert file is not None and file.read_bytes().startswith(b"\x89PNG")

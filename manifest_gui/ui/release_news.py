"""Release news in the window: the What's new page, icons, watches, and what happens after a
load that changed the database.

After such a load (a poll, Check & Load, a file, the archive), one worker of its own reads the
release notes and hands them to the page (shown first) and to the tray (one line, when the
window is hidden after a poll and the policy allows), then posts them to the Discord webhook.
A failed post is a warning in the log and the tray; it never touches the load. The app's job
runner stays free for the next poll meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from ..engine.database import connect, versions
from ..engine.errors import ManifestGuiError
from ..engine.icons import IconStore
from ..engine.loader import LoadResult
from ..engine.notes_model import ReleaseNotes, TableCounts, VersionRef
from ..engine.notify import NotifyOutcome, load_changed, notify_after_load
from ..engine.progress import Progress
from ..engine.service import ManifestService
from ..engine.settings import Settings
from ..engine.viewer_queries import to_signed, version_changes
from ..engine.watchlist import Watchlist, fill_watched
from .tray_news import NotifyPolicy, tray_news
from .whats_new import IconLoader, Watches, WhatsNewView
from .whats_new.definition_badge import DefinitionBadge
from .whats_new.notes_loader import LoadedNotes
from .workers import cancel_in_background

log = logging.getLogger(__name__)


def read_outline(service: ManifestService, loaded: LoadResult) -> LoadedNotes:
    """The load's version, the one before it and its counts per table: cheap queries, so the
    page has something true to show at once while the entries are worked out."""
    started = time.perf_counter()
    with connect(service.database_url(), read_only=True) as conn, conn.transaction():
        history = sorted(versions(conn), key=lambda v: v.manifest_id, reverse=True)
        changes = version_changes(conn, loaded.manifest_id or 0)
    before = next((v for v in history if v.manifest_id < (loaded.manifest_id or 0)), None)
    notes = ReleaseNotes(
        from_version=VersionRef(before.manifest_id, before.version) if before else None,
        to_version=VersionRef(loaded.manifest_id or 0, loaded.version),
        counts={c.table_name: TableCounts(c.inserts, c.updates, c.deletes) for c in changes},
        sections=(),
    )
    return LoadedNotes(notes, history, time.perf_counter() - started, outline=True)


def icon_store(settings: Settings) -> IconStore:
    return IconStore(settings.bungie_root, settings.data_path / "icons", days=settings.cache_days)


@dataclass(frozen=True)
class LoadNews:
    """One load that changed the database, as the window saw it end."""

    loaded: LoadResult
    hidden: bool  # the window was hidden when it ended


class ReleaseNews(QObject):
    """Owns the page and the post-load worker. The app tells it about loads (after_load) and
    settings (set_settings); it tells the app what to show through its signals."""

    showPageRequested = Signal()  # bring the What's new page forward (a load changed things)
    openDefinitionRequested = Signal(str, int)  # table, signed id: open it in Browse
    trayNews = Signal(str, str)  # title, one line (the window is hidden)
    warning = Signal(str)  # a failed notification: for the log and the tray
    notified = Signal(object)  # NotifyOutcome, after the post (or its skip)
    _notesRead = Signal(object, object)  # LoadNews, LoadedNotes or None; from the worker
    _outlineRead = Signal(object)  # LoadedNotes (outline); from the worker
    _posted = Signal(object)  # NotifyOutcome; from the worker

    def __init__(
        self,
        service: Callable[[], ManifestService],
        settings: Settings,
        *,
        policy: Callable[[], NotifyPolicy],
        watchlist: Watchlist | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("releaseNews")
        self._service = service
        self._policy = policy
        self.icons = IconLoader(icon_store(settings), self)
        self._root = (settings.bungie_root, settings.data_path, settings.cache_days)
        self.watches = Watches(watchlist, self)
        self.page = WhatsNewView(service, self.icons, self.watches)
        self.page.openRequested.connect(self._open_definition)
        # Two workers: the notes are read at once after each load, while the posts go out one
        # after another in load order (a rate limit may hold one up for a minute).
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(1, "release-notes")
        self._posts: ThreadPoolExecutor | None = ThreadPoolExecutor(1, "discord-post")
        self.load_ended_at: float | None = None  # perf_counter at after_load, for the benchmark
        self._posting: Progress | None = None  # of the Discord post running in the worker
        self._closing = threading.Event()
        self._notesRead.connect(self._on_notes_read)
        self._outlineRead.connect(self.page.show_outline)
        self._posted.connect(self._on_posted)

    def badge(self, parent: QObject | None = None) -> DefinitionBadge:
        """A detail pane's icon and watch button (DetailView.attach_badge)."""
        return DefinitionBadge(self.icons, self.watches, parent)

    def set_settings(self, settings: Settings) -> None:
        """A new Bungie.net root, data dir or cache lifetime gets a new icon store."""
        root = (settings.bungie_root, settings.data_path, settings.cache_days)
        if root != self._root:
            self._root = root
            self.icons.set_store(icon_store(settings))

    # After a load --------------------------------------------------------------------------------
    def after_load(self, loaded: LoadResult, *, hidden: bool) -> bool:
        """Called when a load ended well. False when it changed nothing (nothing happens)."""
        if not load_changed(loaded) or self._pool is None:
            return False
        self.load_ended_at = time.perf_counter()
        news = LoadNews(loaded, hidden)
        self.page.expect_notes()
        # The read starts first: bringing the page forward lays it out in this thread meanwhile.
        self._pool.submit(self._read, news, self._service(), self.icons.store)
        if not hidden:
            self.showPageRequested.emit()
        self.page.icons.retry_missing()
        return True

    def _read(self, news: LoadNews, service: ManifestService, icons: IconStore | None) -> None:
        """In the notes worker: the outline, then the notes; then the post is queued."""
        try:
            self._outlineRead.emit(read_outline(service, news.loaded))
        except ManifestGuiError as exc:  # the full read below meets it again and says so
            log.info("No outline of the release notes: %s", exc)
        started = time.perf_counter()
        notes: ReleaseNotes | None = None
        try:
            notes = fill_watched(service.release_notes(to_id=news.loaded.manifest_id))
            versions = sorted(service.history(), key=lambda v: v.manifest_id, reverse=True)
        except ManifestGuiError as exc:
            log.warning("The release notes of %s could not be read: %s", news.loaded.version, exc)
            self._notesRead.emit(news, None)
        except Exception:
            log.exception("Reading the release notes after a load failed")
            self._notesRead.emit(news, None)
        else:
            self._notesRead.emit(news, LoadedNotes(notes, versions, time.perf_counter() - started))
        if icons is not None:
            icons.prune()  # like the manifest cache after a load
        posts = self._posts
        if posts is not None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile: nothing is posted
                posts.submit(self._post, news, service, notes)

    def _post(self, news: LoadNews, service: ManifestService, notes: ReleaseNotes | None) -> None:
        """In the post worker, in load order."""
        progress = self._posting = Progress()  # shutdown() cancels a post in flight
        if self._closing.is_set():  # set before shutdown() looks at _posting: never both missed
            return
        outcome = notify_after_load(service, news.loaded, progress, notes=notes)
        self._posting = None
        self._posted.emit(outcome)

    @Slot(object, object)
    def _on_notes_read(self, news: LoadNews, loaded: LoadedNotes | None) -> None:
        if loaded is None:
            self.page.show_latest()  # the page says why in its own words
            return
        self.page.show_loaded(loaded)
        if news.hidden:  # a poll, or Check & Load from the tray menu
            line = tray_news(loaded.notes, self._policy())
            if line:
                self.trayNews.emit("New manifest loaded", line)

    @Slot(object)
    def _on_posted(self, outcome: NotifyOutcome) -> None:
        if outcome.warning:
            self.warning.emit(outcome.warning)
        self.notified.emit(outcome)

    @Slot(str, object)
    def _open_definition(self, table: str, hash_: int) -> None:
        self.openDefinitionRequested.emit(table, to_signed(hash_))

    def shutdown(self) -> None:
        """Wait for the post-load worker (bounded by its network timeouts); stop the page."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        posts, self._posts = self._posts, None
        self._closing.set()
        posting = self._posting
        if posting is not None:  # a 429 wait or a retry must not hold up quitting
            cancel_in_background(posting, "cancel-discord")
        if posts is not None:
            posts.shutdown(wait=True, cancel_futures=True)
        self.page.shutdown()
        self.icons.close()

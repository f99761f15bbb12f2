"""Definition icons from Bungie.net, cached on disk in the data dir.

An icon is `displayProperties.icon`, a path relative to the Bungie.net root. IconStore fetches
it on a small fixed pool of threads (created once, so a release with a thousand new items never
starts a thousand threads), keeps the file in `<data>/icons/`, and prunes files unused for
`days` days like the manifest cache. Nothing here raises for the network: an icon that cannot
be had is None, and the front end shows a placeholder. A path that failed is not asked for
again for a while, so a window without a network does not retry every icon on every redraw.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin

import requests

from .. import __version__
from .cache import ManifestCache

log = logging.getLogger(__name__)

WORKERS = 4
TIMEOUT = (5.0, 15.0)  # connect, read (seconds)
MAX_BYTES = 2 * 1024 * 1024  # Bungie's icons are a few KB; anything this big is not one
RETRY_FAILED_AFTER = 300.0  # seconds before a path that failed is asked for again
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
# The first bytes of the image formats Bungie.net serves: an HTML error page is not an icon.
MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")

IconCallback = Callable[[str, Path | None], None]


def is_icon_path(path: object) -> bool:
    """A path on the Bungie.net root ("/common/destiny2_content/icons/x.png")."""
    return isinstance(path, str) and path.startswith("/") and not path.startswith("//")


def looks_like_image(data: bytes | bytearray) -> bool:
    return any(data.startswith(magic) for magic in MAGIC)


class IconStore:
    """Icons of one Bungie.net root in one cache folder. Thread-safe; call close() at the end.

    `session_factory` makes one requests session per pool thread (tests pass their own)."""

    def __init__(
        self,
        root: str,
        folder: Path,
        *,
        days: int = 7,
        workers: int = WORKERS,
        session_factory: Callable[[], requests.Session] = requests.Session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root.rstrip("/") + "/"
        self.folder = Path(folder)
        self.days = days
        self._session_factory = session_factory
        self._clock = clock
        self._local = threading.local()
        # Re-entrant: a future that is already done runs its done-callback (which takes the
        # lock) at once, inside request()'s locked block.
        self._lock = threading.RLock()
        self._pending: dict[str, Future[Path | None]] = {}
        self._failed: dict[str, float] = {}  # path -> when it failed
        self._sessions: list[requests.Session] = []
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="icons")

    # Where icons live -------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The absolute Bungie.net URL of an icon path (e.g. a Discord thumbnail)."""
        return urljoin(self.root, path.lstrip("/"))

    def file_for(self, path: str) -> Path:
        """The cache file of `path`: a digest of the path (paths may repeat a file name)."""
        suffix = PurePosixPath(path.split("?", 1)[0]).suffix.lower()
        digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]
        return self.folder / (digest + (suffix if suffix in SUFFIXES else ".img"))

    def cached(self, path: str) -> Path | None:
        """The cached file of `path` when there is one (and marks it used), else None."""
        if not is_icon_path(path):
            return None
        file = self.file_for(path)
        try:
            if file.stat().st_size > 0:
                os.utime(file)  # used now: the next prune keeps it
                return file
        except OSError:
            pass
        return None

    # Fetching ----------------------------------------------------------------------------------
    def request(self, path: str, callback: IconCallback | None = None) -> Future[Path | None]:
        """Get `path` in the pool: from the cache, else from Bungie.net. The future's result
        (and callback(path, file), called in a pool thread) is the file, or None when it
        cannot be had. One fetch per path at a time: asking again joins the running one."""
        with self._lock:
            future = self._pending.get(path)
            if future is None:
                if self._closed:
                    future = Future()
                    future.set_result(None)
                else:
                    future = self._pool.submit(self._get, path)
                    self._pending[path] = future
                    future.add_done_callback(lambda _f: self._forget(path))
        if callback is not None:
            future.add_done_callback(lambda done: _call(callback, path, done))
        return future

    def get(self, path: str) -> Path | None:
        """The icon's file now (cache, else Bungie.net), or None; for workers (HTML export)."""
        return self._get(path)

    def _forget(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def _get(self, path: str) -> Path | None:
        if not is_icon_path(path):
            return None
        file = self.cached(path)
        if file is not None:
            return file
        with self._lock:
            failed_at = self._failed.get(path)
        if failed_at is not None and self._clock() - failed_at < RETRY_FAILED_AFTER:
            return None
        data = self._download(path)
        if data is None:
            with self._lock:
                self._failed[path] = self._clock()
            return None
        return self._store(path, data)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers["User-Agent"] = f"manifest-gui/{__version__}"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _download(self, path: str) -> bytes | None:
        url = self.url(path)
        try:
            with self._session().get(url, timeout=TIMEOUT, stream=True) as response:
                if response.status_code != 200:
                    log.info("Icon %s: HTTP %d", path, response.status_code)
                    return None
                data = bytearray()
                for chunk in response.iter_content(1 << 14):
                    data += chunk
                    if len(data) > MAX_BYTES:
                        log.info("Icon %s: larger than %d bytes, not an icon", path, MAX_BYTES)
                        return None
        except (requests.RequestException, OSError) as exc:
            log.info("Icon %s could not be fetched: %s", path, type(exc).__name__)
            return None
        if not looks_like_image(data):
            log.info("Icon %s: the answer is not an image", path)
            return None
        return bytes(data)

    def _store(self, path: str, data: bytes) -> Path | None:
        file = self.file_for(path)
        tmp = file.with_name(f"{file.name}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, file)
        except OSError as exc:
            log.warning("Could not cache the icon %s: %s", path, exc)
            tmp.unlink(missing_ok=True)
            return None
        return file

    # Upkeep -----------------------------------------------------------------------------------
    def forget_failures(self) -> None:
        """Ask Bungie.net again for icons that failed (e.g. after a load: the network is back)."""
        with self._lock:
            self._failed.clear()

    def prune(self, now: float | None = None) -> list[Path]:
        """Delete icons unused for `days` days; never raises."""
        return ManifestCache(self.folder, self.days).prune(now)

    def close(self) -> None:
        """Drop queued fetches; running ones end within their timeout. Idempotent."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        self._pool.shutdown(wait=False, cancel_futures=True)
        for session in sessions:
            session.close()


def _call(callback: IconCallback, path: str, done: Future[Path | None]) -> None:
    if done.cancelled():
        return
    try:
        callback(path, done.result())
    except Exception:  # a front end's bug must not end the pool thread silently
        log.exception("Icon callback failed for %s", path)

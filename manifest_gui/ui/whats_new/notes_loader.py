"""Release notes read in a worker thread of their own, so the What's new page never waits on
the app's job runner (a poll may be loading) and the GUI thread never waits on the database.

One thread, the newest request wins: a request made while another runs is kept, and older
answers are dropped. Known errors come back as one sentence; a bug is logged with its
traceback and comes back as a sentence that says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, Signal, Slot

from ...engine.database import DatabaseVersion
from ...engine.errors import ManifestGuiError
from ...engine.notes_model import ReleaseNotes
from ...engine.watchlist import fill_watched

log = logging.getLogger(__name__)


class NotesSource(Protocol):
    """What the page reads: the service (ManifestService) in the app."""

    def release_notes(self, from_id: int | None = None, to_id: int | None = None) -> ReleaseNotes:
        """Notes of `to_id` (default: current) against `from_id` (default: the one before)."""
        ...

    def history(self) -> list[DatabaseVersion]: ...


@dataclass(frozen=True)
class LoadedNotes:
    notes: ReleaseNotes
    versions: list[DatabaseVersion]  # newest first, for the version picker
    seconds: float  # how long the worker took
    outline: bool = False  # counts only: the entries are still being read


class NotesLoader(QObject):
    loaded = Signal(object)  # LoadedNotes
    failed = Signal(str)
    busyChanged = Signal(bool)
    _answered = Signal(int, object, str)  # generation, LoadedNotes or None, sentence

    def __init__(self, source: Callable[[], NotesSource], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._pool: ThreadPoolExecutor | None = None
        self._generation = 0
        self._running: Future[None] | None = None
        self._queued: tuple[int | None, int | None] | None = None
        self._closed = False
        self._answered.connect(self._on_answered)

    @property
    def busy(self) -> bool:
        return self._running is not None

    def load(self, from_id: int | None = None, to_id: int | None = None) -> None:
        """Read the notes of to_id against from_id (None, None: the newest release)."""
        if self._closed:
            return
        if self._running is not None:
            self._queued = (from_id, to_id)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whats-new")
        self._generation += 1
        generation = self._generation
        source = self._source()
        self._running = self._pool.submit(self._work, generation, source, from_id, to_id)
        self.busyChanged.emit(True)

    def _work(
        self, generation: int, source: NotesSource, from_id: int | None, to_id: int | None
    ) -> None:
        """In the worker: read, then hand the answer to the GUI thread."""
        started = time.perf_counter()
        try:
            notes = fill_watched(source.release_notes(from_id, to_id))
            versions = sorted(source.history(), key=lambda v: v.manifest_id, reverse=True)
        except ManifestGuiError as exc:
            self._answered.emit(generation, None, str(exc))
        except Exception as exc:  # a bug: the traceback goes to the log
            log.exception("Reading the release notes failed")
            self._answered.emit(
                generation,
                None,
                f"The release notes could not be read ({type(exc).__name__}); "
                "details are in the log.",
            )
        else:
            loaded = LoadedNotes(notes, versions, time.perf_counter() - started)
            self._answered.emit(generation, loaded, "")

    @Slot(int, object, str)
    def _on_answered(self, generation: int, loaded: LoadedNotes | None, sentence: str) -> None:
        self._running = None
        queued, self._queued = self._queued, None
        if queued is not None and self._pool is not None:
            self.load(*queued)  # a newer request: this answer is stale
            return
        self.busyChanged.emit(False)
        if generation != self._generation:
            return
        if loaded is not None:
            self.loaded.emit(loaded)
        else:
            self.failed.emit(sentence)

    def shutdown(self) -> None:
        """Drop what is queued and wait for the running read (bounded by its own timeouts)."""
        self._closed = True
        pool, self._pool = self._pool, None
        self._queued = None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._running = None

"""The watchlist in the window: one shared object over the engine's Watchlist (the file the CLI
uses too), so every "Watch this" button, the What's new page and Settings agree, and a
"Watch this" / "Stop watching" button for one definition."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QPushButton, QWidget

from ...engine.watchlist import Watch, Watchlist, WatchlistError

log = logging.getLogger(__name__)


class Watches(QObject):
    """Adds and removes watches; `changed` after every change made through it, `failed`
    with the sentence when the file cannot be read or written."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, watchlist: Watchlist | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("watches")
        self.watchlist = watchlist or Watchlist()

    def all(self) -> list[Watch]:
        try:
            return self.watchlist.watches()
        except WatchlistError as exc:
            self.failed.emit(str(exc))
            return []

    def matching(self, table: str, hash_: int, name: str | None) -> list[Watch]:
        return [watch for watch in self.all() if watch.matches(table, hash_, name)]

    def watch_definition(self, table: str, hash_: int) -> Watch | None:
        return self._change(lambda: self.watchlist.add(hash_, table))

    def stop_watching(self, table: str, hash_: int) -> list[Watch]:
        """Remove the watches of this one definition (its hash); a text watch that matches
        its name stays: it is about other definitions too."""
        removed = []
        for watch in self.all():
            if watch.hash is not None and watch.matches(table, hash_, None):
                if self._change(functools.partial(self.watchlist.remove, watch.id)) is None:
                    break
                removed.append(watch)
        return removed

    def remove(self, watch_id: int) -> Watch | None:
        return self._change(lambda: self.watchlist.remove(watch_id))

    def add(self, target: str, table: str | None = None) -> Watch | None:
        return self._change(lambda: self.watchlist.add(target, table))

    def _change(self, action: Callable[[], Watch]) -> Watch | None:
        try:
            watch = action()
        except WatchlistError as exc:
            self.failed.emit(str(exc))
            return None
        self.changed.emit()
        return watch


class WatchButton(QPushButton):
    """ "Watch this" for a definition not watched by its hash, "Stop watching" for one that is.
    Disabled while no definition is shown."""

    def __init__(self, watches: Watches, parent: QWidget | None = None) -> None:
        super().__init__("Watch this", parent)
        self.setObjectName("watchButton")
        self._watches = watches
        self._target: tuple[str, int, str | None] | None = None
        self.clicked.connect(self._toggle)
        watches.changed.connect(self.update_state)
        self.update_state()

    def set_definition(self, table: str | None, hash_: int | None, name: str | None) -> None:
        self._target = (table, hash_, name) if table and hash_ is not None else None
        self.update_state()

    @property
    def watched(self) -> bool:
        """Watched by its own hash (what Stop watching removes)."""
        if self._target is None:
            return False
        table, hash_, _name = self._target
        return any(w.hash is not None for w in self._watches.matching(table, hash_, None))

    @Slot()
    def update_state(self) -> None:
        if self._target is None:
            self.setText("Watch this")
            self.setEnabled(False)
            self.setToolTip("Select a definition to watch it.")
            return
        table, hash_, name = self._target
        self.setEnabled(True)
        if self.watched:
            self.setText("Stop watching")
            self.setToolTip(f"Stop watching {table} {hash_}.")
            return
        self.setText("Watch this")
        texts = [w.describe() for w in self._watches.matching(table, hash_, name) if w.text]
        tip = f"List {table} {hash_} first in release notes and notifications."
        if texts:
            tip += f"\nAlready watched through {'; '.join(texts)}."
        self.setToolTip(tip)

    @Slot()
    def _toggle(self) -> None:
        if self._target is None:
            return
        table, hash_, _name = self._target
        if self.watched:
            self._watches.stop_watching(table, hash_)
        else:
            self._watches.watch_definition(table, hash_)

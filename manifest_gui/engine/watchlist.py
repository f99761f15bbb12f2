"""The watchlist: the definitions a clan cares about most, listed first in release notes and
leading every notification.

A watch is a hash (one definition) or a text (a case-insensitive substring of the name), with an
optional table filter. The list is kept in watchlist.json beside settings.json in the user config
dir, so the CLI and the window share it and it follows the settings when they are copied to
another machine. It holds no secret.

Front ends use `Watchlist` (add, remove, watches, watching) and `with_watched` (fill a
ReleaseNotes' `watched`); every failure is a WatchlistError sentence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ManifestGuiError
from .notes_model import Entry, ReleaseNotes
from .settings import settings_file

log = logging.getLogger(__name__)

WATCHLIST_FILE = "watchlist.json"
_NUMBER = re.compile(r"[+-]?\d+")
_HASH_MIN, _HASH_MAX = -(2**31), 2**32 - 1


class WatchlistError(ManifestGuiError):
    """The watchlist cannot be read or changed, or a watch is not valid."""


def watchlist_file() -> Path:
    """watchlist.json in the same folder as settings.json."""
    return settings_file().with_name(WATCHLIST_FILE)


def parse_target(text: str) -> int | str:
    """What `watch add` was given: a number is a hash (signed or unsigned, returned unsigned),
    anything else is a name substring (stripped)."""
    target = text.strip()
    if not target:
        raise WatchlistError("A watch needs a hash or some text of a name.")
    if _NUMBER.fullmatch(target):
        number = int(target)
        if not _HASH_MIN <= number <= _HASH_MAX:
            raise WatchlistError(
                f"{target} is not a definition hash; hashes are 32-bit numbers, signed or unsigned."
            )
        return number & 0xFFFFFFFF
    return target


def _table_key(table: str) -> str:
    """Tables compare case-insensitively, with or without Destiny...Definition around them:
    `InventoryItem` and `destinyinventoryitemdefinition` mean DestinyInventoryItemDefinition."""
    key = table.strip().lower()
    if key.startswith("destiny") and key.endswith("definition") and len(key) > 17:
        key = key[7:-10]
    return key


@dataclass(frozen=True, slots=True)
class Watch:
    """One watch: exactly one of `hash` (unsigned) and `text` is set; `table` narrows it."""

    id: int
    hash: int | None = None
    text: str | None = None
    table: str | None = None

    def __post_init__(self) -> None:
        if (self.hash is None) == (self.text is None):
            raise ValueError("a watch has either a hash or a text")

    def matches(self, table: str, hash_: int, name: str | None) -> bool:
        """Whether a definition (its table's full name, unsigned hash and name) is watched."""
        if self.table is not None and _table_key(self.table) != _table_key(table):
            return False
        if self.hash is not None:
            return self.hash == hash_ & 0xFFFFFFFF
        assert self.text is not None
        return name is not None and self.text.casefold() in name.casefold()

    def matches_entry(self, entry: Entry) -> bool:
        return self.matches(entry.table, entry.hash, entry.name)

    def describe(self) -> str:
        """In words, for messages: `hash 1234 in DestinyInventoryItemDefinition`."""
        what = f"hash {self.hash}" if self.hash is not None else f"names containing {self.text!r}"
        return f"{what} in {self.table}" if self.table else what

    def to_json(self) -> dict[str, Any]:
        """The shape of `watch list --json`: {"id", "hash" or "text", "table"}."""
        data: dict[str, Any] = {"id": self.id}
        if self.hash is not None:
            data["hash"] = self.hash
        else:
            data["text"] = self.text
        data["table"] = self.table
        return data

    @classmethod
    def from_json(cls, data: Any) -> Watch:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise ValueError("not a watch")
        hash_, text, table = data.get("hash"), data.get("text"), data.get("table")
        if hash_ is not None and not isinstance(hash_, int):
            raise ValueError("hash is not a number")
        if text is not None and not isinstance(text, str):
            raise ValueError("text is not text")
        if table is not None and not isinstance(table, str):
            raise ValueError("table is not text")
        return cls(data["id"], hash_, text, table)


class Watchlist:
    """The watches stored in one file. Every call reads the file afresh, so the CLI and the
    window never overwrite each other's changes with a stale copy; writes are atomic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or watchlist_file()

    def watches(self) -> list[Watch]:
        """Every watch, oldest first. Raises WatchlistError when the file is damaged."""
        return self._read()[1]

    def add(self, target: str | int, table: str | None = None) -> Watch:
        """Watch a hash (an int, or text that is a number) or a name substring, optionally
        only in `table`. Adding a watch that exists returns the existing one."""
        value = parse_target(str(target))
        table = table.strip() if table and table.strip() else None
        next_id, watches = self._read()
        for watch in watches:
            same_table = (watch.table is None) == (table is None) and (
                table is None or _table_key(watch.table or "") == _table_key(table)
            )
            if same_table and (
                watch.hash == value
                or (isinstance(value, str) and (watch.text or "").casefold() == value.casefold())
            ):
                return watch
        if isinstance(value, int):
            watch = Watch(next_id, hash=value, table=table)
        else:
            watch = Watch(next_id, text=value, table=table)
        self._write(next_id + 1, [*watches, watch])
        log.info("Watching %s (watch %d).", watch.describe(), watch.id)
        return watch

    def remove(self, watch_id: int) -> Watch:
        """Stop a watch by its id; WatchlistError when there is none with that id."""
        next_id, watches = self._read()
        for watch in watches:
            if watch.id == watch_id:
                self._write(next_id, [w for w in watches if w.id != watch_id])
                log.info("Stopped watching %s (watch %d).", watch.describe(), watch.id)
                return watch
        raise WatchlistError(f"There is no watch {watch_id}; `watch list` shows their ids.")

    def watching(self, table: str, hash_: int, name: str | None = None) -> list[Watch]:
        """The watches that match one definition: for the window's "Watch this" and "Stop
        watching" buttons (remove these ids to stop watching it)."""
        return [watch for watch in self.watches() if watch.matches(table, hash_, name)]

    # storage ---------------------------------------------------------------------------------
    def _read(self) -> tuple[int, list[Watch]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            watches = [Watch.from_json(item) for item in raw["watches"]]
            next_id = max([int(raw.get("next_id", 1)), *(w.id + 1 for w in watches)])
        except FileNotFoundError:
            return 1, []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WatchlistError(
                f"The watchlist {self.path} cannot be read ({type(exc).__name__}); "
                "fix or delete the file."
            ) from exc
        return next_id, watches

    def _write(self, next_id: int, watches: Sequence[Watch]) -> None:
        data = {"next_id": next_id, "watches": [watch.to_json() for watch in watches]}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise WatchlistError(
                f"The watchlist {self.path} cannot be written: {exc.strerror or exc}."
            ) from exc


def watched_entries(entries: Iterable[Entry], watches: Sequence[Watch]) -> tuple[Entry, ...]:
    """The entries that match any watch, in their order, each once."""
    if not watches:
        return ()
    seen: set[tuple[str, int, str]] = set()
    matched: list[Entry] = []
    for entry in entries:
        key = (entry.table, entry.hash, str(entry.kind))
        if key not in seen and any(watch.matches_entry(entry) for watch in watches):
            seen.add(key)
            matched.append(entry)
    return tuple(matched)


def with_watched(notes: ReleaseNotes, watches: Sequence[Watch]) -> ReleaseNotes:
    """The notes with `watched` filled from `watches` (section order)."""
    entries = (entry for section in notes.sections for entry in section.entries)
    return replace(notes, watched=watched_entries(entries, watches))


def fill_watched(notes: ReleaseNotes, watchlist: Watchlist | None = None) -> ReleaseNotes:
    """The notes with `watched` filled from the stored watchlist. A damaged watchlist file
    leaves `watched` empty (logged): the notes and the notification still go out."""
    try:
        watches = (watchlist or Watchlist()).watches()
    except WatchlistError as exc:
        log.warning("%s", exc)
        return notes
    return with_watched(notes, watches)

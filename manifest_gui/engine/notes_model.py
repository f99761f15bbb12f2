"""The release notes' data: what one loaded version changed against another.

Plain frozen dataclasses shared by the notes engine (which builds them from the database's
history), the CLI and Markdown/text writers, the Discord notifier and the window's What's new
view. `to_json()` gives the documented JSON shape of `manifest-gui notes --json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EntryKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    UNCLASSIFIED = "unclassified"  # redacted went from true to false
    RECLASSIFIED = "reclassified"  # redacted went from false to true


@dataclass(frozen=True, slots=True)
class Change:
    """One JSON leaf that differs. `path` in dot notation (`stats.stats.4284893193.value`);
    `label` says what it is in words (a stat's name, or the name of the definition a hash
    value points to), or None; `before` and `after` keep their JSON types (None where the
    leaf is missing on that side)."""

    path: str
    label: str | None
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "label": self.label, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class Entry:
    kind: EntryKind
    table: str  # full SQLite name, e.g. DestinyInventoryItemDefinition
    hash: int  # unsigned 32-bit
    name: str | None  # for a removed definition, the name it had
    icon: str | None  # displayProperties.icon path (relative to the Bungie.net root), or None
    changes: tuple[Change, ...] = ()  # only for CHANGED

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "table": self.table,
            "hash": self.hash,
            "name": self.name,
            "icon": self.icon,
            "changes": [change.to_json() for change in self.changes],
        }


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the contract: weapons, armor, mods, ..., vendors (and an optional final one)
    title: str
    entries: tuple[Entry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "entries": [entry.to_json() for entry in self.entries],
        }


@dataclass(frozen=True, slots=True)
class VersionRef:
    manifest_id: int
    version: str

    def to_json(self) -> dict[str, Any]:
        return {"manifest_id": self.manifest_id, "version": self.version}


@dataclass(frozen=True, slots=True)
class TableCounts:
    added: int
    changed: int
    removed: int

    def to_json(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


@dataclass(frozen=True, slots=True)
class ReleaseNotes:
    """`from_version` is None when `to_version` was the first load."""

    from_version: VersionRef | None
    to_version: VersionRef
    counts: dict[str, TableCounts]  # every table that changed, by its full name
    sections: tuple[Section, ...]
    watched: tuple[Entry, ...] = field(default=())
    # Whether image-path-only changes were listed (the writers then show image leaves too).
    include_art: bool = False

    @property
    def first_load(self) -> bool:
        return self.from_version is None

    @property
    def changed_anything(self) -> bool:
        return any(c.added or c.changed or c.removed for c in self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_version.to_json() if self.from_version else None,
            "to": self.to_version.to_json(),
            "counts": {table: counts.to_json() for table, counts in self.counts.items()},
            "sections": [section.to_json() for section in self.sections],
            "watched": [entry.to_json() for entry in self.watched],
        }

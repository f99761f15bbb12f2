"""Release notes whose every entry is known, for the What's new tests and screenshots: every
kind, a stat change, a removed item, an entry with a hash change and icons on the stand-in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from manifest_gui.engine.database import DatabaseVersion
from manifest_gui.engine.errors import DatabaseUnavailableError
from manifest_gui.engine.notes_model import (
    Change,
    Entry,
    EntryKind,
    ReleaseNotes,
    Section,
    TableCounts,
    VersionRef,
)

ITEMS = "DestinyInventoryItemDefinition"
ICON = "/common/destiny2_content/icons/"
RPM_HASH = 4284893193


def version(manifest_id: int, name: str, current: bool = False) -> DatabaseVersion:
    return DatabaseVersion(
        manifest_id=manifest_id,
        version=name,
        path=f"/common/destiny2_content/sqlite/en/world_sql_content_{manifest_id}.content",
        language="en",
        loaded_at=datetime(2026, 12, manifest_id, 17, 5, tzinfo=UTC),
        effective_date=None,
        row_count=1000,
        inserts=10,
        updates=20,
        deletes=1,
        load_seconds=1.0,
        current=current,
    )


VERSIONS = [version(3, "245000.26.12.01", True), version(2, "244900.26.11.24"), version(1, "x")]


def known_notes(from_id: int = 2, to_id: int = 3) -> ReleaseNotes:
    weapons = Section(
        "weapons",
        "Weapons",
        (
            Entry(EntryKind.ADDED, ITEMS, 1111, "Ace of Spades", ICON + "ace.png"),
            Entry(
                EntryKind.CHANGED,
                ITEMS,
                2222,
                "Fatebringer",
                ICON + "fate.png",
                (
                    Change(f"stats.stats.{RPM_HASH}.value", "Rounds Per Minute", 120, 140),
                    Change("sockets.socketEntries.0.singleInitialItemHash", "Outlaw", 11, 12),
                ),
            ),
        ),
    )
    armor = Section(
        "armor",
        "Armour",
        (
            Entry(EntryKind.REMOVED, ITEMS, 3333, "Old Helm", ICON + "missing.png"),
            Entry(EntryKind.UNCLASSIFIED, ITEMS, 4444, "Pinnacle Gauntlets", None),
        ),
    )
    activities = Section(
        "activities",
        "Activities",
        (Entry(EntryKind.RECLASSIFIED, "DestinyActivityDefinition", 5555, "Secret Raid", None),),
    )
    empty = Section("ghosts", "Ghosts", ())
    return ReleaseNotes(
        from_version=VersionRef(from_id, "244900.26.11.24"),
        to_version=VersionRef(to_id, "245000.26.12.01"),
        counts={
            ITEMS: TableCounts(2, 2, 1),
            "DestinyActivityDefinition": TableCounts(0, 1, 0),
        },
        sections=(weapons, armor, activities, empty),
    )


class StaticNotes:
    """A notes source over fixed notes (in place of the database), recording what it is asked;
    `fail` makes the next read fail with a known error."""

    def __init__(self, notes: ReleaseNotes | None = None) -> None:
        self.notes = notes or known_notes()
        self.asked: list[tuple[int | None, int | None]] = []
        self.fail: str | None = None
        self.gate = threading.Event()
        self.gate.set()

    def release_notes(self, from_id: int | None = None, to_id: int | None = None) -> ReleaseNotes:
        self.gate.wait(10)
        self.asked.append((from_id, to_id))
        if self.fail:
            raise DatabaseUnavailableError(self.fail)
        if from_id is None and to_id is None:
            return self.notes
        return known_notes(from_id or 2, to_id or 3)

    def history(self) -> list[DatabaseVersion]:
        return list(VERSIONS)

"""Release notes in short words for the window: titles, kinds, values, the one-line summary
the tray shows. Qt-free, so the HTML export and the tray text share it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...engine.notes_model import Change, Entry, EntryKind, ReleaseNotes, Section

MAX_VALUE = 80  # characters of a value shown in a list; the tooltip has all of it
KIND_COLOURS = {
    EntryKind.ADDED: "#1a7f37",
    EntryKind.CHANGED: "#0b57d0",
    EntryKind.REMOVED: "#b42318",
    EntryKind.UNCLASSIFIED: "#8250df",
    EntryKind.RECLASSIFIED: "#6e7781",
}
# Short plural words for the tray's one line ("12 weapons, 31 armour").
SECTION_WORDS = {
    "weapons": ("weapon", "weapons"),
    "armor": ("armour", "armour"),
    "mods": ("mod", "mods"),
    "emblems": ("emblem", "emblems"),
    "ghosts": ("ghost", "ghosts"),
    "ships": ("ship", "ships"),
    "vehicles": ("vehicle", "vehicles"),
    "emotes": ("emote", "emotes"),
    "quests": ("quest", "quests"),
    "other_items": ("other item", "other items"),
    "activities": ("activity", "activities"),
    "records": ("record", "records"),
    "collectibles": ("collectible", "collectibles"),
    "perks": ("perk", "perks"),
    "vendors": ("vendor", "vendors"),
}


def value_text(value: Any, limit: int | None = MAX_VALUE) -> str:
    """A JSON value as the definitions hold it: 120, true, "text" without quotes, — for none."""
    if value is None:
        return "—"
    if value == "":
        return '""'  # an empty text, not a missing one
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def change_name(change: Change) -> str:
    """What changed in words: the stat's or linked definition's name, else the path."""
    return change.label or change.path


def change_values(change: Change, limit: int | None = MAX_VALUE) -> str:
    return f"{value_text(change.before, limit)} → {value_text(change.after, limit)}"


def change_line(change: Change, limit: int | None = MAX_VALUE) -> str:
    """ "Rounds Per Minute 120 → 140"."""
    return f"{change_name(change)} {change_values(change, limit)}"


def entry_name(entry: Entry) -> str:
    return entry.name or f"(no name) {entry.hash}"


def short_table(table: str) -> str:
    """DestinyInventoryItemDefinition → InventoryItem."""
    return table.removeprefix("Destiny").removesuffix("Definition") or table


def versions_title(notes: ReleaseNotes) -> str:
    to = notes.to_version
    if notes.from_version is None:
        return f"{to.version} (#{to.manifest_id}), the first version loaded"
    before = notes.from_version
    return (
        f"{to.version} (#{to.manifest_id}) compared with {before.version} (#{before.manifest_id})"
    )


def entry_count(sections: Iterable[Section]) -> int:
    return sum(len(section.entries) for section in sections)


def section_phrase(section: Section) -> str:
    """ "12 weapons"; a section without short words uses its title."""
    count = len(section.entries)
    one, many = SECTION_WORDS.get(section.key, (section.title.lower(), section.title.lower()))
    return f"{count:,} {one if count == 1 else many}"


def tray_line(notes: ReleaseNotes, *, limit: int = 3) -> str:
    """ "New manifest 245000.26.12.01: 12 weapons, 31 armour, 4 activities; 2 watched items
    changed": the first sections with entries, then the watched count when there is one."""
    head = f"New manifest {notes.to_version.version}"
    if notes.first_load:
        head += " (the first load)"
    phrases = [section_phrase(s) for s in notes.sections if s.entries]
    body = ", ".join(phrases[:limit])
    if len(phrases) > limit:
        body += f" and {len(phrases) - limit} more"
    if not body:
        changed = sum(c.added + c.changed + c.removed for c in notes.counts.values())
        if notes.first_load:
            body = f"{changed:,} definitions"
        else:
            body = f"{changed:,} definitions changed" if changed else "nothing listed changed"
    watched = len(notes.watched)
    if watched:
        body += f"; {watched} watched item{'' if watched == 1 else 's'} changed"
    return f"{head}: {body}"

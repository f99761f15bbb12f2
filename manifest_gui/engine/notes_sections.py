"""Which section of the release notes a definition belongs to, and what kind of entry it is.

The section keys and their order are a contract (`notes --json`, the window, the notifier).
Inventory items are split by `itemType`, Bungie's Destiny.DestinyItemType enumeration
(Weapon 3, Armor 2, Mod 19, Emblem 14, Ghost 24, Ship 21, Vehicle 22, Emote 23; QuestStep 12,
QuestStepComplete 13, Quest 15 and Bounty 26 are quests); the other sections are whole tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .notes_model import EntryKind

INVENTORY_ITEM = "DestinyInventoryItemDefinition"
STAT = "DestinyStatDefinition"


@dataclass(frozen=True, slots=True)
class SectionSpec:
    key: str
    title: str
    table: str
    item_types: frozenset[int] = frozenset()  # inventory items only; empty: the whole table


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("weapons", "Weapons", INVENTORY_ITEM, frozenset({3})),
    SectionSpec("armor", "Armor", INVENTORY_ITEM, frozenset({2})),
    SectionSpec("mods", "Mods", INVENTORY_ITEM, frozenset({19})),
    SectionSpec("emblems", "Emblems", INVENTORY_ITEM, frozenset({14})),
    SectionSpec("ghosts", "Ghosts", INVENTORY_ITEM, frozenset({24})),
    SectionSpec("ships", "Ships", INVENTORY_ITEM, frozenset({21})),
    SectionSpec("vehicles", "Vehicles", INVENTORY_ITEM, frozenset({22})),
    SectionSpec("emotes", "Emotes", INVENTORY_ITEM, frozenset({23})),
    SectionSpec("quests", "Quests and bounties", INVENTORY_ITEM, frozenset({12, 13, 15, 26})),
    SectionSpec("other_items", "Other items", INVENTORY_ITEM),
    SectionSpec("activities", "Activities", "DestinyActivityDefinition"),
    SectionSpec("records", "Records", "DestinyRecordDefinition"),
    SectionSpec("collectibles", "Collectibles", "DestinyCollectibleDefinition"),
    SectionSpec("perks", "Perks", "DestinySandboxPerkDefinition"),
    SectionSpec("vendors", "Vendors", "DestinyVendorDefinition"),
)
SECTION_KEYS: tuple[str, ...] = tuple(spec.key for spec in SECTIONS)
SECTION_TABLES: frozenset[str] = frozenset(spec.table for spec in SECTIONS)

_BY_ITEM_TYPE: dict[int, str] = {
    item_type: spec.key
    for spec in SECTIONS
    if spec.table == INVENTORY_ITEM
    for item_type in spec.item_types
}
_BY_TABLE: dict[str, str] = {
    spec.table: spec.key for spec in SECTIONS if spec.table != INVENTORY_ITEM
}

# Within a section: what is new first, what is gone last.
KIND_ORDER: dict[EntryKind, int] = {
    EntryKind.ADDED: 0,
    EntryKind.UNCLASSIFIED: 1,
    EntryKind.CHANGED: 2,
    EntryKind.RECLASSIFIED: 3,
    EntryKind.REMOVED: 4,
}


def section_key(table: str, definition: Any) -> str | None:
    """The section of a definition of `table` (its JSON as it is, or as it was when removed),
    or None when its table has no section."""
    if table == INVENTORY_ITEM:
        item_type = definition.get("itemType") if isinstance(definition, Mapping) else None
        if isinstance(item_type, int) and not isinstance(item_type, bool):
            return _BY_ITEM_TYPE.get(item_type, "other_items")
        return "other_items"
    return _BY_TABLE.get(table)


def _redacted(definition: Any) -> bool:
    return isinstance(definition, Mapping) and definition.get("redacted") is True


def entry_kind(before: Any, after: Any) -> EntryKind:
    """The kind of a definition that differs between two versions (None: not there)."""
    if before is None:
        return EntryKind.ADDED
    if after is None:
        return EntryKind.REMOVED
    was, now = _redacted(before), _redacted(after)
    if was and not now:
        return EntryKind.UNCLASSIFIED
    if now and not was:
        return EntryKind.RECLASSIFIED
    return EntryKind.CHANGED


def display_name(definition: Any) -> str | None:
    """displayProperties.name as the definition holds it (None when it has none)."""
    props = definition.get("displayProperties") if isinstance(definition, Mapping) else None
    name = props.get("name") if isinstance(props, Mapping) else None
    return name if isinstance(name, str) else None


def display_icon(definition: Any) -> str | None:
    """displayProperties.icon (a path under the Bungie.net root), or None when it has none."""
    props = definition.get("displayProperties") if isinstance(definition, Mapping) else None
    icon = props.get("icon") if isinstance(props, Mapping) else None
    return icon if isinstance(icon, str) and icon else None

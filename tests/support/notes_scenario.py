"""Three consecutive manifests whose differences are known, for the release notes' tests.

Version 1 holds Bungie's real definitions from ../shared/reference/bungie/definitions (stats,
sandbox perks, ...) plus hand-made inventory items, activities, records, collectibles, vendors,
lore and a historical stat. Version 2 changes exactly what `Scenario` describes: every entry
kind, a stat change, a perk swap, noise-only changes (only `index`; only image paths), an item
that moves to another section, and changes in tables that have no section. Version 3 changes
the weapon's stat again, brings the removed armour back, removes a new weapon and changes a
record and a lore entry back to what they were, so that notes across two loads and backwards
can be checked.

    scenario = build_scenario(folder, require_reference_dir() / "definitions")
    scenario.v1.path, scenario.v2.path, scenario.v3.path   # SQLite manifests
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.manifest_factory import GeneratedManifest, Pk, to_signed, write_manifest

ITEM = "DestinyInventoryItemDefinition"
ACTIVITY = "DestinyActivityDefinition"
RECORD = "DestinyRecordDefinition"
COLLECTIBLE = "DestinyCollectibleDefinition"
PERK = "DestinySandboxPerkDefinition"
VENDOR = "DestinyVendorDefinition"
LORE = "DestinyLoreDefinition"
STAT = "DestinyStatDefinition"
HISTORICAL = "DestinyHistoricalStatsDefinition"

# Unsigned hashes; most are >= 2**31, stored under negative SQLite ids.
WEAPON = 3_000_000_001
ARMOR = 2_000_000_002
INDEX_ONLY_MOD = 3_000_000_003
ART_ONLY_EMBLEM = 3_000_000_004
SECRET_GHOST = 3_000_000_005
SHIP = 3_000_000_006
QUEST_STEP = 3_000_000_007
GLIMMER = 3_000_000_008
MOVER = 3_000_000_009
UNCHANGED = 3_000_000_010
NEW_WEAPON = 3_000_000_011
BOUNTY = 3_000_000_012
SPARROW = 3_000_000_013
EMOTE = 3_000_000_014
ACTIVITY_CHANGED = 3_100_000_001
ACTIVITY_NEW = 3_100_000_002
RECORD_CHANGED = 3_200_000_001
COLLECTIBLE_REMOVED = 3_300_000_001
VENDOR_NEW = 3_400_000_001
LORE_CHANGED = 3_500_000_001
HISTORICAL_KEY = "activitiesCleared"


def icon(name: str) -> str:
    return f"/common/destiny2_content/icons/{name}.png"


def _display(name: str, description: str = "", image: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"description": description, "name": name, "hasIcon": bool(image)}
    if image:
        props["icon"] = image
    return props


def _definition(hash_: int, index: int, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "hash": hash_, "index": index, "redacted": False, "blacklisted": False}


def item(
    hash_: int,
    name: str,
    item_type: int,
    index: int,
    *,
    stats: dict[int, int] | None = None,
    perks: tuple[int, ...] = (),
) -> dict[str, Any]:
    return _definition(
        hash_,
        index,
        {
            "displayProperties": _display(name, f"About {name}.", icon(f"item{hash_}")),
            "itemTypeDisplayName": "Thing",
            "itemType": item_type,
            "stats": {
                "stats": {
                    str(h): {"statHash": h, "value": v, "minimum": 0, "maximum": 100}
                    for h, v in (stats or {}).items()
                }
            },
            "perks": [{"perkHash": p, "perkVisibility": 0} for p in perks],
        },
    )


def _named(table: str, hash_: int, name: str, index: int, **fields: Any) -> dict[str, Any]:
    body = {"displayProperties": _display(name, f"About {name}.", icon(f"{table}{hash_}"))}
    return _definition(hash_, index, {**body, **fields})


@dataclass(frozen=True)
class Scenario:
    v1: GeneratedManifest
    v2: GeneratedManifest
    v3: GeneratedManifest
    stat_names: dict[int, str]  # from the real DestinyStatDefinition
    rpm: int  # hash of the real "Rounds Per Minute" stat
    impact: int
    perk_before: int  # real sandbox perks: the weapon's perk in v1 and v2
    perk_after: int
    perk_changed: int  # a real perk whose description v2 changes
    perk_names: dict[int, str]


def _load_reference(definitions: Path) -> dict[str, dict[Pk, Any]]:
    content: dict[str, dict[Pk, Any]] = {}
    for file in sorted(definitions.glob("Destiny*Definition.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        content[file.stem] = {to_signed(int(h)): obj for h, obj in data.items()}
    return content


def _stat_hash(stats: dict[Pk, Any], name: str) -> int:
    found = [obj["hash"] for obj in stats.values() if obj["displayProperties"]["name"] == name]
    assert found, f"no stat named {name!r} in the reference definitions"
    return int(found[0])


def _named_perks(perks: dict[Pk, Any], count: int) -> list[int]:
    names_seen: set[str] = set()
    chosen = []
    for obj in perks.values():
        name = obj["displayProperties"].get("name")
        if name and obj["displayProperties"].get("description") and name not in names_seen:
            names_seen.add(name)
            chosen.append(int(obj["hash"]))
        if len(chosen) == count:
            break
    return chosen


def _put(content: dict[str, dict[Pk, Any]], table: str, obj: dict[str, Any]) -> None:
    content.setdefault(table, {})[to_signed(int(obj["hash"]))] = obj


def _drop(content: dict[str, dict[Pk, Any]], table: str, hash_: int) -> None:
    del content[table][to_signed(hash_)]


def _get(content: dict[str, dict[Pk, Any]], table: str, hash_: int) -> dict[str, Any]:
    obj: dict[str, Any] = content[table][to_signed(hash_)]
    return obj


def _version_1(
    reference: dict[str, dict[Pk, Any]], rpm: int, impact: int, perk: int
) -> dict[str, dict[Pk, Any]]:
    v1 = copy.deepcopy(reference)
    for obj in (
        item(WEAPON, "Fatebringer", 3, 1, stats={rpm: 120, impact: 30}, perks=(perk,)),
        item(ARMOR, "Old Helm", 2, 2),
        item(INDEX_ONLY_MOD, "Index Mod", 19, 3),
        item(ART_ONLY_EMBLEM, "Art Emblem", 14, 4),
        {**item(SECRET_GHOST, "Classified", 24, 5), "redacted": True},
        item(SHIP, "Jumpship", 21, 6),
        item(QUEST_STEP, "A Quest Step", 12, 7),
        {**item(GLIMMER, "Glimmer Pack", 9, 8), "value": 1.5, "isFeatured": False},
        item(MOVER, "Shifting Item", 3, 9),
        item(UNCHANGED, "Steady Item", 3, 10),
    ):
        _put(v1, ITEM, obj)
    _put(v1, ACTIVITY, _named(ACTIVITY, ACTIVITY_CHANGED, "Vault", 1, activityLightLevel=1800))
    _put(v1, RECORD, _named(RECORD, RECORD_CHANGED, "Flawless", 1))
    _put(v1, COLLECTIBLE, _named(COLLECTIBLE, COLLECTIBLE_REMOVED, "Old Collectible", 1))
    _put(v1, LORE, _named(LORE, LORE_CHANGED, "A Story", 1))
    v1[HISTORICAL] = {
        HISTORICAL_KEY: {"statId": HISTORICAL_KEY, "statName": "Activities", "unitType": 1}
    }
    return v1


def _version_2(
    v1: dict[str, dict[Pk, Any]], rpm: int, perk_before: int, perk_after: int, perk_changed: int
) -> dict[str, dict[Pk, Any]]:
    v2 = copy.deepcopy(v1)
    weapon = _get(v2, ITEM, WEAPON)
    weapon["stats"]["stats"][str(rpm)]["value"] = 140
    weapon["perks"][0]["perkHash"] = perk_after
    weapon["index"] = 11
    _drop(v2, ITEM, ARMOR)
    _get(v2, ITEM, INDEX_ONLY_MOD)["index"] = 30
    emblem = _get(v2, ITEM, ART_ONLY_EMBLEM)
    emblem["displayProperties"]["icon"] = icon("emblem-new")
    emblem["secondaryIcon"] = icon("emblem-banner")
    ghost = _get(v2, ITEM, SECRET_GHOST)
    ghost["redacted"] = False
    ghost["displayProperties"]["name"] = "Secret Shell"
    ship = _get(v2, ITEM, SHIP)
    ship["redacted"] = True
    ship["displayProperties"]["name"] = ""
    _get(v2, ITEM, QUEST_STEP)["displayProperties"]["description"] = "Now with more steps."
    glimmer = _get(v2, ITEM, GLIMMER)
    glimmer["value"] = 2
    glimmer["isFeatured"] = True
    _get(v2, ITEM, MOVER)["itemType"] = 19
    for obj in (
        item(NEW_WEAPON, "Ace of Spades", 3, 11),
        item(BOUNTY, "Daily Bounty", 26, 12),
        item(SPARROW, "Fast Sparrow", 22, 13),
        item(EMOTE, "Happy Dance", 23, 14),
    ):
        _put(v2, ITEM, obj)
    _get(v2, ACTIVITY, ACTIVITY_CHANGED)["activityLightLevel"] = 2000
    _put(v2, ACTIVITY, _named(ACTIVITY, ACTIVITY_NEW, "New Raid", 2))
    _get(v2, RECORD, RECORD_CHANGED)["displayProperties"]["name"] = "Flawless Raider"
    _drop(v2, COLLECTIBLE, COLLECTIBLE_REMOVED)
    _get(v2, PERK, perk_changed)["displayProperties"]["description"] = "Retuned."
    _drop(v2, PERK, perk_before)  # the weapon's old perk: named from its removed row
    _put(v2, VENDOR, _named(VENDOR, VENDOR_NEW, "Xur", 1))
    _get(v2, LORE, LORE_CHANGED)["subtitle"] = "Part two"
    v2[HISTORICAL][HISTORICAL_KEY]["statName"] = "Activities Cleared"
    return v2


def _version_3(v2: dict[str, dict[Pk, Any]], rpm: int) -> dict[str, dict[Pk, Any]]:
    v3 = copy.deepcopy(v2)
    _get(v3, ITEM, WEAPON)["stats"]["stats"][str(rpm)]["value"] = 150
    _put(v3, ITEM, item(ARMOR, "Old Helm Reborn", 2, 2))
    _drop(v3, ITEM, NEW_WEAPON)
    # Changed back to what v1 had: across v1..v3 these did not change.
    _get(v3, RECORD, RECORD_CHANGED)["displayProperties"]["name"] = "Flawless"
    del _get(v3, LORE, LORE_CHANGED)["subtitle"]
    # Changed again: across v1..v3 one change.
    v3[HISTORICAL][HISTORICAL_KEY]["unitType"] = 2
    return v3


def build_scenario(folder: Path, definitions: Path) -> Scenario:
    reference = _load_reference(definitions)
    stats = reference[STAT]
    rpm, impact = _stat_hash(stats, "Rounds Per Minute"), _stat_hash(stats, "Impact")
    perk_before, perk_after, perk_changed = _named_perks(reference[PERK], 3)
    v1 = _version_1(reference, rpm, impact, perk_before)
    v2 = _version_2(v1, rpm, perk_before, perk_after, perk_changed)
    v3 = _version_3(v2, rpm)
    folder.mkdir(parents=True, exist_ok=True)
    return Scenario(
        v1=write_manifest(folder / "notes-v1.sqlite3", v1),
        v2=write_manifest(folder / "notes-v2.sqlite3", v2),
        v3=write_manifest(folder / "notes-v3.sqlite3", v3),
        stat_names={int(obj["hash"]): obj["displayProperties"]["name"] for obj in stats.values()},
        rpm=rpm,
        impact=impact,
        perk_before=perk_before,
        perk_after=perk_after,
        perk_changed=perk_changed,
        perk_names={
            int(obj["hash"]): obj["displayProperties"]["name"] for obj in reference[PERK].values()
        },
    )

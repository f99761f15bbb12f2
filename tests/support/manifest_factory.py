"""Test manifests with the shape of Bungie's Destiny 2 world content (SQLite inside a zip).

Why: loaders must be tested against data that looks like the real thing (one table per
definition type, signed 32-bit ids, a TEXT-keyed table, unicode, rows from 300 B to 100 KB,
hash fields pointing at other rows), in successive versions (rows changed, deleted, added,
tables added) and at full size (~170,000 rows, ~390 MB of JSON) for benchmarks.

Main entry points:

- ``generate_manifest(path, seed=..., rows=2000)`` writes a SQLite manifest and returns a
  :class:`GeneratedManifest` holding the expected content (table -> pk -> parsed JSON).
- ``generate_manifest(path2, seed=..., version_of=m1)`` derives the next version from ``m1``
  (streaming from its file) and records what changed in ``.changes``.
- ``generate_manifest(path, seed=..., full_size=True)`` streams ~170,000 rows / ~390 MB
  without keeping them in memory (``.rows`` is then unavailable; counts and sizes are).
- ``write_content_zip(sqlite_path, zip_path)`` wraps it like Bungie's ``.content`` file.
- ``manifest_from_reference_definitions(path)`` builds a manifest from the real definitions
  in ``../shared/reference/bungie/definitions`` (``reference_dir()`` / ``require_reference_dir()``).

Everything is deterministic per seed. Pk values are the signed id (int) or the key (str);
``pk_dict`` turns them into the ``{"id": ...}`` / ``{"key": ...}`` form.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import sqlite3
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import skip_or_fail

__all__ = [
    "DEFAULT_ROWS",
    "EDGE_DESCRIPTION",
    "EDGE_HASHES",
    "EDGE_NAME",
    "FULL_SIZE_ROWS",
    "KEY_TABLES",
    "GeneratedManifest",
    "ManifestChanges",
    "ManifestFactory",
    "Pk",
    "content_file_name",
    "full_size_plan",
    "generate_manifest",
    "iter_manifest_rows",
    "json_text",
    "manifest_from_reference_definitions",
    "pk_dict",
    "pk_value",
    "read_manifest",
    "reference_dir",
    "require_reference_dir",
    "to_signed",
    "to_unsigned",
    "write_content_zip",
    "write_manifest",
]

Pk = int | str
"""A row's primary key: the signed 32-bit id, or the key of a TEXT-keyed table."""

DEFAULT_ROWS = 2000
FULL_SIZE_ROWS = 170_000
MAX_ROW_BYTES = 110_000

ITEM = "DestinyInventoryItemDefinition"
ACTIVITY = "DestinyActivityDefinition"
HISTORICAL_STATS = "DestinyHistoricalStatsDefinition"
KEY_TABLES = frozenset({HISTORICAL_STATS})

_TABLE_NAME = re.compile(r"^Destiny[A-Za-z0-9]+Definition$")

# Real table names that appeared in later releases; derived versions add them in this order.
NEW_TABLE_POOL = (
    "DestinyEventCardDefinition",
    "DestinyLoadoutNameDefinition",
    "DestinyLoadoutIconDefinition",
    "DestinyLoadoutColorDefinition",
    "DestinyGuardianRankDefinition",
    "DestinyFireteamFinderOptionDefinition",
    "DestinyFireteamFinderActivityGraphDefinition",
    "DestinySocialCommendationDefinition",
)


# --------------------------------------------------------------------------- small helpers


def to_signed(hash_: int) -> int:
    """Bungie's SQLite id for an unsigned 32-bit hash (hashes >= 2**31 become negative)."""
    if not 0 <= hash_ < 2**32:
        raise ValueError(f"not a 32-bit hash: {hash_}")
    return hash_ - 2**32 if hash_ >= 2**31 else hash_


def to_unsigned(id_: int) -> int:
    """The unsigned hash for a signed SQLite id: ``id & 0xFFFFFFFF``."""
    return id_ & 0xFFFFFFFF


def pk_dict(pk: Pk) -> dict[str, Pk]:
    """``{"id": signed}`` for id tables, ``{"key": text}`` for TEXT-keyed tables."""
    return {"key": pk} if isinstance(pk, str) else {"id": pk}


def pk_value(pk: Mapping[str, Any]) -> Pk:
    """Inverse of :func:`pk_dict`: the int id or str key from ``{"id": ...}``/``{"key": ...}``."""
    if "id" in pk:
        return int(pk["id"])
    return str(pk["key"])


def json_text(obj: Any) -> str:
    """Serialise like Bungie: compact separators, raw UTF-8 (no \\u escapes for non-ASCII)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from `parts`, independent of iteration order."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --------------------------------------------------------------------------- text pools


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _words(
    "Light Darkness Guardian Traveler Vanguard Crucible Gambit Nightfall Exotic Legendary "
    "Hand Cannon Auto Rifle Pulse Scout Sidearm Bow Glaive Shotgun Sniper Fusion Rocket "
    "Sword Grenade Machine Gun Trace Linear Solar Arc Void Stasis Strand Prismatic Kinetic "
    "Titan Hunter Warlock Ghost Sparrow Ship Emblem Shader Ornament Armor Helmet Gauntlets "
    "Chest Legs Class Item Mod Perk Catalyst Engram Glimmer Bright Dust Ascendant Shard "
    "Raid Dungeon Strike Patrol Lost Sector Public Event Seasonal Artifact Vendor Bounty "
    "Quest Triumph Seal Title Lore Collection Ritual Eververse Tower Moon Europa Neptune "
    "Dreaming City Throne World Pale Heart Savathun Oryx Rhulk Calus Crota Witness"
)
_ACCENTED = _words(
    "Éclat Lumière Señor Größe Ødegaard Çağrı Zürich naïve façade Ångström Żółć "
    "crème brûlée São Paulo Kraków Besançon Ærøskøbing résumé Mañana"
)
_CJK_ETC = _words("光 守護者 暗黒 旅人 黄金時代 光能 守护者 빛 수호자 Свет Страж Тьма نور Φως")
_EMOJI = ("🔥", "⚡", "🌌", "🛡️", "💀", "✨", "🐍", "🧑\u200d🚀", "👁️\u200d🗨️", "🏳️\u200d🌈")
_TRICKY = ("O'Brien", '"Quoted"', "50%", "under_score", "C:\\Path", "<tag>", "&amp;", "#1", "{0}")
# Snippets that break naive COPY/CSV/SQL escaping: newline, tab, backslash, quotes, COPY's
# NULL marker \N, CR LF, U+2028, NBSP, zero-width space and a control character.
_SPECIAL_SNIPPETS = (
    "\n",
    "\t",
    "\\",
    '"',
    "\\N",
    "'",
    "\r\n",
    "\u2028",
    "\u00a0",
    "\u200b",
    "\x1f",
)

EDGE_NAME = "Ærøskøbing «Lumière» — 光の守護者 수호자 🔥🧑\u200d🚀"
EDGE_DESCRIPTION = (
    "Line one\nLine two\tafter a tab; backslash \\ and \\N (COPY's NULL marker); "
    "\"double\" and 'single' quotes; CRLF\r\nend; U+2028\u2028; control\x1f; emoji 🐍."
)
# First hashes of DestinyInventoryItemDefinition: the signed/unsigned boundaries.
EDGE_HASHES = (2**31, 2**32 - 1, 2**31 - 1, 1)

_ITEM_TYPES = (
    (3, 6, "Auto Rifle"),
    (3, 9, "Hand Cannon"),
    (3, 13, "Pulse Rifle"),
    (3, 14, "Scout Rifle"),
    (3, 18, "Sword"),
    (3, 31, "Combat Bow"),
    (2, 26, "Helmet"),
    (2, 27, "Gauntlets"),
    (19, 0, "Weapon Mod"),
    (20, 0, "Emblem"),
    (21, 0, "Shader"),
    (0, 0, ""),
)
_TIERS = (("Common", 2), ("Uncommon", 3), ("Rare", 4), ("Legendary", 5), ("Exotic", 6))


# --------------------------------------------------------------------------- row generation


class _Gen:
    """Random values for one manifest: names, texts, icons and references to other rows."""

    def __init__(self, rng: random.Random, refs: Mapping[str, Sequence[int]]) -> None:
        self.rng = rng
        self.refs = refs

    def ref(self, table: str) -> int:
        """A hash of an existing row of `table` (0, Bungie's "none", if it has no rows)."""
        hashes = self.refs.get(table)
        return self.rng.choice(hashes) if hashes else 0

    def ref_list(self, table: str, k: int) -> list[int]:
        hashes = self.refs.get(table)
        return self.rng.choices(hashes, k=k) if hashes and k > 0 else []

    def name(self) -> str:
        rng = self.rng
        roll = rng.random()
        words = rng.choices(_WORDS, k=rng.randint(1, 3))
        if roll < 0.15:
            words.append(rng.choice(_ACCENTED))
        elif roll < 0.22:
            words = rng.choices(_CJK_ETC, k=rng.randint(1, 2))
        elif roll < 0.27:
            words.append(rng.choice(_EMOJI))
        elif roll < 0.30:
            words.append(rng.choice(_TRICKY))
        return " ".join(words)

    def text(self, n_words: int) -> str:
        rng = self.rng
        if n_words <= 0:
            return ""
        text = " ".join(rng.choices(_WORDS, k=n_words))
        roll = rng.random()
        if roll < 0.05:
            text += " " + rng.choice(_ACCENTED) + " " + rng.choice(_CJK_ETC)
        elif roll < 0.08:
            text += rng.choice(_SPECIAL_SNIPPETS) + rng.choice(_WORDS)
        elif roll < 0.10:
            text += " " + rng.choice(_EMOJI)
        return text

    def icon(self, folder: str = "icons", ext: str = "png") -> str:
        return f"/common/destiny2_content/{folder}/{self.rng.getrandbits(128):032x}.{ext}"

    def display(self, description_words: int | None = None) -> dict[str, Any]:
        rng = self.rng
        words = rng.randint(0, 24) if description_words is None else description_words
        props: dict[str, Any] = {"description": self.text(words), "name": self.name()}
        if rng.random() < 0.85:
            props["icon"] = self.icon()
            props["iconHash"] = 0
            props["hasIcon"] = True
        else:
            props["iconHash"] = 0
            props["hasIcon"] = False
        return props

    def tail(self, obj: dict[str, Any], hash_: int, index: int) -> dict[str, Any]:
        """The fields every hashed definition ends with."""
        obj["hash"] = hash_
        obj["index"] = index
        obj["redacted"] = self.rng.random() < 0.01
        obj["blacklisted"] = self.rng.random() < 0.005
        return obj


_Builder = Callable[[_Gen, Pk, int, int], dict[str, Any]]
_Entry = Callable[[_Gen], dict[str, Any]]


def _count(size: int, base: int, per_entry: int, minimum: int = 0) -> int:
    return max(minimum, (size - base) // per_entry)


def _socket_entry(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    plugs = g.ref_list(ITEM, rng.randint(0, 10))
    return {
        "socketTypeHash": g.ref("DestinySocketTypeDefinition"),
        "singleInitialItemHash": g.ref(ITEM),
        "reusablePlugItems": [{"plugItemHash": p} for p in plugs],
        "preventInitializationOnVendorPurchase": False,
        "hidePerksInItemTooltip": rng.random() < 0.1,
        "plugSources": rng.choice((0, 1, 2, 6, 13)),
        "reusablePlugSetHash": g.ref("DestinyPlugSetDefinition"),
        "overridesUiAppearance": False,
        "defaultVisible": True,
    }


def _inventory_item(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
    rng = g.rng
    assert isinstance(pk, int)
    item_type, sub_type, type_name = rng.choice(_ITEM_TYPES)
    tier_name, tier = rng.choice(_TIERS)
    stat_hashes = g.ref_list("DestinyStatDefinition", rng.randint(0, 8))
    damage = g.ref("DestinyDamageTypeDefinition")
    n_sockets = _count(size, 2300, 420, minimum=1 if item_type == 3 else 0)
    obj: dict[str, Any] = {
        "displayProperties": g.display(),
        "tooltipNotifications": [],
        "collectibleHash": g.ref("DestinyCollectibleDefinition"),
        "iconWatermark": g.icon("watermarks"),
        "screenshot": g.icon("screenshots", "jpg"),
        "itemTypeDisplayName": type_name,
        "flavorText": g.text(rng.randint(0, 25)),
        "uiItemDisplayStyle": "",
        "itemTypeAndTierDisplayName": f"{tier_name} {type_name}".strip(),
        "displaySource": "",
        "inventory": {
            "maxStackSize": rng.choice((1, 1, 1, 10, 9999)),
            "bucketTypeHash": g.ref("DestinyInventoryBucketDefinition"),
            "recoveryBucketTypeHash": g.ref("DestinyInventoryBucketDefinition"),
            "tierTypeHash": rng.getrandbits(32),
            "isInstanceItem": item_type in (2, 3),
            "nonTransferrableOriginal": False,
            "tierTypeName": tier_name,
            "tierType": tier,
            "expirationTooltip": "",
            "suppressExpirationWhenObjectivesComplete": True,
        },
        "stats": {
            "disablePrimaryStatDisplay": False,
            "statGroupHash": g.ref("DestinyStatGroupDefinition"),
            "stats": {
                str(h): {
                    "statHash": h,
                    "value": rng.randint(0, 100),
                    "minimum": 0,
                    "maximum": 100,
                    "displayMaximum": 100,
                }
                for h in stat_hashes
            },
            "hasDisplayableStats": bool(stat_hashes),
            "primaryBaseStatHash": g.ref("DestinyStatDefinition"),
        },
        "equippingBlock": {
            "uniqueLabelHash": 0,
            "equipmentSlotTypeHash": rng.getrandbits(32),
            "attributes": 0,
            "equippingSoundHash": 0,
            "hornSoundHash": 0,
            "ammoType": rng.randint(0, 3),
            "displayStrings": ["", "", ""],
        },
        "sockets": {
            "detail": "Sockets",
            "socketEntries": [_socket_entry(g) for _ in range(n_sockets)],
            "intrinsicSockets": [],
            "socketCategories": [
                {
                    "socketCategoryHash": rng.getrandbits(32),
                    "socketIndexes": list(range(min(n_sockets, 5))),
                }
            ],
        },
        "investmentStats": [
            {"statTypeHash": h, "value": rng.randint(-10, 80), "isConditionallyActive": False}
            for h in stat_hashes
        ],
        "perks": [
            {"requirementDisplayString": "", "perkHash": p, "perkVisibility": 0}
            for p in g.ref_list("DestinySandboxPerkDefinition", rng.randint(0, 3))
        ],
        "summaryItemHash": g.ref(ITEM),
        "allowActions": True,
        "doesPostmasterPullHaveSideEffects": False,
        "nonTransferrable": rng.random() < 0.2,
        "itemCategoryHashes": g.ref_list("DestinyItemCategoryDefinition", rng.randint(1, 4)),
        "specialItemType": 0,
        "itemType": item_type,
        "itemSubType": sub_type,
        "classType": rng.choice((0, 1, 2, 3)),
        "breakerType": 0,
        "equippable": item_type in (2, 3),
        "damageTypeHashes": [damage],
        "damageTypes": [rng.randint(1, 7)],
        "defaultDamageType": rng.randint(1, 7),
        "defaultDamageTypeHash": damage,
        "isWrapper": False,
        "traitIds": ["item_type.weapon"] if item_type == 3 else [],
        "traitHashes": g.ref_list("DestinyTraitDefinition", 1 if item_type == 3 else 0),
    }
    if rng.random() < 0.4:
        obj["loreHash"] = g.ref("DestinyLoreDefinition")
    if index == 0:
        obj["displayProperties"]["name"] = EDGE_NAME
        obj["displayProperties"]["description"] = EDGE_DESCRIPTION
    return g.tail(obj, pk, index)


def _activity(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
    rng = g.rng
    assert isinstance(pk, int)
    n = _count(size, 1300, 250)
    obj: dict[str, Any] = {
        "displayProperties": g.display(),
        "originalDisplayProperties": g.display(0),
        "releaseIcon": "/img/misc/missing_icon_d2.png",
        "releaseTime": 0,
        "activityLightLevel": rng.choice((0, 1750, 1800, 2000)),
        "destinationHash": g.ref("DestinyDestinationDefinition"),
        "placeHash": g.ref("DestinyPlaceDefinition"),
        "activityTypeHash": g.ref("DestinyActivityTypeDefinition"),
        "tier": rng.randint(0, 3),
        "pgcrImage": g.icon("pgcr", "jpg"),
        "rewards": [
            {
                "rewardItems": [
                    {"itemHash": g.ref(ITEM), "quantity": rng.randint(0, 3)}
                    for _ in range(rng.randint(0, 3))
                ]
            }
        ],
        "modifiers": [
            {"activityModifierHash": rng.getrandbits(32)} for _ in range(rng.randint(0, 4))
        ],
        "isPlaylist": rng.random() < 0.1,
        "challenges": [
            {
                "rewardSiteHash": 0,
                "inhibitRewardsUnlockHash": 0,
                "objectiveHash": g.ref("DestinyObjectiveDefinition"),
                "dummyRewards": [
                    {"itemHash": g.ref(ITEM), "quantity": 1, "hasConditionalVisibility": False}
                ],
            }
            for _ in range(n)
        ],
        "optionalUnlockStrings": [],
        "inheritFromFreeRoam": False,
        "suppressOtherRewards": False,
        "playlistItems": [],
        "matchmaking": {
            "isMatchmade": rng.random() < 0.5,
            "minParty": 1,
            "maxParty": rng.choice((1, 3, 6)),
            "maxPlayers": rng.choice((1, 3, 6, 12)),
            "requiresGuardianOath": False,
        },
        "activityModeHashes": [rng.getrandbits(32) for _ in range(rng.randint(0, 3))],
        "activityModeTypes": [rng.randint(2, 90) for _ in range(rng.randint(0, 3))],
        "isPvP": rng.random() < 0.2,
        "insertionPoints": [],
        "activityLocationMappings": [],
    }
    return g.tail(obj, pk, index)


def _vendor(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
    rng = g.rng
    assert isinstance(pk, int)
    n = _count(size, 900, 580)
    items = []
    for i in range(n):
        items.append(
            {
                "vendorItemIndex": i,
                "itemHash": g.ref(ITEM),
                "quantity": 1,
                "failureIndexes": [],
                "currencies": [{"itemHash": g.ref(ITEM), "quantity": rng.randint(1, 5000)}],
                "refundPolicy": 0,
                "refundTimeLimit": 0,
                "creationLevels": [{"level": 0}],
                "displayCategoryIndex": rng.randint(0, 9),
                "categoryIndex": rng.randint(0, 9),
                "originalCategoryIndex": -1,
                "minimumLevel": 0,
                "maximumLevel": 2_147_483_647,
                "action": {"executeSeconds": 0.0, "isPositive": False},
                "displayCategory": "",
                "inventoryBucketHash": g.ref("DestinyInventoryBucketDefinition"),
                "visibilityScope": 0,
                "purchasableScope": 0,
                "exclusivity": 0,
                "sortValue": rng.randint(0, 1000),
                "expirationTooltip": "",
                "redirectToSaleIndexes": [],
                "socketOverrides": [],
                "unpurchasable": rng.random() < 0.05,
            }
        )
    obj: dict[str, Any] = {
        "displayProperties": g.display(),
        "vendorProgressionType": 0,
        "buyString": "Purchase",
        "sellString": "",
        "displayItemHash": g.ref(ITEM),
        "inhibitBuying": False,
        "inhibitSelling": True,
        "factionHash": g.ref("DestinyFactionDefinition"),
        "resetIntervalMinutes": 0,
        "resetOffsetMinutes": 0,
        "failureStrings": ["You may not purchase this item."],
        "unlockRanges": [],
        "vendorIdentifier": f"VENDOR_{index}",
        "vendorPortrait": g.icon("vendors"),
        "enabled": True,
        "visible": True,
        "itemList": items,
        "groups": [{"vendorGroupHash": rng.getrandbits(32)}],
        "ignoreSaleItemHashes": [],
    }
    return g.tail(obj, pk, index)


def _lore(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
    assert isinstance(pk, int)
    words = max(10, (size - 350) // 8)
    obj = {"displayProperties": g.display(words), "subtitle": g.text(g.rng.randint(0, 6))}
    return g.tail(obj, pk, index)


def _historical_stat(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
    rng = g.rng
    obj: dict[str, Any] = {
        "statId": pk,
        "group": rng.randint(0, 5),
        "periodTypes": sorted(rng.sample((1, 2, 3), rng.randint(1, 3))),
        "modes": sorted(rng.sample(range(2, 90), rng.randint(1, 12))),
        "category": rng.randint(0, 3),
        "statName": g.name(),
        "statNameAbbr": g.name()[:8],
        "statDescription": g.text(rng.randint(0, 20)),
        "unitType": rng.randint(0, 10),
        "mergeMethod": rng.randint(0, 2),
        "weight": rng.randint(0, 5),
    }
    if rng.random() < 0.6:
        obj["iconImage"] = g.icon()
    if rng.random() < 0.3:
        obj["unitLabel"] = rng.choice(("kills", "points", "s"))
    if rng.random() < 0.1:
        obj["medalTierHash"] = g.ref("DestinyMedalTierDefinition")
    return obj


def _fixed(names: Sequence[str], extra: Callable[[_Gen, int], dict[str, Any]]) -> _Builder:
    """Builder for the tiny fixed tables (classes, genders, races): ~300 B rows."""

    def build(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
        assert isinstance(pk, int)
        name = names[index % len(names)]
        obj: dict[str, Any] = {
            "displayProperties": {"description": "", "name": name, "iconHash": 0, "hasIcon": False}
        }
        obj.update(extra(g, index))
        return g.tail(obj, pk, index)

    return build


def _class_extra(g: _Gen, index: int) -> dict[str, Any]:
    name = ("Titan", "Hunter", "Warlock")[index % 3]
    genders = g.refs.get("DestinyGenderDefinition", ())
    return {
        "classType": index,
        "genderedClassNames": {"Male": name, "Female": name},
        "genderedClassNamesByGenderHash": {str(h): name for h in genders},
    }


def _race_extra(g: _Gen, index: int) -> dict[str, Any]:
    name = ("Human", "Awoken", "Exo")[index % 3]
    return {
        "raceType": index,
        "genderedRaceNames": {"Male": f"{name} Male", "Female": f"{name} Female"},
    }


def _generic(
    bulk_key: str, entry: _Entry, per_entry: int, extra: Callable[[_Gen], dict[str, Any]] | None
) -> _Builder:
    """Builder for most tables: display properties, a few fields and a list sized to fit."""

    def build(g: _Gen, pk: Pk, index: int, size: int) -> dict[str, Any]:
        assert isinstance(pk, int)
        obj: dict[str, Any] = {"displayProperties": g.display()}
        if extra is not None:
            obj.update(extra(g))
        obj[bulk_key] = [entry(g) for _ in range(_count(size, 420, per_entry))]
        return g.tail(obj, pk, index)

    return build


def _e_hash(table: str, key: str) -> _Entry:
    return lambda g: {key: g.ref(table)}


def _e_plug(g: _Gen) -> dict[str, Any]:
    return {
        "weight": 1,
        "alternateWeight": 0,
        "currentlyCanRoll": g.rng.random() < 0.9,
        "plugItemHash": g.ref(ITEM),
    }


def _e_objective_perk(g: _Gen) -> dict[str, Any]:
    return {"perkHash": g.ref("DestinySandboxPerkDefinition"), "style": g.rng.randint(0, 2)}


def _e_reward(g: _Gen) -> dict[str, Any]:
    return {
        "itemHash": g.ref(ITEM),
        "quantity": g.rng.randint(1, 3),
        "hasConditionalVisibility": False,
    }


def _e_material(g: _Gen) -> dict[str, Any]:
    return {
        "itemHash": g.ref(ITEM),
        "deleteOnAction": True,
        "count": g.rng.randint(1, 500),
        "countIsConstant": True,
        "omitFromRequirements": False,
    }


def _e_step(g: _Gen) -> dict[str, Any]:
    return {"stepName": g.name(), "displayEffectType": 0, "progressTotal": g.rng.randint(1, 10**5)}


def _e_scaled_stat(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    return {
        "statHash": g.ref("DestinyStatDefinition"),
        "maximumValue": 100,
        "displayAsNumeric": rng.random() < 0.3,
        "displayInterpolation": [
            {"value": v, "weight": round(v * rng.uniform(0.5, 1.5))} for v in (0, 50, 100)
        ],
    }


def _e_icon_frames(g: _Gen) -> dict[str, Any]:
    return {"frames": [g.icon()]}


def _e_whitelist(g: _Gen) -> dict[str, Any]:
    return {
        "categoryHash": g.rng.getrandbits(32),
        "categoryIdentifier": g.rng.choice(("intrinsics", "frames", "shader", "v400.weapon.mod")),
        "reinitializationPossiblePlugHashes": g.ref_list(ITEM, g.rng.randint(0, 3)),
    }


def _e_bubble(g: _Gen) -> dict[str, Any]:
    return {"hash": g.rng.getrandbits(32), "displayProperties": g.display(8)}


def _e_checklist(g: _Gen) -> dict[str, Any]:
    return {
        "hash": g.rng.getrandbits(32),
        "displayProperties": g.display(6),
        "destinationHash": g.ref("DestinyDestinationDefinition"),
        "activityHash": g.ref(ACTIVITY),
        "scope": 0,
    }


_CHILD_KINDS = (
    ("DestinyPresentationNodeDefinition", "presentationNodeHash"),
    ("DestinyCollectibleDefinition", "collectibleHash"),
    ("DestinyRecordDefinition", "recordHash"),
)


def _e_child(g: _Gen) -> dict[str, Any]:
    table, key = g.rng.choice(_CHILD_KINDS)
    return {key: g.ref(table), "nodeDisplayPriority": 0}


def _x_objective(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    return {
        "completionValue": rng.choice((1, 1, 5, 10, 100, 1000)),
        "scope": 0,
        "locationHash": g.ref("DestinyLocationDefinition"),
        "allowNegativeValue": False,
        "allowValueChangeWhenCompleted": False,
        "isCountingDownward": False,
        "valueStyle": rng.randint(0, 12),
        "progressDescription": g.text(rng.randint(0, 6)),
        "minimumVisibilityThreshold": 0,
        "allowOvercompletion": rng.random() < 0.3,
        "showValueOnComplete": True,
    }


def _x_collectible(g: _Gen) -> dict[str, Any]:
    return {
        "scope": 0,
        "sourceString": g.text(g.rng.randint(0, 8)),
        "sourceHash": g.rng.getrandbits(32),
        "itemHash": g.ref(ITEM),
        "presentationInfo": {"presentationNodeType": 2, "parentPresentationNodeHashes": []},
    }


def _x_record(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    has_title = rng.random() < 0.05
    return {
        "scope": 0,
        "objectiveHashes": g.ref_list("DestinyObjectiveDefinition", rng.randint(1, 4)),
        "recordValueStyle": 0,
        "titleInfo": {
            "hasTitle": has_title,
            **({"titlesByGender": {"Male": g.name(), "Female": g.name()}} if has_title else {}),
        },
        "completionInfo": {"partialCompletionObjectiveCountThreshold": 0, "ScoreValue": 10},
        "parentNodeHashes": g.ref_list("DestinyPresentationNodeDefinition", 1),
    }


def _x_bucket(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    return {
        "scope": rng.randint(0, 1),
        "category": rng.randint(0, 4),
        "bucketOrder": rng.randint(0, 100),
        "itemCount": rng.choice((1, 9, 10, 50)),
        "location": rng.randint(0, 4),
        "hasTransferDestination": rng.random() < 0.5,
        "enabled": True,
        "fifo": False,
    }


def _x_stat(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    return {
        "aggregationType": rng.randint(0, 2),
        "hasComputedBlock": False,
        "statCategory": rng.randint(0, 3),
        "interpolate": rng.random() < 0.5,
    }


def _x_destination(g: _Gen) -> dict[str, Any]:
    return {
        "placeHash": g.ref("DestinyPlaceDefinition"),
        "defaultFreeroamActivityHash": g.ref(ACTIVITY),
        "activityGraphEntries": [],
        "bubbleSettings": [],
    }


def _x_perk(g: _Gen) -> dict[str, Any]:
    rng = g.rng
    return {"isDisplayable": rng.random() < 0.7, "damageType": rng.randint(0, 7)}


def _x_progression(g: _Gen) -> dict[str, Any]:
    return {"scope": 1, "repeatLastStep": True, "visible": True, "factionHash": 0, "color": {}}


@dataclass(frozen=True)
class _TableSpec:
    name: str
    full_rows: int
    mean_bytes: int
    build: _Builder
    sigma: float = 0.6
    fixed_rows: int | None = None


def _g(
    bulk: str, entry: _Entry, per: int, extra: Callable[[_Gen], dict[str, Any]] | None = None
) -> _Builder:
    return _generic(bulk, entry, per, extra)


# The plan for a full-size manifest (~170,000 rows, ~390 MB of JSON). Smaller manifests take the
# same tables with proportionally fewer rows (at least one each); the fixed tables keep theirs.
_PLAN: tuple[_TableSpec, ...] = (
    _TableSpec(ITEM, 33_000, 7_400, _inventory_item, sigma=0.9),
    _TableSpec(
        "DestinyObjectiveDefinition", 30_000, 700, _g("perks", _e_objective_perk, 60, _x_objective)
    ),
    _TableSpec(
        "DestinyCollectibleDefinition",
        13_000,
        800,
        _g(
            "parentNodeHashes",
            _e_hash("DestinyPresentationNodeDefinition", "presentationNodeHash"),
            40,
            _x_collectible,
        ),
    ),
    _TableSpec(
        "DestinyRecordDefinition", 8_000, 2_000, _g("rewardItems", _e_reward, 70, _x_record)
    ),
    _TableSpec("DestinyPresentationNodeDefinition", 4_500, 1_400, _g("children", _e_child, 50)),
    _TableSpec("DestinyLoreDefinition", 5_000, 1_800, _lore),
    _TableSpec("DestinyPlugSetDefinition", 7_000, 1_800, _g("reusablePlugItems", _e_plug, 90)),
    _TableSpec("DestinySocketTypeDefinition", 4_500, 600, _g("plugWhitelist", _e_whitelist, 110)),
    _TableSpec(
        "DestinySandboxPerkDefinition", 5_300, 500, _g("iconSequences", _e_icon_frames, 80, _x_perk)
    ),
    _TableSpec(ACTIVITY, 9_500, 3_000, _activity, sigma=0.8),
    _TableSpec("DestinyVendorDefinition", 1_000, 16_000, _vendor, sigma=1.0),
    _TableSpec(
        "DestinyMaterialRequirementSetDefinition", 12_000, 300, _g("materials", _e_material, 110)
    ),
    _TableSpec(
        "DestinyUnlockValueDefinition",
        20_000,
        350,
        _g("aggregateUnlockHashes", _e_hash("DestinyUnlockValueDefinition", "unlockValueHash"), 30),
    ),
    _TableSpec(
        "DestinyLocationDefinition",
        12_000,
        450,
        _g("locationReleases", _e_hash(ACTIVITY, "activityHash"), 30),
    ),
    _TableSpec(
        "DestinyProgressionDefinition", 1_800, 1_500, _g("steps", _e_step, 90, _x_progression)
    ),
    _TableSpec(
        "DestinyMetricDefinition",
        400,
        700,
        _g(
            "parentNodeHashes",
            _e_hash("DestinyPresentationNodeDefinition", "presentationNodeHash"),
            40,
        ),
    ),
    _TableSpec(
        "DestinyDestinationDefinition", 250, 3_000, _g("bubbles", _e_bubble, 260, _x_destination)
    ),
    _TableSpec(
        "DestinyChecklistDefinition", 60, 20_000, _g("entries", _e_checklist, 330), sigma=0.8
    ),
    _TableSpec(
        "DestinyItemCategoryDefinition",
        250,
        700,
        _g(
            "groupedCategoryHashes",
            _e_hash("DestinyItemCategoryDefinition", "itemCategoryHash"),
            35,
        ),
    ),
    _TableSpec("DestinyTraitDefinition", 400, 400, _g("children", _e_hash(ITEM, "itemHash"), 30)),
    _TableSpec(
        "DestinySeasonDefinition",
        30,
        1_500,
        _g("acts", _e_hash("DestinyProgressionDefinition", "rankProgressionHash"), 40),
    ),
    _TableSpec(
        "DestinyStatDefinition",
        90,
        400,
        _g("statHashes", _e_hash("DestinyStatDefinition", "statHash"), 30, _x_stat),
    ),
    _TableSpec("DestinyStatGroupDefinition", 130, 2_000, _g("scaledStats", _e_scaled_stat, 200)),
    _TableSpec(
        "DestinyActivityTypeDefinition", 90, 300, _g("modes", _e_hash(ACTIVITY, "activityHash"), 30)
    ),
    _TableSpec(
        "DestinyActivityModeDefinition",
        100,
        800,
        _g("parentHashes", _e_hash("DestinyActivityModeDefinition", "activityModeHash"), 35),
    ),
    _TableSpec(
        "DestinyPlaceDefinition",
        70,
        300,
        _g("destinations", _e_hash("DestinyDestinationDefinition", "destinationHash"), 35),
    ),
    _TableSpec(
        "DestinyInventoryBucketDefinition",
        65,
        350,
        _g(
            "transferDestinations",
            _e_hash("DestinyInventoryBucketDefinition", "bucketHash"),
            30,
            _x_bucket,
        ),
    ),
    _TableSpec("DestinyDamageTypeDefinition", 12, 400, _g("transparentIcons", _e_icon_frames, 80)),
    _TableSpec(
        "DestinyFactionDefinition",
        100,
        800,
        _g("vendors", _e_hash("DestinyVendorDefinition", "vendorHash"), 35),
    ),
    _TableSpec("DestinyMedalTierDefinition", 10, 300, _g("medalIcons", _e_icon_frames, 80)),
    _TableSpec(
        "DestinyPowerCapDefinition",
        60,
        200,
        _g("seasons", _e_hash("DestinySeasonDefinition", "seasonHash"), 30),
    ),
    _TableSpec("DestinyArtifactDefinition", 15, 8_000, _g("tiers", _e_reward, 70)),
    _TableSpec(
        "DestinyGenderDefinition",
        2,
        190,
        _fixed(("Body Type 1", "Body Type 2"), lambda g, i: {"genderType": i}),
        fixed_rows=2,
    ),
    _TableSpec(
        "DestinyClassDefinition",
        3,
        310,
        _fixed(("Titan", "Hunter", "Warlock"), _class_extra),
        fixed_rows=3,
    ),
    _TableSpec(
        "DestinyRaceDefinition",
        3,
        380,
        _fixed(("Human", "Awoken", "Exo"), _race_extra),
        fixed_rows=3,
    ),
    _TableSpec(HISTORICAL_STATS, 800, 450, _historical_stat),
)
_SPECS = {spec.name: spec for spec in _PLAN}
_FULL_TOTAL = sum(spec.full_rows for spec in _PLAN)
_GENERIC_NEW_TABLE = _TableSpec("", 0, 600, _g("entries", _e_hash(ITEM, "itemHash"), 30))


def full_size_plan() -> dict[str, tuple[int, int]]:
    """{table: (rows, mean JSON bytes per row)} of a full-size manifest, for benchmarks."""
    return {spec.name: (spec.full_rows, spec.mean_bytes) for spec in _PLAN}


def _spec(table: str) -> _TableSpec:
    return _SPECS.get(table, _GENERIC_NEW_TABLE)


def _row_size(rng: random.Random, spec: _TableSpec) -> int:
    """A row size drawn from a log-normal around the table's mean, capped at ~110 KB."""
    mu = math.log(spec.mean_bytes) - spec.sigma**2 / 2
    return min(MAX_ROW_BYTES, int(rng.lognormvariate(mu, spec.sigma)))


def _new_hashes(rng: random.Random, n: int, taken: set[int]) -> list[int]:
    out: list[int] = []
    while len(out) < n:
        h = rng.getrandbits(32)
        if h and h not in taken:
            taken.add(h)
            out.append(h)
    return out


_STAT_PREFIXES = _words("activities weapon precision ability grenade melee super orbs medals")
_STAT_SUFFIXES = _words("Cleared Kills Deaths Assists Entered Won Streak Duration Score Efficiency")


def _new_keys(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        key = rng.choice(_STAT_PREFIXES) + rng.choice(_STAT_SUFFIXES)
        if key in taken:
            key = f"{key}_{rng.choice(_WORDS)}{len(taken)}"
        if key not in taken:
            taken.add(key)
            out.append(key)
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ManifestChanges:
    """What a derived version changed relative to the version it came from.

    Members are (table_name, pk) with pk the signed id or the key. `noise_only` is the subset
    of `modified` whose only difference is the `index` field (diff tools ignore it).
    Rows of dropped tables count as deleted; rows of new tables count as added.
    """

    added: frozenset[tuple[str, Pk]]
    modified: frozenset[tuple[str, Pk]]
    deleted: frozenset[tuple[str, Pk]]
    noise_only: frozenset[tuple[str, Pk]]
    new_tables: tuple[str, ...]
    dropped_tables: tuple[str, ...]


@dataclass(frozen=True)
class GeneratedManifest:
    """A generated SQLite manifest and what it is expected to contain.

    `rows` (table -> pk -> parsed JSON) is the exact content; it is None for streamed
    (full_size) manifests, whose content is only described by counts and sizes.
    """

    path: Path
    seed: int
    generation: int
    table_rows: Mapping[str, int]
    table_json_bytes: Mapping[str, int]
    changes: ManifestChanges | None = None
    rows: Mapping[str, Mapping[Pk, Any]] | None = field(default=None, repr=False)

    @property
    def tables(self) -> list[str]:
        return list(self.table_rows)

    @property
    def total_rows(self) -> int:
        return sum(self.table_rows.values())

    @property
    def total_json_bytes(self) -> int:
        """Size of all JSON texts in UTF-8 bytes."""
        return sum(self.table_json_bytes.values())

    def _content(self) -> Mapping[str, Mapping[Pk, Any]]:
        if self.rows is None:
            raise ValueError(
                "a full_size manifest keeps no content: read it with iter_manifest_rows"
            )
        return self.rows

    def ids(self, table: str) -> list[int]:
        """The integer keys (signed hashes) of an id-keyed table."""
        return [pk for pk in self._content()[table] if isinstance(pk, int)]

    def expected(self) -> dict[tuple[str, Pk], Any]:
        """{(table, pk): parsed JSON} for every row, to compare with what a loader stored."""
        return {(t, pk): obj for t, rows in self._content().items() for pk, obj in rows.items()}

    def items(self) -> Iterator[tuple[str, dict[str, Pk], Any]]:
        """(table, {"id": ...} or {"key": ...}, parsed JSON) for every row."""
        for table, rows in self._content().items():
            for pk, obj in rows.items():
                yield table, pk_dict(pk), obj

    def get(self, table: str, pk: Pk | Mapping[str, Any]) -> Any:
        """The parsed JSON of one row; `pk` is a value or a {"id"/"key": ...} dict."""
        value = pk if isinstance(pk, int | str) else pk_value(pk)
        return self._content()[table][value]

    def hashes(self, table: str) -> list[int]:
        """Unsigned hashes of `table`'s rows, in id order."""
        return [to_unsigned(pk) for pk in self._content()[table] if isinstance(pk, int)]


# --------------------------------------------------------------------------- SQLite I/O


def _create_table(conn: sqlite3.Connection, table: str, key_table: bool) -> None:
    if not _TABLE_NAME.match(table):
        raise ValueError(f"unexpected table name: {table!r}")
    pk = "key TEXT" if key_table else "id INTEGER"
    conn.execute(f"CREATE TABLE {table} ({pk} PRIMARY KEY NOT NULL, json BLOB)")


_RowStream = Iterator[tuple[str, bool, Iterator[tuple[Pk, str | bytes]]]]


def _write(
    path: Path, tables: _RowStream, *, json_as_blob: bool, collect: bool
) -> tuple[dict[str, int], dict[str, int], dict[str, dict[Pk, Any]] | None]:
    """Write (table, is_key_table, rows) streams into a new SQLite file; count, maybe keep."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    content: dict[str, dict[Pk, Any]] | None = {} if collect else None
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for table, key_table, rows in tables:
            _create_table(conn, table, key_table)
            counts[table] = 0
            sizes[table] = 0
            kept: dict[Pk, Any] | None = None
            if content is not None:
                kept = content[table] = {}

            def encoded(
                rows: Iterator[tuple[Pk, str | bytes]] = rows,
                table: str = table,
                kept: dict[Pk, Any] | None = kept,
            ) -> Iterator[tuple[Pk, str | bytes]]:
                for pk, text in rows:
                    data = text.encode() if isinstance(text, str) else text
                    counts[table] += 1
                    sizes[table] += len(data)
                    if kept is not None:
                        kept[pk] = json.loads(data)
                    yield pk, (data if json_as_blob else data.decode())

            column = "key" if key_table else "id"
            conn.executemany(f"INSERT INTO {table} ({column}, json) VALUES (?, ?)", encoded())
        conn.execute("COMMIT")
    if content is not None:
        content = {t: dict(sorted(rows.items())) for t, rows in content.items()}
    return counts, sizes, content


def _tables_of(conn: sqlite3.Connection) -> list[tuple[str, bool]]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
        )
    ]
    out = []
    for name in names:
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')]
        out.append((name, "key" in columns))
    return out


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def iter_manifest_rows(sqlite_path: Path, *, parse: bool = True) -> Iterator[tuple[str, Pk, Any]]:
    """Stream (table, pk, JSON) from any manifest SQLite file, in file order.

    With parse=False the JSON comes back as stored (str or bytes), for byte-level checks.
    """
    with closing(_connect_ro(sqlite_path)) as conn:
        for table, key_table in _tables_of(conn):
            column = "key" if key_table else "id"
            for pk, data in conn.execute(f'SELECT {column}, json FROM "{table}" ORDER BY 1'):
                yield table, pk, json.loads(data) if parse else data


def read_manifest(sqlite_path: Path) -> dict[str, dict[Pk, Any]]:
    """The whole content of a (small) manifest SQLite file: table -> pk -> parsed JSON."""
    content: dict[str, dict[Pk, Any]] = {}
    with closing(_connect_ro(sqlite_path)) as conn:
        for table, _ in _tables_of(conn):
            content[table] = {}
    for table, pk, obj in iter_manifest_rows(sqlite_path):
        content[table][pk] = obj
    return content


# --------------------------------------------------------------------------- generation


def generate_manifest(
    path: Path,
    *,
    seed: int,
    rows: int | None = None,
    full_size: bool = False,
    version_of: GeneratedManifest | None = None,
    changed: float = 0.03,
    deleted: float = 0.01,
    added: float = 0.01,
    new_tables: int = 1,
    dropped_tables: int = 0,
    json_as_blob: bool = False,
) -> GeneratedManifest:
    """Write a manifest SQLite file at `path` and describe it.

    Fresh manifest (version_of=None): about `rows` rows (default 2000; 170,000 with
    full_size) over ~35 real table names, deterministic per `seed`.

    Next version (version_of=previous): streams the previous file; each row is deleted with
    probability `deleted`, modified with `changed` (name, description, fields, or only
    `index`), kept byte-identical otherwise; `added` x rows new rows per table, `new_tables`
    brand-new tables and `dropped_tables` removed ones. `.changes` lists all of it.

    full_size=True streams rows to disk without keeping them (`.rows` is None); combine it
    with `rows=` for a quick run of the same code path. JSON is stored as TEXT like Bungie's
    files (json_as_blob=True stores UTF-8 bytes instead, which loaders must accept too).
    """
    if version_of is not None:
        if rows is not None:
            raise ValueError("rows= applies to a fresh manifest, not to a derived version")
        return _derive(
            Path(path),
            version_of,
            seed=seed,
            changed=changed,
            deleted=deleted,
            added=added,
            new_tables=new_tables,
            dropped_tables=dropped_tables,
            json_as_blob=json_as_blob,
            collect=not full_size,
        )
    n_rows = rows if rows is not None else (FULL_SIZE_ROWS if full_size else DEFAULT_ROWS)
    rng = random.Random(f"manifest-factory:{seed}")
    scale = n_rows / _FULL_TOTAL
    pks: dict[str, list[Pk]] = {}
    for spec in _PLAN:
        count = spec.fixed_rows or max(1, round(spec.full_rows * scale))
        if spec.name in KEY_TABLES:
            pks[spec.name] = list(_new_keys(rng, count, set()))
            continue
        edge = list(EDGE_HASHES) if spec.name == ITEM else []
        hashes = edge[:count] + _new_hashes(rng, count - len(edge[:count]), set(edge))
        pks[spec.name] = list(hashes)
    refs = {t: [h for h in v if isinstance(h, int)] for t, v in pks.items()}
    g = _Gen(rng, refs)

    def table_rows(spec: _TableSpec) -> Iterator[tuple[Pk, str]]:
        for index, pk in enumerate(pks[spec.name]):
            size = _row_size(rng, spec)
            if spec.name == "DestinyVendorDefinition" and index == 0:
                size = 100_000  # always one ~100 KB row
            obj = spec.build(g, pk, index, size)
            yield (to_signed(pk) if isinstance(pk, int) else pk), json_text(obj)

    stream = ((spec.name, spec.name in KEY_TABLES, table_rows(spec)) for spec in _PLAN)
    counts, sizes, content = _write(
        Path(path), stream, json_as_blob=json_as_blob, collect=not full_size
    )
    return GeneratedManifest(Path(path), seed, 1, counts, sizes, None, content)


_PROTECTED_KEYS = frozenset(
    {"hash", "index", "redacted", "blacklisted", "displayProperties", "statId"}
)


def _mutate(obj: Any, rng: random.Random, g: _Gen) -> tuple[Any, bool]:
    """A modified copy of a row's JSON, and whether only `index` changed (noise)."""
    new = json.loads(json_text(obj))
    kind = rng.choice(("rename", "describe", "field", "drop_field", "flag", "index"))
    props = new.get("displayProperties") if isinstance(new.get("displayProperties"), dict) else None
    if kind == "index" and "index" in new:
        new["index"] += rng.randint(1, 50)
        return new, True
    if kind == "rename" and props is not None:
        props["name"] = f"{g.name()} ({rng.choice(_ACCENTED)})"
    elif kind == "field":
        new[rng.choice(("isFeaturedItem", "hasCustomDyes", "secondaryIcon", "tooltipStyle"))] = (
            rng.choice((True, g.icon(), "build", rng.randint(1, 99)))
        )
    elif kind == "drop_field":
        droppable = [k for k in new if k not in _PROTECTED_KEYS]
        if droppable:
            del new[rng.choice(droppable)]
    elif kind == "flag" and "redacted" in new:
        new["blacklisted"] = not new.get("blacklisted", False)
    if new == obj:
        target = props if props is not None else new
        key = "description" if props is not None else "statDescription"
        target[key] = f"{target.get(key, '')} {g.text(rng.randint(3, 10))} (rev)".strip()
    return new, False


def _derive(
    path: Path,
    previous: GeneratedManifest,
    *,
    seed: int,
    changed: float,
    deleted: float,
    added: float,
    new_tables: int,
    dropped_tables: int,
    json_as_blob: bool,
    collect: bool,
) -> GeneratedManifest:
    """Stream `previous`'s file into a new version at `path` (see generate_manifest)."""
    if Path(path).resolve() == Path(previous.path).resolve():
        raise ValueError("the derived version needs its own path")
    rng = random.Random(f"manifest-factory:derive:{seed}")
    with closing(_connect_ro(previous.path)) as conn:
        tables = _tables_of(conn)
        refs: dict[str, list[int]] = {}
        keys: dict[str, set[str]] = {}
        for table, key_table in tables:
            if key_table:
                keys[table] = {row[0] for row in conn.execute(f'SELECT key FROM "{table}"')}
            else:
                refs[table] = [to_unsigned(r[0]) for r in conn.execute(f'SELECT id FROM "{table}"')]
    g = _Gen(rng, refs)
    eligible = sorted(t for t, k in tables if not k and t not in (ITEM, "DestinyClassDefinition"))
    dropped = tuple(sorted(rng.sample(eligible, min(dropped_tables, len(eligible)))))
    present = {t for t, _ in tables}
    pool = [t for t in NEW_TABLE_POOL if t not in present]
    pool += [f"DestinyGeneratedTest{i}Definition" for i in range(new_tables)]
    created = tuple(pool[:new_tables])
    total_rows = sum(len(v) for v in refs.values()) + sum(len(v) for v in keys.values())
    new_table_rows = {t: max(3, round(total_rows * 0.002)) for t in created}
    for t, n in new_table_rows.items():
        refs[t] = _new_hashes(rng, n, set())

    added_set: set[tuple[str, Pk]] = set()
    modified: set[tuple[str, Pk]] = set()
    deleted_set: set[tuple[str, Pk]] = set()
    noise: set[tuple[str, Pk]] = set()

    def old_rows(table: str, key_table: bool) -> Iterator[tuple[Pk, str | bytes]]:
        column = "key" if key_table else "id"
        spec = _spec(table)
        count = 0
        with closing(_connect_ro(previous.path)) as src:
            for pk, data in src.execute(f'SELECT {column}, json FROM "{table}" ORDER BY 1'):
                count += 1
                u = _unit(seed, table, pk)
                if u < deleted:
                    deleted_set.add((table, pk))
                elif u < deleted + changed:
                    row_rng = random.Random(f"manifest-factory:mutate:{seed}:{table}:{pk}")
                    new, only_index = _mutate(json.loads(data), row_rng, _Gen(row_rng, refs))
                    modified.add((table, pk))
                    if only_index:
                        noise.add((table, pk))
                    yield pk, json_text(new)
                else:
                    yield pk, data
        n_new = round(count * added)
        if key_table:
            new_pks: list[Pk] = list(_new_keys(rng, n_new, keys[table]))
        else:
            hashes = _new_hashes(rng, n_new, set(refs[table]))
            new_pks = list(hashes)
        for i, pk in enumerate(new_pks):
            obj = spec.build(g, pk, count + i, _row_size(rng, spec))
            row_pk = to_signed(pk) if isinstance(pk, int) else pk
            added_set.add((table, row_pk))
            yield row_pk, json_text(obj)

    def fresh_rows(table: str) -> Iterator[tuple[Pk, str | bytes]]:
        spec = _spec(table)
        for index, h in enumerate(refs[table]):
            added_set.add((table, to_signed(h)))
            yield to_signed(h), json_text(spec.build(g, h, index, _row_size(rng, spec)))

    def stream() -> _RowStream:
        for table, key_table in tables:
            if table in dropped:
                for pk in refs.get(table, []):
                    deleted_set.add((table, to_signed(pk)))
                for key in keys.get(table, set()):
                    deleted_set.add((table, key))
                continue
            yield table, key_table, old_rows(table, key_table)
        for table in created:
            yield table, False, fresh_rows(table)

    counts, sizes, content = _write(
        Path(path), stream(), json_as_blob=json_as_blob, collect=collect
    )
    changes = ManifestChanges(
        frozenset(added_set),
        frozenset(modified),
        frozenset(deleted_set),
        frozenset(noise),
        created,
        dropped,
    )
    return GeneratedManifest(
        Path(path), seed, previous.generation + 1, counts, sizes, changes, content
    )


# --------------------------------------------------------------------------- .content files


def content_file_name(sqlite_path: Path) -> str:
    """Bungie-style name for a content file: world_sql_content_<md5 of the database>.content."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(sqlite_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"world_sql_content_{digest.hexdigest()}.content"


def write_content_zip(
    sqlite_path: Path, zip_path: Path, *, member_name: str | None = None, compresslevel: int = 6
) -> Path:
    """Zip `sqlite_path` as Bungie does: one deflated member named like the zip itself.

    Why: the real .content file is a zip holding exactly one SQLite database whose member
    name equals the downloaded file's name (world_sql_content_<md5>.content).
    """
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(
        zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
    ) as zf:
        zf.write(sqlite_path, arcname=member_name or zip_path.name)
    return zip_path


# --------------------------------------------------------------------------- real definitions


def reference_dir() -> Path | None:
    """../shared/reference/bungie beside the checkout, or None where it is absent (users)."""
    path = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "bungie"
    return path if path.is_dir() else None


def require_reference_dir() -> Path:
    """reference_dir() for a test: skips when absent, fails instead when CI=true."""
    path = reference_dir()
    if path is None:
        skip_or_fail("../shared/reference/bungie is not available beside this checkout")
    return path


def manifest_from_reference_definitions(
    path: Path, *, definitions: Path | None = None, json_as_blob: bool = False
) -> GeneratedManifest:
    """A small manifest (~5,700 rows) from Bungie's real definitions, read at runtime.

    The JSON files are objects keyed by unsigned hash; rows are stored under the signed id.
    Raises FileNotFoundError when the reference folder is missing (use require_reference_dir
    in tests to skip or fail instead).
    """
    if definitions is None:
        ref = reference_dir()
        if ref is None:
            raise FileNotFoundError("../shared/reference/bungie is not available")
        definitions = ref / "definitions"
    files = sorted(Path(definitions).glob("Destiny*Definition.json"))
    if not files:
        raise FileNotFoundError(f"no Destiny*Definition.json in {definitions}")

    def stream() -> _RowStream:
        for file in files:
            data = json.loads(file.read_text(encoding="utf-8"))
            key_table = file.stem in KEY_TABLES
            rows = sorted(
                ((k if key_table else to_signed(int(k))), json_text(v)) for k, v in data.items()
            )
            yield file.stem, key_table, iter(rows)

    counts, sizes, content = _write(Path(path), stream(), json_as_blob=json_as_blob, collect=True)
    return GeneratedManifest(Path(path), 0, 1, counts, sizes, None, content)


def write_manifest(path: Path, content: Mapping[str, Mapping[Pk, Any]]) -> GeneratedManifest:
    """A manifest holding exactly `content` (table -> pk -> JSON), for tests that need known
    differences between two versions. Tables named in KEY_TABLES get a TEXT key column."""

    def stream() -> _RowStream:
        for table, rows in content.items():
            yield (
                table,
                table in KEY_TABLES,
                iter(sorted((pk, json_text(obj)) for pk, obj in rows.items())),
            )

    counts, sizes, kept = _write(Path(path), stream(), json_as_blob=False, collect=True)
    return GeneratedManifest(Path(path), 0, 1, counts, sizes, None, kept)


# --------------------------------------------------------------------------- fixture helper


class ManifestFactory:
    """Per-test helper (the `manifest_factory` fixture): files go to a private temp folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._n = 0

    def _next_path(self, stem: str) -> Path:
        self._n += 1
        return self.directory / f"{stem}-{self._n}.sqlite3"

    def generate(
        self,
        *,
        seed: int = 1,
        rows: int | None = None,
        version_of: GeneratedManifest | None = None,
        **options: Any,
    ) -> GeneratedManifest:
        """generate_manifest() into a fresh file; options as for generate_manifest."""
        return generate_manifest(
            self._next_path(f"manifest-s{seed}"),
            seed=seed,
            rows=rows,
            version_of=version_of,
            **options,
        )

    def content_file(
        self, manifest: GeneratedManifest | Path, *, name: str | None = None, compresslevel: int = 6
    ) -> Path:
        """The Bungie-style .content zip of a manifest (named world_sql_content_<md5>.content)."""
        sqlite_path = manifest.path if isinstance(manifest, GeneratedManifest) else Path(manifest)
        zip_name = name or content_file_name(sqlite_path)
        return write_content_zip(
            sqlite_path, self.directory / zip_name, compresslevel=compresslevel
        )

    def reference(self) -> GeneratedManifest:
        """Manifest of Bungie's real definitions; skips (fails in CI) without ../shared."""
        definitions = require_reference_dir() / "definitions"
        return manifest_from_reference_definitions(
            self._next_path("reference"), definitions=definitions
        )

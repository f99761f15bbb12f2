"""Release notes from the database's history: two (and three) consecutive manifests whose
differences are known (tests/support/notes_scenario.py), loaded for real into PostgreSQL; the
notes must list exactly those differences, with the counts the loads recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifest_gui.engine.loader import LoadResult
from manifest_gui.engine.notes import UnknownVersionError
from manifest_gui.engine.notes_model import ReleaseNotes, TableCounts
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.support import notes_scenario as sc
from tests.support.manifest_factory import Pk, require_reference_dir, write_manifest
from tests.support.postgres import PostgresServer

# The contract of the issue: these keys, in this order.
SECTION_KEYS = [
    "weapons",
    "armor",
    "mods",
    "emblems",
    "ghosts",
    "ships",
    "vehicles",
    "emotes",
    "quests",
    "other_items",
    "activities",
    "records",
    "collectibles",
    "perks",
    "vendors",
]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> sc.Scenario:
    definitions = require_reference_dir() / "definitions"
    return sc.build_scenario(tmp_path_factory.mktemp("notes"), definitions)


def _service(url: str, folder: Path) -> ManifestService:
    return ManifestService(Settings(database_url=url, data_dir=str(folder)))


@pytest.fixture(scope="module")
def two_loads(
    pg_server: PostgresServer, scenario: sc.Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ManifestService, list[LoadResult]]]:
    """v1 then v2 loaded into a fresh database of each server kind (read-only afterwards)."""
    url = pg_server.create_database("notes")
    service = _service(url, tmp_path_factory.mktemp("data"))
    loads = [service.load_file(scenario.v1.path), service.load_file(scenario.v2.path)]
    yield service, loads
    service.close()
    pg_server.drop_database(url)


def _entries(notes: ReleaseNotes) -> dict[str, list[tuple[str, int, str | None]]]:
    return {
        section.key: [(str(e.kind), e.hash, e.name) for e in section.entries]
        for section in notes.sections
    }


def _entry(notes: ReleaseNotes, hash_: int) -> Any:
    found = [e for s in notes.sections for e in s.entries if e.hash == hash_]
    assert len(found) == 1, found
    return found[0]


EXPECTED_V1_TO_V2 = {
    "weapons": [("added", sc.NEW_WEAPON, "Ace of Spades"), ("changed", sc.WEAPON, "Fatebringer")],
    "armor": [("removed", sc.ARMOR, "Old Helm")],
    "mods": [("changed", sc.MOVER, "Shifting Item")],  # moved here from weapons
    "emblems": [],  # only its images changed
    "ghosts": [("unclassified", sc.SECRET_GHOST, "Secret Shell")],
    "ships": [("reclassified", sc.SHIP, "Jumpship")],  # the name it had before
    "vehicles": [("added", sc.SPARROW, "Fast Sparrow")],
    "emotes": [("added", sc.EMOTE, "Happy Dance")],
    "quests": [("added", sc.BOUNTY, "Daily Bounty"), ("changed", sc.QUEST_STEP, "A Quest Step")],
    "other_items": [("changed", sc.GLIMMER, "Glimmer Pack")],
    "activities": [
        ("added", sc.ACTIVITY_NEW, "New Raid"),
        ("changed", sc.ACTIVITY_CHANGED, "Vault"),
    ],
    "records": [("changed", sc.RECORD_CHANGED, "Flawless Raider")],
    "collectibles": [("removed", sc.COLLECTIBLE_REMOVED, "Old Collectible")],
    "perks": [],  # filled in by the test: the real perk whose description changed
    "vendors": [("added", sc.VENDOR_NEW, "Xur")],
}


def test_notes_list_exactly_the_known_differences(
    two_loads: tuple[ManifestService, list[LoadResult]], scenario: sc.Scenario
) -> None:
    service, (first, second) = two_loads
    notes = service.release_notes()
    assert notes.from_version is not None
    assert (notes.from_version.manifest_id, notes.from_version.version) == (
        first.manifest_id,
        scenario.v1.path.name,
    )
    assert (notes.to_version.manifest_id, notes.to_version.version) == (
        second.manifest_id,
        scenario.v2.path.name,
    )
    assert [section.key for section in notes.sections] == SECTION_KEYS
    expected = dict(EXPECTED_V1_TO_V2)
    expected["perks"] = [
        ("changed", scenario.perk_changed, scenario.perk_names[scenario.perk_changed]),
        ("removed", scenario.perk_before, scenario.perk_names[scenario.perk_before]),
    ]
    assert _entries(notes) == expected
    # Every changed table, noise included (the mod's index, the emblem's images), and the
    # tables that have no section.
    assert notes.counts == {
        sc.ACTIVITY: TableCounts(1, 1, 0),
        sc.COLLECTIBLE: TableCounts(0, 0, 1),
        sc.HISTORICAL: TableCounts(0, 1, 0),
        sc.ITEM: TableCounts(4, 8, 1),
        sc.LORE: TableCounts(0, 1, 0),
        sc.RECORD: TableCounts(0, 1, 0),
        sc.PERK: TableCounts(0, 1, 1),
        sc.VENDOR: TableCounts(1, 0, 0),
    }
    # ... exactly as the load recorded them.
    totals = [
        sum(getattr(c, kind) for c in notes.counts.values()) for kind in TableCounts.__slots__
    ]
    assert totals == [second.inserts, second.updates, second.deletes]
    assert notes.watched == ()


def test_each_entry_carries_its_changes_with_labels_and_json_types(
    two_loads: tuple[ManifestService, list[LoadResult]], scenario: sc.Scenario
) -> None:
    service, _ = two_loads
    notes = service.release_notes()
    weapon = _entry(notes, sc.WEAPON)
    assert weapon.table == sc.ITEM
    assert weapon.icon == sc.icon(f"item{sc.WEAPON}")
    rpm_name = scenario.stat_names[scenario.rpm]
    assert rpm_name == "Rounds Per Minute"
    before_name = scenario.perk_names[scenario.perk_before]
    after_name = scenario.perk_names[scenario.perk_after]
    # Its index changed too: noise, not listed.
    assert [c.to_json() for c in weapon.changes] == [
        {
            "path": "perks.0.perkHash",
            "label": f"{before_name} → {after_name}",
            "before": scenario.perk_before,
            "after": scenario.perk_after,
        },
        {
            "path": f"stats.stats.{scenario.rpm}.value",
            "label": rpm_name,
            "before": 120,
            "after": 140,
        },
    ]
    glimmer = _entry(notes, sc.GLIMMER)
    changes = {c.path: (c.before, c.after) for c in glimmer.changes}
    assert changes == {"value": (1.5, 2), "isFeatured": (False, True)}
    assert type(changes["value"][1]) is int and type(changes["isFeatured"][1]) is bool
    mover = _entry(notes, sc.MOVER)
    assert [(c.path, c.label, c.before, c.after) for c in mover.changes] == [
        ("itemType", None, 3, 19)
    ]
    removed = _entry(notes, sc.ARMOR)
    assert (removed.icon, removed.changes) == (sc.icon(f"item{sc.ARMOR}"), ())
    for hash_ in (sc.SECRET_GHOST, sc.SHIP, sc.NEW_WEAPON):
        assert _entry(notes, hash_).changes == ()
    hashes = [e.hash for s in notes.sections for e in s.entries]
    assert sc.NEW_WEAPON >= 1 << 31 and all(0 <= h < 1 << 32 for h in hashes)
    for hidden in (sc.INDEX_ONLY_MOD, sc.ART_ONLY_EMBLEM, sc.UNCHANGED):
        assert hidden not in hashes


def test_image_only_changes_are_listed_when_asked(
    two_loads: tuple[ManifestService, list[LoadResult]],
) -> None:
    service, _ = two_loads
    notes = service.release_notes(include_art=True)
    emblem = _entry(notes, sc.ART_ONLY_EMBLEM)
    assert (str(emblem.kind), emblem.icon) == ("changed", sc.icon("emblem-new"))
    assert [(c.path, c.before, c.after) for c in emblem.changes] == [
        ("displayProperties.icon", sc.icon(f"item{sc.ART_ONLY_EMBLEM}"), sc.icon("emblem-new")),
        ("secondaryIcon", None, sc.icon("emblem-banner")),
    ]
    hashes = [e.hash for s in notes.sections for e in s.entries]
    assert sc.INDEX_ONLY_MOD not in hashes  # index is noise either way
    assert notes.counts == service.release_notes().counts


def test_watch_picks_the_watched_entries(
    two_loads: tuple[ManifestService, list[LoadResult]],
) -> None:
    service, _ = two_loads
    notes = service.release_notes(watch=lambda entry: "a" in (entry.name or "").lower())
    names = [e.name for e in notes.watched]
    everything = [e.name for s in notes.sections for e in s.entries]
    assert names == [n for n in everything if "a" in (n or "").lower()]
    assert "Fatebringer" in names and "Xur" not in names


def test_explicit_ids_and_the_first_load(
    two_loads: tuple[ManifestService, list[LoadResult]], scenario: sc.Scenario
) -> None:
    service, (first, second) = two_loads
    assert service.release_notes(first.manifest_id, second.manifest_id) == service.release_notes()
    assert service.release_notes(to_id=second.manifest_id) == service.release_notes()
    notes = service.release_notes(to_id=first.manifest_id)
    assert notes.first_load and notes.from_version is None
    assert notes.counts == {
        table: TableCounts(rows, 0, 0) for table, rows in sorted(scenario.v1.table_rows.items())
    }
    assert [s.key for s in notes.sections] == SECTION_KEYS
    assert all(not s.entries for s in notes.sections)
    same = service.release_notes(second.manifest_id, second.manifest_id)
    assert (same.counts, same.changed_anything) == ({}, False)


@pytest.mark.parametrize(("from_id", "to_id"), [(99, None), (None, 99), (1, -3)])
def test_an_unknown_version_is_one_sentence(
    two_loads: tuple[ManifestService, list[LoadResult]], from_id: int | None, to_id: int | None
) -> None:
    service, _ = two_loads
    with pytest.raises(UnknownVersionError, match=r"^There is no version -?\d+ in the database"):
        service.release_notes(from_id, to_id)


def test_an_empty_database_has_no_notes(database_url: str, tmp_path: Path) -> None:
    with (
        _service(database_url, tmp_path) as service,
        pytest.raises(UnknownVersionError, match="holds no manifest yet"),
    ):
        service.release_notes()


def test_notes_across_several_loads_and_backwards(
    database_url: str, tmp_path: Path, scenario: sc.Scenario
) -> None:
    with _service(database_url, tmp_path) as service:
        ids = [
            service.load_file(m.path).manifest_id for m in (scenario.v1, scenario.v2, scenario.v3)
        ]
        latest = service.release_notes()
        assert latest.from_version and latest.from_version.manifest_id == ids[1]
        assert _entries(latest)["weapons"] == [
            ("changed", sc.WEAPON, "Fatebringer"),
            ("removed", sc.NEW_WEAPON, "Ace of Spades"),
        ]
        assert _entries(latest)["armor"] == [("added", sc.ARMOR, "Old Helm Reborn")]

        # v1 -> v3: what each key was at v1 against what it is at v3. The new weapon came and
        # went in between; the helm was removed and came back, so it changed.
        across = service.release_notes(ids[0], ids[2])
        assert _entries(across)["weapons"] == [("changed", sc.WEAPON, "Fatebringer")]
        assert _entries(across)["armor"] == [("changed", sc.ARMOR, "Old Helm Reborn")]
        rpm = _entry(across, sc.WEAPON).changes[-1]
        assert (rpm.path, rpm.before, rpm.after) == (f"stats.stats.{scenario.rpm}.value", 120, 150)
        assert across.counts[sc.ITEM] == TableCounts(3, 9, 0)
        # Changed and changed back: nothing to count or list. Changed twice: one change.
        assert sc.RECORD not in across.counts and sc.LORE not in across.counts
        assert _entries(across)["records"] == []
        assert across.counts[sc.HISTORICAL] == TableCounts(0, 1, 0)
        assert _entries(latest)["records"] == [("changed", sc.RECORD_CHANGED, "Flawless")]

        # Backwards: the same keys, the other way round.
        back = service.release_notes(ids[2], ids[0])
        assert back.counts[sc.ITEM] == TableCounts(0, 9, 3)
        assert _entries(back)["vehicles"] == [("removed", sc.SPARROW, "Fast Sparrow")]
        rpm = _entry(back, sc.WEAPON).changes[-1]
        assert (rpm.before, rpm.after) == (150, 120)
        assert _entries(back)["ghosts"] == [("reclassified", sc.SECRET_GHOST, "Classified")]


def test_odd_definitions_are_listed_without_failing(database_url: str, tmp_path: Path) -> None:
    """JSON Bungie has never sent (a definition that is an array, an itemType given as text,
    a name that is a number) still gives notes."""
    odd = -5
    v1: dict[str, dict[Pk, Any]] = {
        sc.ITEM: {odd: [1, 2], 7: {"itemType": "3", "displayProperties": {"name": 5}}}
    }
    v2: dict[str, dict[Pk, Any]] = {
        sc.ITEM: {odd: [1, 3], 7: {"itemType": "3", "displayProperties": {"name": 6}}}
    }
    with _service(database_url, tmp_path) as service:
        for number, content in enumerate((v1, v2)):
            service.load_file(write_manifest(tmp_path / f"odd{number}.sqlite3", content).path)
        notes = service.release_notes()
    assert notes.counts == {sc.ITEM: TableCounts(0, 2, 0)}
    entries = _entries(notes)
    assert entries["other_items"] == [("changed", 7, None), ("changed", odd & 0xFFFFFFFF, None)]
    array = _entry(notes, odd & 0xFFFFFFFF)
    assert [(c.path, c.before, c.after) for c in array.changes] == [("1", 2, 3)]

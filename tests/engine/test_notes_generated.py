"""Release notes of a generated release (tests/support/manifest_factory.py) whose changes the
factory recorded: the counts are exactly those changes, the entries are exactly the section
tables' changes minus the noise, and every listed leaf change reads what the two versions'
JSON hold at its path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from manifest_gui.engine.notes_model import EntryKind, TableCounts
from manifest_gui.engine.service import ManifestService
from manifest_gui.engine.settings import Settings
from tests.support.manifest_factory import ManifestFactory, Pk, to_signed

ITEM = "DestinyInventoryItemDefinition"
TABLE_SECTIONS = {
    "DestinyActivityDefinition": "activities",
    "DestinyRecordDefinition": "records",
    "DestinyCollectibleDefinition": "collectibles",
    "DestinySandboxPerkDefinition": "perks",
    "DestinyVendorDefinition": "vendors",
}
# Destiny.DestinyItemType values per section, as the issue lists them.
ITEM_SECTIONS = {3: "weapons", 2: "armor", 19: "mods", 14: "emblems", 24: "ghosts", 21: "ships"}
ITEM_SECTIONS |= {22: "vehicles", 23: "emotes", 12: "quests", 13: "quests", 15: "quests"}
ITEM_SECTIONS |= {26: "quests"}


def _section(table: str, definition: dict[str, Any]) -> str | None:
    if table == ITEM:
        return ITEM_SECTIONS.get(definition.get("itemType"), "other_items")  # type: ignore[arg-type]
    return TABLE_SECTIONS.get(table)


def _without_noise(definition: Any) -> dict[str, Any]:
    """The definition's leaves by path, without its `index`, image paths and icon flags."""
    leaves: dict[str, Any] = {}

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(f"{path}.{key}" if path else key, child)
        elif isinstance(value, list) and value:
            for index, child in enumerate(value):
                walk(f"{path}.{index}", child)
        elif (
            not (isinstance(value, str) and value.endswith((".png", ".jpg")))
            and path != "index"
            and path.rsplit(".", 1)[-1] not in ("hasIcon", "iconHash")
        ):
            leaves[path] = (type(value), value)

    walk("", definition)
    return leaves


def _at(definition: Any, path: str) -> Any:
    value = definition
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def test_a_generated_release(
    database_url: str, tmp_path: Path, manifest_factory: ManifestFactory
) -> None:
    v1 = manifest_factory.generate(seed=1313, rows=3000)
    v2 = manifest_factory.generate(
        seed=1314, version_of=v1, changed=0.12, deleted=0.02, added=0.02, dropped_tables=1
    )
    changes = v2.changes
    assert changes is not None and changes.noise_only
    with ManifestService(Settings(database_url=database_url, data_dir=str(tmp_path))) as service:
        service.load_file(v1.path)
        loaded = service.load_file(v2.path)
        notes = service.release_notes()

    tally: dict[str, Counter[str]] = {}
    for kind, keys in (
        ("added", changes.added),
        ("changed", changes.modified),
        ("removed", changes.deleted),
    ):
        for table, _pk in keys:
            tally.setdefault(table, Counter())[kind] += 1
    assert notes.counts == {
        table: TableCounts(c["added"], c["changed"], c["removed"])
        for table, c in sorted(tally.items())
    }
    assert sum(c.changed for c in notes.counts.values()) == loaded.updates

    expected: dict[tuple[str, Pk], tuple[str, EntryKind]] = {}
    for table, pk in changes.added:
        key = _section(table, v2.get(table, pk))
        if key:
            expected[(table, pk)] = (key, EntryKind.ADDED)
    for table, pk in changes.deleted:
        key = _section(table, v1.get(table, pk))
        if key:
            expected[(table, pk)] = (key, EntryKind.REMOVED)
    for table, pk in changes.modified:
        before, after = v1.get(table, pk), v2.get(table, pk)
        key = _section(table, after)
        if key and _without_noise(before) != _without_noise(after):
            expected[(table, pk)] = (key, EntryKind.CHANGED)
    listed = {
        (entry.table, to_signed(entry.hash)): (section.key, entry.kind)
        for section in notes.sections
        for entry in section.entries
    }
    assert listed == expected
    assert any(kind is EntryKind.CHANGED for _, kind in expected.values())
    for table, pk in changes.noise_only:
        assert (table, pk) not in listed

    for section in notes.sections:
        for entry in section.entries:
            pk = to_signed(entry.hash)
            current = v1.get(entry.table, pk) if entry.kind is EntryKind.REMOVED else None
            current = current or v2.get(entry.table, pk)
            assert entry.name == current["displayProperties"]["name"]
            if entry.kind is not EntryKind.CHANGED:
                assert entry.changes == ()
                continue
            before, after = v1.get(entry.table, pk), v2.get(entry.table, pk)
            assert entry.changes
            for change in entry.changes:
                assert change.path != "index" and not str(change.after).endswith(".png")
                assert (change.before, change.after) == (
                    _at(before, change.path),
                    _at(after, change.path),
                ), change
                assert change.before != change.after or type(change.before) is not type(
                    change.after
                )

"""The leaf diff, the noise rules and the Markdown/plain-text writers, on small JSON values."""

from __future__ import annotations

from typing import Any

import pytest

from manifest_gui.engine.notes_diff import Leaf, hash_candidates, is_noise, leaf_changes
from manifest_gui.engine.notes_model import (
    Change,
    Entry,
    EntryKind,
    ReleaseNotes,
    Section,
    TableCounts,
    VersionRef,
)
from manifest_gui.engine.notes_text import to_markdown, to_text

IMAGE = "/common/destiny2_content/icons/a.png"


@pytest.mark.parametrize(
    ("before", "after", "leaves"),
    [
        ({"a": 1}, {"a": True}, [("a", 1, True)]),  # JSON types differ although 1 == True
        ({"a": 1}, {"a": 1.0}, [("a", 1, 1.0)]),
        ({"a": {"b": 1, "c": [2]}}, {}, [("a.b", 1, None), ("a.c.0", 2, None)]),
        ({"l": [1]}, {"l": [1, 2]}, [("l.1", None, 2)]),
        ({"a": {"b": 1}}, {"a": 5}, [("a", {"b": 1}, 5)]),
        ({"a": None}, {"a": {"b": 1}}, [("a.b", None, 1)]),
        ({"a": []}, {}, [("a", [], None)]),
        ({"x": "same", "n": None}, {"x": "same", "n": 0}, [("n", None, 0)]),
        (
            {"l": list(range(12))},
            {"l": [*range(2), 20, *range(3, 10), 100, 11]},
            [("l.2", 2, 20), ("l.10", 10, 100)],  # positions in numeric order
        ),
    ],
)
def test_leaf_changes(before: Any, after: Any, leaves: list[tuple[str, Any, Any]]) -> None:
    found = leaf_changes(before, after)
    assert [(leaf.path, leaf.before, leaf.after) for leaf in found] == leaves
    for leaf, (_, expected_before, expected_after) in zip(found, leaves, strict=True):
        assert type(leaf.before) is type(expected_before)
        assert type(leaf.after) is type(expected_after)
    assert leaf_changes(before, before) == []


@pytest.mark.parametrize(
    ("leaf", "noise", "noise_with_art"),
    [
        (Leaf("index", 1, 2), True, True),
        (Leaf("sockets.3.index", 1, 2), False, False),  # only the definition's own index
        (Leaf("displayProperties.icon", IMAGE, "/b.jpg"), True, False),
        (Leaf("secondaryIcon", None, IMAGE), True, False),
        (Leaf("displayProperties.hasIcon", False, True), True, False),
        (Leaf("displayProperties.name", "A", "B"), False, False),
        (Leaf("flavorText", IMAGE, "text"), False, False),
    ],
)
def test_noise(leaf: Leaf, noise: bool, noise_with_art: bool) -> None:
    assert is_noise(leaf, include_art=False) is noise
    assert is_noise(leaf, include_art=True) is noise_with_art


@pytest.mark.parametrize(
    ("leaf", "candidates"),
    [
        (Leaf("perks.0.perkHash", 7, 3_000_000_000), (7, 3_000_000_000)),
        (Leaf("itemCategoryHashes.2", None, 20), (None, 20)),
        (Leaf("hash", 5, 6), (5, 6)),
        (Leaf("quantity", 120, 140), (None, None)),  # a small count is not a hash
        (Leaf("value", 120, 123_456_789), (None, 123_456_789)),
        (Leaf("itemHash", True, 0), (None, None)),
        (Leaf("itemHash", 1 << 32, -5), (None, None)),
    ],
)
def test_hash_candidates(leaf: Leaf, candidates: tuple[int | None, int | None]) -> None:
    assert hash_candidates(leaf) == candidates


def _notes(*entries: Entry, counts: dict[str, TableCounts] | None = None) -> ReleaseNotes:
    return ReleaseNotes(
        VersionRef(1, "1.0"),
        VersionRef(2, "2.0_*new*"),
        counts if counts is not None else {"DestinyInventoryItemDefinition": TableCounts(1, 1, 0)},
        (
            Section("weapons", "Weapons", tuple(entries)),
            Section("armor", "Armor", ()),
        ),
    )


def test_markdown_and_text_writers() -> None:
    weapon = Entry(
        EntryKind.CHANGED,
        "DestinyInventoryItemDefinition",
        3_000_000_001,
        "Rat *King* [Exotic]",
        None,
        (
            Change("index", None, 1, 2),
            Change("stats.stats.4284893193.value", "Rounds Per Minute", 120, 140),
            Change("stats.stats.4284893193.maximum", "Rounds Per Minute", 100, 200),
            Change("stats.stats.9.value", None, None, 5),
            Change("displayProperties.icon", None, IMAGE, "/b.png"),
            Change(
                "displayProperties.description",
                None,
                "A long description that stays the same for a while, then ends.",
                "A long description that stays the same for a while, then changes.",
            ),
            Change("perks.0.perkHash", "Old Perk → New Perk", 11, 12),
            Change("a", None, True, False),
            Change("b", None, [1], {"c": None}),
        ),
    )
    added = Entry(EntryKind.ADDED, "DestinyInventoryItemDefinition", 7, None, None)
    markdown = to_markdown(_notes(added, weapon))
    lines = markdown.splitlines()
    assert lines[0] == r"# What's new in 2.0\_\*new\*"
    assert "## Weapons (2)" in lines and "## Armor (0)" not in lines
    assert "- **#7** (added)" in lines
    line = next(line for line in lines if "King" in line)
    assert line.startswith(
        r"- **Rat \*King\* \[Exotic\]** (changed): Rounds Per Minute 120 → 140; "
    )
    assert "Stat 9 — → 5" in line
    assert "Rounds Per Minute maximum 100 → 200" in line
    assert "index" not in line and "icon" not in line  # noise is not shown
    # Two long texts: shown from shortly before where they part.
    assert 'then ends." → "…' in line and 'then changes."' in line
    assert "A long description" not in line
    assert "perks.0.perkHash 11 → 12 (Old Perk → New Perk)" in line
    assert line.endswith("; 2 more changes")
    assert lines[-1] == "- DestinyInventoryItemDefinition: 1 added, 1 changed, 0 removed"

    text = to_text(_notes(added, weapon))
    assert text.splitlines()[0] == "What's new in 2.0_*new*"
    assert "Weapons (2)" in text.splitlines()
    assert "- Rat *King* [Exotic] (changed): Rounds Per Minute 120 → 140; " in text

    assert "No definitions changed." in to_text(_notes(counts={}))
    assert "only the counts below changed" in to_text(_notes())

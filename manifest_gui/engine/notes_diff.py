"""The JSON leaf diff behind a changed entry, and what counts as noise.

A leaf is a scalar (or an empty object/array) at a dot-notation path: objects by key, arrays by
position (`sockets.socketEntries.3.singleInitialItemHash`). A leaf only one side has gets None
on the other side. Values keep their JSON types: `true` and `1` differ, as jsonb says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
# Leaves that only say whether and which icon a definition shows: they change with the icon.
_ICON_FLAGS = frozenset({"hasIcon", "iconHash"})
_STAT_PATH = re.compile(r"^stats\.stats\.(\d+)(?:\.|$)")
_HASH_KEY = re.compile(r"(?:Hash|Hashes)$|^hash$")
# A number at a path that does not say "hash" still names a definition when it is a hash of a
# loaded one, but small numbers (counts, stat values) would match one by chance.
SMALLEST_UNNAMED_HASH = 1 << 16
HASH_LIMIT = 1 << 32


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    before: Any  # None where missing
    after: Any


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON: Python's == takes True for 1 and 1 for 1.0."""
    if type(before) is not type(after):
        return False
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(_same(v, after[k]) for k, v in before.items())
    if isinstance(before, list):
        return len(before) == len(after) and all(map(_same, before, after))
    return bool(before == after)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _expand(path: str, value: Any, *, present_before: bool) -> Iterator[Leaf]:
    """Every leaf of a value that only one side has."""
    children: Any = None
    if isinstance(value, dict) and value:
        children = value.items()
    elif isinstance(value, list) and value:
        children = enumerate(value)
    if children is None:
        yield Leaf(path, value, None) if present_before else Leaf(path, None, value)
        return
    for key, child in children:
        yield from _expand(_join(path, key), child, present_before=present_before)


def _walk(path: str, before: Any, after: Any, same: Callable[[Any, Any], bool]) -> Iterator[Leaf]:
    if before is not _MISSING and after is not _MISSING and same(before, after):
        return
    if before is _MISSING or (before is None and isinstance(after, dict | list)):
        yield from _expand(path, after, present_before=False)
    elif after is _MISSING or (after is None and isinstance(before, dict | list)):
        yield from _expand(path, before, present_before=True)
    elif isinstance(before, dict) and isinstance(after, dict) and (before or after):
        for key, value in before.items():
            yield from _walk(_join(path, key), value, after.get(key, _MISSING), same)
        for key, value in after.items():
            if key not in before:
                yield from _walk(_join(path, key), _MISSING, value, same)
    elif isinstance(before, list) and isinstance(after, list) and (before or after):
        for index in range(max(len(before), len(after))):
            yield from _walk(
                _join(path, index),
                before[index] if index < len(before) else _MISSING,
                after[index] if index < len(after) else _MISSING,
                same,
            )
    elif not _same(before, after):  # two scalars, or a value that changed its JSON type
        yield Leaf(path, before, after)


def _equal(before: Any, after: Any) -> bool:
    return bool(before == after)


def _path_order(leaf: Leaf) -> list[tuple[int, int, str]]:
    """Paths in order, array positions by number (jsonb keeps no document order)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in leaf.path.split(".")]


def leaf_changes(before: Any, after: Any) -> list[Leaf]:
    """One Leaf per JSON leaf that differs between two definitions, in path order.

    Equal subtrees are skipped with Python's == (fast, in C), which cannot see a `1` that
    became `true` or `1.0`; when that finds nothing although the definitions differ, the walk
    is repeated with JSON's strict equality."""
    leaves = list(_walk("", before, after, _equal))
    if not leaves and not _same(before, after):
        leaves = list(_walk("", before, after, _same))
    return sorted(leaves, key=_path_order)


def _is_image_path(value: Any) -> bool:
    return isinstance(value, str) and value.lower().endswith(_IMAGE_SUFFIXES)


def is_art(leaf: Leaf) -> bool:
    """A leaf that swaps, adds or drops an image path (or the icon flags that go with one)."""
    if leaf.path.rsplit(".", 1)[-1] in _ICON_FLAGS:
        return True
    values = [v for v in (leaf.before, leaf.after) if v is not None]
    return bool(values) and all(_is_image_path(v) for v in values)


def is_noise(leaf: Leaf, *, include_art: bool) -> bool:
    """A leaf that alone does not make a definition worth listing: its `index`, and image
    paths unless art changes were asked for."""
    return leaf.path == "index" or (not include_art and is_art(leaf))


def stat_hash(path: str) -> int | None:
    """The stat hash of a path under an item's `stats.stats.<statHash>`, or None."""
    match = _STAT_PATH.match(path)
    return int(match.group(1)) if match else None


def is_stat_value(path: str) -> bool:
    """The value of a stat (`stats.stats.<statHash>.value`): what a reader calls a stat change."""
    return stat_hash(path) is not None and path.endswith(".value")


def _as_hash(value: Any, path: str) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < HASH_LIMIT:
        return None
    parts = path.split(".")
    # itemHash, plugSetHash, hash; itemCategoryHashes.2 (an element of a list of hashes)
    named = bool(_HASH_KEY.search(parts[-1])) or (
        len(parts) > 1 and parts[-1].isdigit() and parts[-2].endswith("Hashes")
    )
    return value if named or value >= SMALLEST_UNNAMED_HASH else None


def hash_candidates(leaf: Leaf) -> tuple[int | None, int | None]:
    """The before and after values that may be hashes of definitions (else None)."""
    return _as_hash(leaf.before, leaf.path), _as_hash(leaf.after, leaf.path)

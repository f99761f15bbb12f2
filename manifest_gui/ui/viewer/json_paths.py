"""Pure helpers over parsed JSON (no Qt): paths, hash-link candidates and differences.

Why separate: the tree model, the diff view and the tests all need the same notion of a path
and of "which integers may be hashes", and these are easier to test without widgets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import Enum
from typing import Any

PathKey = str | int
Path = tuple[PathKey, ...]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HASH_KEY = re.compile(r"hash(es)?$", re.IGNORECASE)
_HASHY_TEXT = re.compile(r"^\d{5,10}$")
MIN_UNNAMED_HASH = 1 << 16  # an integer under a key not named …Hash is a candidate above this


def json_path(path: Path) -> str:
    """JSONPath text: $.perks[0].perkHash, $.stats["1480404414"]."""
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.match(key):
            parts.append(f".{key}")
        else:
            parts.append("[" + json.dumps(key, ensure_ascii=False) + "]")
    return "".join(parts)


def postgres_path(path: Path) -> str:
    """The same path for PostgreSQL: json #>> '{perks,0,perkHash}'."""
    items = []
    for key in path:
        text = str(key)
        if not text or re.search(r'[{},"\\\s]', text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        items.append(text)
    literal = "{" + ",".join(items) + "}"
    return "json #>> '" + literal.replace("'", "''") + "'"


def value_text(value: Any) -> str:
    """A leaf as text to copy: strings bare, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def is_hash_key(key: PathKey | None) -> bool:
    return isinstance(key, str) and bool(_HASH_KEY.search(key))


def hash_candidate(value: Any, key: PathKey | None, parent_key: PathKey | None) -> int | None:
    """The integer a node may link to: a positive 32-bit value under a …Hash/…Hashes key (or in
    a list under one), or any other large enough 32-bit integer. Booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 0 < value < (1 << 32):
        return None
    named = is_hash_key(key) or (isinstance(key, int) and is_hash_key(parent_key))
    if named or value >= MIN_UNNAMED_HASH:
        return value
    return None


def key_hash_candidate(key: PathKey | None) -> int | None:
    """Maps keyed by hash ("stats": {"1480404414": {...}}): the key itself may be a link."""
    if isinstance(key, str) and _HASHY_TEXT.match(key):
        number = int(key)
        if MIN_UNNAMED_HASH <= number < (1 << 32):
            return number
    return None


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, node) depth first, the root first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))


def link_candidates(document: Any) -> set[int]:
    """Every integer in a definition that could be the hash of another definition."""
    found: set[int] = set()
    for path, node in walk(document):
        key = path[-1] if path else None
        parent_key = path[-2] if len(path) >= 2 else None
        if path == ("hash",):
            continue  # the definition's own hash
        candidate = hash_candidate(node, key, parent_key)
        if candidate is not None:
            found.add(candidate)
        key_candidate = key_hash_candidate(key)
        if key_candidate is not None:
            found.add(key_candidate)
    return found


def preferred_table(key: PathKey | None, parent_key: PathKey | None, tables: list[str]) -> int:
    """Index into `tables` (all holding the same hash) of the one a field most likely means:
    statHash -> DestinyStatDefinition before DestinyStatGroupDefinition."""
    if len(tables) < 2:
        return 0
    name = key if isinstance(key, str) else parent_key if isinstance(parent_key, str) else ""
    stem = _HASH_KEY.sub("", name)
    if not stem:
        return 0
    stem = stem[0].upper() + stem[1:]
    exact = f"Destiny{stem}Definition"
    for index, table in enumerate(tables):
        if table == exact:
            return index
    for index, table in enumerate(tables):
        if stem.lower() in table.lower():
            return index
    return 0


class Mark(Enum):
    """How a node differs between the JSON before and after a change."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    CONTAINS = "contains"  # a container with a difference somewhere below


def diff(before: Any, after: Any) -> tuple[dict[Path, Mark], dict[Path, Mark]]:
    """Marks for the before tree and for the after tree. Objects are compared key by key,
    arrays index by index; a scalar that differs (or changes type) is CHANGED on both sides."""
    left: dict[Path, Mark] = {}
    right: dict[Path, Mark] = {}

    def mark_parents(marks: dict[Path, Mark], path: Path) -> None:
        for depth in range(len(path)):
            marks.setdefault(path[:depth], Mark.CONTAINS)

    def visit(a: Any, b: Any, path: Path) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in a.keys() | b.keys():
                if key not in b:
                    left[(*path, key)] = Mark.REMOVED
                    mark_parents(left, (*path, key))
                    mark_parents(right, (*path, key))
                elif key not in a:
                    right[(*path, key)] = Mark.ADDED
                    mark_parents(right, (*path, key))
                    mark_parents(left, (*path, key))
                else:
                    visit(a[key], b[key], (*path, key))
        elif isinstance(a, list) and isinstance(b, list):
            for index in range(max(len(a), len(b))):
                if index >= len(b):
                    left[(*path, index)] = Mark.REMOVED
                    mark_parents(left, (*path, index))
                    mark_parents(right, (*path, index))
                elif index >= len(a):
                    right[(*path, index)] = Mark.ADDED
                    mark_parents(right, (*path, index))
                    mark_parents(left, (*path, index))
                else:
                    visit(a[index], b[index], (*path, index))
        elif type(a) is not type(b) or a != b:
            left[path] = Mark.CHANGED
            right[path] = Mark.CHANGED
            mark_parents(left, path)
            mark_parents(right, path)

    if before is None and after is not None:
        right.update({path: Mark.ADDED for path, _ in walk(after)})
    elif after is None and before is not None:
        left.update({path: Mark.REMOVED for path, _ in walk(before)})
    else:
        visit(before, after, ())
    return left, right


def count_differences(marks: dict[Path, Mark], only: Mark | None = None) -> int:
    """Values added, removed or changed (containers that merely hold one are not counted)."""
    if only is not None:
        return sum(1 for mark in marks.values() if mark is only)
    return sum(1 for mark in marks.values() if mark is not Mark.CONTAINS)

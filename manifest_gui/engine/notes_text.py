"""Release notes as Markdown (ready to paste into Discord or a forum) and as plain text.

Both say the same: a title, a heading per section that has entries, a line per entry with
its stat changes ("Rounds Per Minute 120 → 140") and a few of its other changes, and the
counts per table. Plain text is the Markdown without the markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .notes_diff import Leaf, is_noise, is_stat_value, stat_hash
from .notes_model import Change, Entry, EntryKind, ReleaseNotes

OTHER_CHANGES_SHOWN = 3  # beyond the stat changes; the rest are counted
VALUE_WIDTH = 40
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~|<>\[\]#])")


@dataclass(frozen=True)
class _Style:
    heading: Callable[[str, int], str]
    strong: Callable[[str], str]
    escape: Callable[[str], str]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _markdown_escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text))


MARKDOWN = _Style(
    heading=lambda text, level: f"{'#' * level} {text}",
    strong=lambda text: f"**{text}**",
    escape=_markdown_escape,
)
PLAIN = _Style(heading=lambda text, level: text, strong=lambda text: text, escape=_one_line)


def _value(value: Any) -> str:
    """A JSON value in a few words: numbers and booleans as JSON writes them, text quoted."""
    if value is None:
        return "—"
    if isinstance(value, str):
        text = _one_line(value)
        if len(text) > VALUE_WIDTH:
            text = text[: VALUE_WIDTH - 1] + "…"
        return f'"{text}"'
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _values(before: Any, after: Any) -> str:
    """before → after; two long texts are shown from a little before where they part."""
    if isinstance(before, str) and isinstance(after, str):
        before, after = _one_line(before), _one_line(after)
        if max(len(before), len(after)) > VALUE_WIDTH:
            common = next(
                (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b),
                min(len(before), len(after)),
            )
            start = max(0, common - VALUE_WIDTH // 4)
            if start:
                before, after = "…" + before[start:], "…" + after[start:]
    return f"{_value(before)} → {_value(after)}"


def _change_text(change: Change) -> str:
    values = _values(change.before, change.after)
    stat = stat_hash(change.path)
    if stat is not None:
        name = change.label or f"Stat {stat}"
        if is_stat_value(change.path):
            return f"{name} {values}"
        return f"{name} {change.path.rsplit('.', 1)[-1]} {values}"
    if change.label:
        return f"{change.path} {values} ({change.label})"
    return f"{change.path} {values}"


def _details(entry: Entry, include_art: bool) -> str:
    shown = [
        change
        for change in entry.changes
        if not is_noise(Leaf(change.path, change.before, change.after), include_art=include_art)
    ]
    stats = [change for change in shown if is_stat_value(change.path)]
    others = [change for change in shown if not is_stat_value(change.path)]
    parts = [_change_text(change) for change in stats + others[:OTHER_CHANGES_SHOWN]]
    hidden = len(others) - OTHER_CHANGES_SHOWN
    if hidden > 0:
        parts.append(f"{hidden} more change{'s' if hidden > 1 else ''}")
    return "; ".join(parts)


def _entry_line(entry: Entry, style: _Style, include_art: bool) -> str:
    name = style.strong(style.escape(entry.name) if entry.name else f"#{entry.hash}")
    line = f"- {name} ({entry.kind})"
    if entry.kind is EntryKind.CHANGED:
        details = _details(entry, include_art)
        if details:
            line += ": " + style.escape(details)
    return line


def _count_lines(notes: ReleaseNotes, style: _Style) -> list[str]:
    lines = [style.heading("Counts", 2)]
    for table, counts in notes.counts.items():
        lines.append(
            f"- {style.escape(table)}: {counts.added:,} added, {counts.changed:,} changed, "
            f"{counts.removed:,} removed"
        )
    return lines


def _summary(notes: ReleaseNotes, style: _Style) -> list[str]:
    end = notes.to_version
    start = notes.from_version
    if start is None:
        rows = sum(counts.added for counts in notes.counts.values())
        return [
            style.heading(f"{style.escape(end.version)}: first load", 1),
            "",
            f"Version {end.manifest_id} was the first load: nothing to compare it with. "
            f"It loaded {rows:,} definitions in {len(notes.counts):,} tables.",
        ]
    lines = [
        style.heading(f"What's new in {style.escape(end.version)}", 1),
        "",
        f"Version {end.manifest_id} compared with version {start.manifest_id} "
        f"({style.escape(start.version)}).",
    ]
    if not notes.changed_anything:
        lines.append("No definitions changed.")
    elif not any(section.entries for section in notes.sections):
        lines.append("Nothing to list: only the counts below changed.")
    return lines


def render(notes: ReleaseNotes, style: _Style) -> str:
    lines = _summary(notes, style)
    for section in notes.sections:
        if not section.entries:
            continue
        lines += ["", style.heading(f"{section.title} ({len(section.entries):,})", 2)]
        lines += [_entry_line(entry, style, notes.include_art) for entry in section.entries]
    if notes.counts:
        lines += ["", *_count_lines(notes, style)]
    return "\n".join(lines) + "\n"


def to_markdown(notes: ReleaseNotes) -> str:
    return render(notes, MARKDOWN)


def to_text(notes: ReleaseNotes) -> str:
    return render(notes, PLAIN)


__all__ = ["to_markdown", "to_text"]

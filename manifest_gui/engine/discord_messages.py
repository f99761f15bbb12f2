"""Release notes as Discord webhook messages, split within Discord's documented limits.

Pure functions over the notes model: no network, no database. engine/discord.py posts them.
The first message is the summary (version, counts per section, watched entries), then the
notable entries as embeds (watched ones first), and when not everything fits, a last message
"…and N more" with the Markdown notes attached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .notes_model import Change, Entry, EntryKind, ReleaseNotes

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_MAX = 2000
EMBEDS_PER_MESSAGE = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TEXT_PER_MESSAGE = 6000

# Our own bounds, well inside those: a release of thousands of entries must not flood a channel.
MAX_EMBEDS = 30  # three full messages of entries; the rest are in the attached notes
FIELDS_PER_EMBED = 12
VALUE_TEXT_MAX = 80  # of one side of a change (before or after)
# With these, one embed stays under 12 * 350 + 256 + ~400 characters, inside the 6,000.
FIELD_NAME_TEXT = 100
FIELD_VALUE_TEXT = 250
ATTACHMENT_MAX_BYTES = 8_000_000  # Discord's smallest upload limit is 8 MiB (10 MiB today)

KIND_WORDS = {
    EntryKind.ADDED: "New",
    EntryKind.CHANGED: "Changed",
    EntryKind.REMOVED: "Removed",
    EntryKind.UNCLASSIFIED: "Unclassified",
    EntryKind.RECLASSIFIED: "Reclassified",
}
_KIND_COLOURS = {
    EntryKind.ADDED: 0x2ECC71,
    EntryKind.CHANGED: 0x3498DB,
    EntryKind.REMOVED: 0x95A5A6,
    EntryKind.UNCLASSIFIED: 0xF1C40F,
    EntryKind.RECLASSIFIED: 0x9B59B6,
}
# Within a section, what people look for first.
_KIND_ORDER = {kind: rank for rank, kind in enumerate(KIND_WORDS)}
_KIND_ORDER[EntryKind.UNCLASSIFIED] = 1  # an unveiled exotic is news like a new one


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str = "text/markdown; charset=utf-8"


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """One webhook execution: `payload()` is its JSON body (payload_json when it has a file)."""

    content: str
    embeds: tuple[dict[str, Any], ...] = ()
    attachment: Attachment | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "content": self.content,
            "embeds": list(self.embeds),
            # A name like "@everyone" in the notes must not ping the whole server.
            "allowed_mentions": {"parse": []},
        }
        if self.attachment is not None:
            payload["attachments"] = [{"id": 0, "filename": self.attachment.filename}]
        return payload


def release_messages(
    notes: ReleaseNotes,
    *,
    bungie_root: str,
    markdown: str | None = None,
    max_embeds: int = MAX_EMBEDS,
) -> list[WebhookMessage]:
    """The messages announcing `notes`, in posting order; none when nothing changed.

    `markdown` is the full notes, attached to the last message when the embeds leave entries
    out; `bungie_root` makes the icons' absolute URLs."""
    if not notes.changed_anything:
        return []
    if notes.first_load:
        return [WebhookMessage(first_load_text(notes))]
    entries = notable_entries(notes)
    shown = entries[:max_embeds]
    watched = {_key(entry) for entry in notes.watched}
    embeds = [entry_embed(e, bungie_root=bungie_root, watched=_key(e) in watched) for e in shown]
    batches = pack_embeds(embeds)
    messages = [WebhookMessage(summary_text(notes), tuple(batches[0]) if batches else ())]
    messages += [WebhookMessage("", tuple(batch)) for batch in batches[1:]]
    left_out = len(entries) - len(shown)
    if left_out and markdown is not None:
        messages.append(more_message(notes, left_out, markdown))
    elif left_out:
        messages.append(WebhookMessage(f"…and {left_out:,} more."))
    return messages


def _key(entry: Entry) -> tuple[str, int, str]:
    return entry.table, entry.hash, str(entry.kind)


def notable_entries(notes: ReleaseNotes) -> list[Entry]:
    """Watched entries first, then every section's entries in section order (within one:
    new and unclassified, then changed, reclassified, removed), each entry once."""
    seen = {_key(entry) for entry in notes.watched}
    rest: list[Entry] = []
    for section in notes.sections:
        ordered = sorted(section.entries, key=lambda entry: _KIND_ORDER.get(entry.kind, 9))
        rest += [entry for entry in ordered if _key(entry) not in seen]
    return [*notes.watched, *rest]


# --------------------------------------------------------------------------- text


def _short_table(table: str) -> str:
    """DestinyInventoryItemDefinition -> InventoryItem."""
    match = re.fullmatch(r"Destiny(.+)Definition", table)
    return match.group(1) if match else table


def entry_name(entry: Entry) -> str:
    return entry.name or f"{_short_table(entry.table)} {entry.hash}"


def section_counts(notes: ReleaseNotes) -> list[tuple[str, dict[EntryKind, int]]]:
    """(section title, entries per kind) for every section that has entries."""
    result = []
    for section in notes.sections:
        per_kind: dict[EntryKind, int] = {}
        for entry in section.entries:
            per_kind[entry.kind] = per_kind.get(entry.kind, 0) + 1
        if per_kind:
            result.append((section.title, per_kind))
    return result


def _kind_counts(per_kind: dict[EntryKind, int]) -> str:
    ordered = sorted(per_kind.items(), key=lambda item: _KIND_ORDER.get(item[0], 9))
    return ", ".join(f"{count:,} {KIND_WORDS[kind].lower()}" for kind, count in ordered)


def fit_lines(lines: Sequence[str], limit: int, noun: str = "more") -> str:
    """Lines joined, as many as fit in `limit` characters with a last "…and N more" line
    when some do not; a line too long on its own is cut with an ellipsis."""
    lines = [_cut(line, limit) for line in lines]
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept = list(lines)
    while kept:
        kept.pop()
        tail = f"…and {len(lines) - len(kept):,} {noun}"
        text = "\n".join([*kept, tail])
        if len(text) <= limit:
            return text
    return _cut(f"…and {len(lines):,} {noun}", limit)


def summary_text(notes: ReleaseNotes) -> str:
    """The first message's content: version, totals, counts per section, watched entries."""
    header = f"**New Destiny 2 manifest {_plain(notes.to_version.version)}**"
    if notes.from_version is not None:
        header += f" (after {_plain(notes.from_version.version)})"
    added = sum(c.added for c in notes.counts.values())
    changed = sum(c.changed for c in notes.counts.values())
    removed = sum(c.removed for c in notes.counts.values())
    lines = [
        header,
        f"{added:,} definitions added, {changed:,} changed and {removed:,} removed "
        f"in {len(notes.counts):,} tables.",
    ]
    if notes.watched:
        names = ", ".join(_plain(entry_name(entry)) for entry in notes.watched[:10])
        more = f" and {len(notes.watched) - 10} more" if len(notes.watched) > 10 else ""
        lines.append(_cut(f"★ Watched: {names}{more}", 600))
    counts = section_counts(notes)
    lines += [f"**{_plain(title)}**: {_kind_counts(per_kind)}" for title, per_kind in counts]
    if not counts:
        lines.append("No notable entries: only index or art changes.")
    return fit_lines(lines, CONTENT_MAX, "more sections")


def first_load_text(notes: ReleaseNotes) -> str:
    """The one short message of a first load: the version and its counts."""
    total = sum(c.added for c in notes.counts.values())
    largest = sorted(notes.counts.items(), key=lambda item: -item[1].added)
    lines = [
        f"**Destiny 2 manifest {_plain(notes.to_version.version)}** loaded for the first time: "
        f"{total:,} definitions in {len(notes.counts):,} tables.",
        *(f"{_short_table(table)}: {c.added:,}" for table, c in largest),
    ]
    return fit_lines(lines, CONTENT_MAX, "more tables")


def more_message(notes: ReleaseNotes, left_out: int, markdown: str) -> WebhookMessage:
    data = markdown.encode("utf-8")
    if len(data) > ATTACHMENT_MAX_BYTES:
        cut = data[: ATTACHMENT_MAX_BYTES - 200].decode("utf-8", errors="ignore")
        data = (cut + "\n\n…the notes are longer; `manifest-gui notes` prints them all.\n").encode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", notes.to_version.version)[:100]
    return WebhookMessage(
        f"…and {left_out:,} more: the full release notes are attached.",
        attachment=Attachment(f"release-notes-{name}.md", data),
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> str:
    """Text without Markdown that could break our own formatting (names are user-facing)."""
    return re.sub(r"([*_`~|>\\])", r"\\\1", text)


# --------------------------------------------------------------------------- embeds


def icon_url(bungie_root: str, icon: str | None) -> str | None:
    """The absolute Bungie.net URL of an icon path (`/common/destiny2_content/icons/x.jpg`)."""
    if not icon:
        return None
    if icon.startswith(("http://", "https://")):
        return icon
    return f"{bungie_root.rstrip('/')}/{icon.lstrip('/')}"


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _cut(text, VALUE_TEXT_MAX) if text else '""'


def _is_stat(change: Change) -> bool:
    return change.path.startswith("stats.stats.") and bool(change.label)


def change_field(change: Change) -> dict[str, Any]:
    """A stat change reads `Rounds Per Minute: 120 → 140`; another leaf is named by its path,
    with the name of the definition a hash points to beside its value."""
    name = change.label if _is_stat(change) and change.label else change.path
    value = f"{format_value(change.before)} → {format_value(change.after)}"
    if change.label and not _is_stat(change):
        value += f" ({change.label})"
    return {
        "name": _cut(name, min(FIELD_NAME_TEXT, FIELD_NAME_MAX)),
        "value": _cut(value, min(FIELD_VALUE_TEXT, FIELD_VALUE_MAX)),
        "inline": _is_stat(change),
    }


def entry_embed(entry: Entry, *, bungie_root: str, watched: bool = False) -> dict[str, Any]:
    """An entry as an embed: name, kind, section table, its changes as fields, icon thumbnail."""
    title = ("★ " if watched else "") + entry_name(entry)
    description = f"{KIND_WORDS.get(entry.kind, str(entry.kind))} · {_short_table(entry.table)}"
    if watched:
        description += " · watched"
    # Stat changes first: they are what players compare.
    changes = sorted(entry.changes, key=lambda change: not _is_stat(change))
    fields = [change_field(change) for change in changes[:FIELDS_PER_EMBED]]
    if len(changes) > FIELDS_PER_EMBED:
        description += f"\n…and {len(changes) - FIELDS_PER_EMBED} more changes"
    embed: dict[str, Any] = {
        "title": _cut(title, TITLE_MAX),
        "description": _cut(description, min(400, DESCRIPTION_MAX)),
        "color": _KIND_COLOURS.get(entry.kind, 0x7F8C8D),
        "footer": {"text": f"{entry.table} {entry.hash}"},
    }
    if fields:
        embed["fields"] = fields[:FIELDS_MAX]
    thumbnail = icon_url(bungie_root, entry.icon)
    if thumbnail:
        embed["thumbnail"] = {"url": thumbnail}
    return embed


def embed_text_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts toward a message's 6,000: title, description, field names
    and values, footer text and author name."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", []))
    total += len(embed.get("footer", {}).get("text", ""))
    return total + len(embed.get("author", {}).get("name", ""))


def pack_embeds(embeds: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Embeds grouped into messages of at most ten and 6,000 characters of embed text."""
    batches: list[list[dict[str, Any]]] = []
    size = 0
    for embed in embeds:
        length = embed_text_length(embed)
        if (
            not batches
            or len(batches[-1]) >= EMBEDS_PER_MESSAGE
            or size + length > (EMBED_TEXT_PER_MESSAGE)
        ):
            batches.append([])
            size = 0
        batches[-1].append(embed)
        size += length
    return batches

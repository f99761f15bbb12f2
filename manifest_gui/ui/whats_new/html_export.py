"""Release notes as one self-contained HTML file: styles inline, every icon embedded as a
data: URI (a missing icon is an inline SVG placeholder), so the file can be mailed or put on
any web space as it is. Qt-free: the export runs in a worker thread."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from html import escape
from pathlib import Path

from ...engine.icons import looks_like_image
from ...engine.notes_model import Entry, ReleaseNotes, Section
from .notes_words import (
    KIND_COLOURS,
    change_name,
    change_values,
    entry_name,
    short_table,
    versions_title,
)

IconFile = Callable[[str], Path | None]

PLACEHOLDER = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
        b'<rect x="1" y="1" width="38" height="38" rx="5" fill="#e8eaed" stroke="#9aa0a6"/>'
        b'<text x="20" y="27" font-size="20" font-weight="bold" text-anchor="middle" '
        b'fill="#80868b" font-family="sans-serif">?</text></svg>'
    ).decode()
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d0d7de; }
table.counts { border-collapse: collapse; } table.counts td, table.counts th {
  padding: 2px 10px; border-bottom: 1px solid #eaeef2; text-align: right; }
table.counts td:first-child, table.counts th:first-child { text-align: left; }
.entry { display: flex; gap: 10px; padding: 6px 0; border-bottom: 1px solid #eaeef2; }
.entry img { width: 40px; height: 40px; flex: none; border-radius: 4px; }
.name { font-weight: 600; } .meta { color: #59636e; font-size: 0.9em; }
.kind { font-weight: 600; font-size: 0.85em; text-transform: uppercase; }
ul.changes { margin: 4px 0 0 0; padding-left: 1.2em; } .path { color: #59636e; }
"""


def data_uri(file: Path | None) -> str:
    """The file as a data: URI, or the placeholder when it is missing or not an image."""
    if file is None:
        return PLACEHOLDER
    try:
        data = file.read_bytes()
    except OSError:
        return PLACEHOLDER
    if not looks_like_image(data):
        return PLACEHOLDER
    kind = mimetypes.guess_type(file.name)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def notes_html(notes: ReleaseNotes, icon_file: IconFile) -> str:
    """The whole page. `icon_file(path)` gives an icon's cached file (fetched if need be)."""
    icons: dict[str, str] = {}

    def icon(path: str | None) -> str:
        if not path:
            return PLACEHOLDER
        if path not in icons:
            icons[path] = data_uri(icon_file(path))
        return icons[path]

    title = f"What's new in {notes.to_version.version}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(versions_title(notes))}</p>",
        _counts_table(notes),
    ]
    if notes.watched:
        parts.append("<h2>Watched</h2>")
        parts += [_entry_html(entry, icon) for entry in notes.watched]
    for section in notes.sections:
        if section.entries:
            parts.append(_section_html(section, icon))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _counts_table(notes: ReleaseNotes) -> str:
    if not notes.counts:
        return "<p>No table changed.</p>"
    rows = [
        f"<tr><td>{escape(short_table(table))}</td><td>{c.added:,}</td>"
        f"<td>{c.changed:,}</td><td>{c.removed:,}</td></tr>"
        for table, c in notes.counts.items()
    ]
    return (
        '<table class="counts"><tr><th>Table</th><th>Added</th><th>Changed</th>'
        f"<th>Removed</th></tr>{''.join(rows)}</table>"
    )


def _section_html(section: Section, icon: Callable[[str | None], str]) -> str:
    head = f"<h2>{escape(section.title)} ({len(section.entries):,})</h2>"
    return head + "\n".join(_entry_html(entry, icon) for entry in section.entries)


def _entry_html(entry: Entry, icon: Callable[[str | None], str]) -> str:
    colour = KIND_COLOURS[entry.kind]
    changes = "".join(
        f"<li>{escape(change_name(change))} {escape(change_values(change, None))}"
        f' <span class="path">({escape(change.path)})</span></li>'
        for change in entry.changes
    )
    return (
        f'<div class="entry"><img alt="" src="{icon(entry.icon)}"><div>'
        f'<span class="name">{escape(entry_name(entry))}</span> '
        f'<span class="kind" style="color:{colour}">{escape(str(entry.kind))}</span>'
        f'<div class="meta">{escape(short_table(entry.table))} {entry.hash}</div>'
        + (f'<ul class="changes">{changes}</ul>' if changes else "")
        + "</div></div>"
    )

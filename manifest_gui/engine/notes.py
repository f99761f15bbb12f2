"""Release notes: what one loaded version changed against another, from the database's history.

notes_query.py finds, in one query, every key whose state differs between the two versions
(by default the current one and the one loaded before it). From those:

- counts: per table, keys there only at the end (added), only at the start (removed), and
  there at both with different JSON (changed). Between two consecutive loads these are the
  load's own insert, update and delete counts.
- entries: the keys of the section tables, classified (notes_sections.py) and diffed leaf by
  leaf (notes_diff.py), with noise (`index`, image paths) counted but not listed; stat changes
  and hashes of loaded definitions get names beside them.

Everything is read in one REPEATABLE READ transaction, so a load committing meanwhile cannot
mix two states.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import psycopg
from psycopg.types.json import Jsonb

from .errors import ManifestGuiError
from .notes_diff import Leaf, hash_candidates, is_noise, leaf_changes, stat_hash
from .notes_model import (
    Change,
    Entry,
    EntryKind,
    ReleaseNotes,
    Section,
    TableCounts,
    VersionRef,
)
from .notes_query import Differs, differing_keys
from .notes_sections import (
    KIND_ORDER,
    SECTIONS,
    STAT,
    display_icon,
    display_name,
    entry_kind,
    section_key,
)

log = logging.getLogger(__name__)

HASH_MASK = 0xFFFFFFFF

# Decides whether an entry is on the watchlist; the notifier supplies it.
Watch = Callable[[Entry], bool]


class UnknownVersionError(ManifestGuiError):
    """A version ID that the database does not hold, or no version at all."""


def _version_ref(conn: psycopg.Connection, manifest_id: int) -> VersionRef:
    row = conn.execute(
        "SELECT version ->> 'version' FROM manifest.t_manifest_version WHERE manifest_id = %s",
        (manifest_id,),
    ).fetchone()
    if row is None:
        raise UnknownVersionError(
            f"There is no version {manifest_id} in the database; "
            "`manifest-gui history` lists the versions it holds."
        )
    return VersionRef(manifest_id, str(row[0]))


def resolve_versions(
    conn: psycopg.Connection, from_id: int | None, to_id: int | None
) -> tuple[VersionRef | None, VersionRef]:
    """The two ends of the notes: `to` defaults to the current version and `from` to the one
    loaded before `to` (None when `to` was the first load)."""
    if to_id is None:
        row = conn.execute(
            "SELECT manifest_id FROM manifest.t_manifest_version WHERE current"
        ).fetchone()
        if row is None:
            raise UnknownVersionError("The database holds no manifest yet; load one first.")
        to_id = int(row[0])
    end = _version_ref(conn, to_id)
    if from_id is not None:
        return _version_ref(conn, from_id), end
    row = conn.execute(
        "SELECT max(manifest_id) FROM manifest.t_manifest_version WHERE manifest_id < %s",
        (to_id,),
    ).fetchone()
    previous = row[0] if row else None
    return (None if previous is None else _version_ref(conn, int(previous))), end


def _counts(keys: Iterable[Differs]) -> dict[str, TableCounts]:
    tally: dict[str, list[int]] = {}
    for key in keys:
        counts = tally.setdefault(key.table, [0, 0, 0])
        counts[0 if not key.was_live else 2 if not key.is_live else 1] += 1
    return {table: TableCounts(*tally[table]) for table in sorted(tally)}


def _first_load_counts(conn: psycopg.Connection, manifest_id: int) -> dict[str, TableCounts]:
    rows = conn.execute(
        """SELECT table_name::text, count(*) FROM manifest.t_manifest WHERE created_by = %s
            GROUP BY 1 ORDER BY 1""",
        (manifest_id,),
    ).fetchall()
    return {table: TableCounts(int(count), 0, 0) for table, count in rows}


@dataclass(frozen=True, slots=True)
class _Named:
    table: str
    name: str | None
    live: bool


def _names(conn: psycopg.Connection, hashes: set[int]) -> dict[int, list[_Named]]:
    """unsigned hash -> the definitions (live first) it is the hash of."""
    if not hashes:
        return {}
    ids = [Jsonb({"id": h - (1 << 32) if h >= 1 << 31 else h}) for h in sorted(hashes)]
    found: dict[int, list[_Named]] = {}
    # One index probe per hash, live rows by ux_manifest_live_pk and removed ones by
    # ix_manifest_removed_pk. As `pk = ANY(...)` the planner, with the statistics a load has
    # just made stale, chose a walk of a whole index and a scan of the table (~0.3 s for the
    # ~650 hashes of a 3% release, now ~0.01 s); OFFSET 0 keeps the probes per hash.
    rows = conn.execute(
        """SELECT (w.pk ->> 'id')::bigint, d.table_name, d.name, d.live
             FROM unnest(%(ids)s::jsonb[]) AS w(pk)
            CROSS JOIN LATERAL (
                  SELECT m.table_name::text AS table_name, m.name, true AS live
                    FROM manifest.t_manifest m WHERE m.pk = w.pk AND m.deleted IS NULL
                  UNION ALL
                  SELECT m.table_name::text, m.name, false
                    FROM manifest.t_manifest m WHERE m.pk = w.pk AND m.deleted IS NOT NULL
                  OFFSET 0) d""",
        {"ids": ids},
    ).fetchall()
    for id_, table, name, live in rows:
        found.setdefault(int(id_) & HASH_MASK, []).append(_Named(table, name, live))
    for candidates in found.values():
        # A live definition over a removed one; the full item table over its Lite mirror.
        candidates.sort(key=lambda c: (not c.live, c.table.endswith("LiteDefinition"), c.table))
    return found


class _Labels:
    """Words for the values of changed leaves: stat names and names of hashed definitions."""

    def __init__(self, conn: psycopg.Connection, leaves: Iterable[Leaf]) -> None:
        wanted: set[int] = set()
        for leaf in leaves:
            stat = stat_hash(leaf.path)
            if stat is not None and stat < 1 << 32:
                wanted.add(stat)
            wanted.update(h for h in hash_candidates(leaf) if h is not None)
        self._found = _names(conn, wanted)

    def _name(self, hash_: int | None, table: str | None = None) -> str | None:
        if hash_ is None:
            return None
        for candidate in self._found.get(hash_, ()):
            if candidate.name and (table is None or candidate.table == table):
                return candidate.name
        return None

    def label(self, leaf: Leaf) -> str | None:
        stat = stat_hash(leaf.path)
        if stat is not None:
            return self._name(stat, STAT)
        before, after = (self._name(h) for h in hash_candidates(leaf))
        if before and after and before != after:
            return f"{before} → {after}"
        return after or before


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A section-table key that differs, before it becomes an entry (or turns out noise)."""

    section: str
    kind: EntryKind
    key: Differs
    hash: int
    leaves: tuple[Leaf, ...] = ()


def _candidates(keys: Iterable[Differs], include_art: bool) -> list[_Candidate]:
    found = []
    for key in keys:
        shown = key.after if key.is_live else key.before
        section = section_key(key.table, shown)
        if section is None or key.id is None:
            continue
        kind = entry_kind(key.before if key.was_live else None, shown if key.is_live else None)
        leaves: tuple[Leaf, ...] = ()
        if kind is EntryKind.CHANGED:
            leaves = tuple(
                leaf
                for leaf in leaf_changes(key.changed_before or {}, key.changed_after or {})
                if not is_noise(leaf, include_art=include_art)
            )
            if not leaves:
                continue  # noise only: counted, not listed
        found.append(_Candidate(section, kind, key, key.id & HASH_MASK, leaves))
    return found


def _entry(candidate: _Candidate, labels: _Labels) -> Entry:
    key = candidate.key
    shown = key.after if key.is_live else key.before
    name = display_name(shown)
    if not name and candidate.kind is EntryKind.RECLASSIFIED:
        name = display_name(key.before) or name  # redacted: the name it had
    return Entry(
        kind=candidate.kind,
        table=key.table,
        hash=candidate.hash,
        name=name,
        icon=display_icon(shown) or display_icon(key.before),
        changes=tuple(
            Change(leaf.path, labels.label(leaf), leaf.before, leaf.after)
            for leaf in candidate.leaves
        ),
    )


def _sections(conn: psycopg.Connection, keys: list[Differs], include_art: bool) -> list[Section]:
    candidates = _candidates(keys, include_art)
    labels = _Labels(conn, (leaf for c in candidates for leaf in c.leaves))
    by_section: dict[str, list[Entry]] = {spec.key: [] for spec in SECTIONS}
    for candidate in candidates:
        by_section[candidate.section].append(_entry(candidate, labels))
    sections = []
    for spec in SECTIONS:
        entries = sorted(
            by_section[spec.key],
            key=lambda e: (KIND_ORDER[e.kind], (e.name or "").casefold(), e.hash),
        )
        sections.append(Section(spec.key, spec.title, tuple(entries)))
    return sections


def watched_entries(notes: ReleaseNotes, watch: Watch) -> tuple[Entry, ...]:
    """The entries of `notes` that `watch` picks, in section order."""
    return tuple(entry for section in notes.sections for entry in section.entries if watch(entry))


def with_watches(notes: ReleaseNotes, watch: Watch | None) -> ReleaseNotes:
    """`notes` with `watched` filled by `watch` (left empty without one)."""
    if watch is None:
        return notes
    return replace(notes, watched=watched_entries(notes, watch))


def build_release_notes(
    conn: psycopg.Connection,
    from_id: int | None = None,
    to_id: int | None = None,
    *,
    include_art: bool = False,
    watch: Watch | None = None,
) -> ReleaseNotes:
    """The notes from version `from_id` to `to_id` (see resolve_versions for the defaults).
    Raises UnknownVersionError for an ID the database does not hold."""
    started = time.monotonic()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # Thousands of short index lookups: compiling them would cost more than running them.
        conn.execute("SET LOCAL jit = off")
        start, end = resolve_versions(conn, from_id, to_id)
        if start is None:
            notes = ReleaseNotes(
                None,
                end,
                _first_load_counts(conn, end.manifest_id),
                tuple(Section(spec.key, spec.title, ()) for spec in SECTIONS),
                include_art=include_art,
            )
        else:
            keys = differing_keys(conn, start.manifest_id, end.manifest_id)
            notes = ReleaseNotes(
                start,
                end,
                _counts(keys),
                tuple(_sections(conn, keys, include_art)),
                include_art=include_art,
            )
    log.info(
        "Release notes %s -> %s in %.2f s",
        start.manifest_id if start else None,
        end.manifest_id,
        time.monotonic() - started,
    )
    return with_watches(notes, watch)


__all__ = [
    "UnknownVersionError",
    "Watch",
    "build_release_notes",
    "resolve_versions",
    "watched_entries",
    "with_watches",
]

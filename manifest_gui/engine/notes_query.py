"""The one query behind release notes: every key whose state differs between two versions.

t_manifest keeps each definition's latest JSON with the versions that created (created_by),
last changed and removed (deleted_by) its row; t_manifest_history keeps the JSON a row had
before each change (U) or removal (D). Between two versions low < high, the keys that can
differ are those with an event in (low, high]: a row created, changed or removed there. For
each, the events themselves say the rest:

- live at low  <=> its first event in range is a change or a removal (a creation means it was
  not there); its JSON then is that first event's json_before;
- live at high <=> its last event in range is not a removal; its JSON then is the json_before
  of its first event after high, or else its live row's JSON.

A key with a single event differs for certain (the load wrote history only for JSON that
changed), so the JSON of tables without a section is read only for keys with several events
in range, to compare. Section tables send what entries need: a few display fields of each
side and, for definitions there at both ends, only the top-level members that differ, so a
3% release moves ~1 MB instead of the ~20 MB the full definitions would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from .notes_sections import SECTION_TABLES

# What an entry needs of a definition besides its changes (section, kind, name, icon).
_SUMMARY = """jsonb_strip_nulls(jsonb_build_object(
        'displayProperties', jsonb_build_object(
            'name', {j} -> 'displayProperties' -> 'name',
            'icon', {j} -> 'displayProperties' -> 'icon'),
        'itemType', {j} -> 'itemType',
        'redacted', {j} -> 'redacted'))"""

# The members of {a} whose value {b} does not have; a whole non-object value as it is.
_DIFFERING_MEMBERS = """CASE WHEN jsonb_typeof({a}) = 'object' AND jsonb_typeof({b}) = 'object'
        THEN coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each({a}) e
                        WHERE {b} -> e.key IS DISTINCT FROM e.value), '{{}}'::jsonb)
        ELSE {a} END"""

DIFFERING_KEYS = f"""
WITH events AS (
    SELECT table_name, pk, created_by AS at, 'C' AS kind FROM manifest.t_manifest
     WHERE created_by > %(low)s AND created_by <= %(high)s
    UNION ALL
    SELECT table_name, pk, manifest_id, change::text FROM manifest.t_manifest_history
     WHERE manifest_id > %(low)s AND manifest_id <= %(high)s
), keys AS (
    SELECT table_name::text AS table_name, pk, count(*) AS events, min(at) AS first_at,
           (array_agg(kind ORDER BY at))[1] AS first_kind,
           (array_agg(kind ORDER BY at DESC))[1] AS last_kind,
           table_name = ANY(%(sections)s) AS in_section
      FROM events GROUP BY table_name, pk
), states AS MATERIALIZED (
    SELECT k.table_name, k.pk, k.in_section, k.events,
           k.first_kind <> 'C' AS live_low, k.last_kind <> 'D' AS live_high,
           CASE WHEN k.first_kind <> 'C' AND (k.in_section OR k.events > 1) THEN
               (SELECT h.json_before FROM manifest.t_manifest_history h
                 WHERE h.manifest_id = k.first_at AND h.table_name = k.table_name
                   AND h.pk = k.pk AND h.change = k.first_kind::char)
           END AS json_low,
           CASE WHEN k.last_kind <> 'D' AND (k.in_section OR k.events > 1) THEN coalesce(
               (SELECT h.json_before FROM manifest.t_manifest_history h
                 WHERE h.pk = k.pk AND h.table_name = k.table_name AND h.manifest_id > %(high)s
                 ORDER BY h.manifest_id, h.change DESC LIMIT 1),
               (SELECT m.json FROM manifest.t_manifest m
                 WHERE m.pk = k.pk AND m.table_name = k.table_name AND m.deleted IS NULL))
           END AS json_high
      FROM keys k
)
SELECT table_name, pk, live_low, live_high,
       CASE WHEN in_section AND live_low THEN {_SUMMARY.format(j="json_low")} END,
       CASE WHEN in_section AND live_high THEN {_SUMMARY.format(j="json_high")} END,
       CASE WHEN in_section AND live_low AND live_high
            THEN {_DIFFERING_MEMBERS.format(a="json_low", b="json_high")} END,
       CASE WHEN in_section AND live_low AND live_high
            THEN {_DIFFERING_MEMBERS.format(a="json_high", b="json_low")} END
  FROM states
 WHERE live_low <> live_high
    OR (live_low AND live_high AND (events = 1 OR json_low IS DISTINCT FROM json_high))
"""  # noqa: S608 - fixed text; every value is a parameter


@dataclass(frozen=True, slots=True)
class Differs:
    """A key whose state differs between the `start` and `end` versions. For section tables,
    `before`/`after` summarise each side (displayProperties name and icon, itemType,
    redacted; None where the key was not live) and `changed_before`/`changed_after` hold the
    top-level members that differ when it was live at both ends."""

    table: str
    pk: dict[str, Any]
    was_live: bool
    is_live: bool
    before: Any = None
    after: Any = None
    changed_before: Any = None
    changed_after: Any = None


def differing_keys(conn: psycopg.Connection, start: int, end: int) -> list[Differs]:
    """Every key whose state differs between version `start` and version `end` (either may be
    the later one)."""
    params = {"low": min(start, end), "high": max(start, end), "sections": sorted(SECTION_TABLES)}
    rows = conn.execute(DIFFERING_KEYS, params).fetchall()
    found = []
    for table, pk, live_low, live_high, low, high, changed_low, changed_high in rows:
        if start < end:
            sides = (live_low, live_high, low, high, changed_low, changed_high)
        else:
            sides = (live_high, live_low, high, low, changed_high, changed_low)
        found.append(Differs(table, pk, *sides))
    return found

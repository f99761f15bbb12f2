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

# One side's top-level members ({side}: a or b of the join below) that the other side lacks or
# holds with another value.
_DIFFERING = """jsonb_object_agg({side}.key, {side}.value) FILTER (WHERE {side}.key IS NOT NULL
               AND ({other}.key IS NULL OR {side}.value <> {other}.value))"""
# What an entry needs of one side besides its changes: section, kind, name and icon.
_SUMMARY = """coalesce(jsonb_object_agg({side}.key,
               CASE WHEN {side}.key = 'displayProperties'
                    THEN jsonb_build_object('name', {side}.value -> 'name',
                                            'icon', {side}.value -> 'icon')
                    ELSE {side}.value END)
               FILTER (WHERE {side}.key IN ('displayProperties', 'itemType', 'redacted')),
           '{{}}'::jsonb)"""


def _members(column: str) -> str:
    """jsonb_each of a definition; nothing for one that is not a JSON object."""
    return f"jsonb_each(CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} END)"


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
SELECT s.table_name, (s.pk ->> 'id')::bigint, s.live_low, s.live_high,
       -- One JSON value per row (fewer values to parse): both summaries, and the members that
       -- differ for a definition there at both ends; one that is not a JSON object (never
       -- seen from Bungie) has no members, and is diffed whole.
       CASE WHEN s.in_section THEN jsonb_build_array(
           CASE WHEN s.live_low THEN d.summary_low END,
           CASE WHEN s.live_high THEN d.summary_high END,
           CASE WHEN NOT (s.live_low AND s.live_high) THEN NULL
                WHEN d.changed_low IS NULL AND d.changed_high IS NULL THEN s.json_low
                ELSE d.changed_low END,
           CASE WHEN NOT (s.live_low AND s.live_high) THEN NULL
                WHEN d.changed_low IS NULL AND d.changed_high IS NULL THEN s.json_high
                ELSE d.changed_high END)
       END
  FROM states s
  LEFT JOIN LATERAL (
       -- Each definition is read (detoasted) once here, however many members it has.
       SELECT {_SUMMARY.format(side="a")} AS summary_low,
              {_SUMMARY.format(side="b")} AS summary_high,
              {_DIFFERING.format(side="a", other="b")} AS changed_low,
              {_DIFFERING.format(side="b", other="a")} AS changed_high
         FROM {_members("s.json_low")} a FULL JOIN {_members("s.json_high")} b ON a.key = b.key
        WHERE s.in_section
  ) d ON true
 WHERE s.live_low <> s.live_high
    OR (s.live_low AND s.live_high AND (s.events = 1 OR s.json_low IS DISTINCT FROM s.json_high))
"""  # noqa: S608 - fixed text; every value is a parameter


@dataclass(frozen=True, slots=True)
class Differs:
    """A key whose state differs between the `start` and `end` versions. For section tables,
    `before`/`after` summarise each side (displayProperties name and icon, itemType,
    redacted; None where the key was not live) and `changed_before`/`changed_after` hold the
    top-level members that differ when it was live at both ends."""

    table: str
    id: int | None  # the signed hash; None for a TEXT-keyed row
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
    for table, id_, live_low, live_high, sides in rows:
        low, high, changed_low, changed_high = sides or (None, None, None, None)
        if start < end:
            found.append(
                Differs(table, id_, live_low, live_high, low, high, changed_low, changed_high)
            )
        else:
            found.append(
                Differs(table, id_, live_high, live_low, high, low, changed_high, changed_low)
            )
    return found

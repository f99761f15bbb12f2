-- manifest-gui schema, version 2: what the built-in viewer's queries need.
-- Measured on a full-size manifest (~170,000 rows): the column and both indexes add about
-- 0.3 s of server CPU to a first load (~11 s) and nothing measurable to a 3% changed load.

-- The definition's display name, kept next to the row. It is computed from the JSON while the
-- row is being written (the JSON is still in memory then), so a name search reads this narrow
-- column instead of decompressing ~390 MB of JSON: a substring search over every live row is
-- one sequential scan of the table's main heap (~0.1 s). No pg_trgm: the embedded PostgreSQL
-- does not ship it. DestinyHistoricalStatsDefinition has no displayProperties: its statName.
ALTER TABLE manifest.t_manifest ADD COLUMN IF NOT EXISTS name text
    GENERATED ALWAYS AS (coalesce(json -> 'displayProperties' ->> 'name', json ->> 'statName'))
    STORED;

-- Rows of one table in hash order and in name order, for keyset paging: the expressions are
-- exactly the ORDER BY expressions of manifest_gui/engine/viewer_queries.py (pk breaks ties).
CREATE INDEX IF NOT EXISTS ix_manifest_live_hash
    ON manifest.t_manifest (table_name, coalesce((pk ->> 'id')::bigint & 4294967295, -1), pk)
    WHERE deleted IS NULL;
CREATE INDEX IF NOT EXISTS ix_manifest_live_name
    ON manifest.t_manifest (table_name, coalesce(name, ''), pk)
    WHERE deleted IS NULL;

-- The changes of one definition across versions (the "after" side of a diff).
CREATE INDEX IF NOT EXISTS ix_manifest_history_key
    ON manifest.t_manifest_history (pk, table_name, manifest_id);

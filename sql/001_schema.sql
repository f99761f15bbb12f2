-- manifest-gui schema, version 1: the seed's data model, made safe for repeated loads.
-- Applied automatically (in a transaction, once) by the app; psql -f install.sql does the same by hand.

CREATE SCHEMA IF NOT EXISTS manifest;

-- One row per manifest loaded. Exactly one row is current: the last load that committed.
CREATE TABLE IF NOT EXISTS manifest.t_manifest_version (
    manifest_id     serial PRIMARY KEY,
    effective_date  date NOT NULL DEFAULT current_date,
    version         jsonb NOT NULL,              -- {"version": "...", "path": "/common/..."}
    current         boolean NOT NULL DEFAULT false,
    language        text,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    row_count       integer,
    inserts         integer,
    updates         integer,
    deletes         integer,
    load_seconds    numeric(10, 3)
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_manifest_version_current
    ON manifest.t_manifest_version (current) WHERE current;

-- Every definition ever loaded. Live rows have deleted IS NULL; *_by name the version that
-- inserted, last changed and removed the row.
CREATE TABLE IF NOT EXISTS manifest.t_manifest (
    effective_date   date NOT NULL DEFAULT current_date,
    created          timestamp NOT NULL DEFAULT localtimestamp,
    created_by       integer NOT NULL REFERENCES manifest.t_manifest_version (manifest_id),
    last_updated     timestamp,
    last_updated_by  integer REFERENCES manifest.t_manifest_version (manifest_id),
    deleted          timestamp,
    deleted_by       integer REFERENCES manifest.t_manifest_version (manifest_id),
    table_name       varchar(100) NOT NULL,
    pk               jsonb NOT NULL,             -- {"id": signed 32-bit hash} or {"key": text}
    json             jsonb NOT NULL,
    json_digest      bytea                       -- md5 of the JSON as Bungie served it: lets a
                                                 -- load skip sending rows that did not change
);
-- One live row per definition; a definition removed and later re-added gets a new row.
CREATE UNIQUE INDEX IF NOT EXISTS ux_manifest_live_pk
    ON manifest.t_manifest (table_name, pk) WHERE deleted IS NULL;
-- Hash lookups across all tables (the viewer, hash links).
CREATE INDEX IF NOT EXISTS ix_manifest_pk ON manifest.t_manifest (pk);
-- Version-over-version counts (history, diff of one version).
CREATE INDEX IF NOT EXISTS ix_manifest_created_by ON manifest.t_manifest (created_by);
CREATE INDEX IF NOT EXISTS ix_manifest_last_updated_by
    ON manifest.t_manifest (last_updated_by) WHERE last_updated_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_manifest_deleted_by
    ON manifest.t_manifest (deleted_by) WHERE deleted_by IS NOT NULL;

-- Staging for a load: every key of the incoming manifest. json is NULL for a row the loader
-- found unchanged (same digest) or already inserted directly; otherwise the new JSON.
-- UNLOGGED: it is scratch space, rebuilt by every load.
CREATE UNLOGGED TABLE IF NOT EXISTS manifest.t_manifest_stage (
    table_name   varchar(100) NOT NULL,
    pk           jsonb NOT NULL,
    json         jsonb,
    json_digest  bytea
);

-- The JSON a row had before a version changed or removed it: what a diff needs, since
-- t_manifest keeps only the latest JSON.
CREATE TABLE IF NOT EXISTS manifest.t_manifest_history (
    manifest_id  integer NOT NULL REFERENCES manifest.t_manifest_version (manifest_id),
    change       char(1) NOT NULL CHECK (change IN ('U', 'D')),
    table_name   varchar(100) NOT NULL,
    pk           jsonb NOT NULL,
    json_before  jsonb NOT NULL,
    PRIMARY KEY (manifest_id, table_name, pk, change)
);

CREATE OR REPLACE FUNCTION manifest.fn_touch_last_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.json IS DISTINCT FROM OLD.json THEN
        NEW.last_updated := localtimestamp;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS tr_manifest_last_updated ON manifest.t_manifest;
CREATE TRIGGER tr_manifest_last_updated
    BEFORE UPDATE ON manifest.t_manifest
    FOR EACH ROW EXECUTE FUNCTION manifest.fn_touch_last_updated();

-- Apply t_manifest_stage as version p_manifest_id. The stage must hold every key of the new
-- manifest; rows with json NULL must already be live (unchanged, or inserted by the loader
-- with created_by = p_manifest_id). Returns the version's insert/update/delete counts.
CREATE OR REPLACE FUNCTION manifest.fn_load_manifest(p_manifest_id integer)
RETURNS TABLE (inserts bigint, updates bigint, deletes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_missing bigint;
BEGIN
    SELECT count(*) INTO v_missing
      FROM manifest.t_manifest_stage s
     WHERE s.json IS NULL
       AND NOT EXISTS (SELECT 1 FROM manifest.t_manifest m
                        WHERE m.table_name = s.table_name AND m.pk = s.pk
                          AND m.deleted IS NULL);
    IF v_missing > 0 THEN
        RAISE EXCEPTION 'stage names % rows as unchanged that are not live', v_missing;
    END IF;

    -- Removed: live rows whose key is not in the new manifest.
    WITH gone AS (
        UPDATE manifest.t_manifest m
           SET deleted = localtimestamp, deleted_by = p_manifest_id
         WHERE m.deleted IS NULL
           AND NOT EXISTS (SELECT 1 FROM manifest.t_manifest_stage s
                            WHERE s.table_name = m.table_name AND s.pk = m.pk)
        RETURNING m.table_name, m.pk, m.json
    )
    INSERT INTO manifest.t_manifest_history (manifest_id, change, table_name, pk, json_before)
    SELECT p_manifest_id, 'D', table_name, pk, json FROM gone;
    GET DIAGNOSTICS deletes = ROW_COUNT;

    -- Changed: keep the JSON before, then overwrite.
    INSERT INTO manifest.t_manifest_history (manifest_id, change, table_name, pk, json_before)
    SELECT p_manifest_id, 'U', m.table_name, m.pk, m.json
      FROM manifest.t_manifest m
      JOIN manifest.t_manifest_stage s ON s.table_name = m.table_name AND s.pk = m.pk
     WHERE m.deleted IS NULL AND s.json IS NOT NULL AND m.json IS DISTINCT FROM s.json;
    GET DIAGNOSTICS updates = ROW_COUNT;

    UPDATE manifest.t_manifest m
       SET json = s.json, json_digest = s.json_digest, last_updated_by = p_manifest_id
      FROM manifest.t_manifest_stage s
     WHERE s.table_name = m.table_name AND s.pk = m.pk
       AND m.deleted IS NULL AND s.json IS NOT NULL AND m.json IS DISTINCT FROM s.json;
    -- A digest-only difference (same JSON, other bytes) just refreshes the digest.
    UPDATE manifest.t_manifest m
       SET json_digest = s.json_digest
      FROM manifest.t_manifest_stage s
     WHERE s.table_name = m.table_name AND s.pk = m.pk AND m.deleted IS NULL
       AND s.json IS NOT NULL AND m.json_digest IS DISTINCT FROM s.json_digest;

    -- New: staged with JSON and not live yet.
    INSERT INTO manifest.t_manifest (created_by, table_name, pk, json, json_digest)
    SELECT p_manifest_id, s.table_name, s.pk, s.json, s.json_digest
      FROM manifest.t_manifest_stage s
     WHERE s.json IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM manifest.t_manifest m
                        WHERE m.table_name = s.table_name AND m.pk = s.pk
                          AND m.deleted IS NULL);
    -- Inserts counts those too that the loader copied in directly.
    SELECT count(*) INTO inserts FROM manifest.t_manifest m WHERE m.created_by = p_manifest_id;
    RETURN NEXT;
END;
$$;

CREATE OR REPLACE VIEW manifest.vw_manifest_tables AS
SELECT m.table_name,
       count(*) FILTER (WHERE m.deleted IS NULL) AS live_rows,
       count(*) FILTER (WHERE m.deleted IS NOT NULL) AS deleted_rows,
       max(greatest(m.created_by, m.last_updated_by)) FILTER (WHERE m.deleted IS NULL)
           AS last_changed_by
  FROM manifest.t_manifest m
 GROUP BY m.table_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS manifest.mv_activity_definitions AS
SELECT (m.pk ->> 'id')::bigint & 4294967295 AS hash,
       m.json -> 'displayProperties' ->> 'name' AS name,
       m.json -> 'displayProperties' ->> 'description' AS description,
       (m.json ->> 'activityTypeHash')::bigint AS activity_type_hash,
       (m.json ->> 'activityLightLevel')::integer AS light_level,
       (m.json ->> 'destinationHash')::bigint AS destination_hash,
       (m.json ->> 'placeHash')::bigint AS place_hash,
       m.json
  FROM manifest.t_manifest m
 WHERE m.table_name = 'DestinyActivityDefinition' AND m.deleted IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS ux_mv_activity_definitions
    ON manifest.mv_activity_definitions (hash);

CREATE MATERIALIZED VIEW IF NOT EXISTS manifest.mv_class_definitions AS
SELECT (m.pk ->> 'id')::bigint & 4294967295 AS hash,
       (m.json ->> 'classType')::integer AS class_type,
       m.json -> 'displayProperties' ->> 'name' AS name,
       m.json
  FROM manifest.t_manifest m
 WHERE m.table_name = 'DestinyClassDefinition' AND m.deleted IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS ux_mv_class_definitions ON manifest.mv_class_definitions (hash);

CREATE MATERIALIZED VIEW IF NOT EXISTS manifest.mv_historical_stats_definitions AS
SELECT m.pk ->> 'key' AS stat_id,
       m.json ->> 'statName' AS stat_name,
       m.json ->> 'statDescription' AS stat_description,
       (m.json ->> 'unitType')::integer AS unit_type,
       m.json
  FROM manifest.t_manifest m
 WHERE m.table_name = 'DestinyHistoricalStatsDefinition' AND m.deleted IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS ux_mv_historical_stats_definitions
    ON manifest.mv_historical_stats_definitions (stat_id);

-- Populated (empty) so that they can be queried before the first load.
REFRESH MATERIALIZED VIEW manifest.mv_activity_definitions;
REFRESH MATERIALIZED VIEW manifest.mv_class_definitions;
REFRESH MATERIALIZED VIEW manifest.mv_historical_stats_definitions;

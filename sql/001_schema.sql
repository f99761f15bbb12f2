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
-- pk leads so that the same index serves hash lookups across all tables (viewer, hash links).
CREATE UNIQUE INDEX IF NOT EXISTS ux_manifest_live_pk
    ON manifest.t_manifest (pk, table_name) WHERE deleted IS NULL;
-- Version-over-version counts (history, diff of one version).
CREATE INDEX IF NOT EXISTS ix_manifest_created_by ON manifest.t_manifest (created_by);
CREATE INDEX IF NOT EXISTS ix_manifest_last_updated_by
    ON manifest.t_manifest (last_updated_by) WHERE last_updated_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_manifest_deleted_by
    ON manifest.t_manifest (deleted_by) WHERE deleted_by IS NOT NULL;

-- Staging for a load: what changed since the current version. A row with json is new or
-- changed; a row with json NULL is a definition the new manifest no longer has. (Unchanged rows
-- never travel; brand-new ones the loader may COPY straight into t_manifest with created_by set.)
-- UNLOGGED: scratch space that every load rebuilds.
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

-- Apply t_manifest_stage as version p_manifest_id; returns the version's insert, update and
-- delete counts (inserts include rows the loader copied in directly with created_by set).
CREATE OR REPLACE FUNCTION manifest.fn_load_manifest(p_manifest_id integer)
RETURNS TABLE (inserts bigint, updates bigint, deletes bigint)
LANGUAGE plpgsql AS $$
BEGIN
    ANALYZE manifest.t_manifest_stage;  -- freshly filled: give the planner real numbers

    -- Removed: keep the JSON before, then mark the row deleted.
    WITH gone AS (
        UPDATE manifest.t_manifest m
           SET deleted = localtimestamp, deleted_by = p_manifest_id
          FROM manifest.t_manifest_stage s
         WHERE s.json IS NULL AND m.pk = s.pk AND m.table_name = s.table_name
           AND m.deleted IS NULL
        RETURNING m.table_name, m.pk, m.json
    )
    INSERT INTO manifest.t_manifest_history (manifest_id, change, table_name, pk, json_before)
    SELECT p_manifest_id, 'D', table_name, pk, json FROM gone;
    GET DIAGNOSTICS deletes = ROW_COUNT;

    -- Changed: keep the JSON before, then overwrite. Equal JSON in other bytes is no change.
    WITH changed AS (
        SELECT m.table_name, m.pk, m.json AS json_before,
               s.json, s.json_digest, m.json IS DISTINCT FROM s.json AS differs
          FROM manifest.t_manifest m
          JOIN manifest.t_manifest_stage s ON m.pk = s.pk AND m.table_name = s.table_name
         WHERE s.json IS NOT NULL AND m.deleted IS NULL
    ), history AS (
        INSERT INTO manifest.t_manifest_history
               (manifest_id, change, table_name, pk, json_before)
        SELECT p_manifest_id, 'U', table_name, pk, json_before FROM changed WHERE differs
    )
    UPDATE manifest.t_manifest m
       SET json = c.json, json_digest = c.json_digest,
           last_updated_by = CASE WHEN c.differs THEN p_manifest_id ELSE m.last_updated_by END
      FROM changed c
     WHERE m.pk = c.pk AND m.table_name = c.table_name AND m.deleted IS NULL;
    SELECT count(*) INTO updates FROM manifest.t_manifest_history h
     WHERE h.manifest_id = p_manifest_id AND h.change = 'U';

    -- New: staged with JSON and not live.
    INSERT INTO manifest.t_manifest (created_by, table_name, pk, json, json_digest)
    SELECT p_manifest_id, s.table_name, s.pk, s.json, s.json_digest
      FROM manifest.t_manifest_stage s
     WHERE s.json IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM manifest.t_manifest m
                        WHERE m.pk = s.pk AND m.table_name = s.table_name
                          AND m.deleted IS NULL);
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

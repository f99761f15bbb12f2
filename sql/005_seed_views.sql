-- manifest-gui schema, version 5: the materialized views with the seed's columns and indexes.
-- Queries and tools written against the cloud pipeline's database read
--     mv_activity_definitions (activity_hash, activity_name, pvp_flag),
--     mv_class_definitions (class_hash, class_type, class_name),
--     mv_historical_stats_definitions (stat_id, stat_name),
-- so the views have those columns first, defined as the seed defined them (hashes as the JSON
-- has them, unsigned), with this project's columns beside them. A definition whose JSON lacks
-- its hash or statId gets its row's key there (the same value in every real manifest). Numbers
-- and flags are read through the tolerant functions of version 4, so an odd value from Bungie
-- is NULL instead of a failed load.
--
-- Each view also keeps a unique index on a column taken from the row's key (`hash`, or `key`
-- for the historical stats): a load refreshes the views CONCURRENTLY, which needs a unique
-- index over every row, and which does not wait for readers that sit in an open transaction.

-- A JSON flag as the seed's text-to-boolean cast read it (true/false, "true"/"false", 1/0,
-- "yes"/"no", ...), or NULL for anything else instead of an error.
CREATE OR REPLACE FUNCTION manifest.fn_json_boolean(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE jsonb_typeof(value)
           WHEN 'boolean' THEN value = 'true'::jsonb
           WHEN 'number' THEN CASE value::text WHEN '1' THEN true WHEN '0' THEN false END
           WHEN 'string' THEN
               CASE lower(btrim(value #>> '{}'))
                   WHEN 'true' THEN true WHEN 't' THEN true WHEN 'yes' THEN true
                   WHEN 'y' THEN true WHEN 'on' THEN true WHEN '1' THEN true
                   WHEN 'false' THEN false WHEN 'f' THEN false WHEN 'no' THEN false
                   WHEN 'n' THEN false WHEN 'off' THEN false WHEN '0' THEN false
               END
       END;

-- Rebuild each view, keeping the privileges granted on it. A view that other objects depend
-- on (a DBA's own view, say) is left as it was, with a notice: dropping theirs is not ours.
DO $$
DECLARE
    view_name text;
    definition text;
    unique_column text;
    indexes text[];
    grants text[];
    statement text;
BEGIN
    FOR view_name, definition, unique_column, indexes IN
        VALUES
            ('mv_activity_definitions',
             $view$
             SELECT coalesce(manifest.fn_json_bigint(m.json -> 'hash'),
                             (m.pk ->> 'id')::bigint & 4294967295) AS activity_hash,
                    m.json -> 'displayProperties' ->> 'name' AS activity_name,
                    manifest.fn_json_boolean(m.json -> 'isPvP') AS pvp_flag,
                    (m.pk ->> 'id')::bigint & 4294967295 AS hash,
                    m.json -> 'displayProperties' ->> 'name' AS name,
                    m.json -> 'displayProperties' ->> 'description' AS description,
                    manifest.fn_json_bigint(m.json -> 'activityTypeHash') AS activity_type_hash,
                    manifest.fn_json_integer(m.json -> 'activityLightLevel') AS light_level,
                    manifest.fn_json_bigint(m.json -> 'destinationHash') AS destination_hash,
                    manifest.fn_json_bigint(m.json -> 'placeHash') AS place_hash,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyActivityDefinition' AND m.deleted IS NULL
              ORDER BY activity_hash
             $view$,
             'hash',
             ARRAY['CREATE INDEX ix_mv_activity_definitions_activity_hash
                        ON manifest.mv_activity_definitions (activity_hash)',
                   'CREATE INDEX ix_mv_activity_definitions_pvp_flag
                        ON manifest.mv_activity_definitions (pvp_flag, activity_hash)']),
            ('mv_class_definitions',
             $view$
             SELECT coalesce(manifest.fn_json_bigint(m.json -> 'hash'),
                             (m.pk ->> 'id')::bigint & 4294967295) AS class_hash,
                    manifest.fn_json_integer(m.json -> 'classType') AS class_type,
                    m.json -> 'displayProperties' ->> 'name' AS class_name,
                    (m.pk ->> 'id')::bigint & 4294967295 AS hash,
                    m.json -> 'displayProperties' ->> 'name' AS name,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyClassDefinition' AND m.deleted IS NULL
              ORDER BY class_type
             $view$,
             'hash',
             ARRAY[]::text[]),
            ('mv_historical_stats_definitions',
             $view$
             SELECT coalesce(m.json ->> 'statId', m.pk ->> 'key') AS stat_id,
                    m.json ->> 'statName' AS stat_name,
                    m.pk ->> 'key' AS key,
                    m.json ->> 'statDescription' AS stat_description,
                    manifest.fn_json_integer(m.json -> 'unitType') AS unit_type,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyHistoricalStatsDefinition' AND m.deleted IS NULL
              ORDER BY stat_id
             $view$,
             'key',
             ARRAY['CREATE INDEX ix_mv_historical_stats_definitions_stat_id
                        ON manifest.mv_historical_stats_definitions (stat_id)'])
    LOOP
        grants := ARRAY(
            SELECT format('GRANT %s ON manifest.%I TO %s', acl.privilege_type, view_name,
                          CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                               ELSE acl.grantee::regrole::text END)
              FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) acl
             WHERE c.oid = to_regclass(format('manifest.%I', view_name))
               AND acl.grantee <> c.relowner);
        BEGIN
            EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS manifest.%I', view_name);
        EXCEPTION
            WHEN dependent_objects_still_exist THEN
                RAISE NOTICE 'manifest.% has dependent objects; it keeps its columns', view_name;
                CONTINUE;
        END;
        EXECUTE format('CREATE MATERIALIZED VIEW manifest.%I AS %s', view_name, definition);
        EXECUTE format('CREATE UNIQUE INDEX %I ON manifest.%I (%I)',
                       'ux_' || view_name, view_name, unique_column);
        FOREACH statement IN ARRAY indexes LOOP
            EXECUTE statement;
        END LOOP;
        FOREACH statement IN ARRAY grants LOOP
            EXECUTE statement;
        END LOOP;
    END LOOP;
END
$$;

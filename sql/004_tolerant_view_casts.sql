-- manifest-gui schema, version 4: the materialized views read numbers without failing.
-- The views of version 1 cast JSON text straight to integer/bigint, so one odd value from
-- Bungie (a light level of 1.5, a classType given as "Titan", a hash beyond bigint) failed
-- every later load at the refresh. These functions give NULL for anything that is not a JSON
-- number holding a whole value in range, and the views are rebuilt on them with the same
-- columns and types, so existing queries keep working.

CREATE OR REPLACE FUNCTION manifest.fn_json_whole_number(value jsonb, lowest numeric,
                                                        highest numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    -- One test per statement: SQL does not promise to evaluate AND/OR operands in order.
    IF jsonb_typeof(value) <> 'number' THEN
        RETURN NULL;
    END IF;
    IF value::numeric <> trunc(value::numeric) THEN
        RETURN NULL;
    END IF;
    IF value::numeric NOT BETWEEN lowest AND highest THEN
        RETURN NULL;
    END IF;
    RETURN value::numeric;
END
$$;

CREATE OR REPLACE FUNCTION manifest.fn_json_integer(value jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN manifest.fn_json_whole_number(value, -2147483648, 2147483647)::integer;

CREATE OR REPLACE FUNCTION manifest.fn_json_bigint(value jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN manifest.fn_json_whole_number(value, -9223372036854775808, 9223372036854775807)::bigint;

-- Rebuild each view, keeping the privileges granted on it. A view that other objects depend
-- on (a DBA's own view, say) is left as it was, with a notice: dropping theirs is not ours.
DO $$
DECLARE
    view_name text;
    definition text;
    key_column text;
    grants text[];
    statement text;
BEGIN
    FOR view_name, definition, key_column IN
        VALUES
            ('mv_activity_definitions',
             $view$
             SELECT (m.pk ->> 'id')::bigint & 4294967295 AS hash,
                    m.json -> 'displayProperties' ->> 'name' AS name,
                    m.json -> 'displayProperties' ->> 'description' AS description,
                    manifest.fn_json_bigint(m.json -> 'activityTypeHash') AS activity_type_hash,
                    manifest.fn_json_integer(m.json -> 'activityLightLevel') AS light_level,
                    manifest.fn_json_bigint(m.json -> 'destinationHash') AS destination_hash,
                    manifest.fn_json_bigint(m.json -> 'placeHash') AS place_hash,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyActivityDefinition' AND m.deleted IS NULL
             $view$,
             'hash'),
            ('mv_class_definitions',
             $view$
             SELECT (m.pk ->> 'id')::bigint & 4294967295 AS hash,
                    manifest.fn_json_integer(m.json -> 'classType') AS class_type,
                    m.json -> 'displayProperties' ->> 'name' AS name,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyClassDefinition' AND m.deleted IS NULL
             $view$,
             'hash'),
            ('mv_historical_stats_definitions',
             $view$
             SELECT m.pk ->> 'key' AS stat_id,
                    m.json ->> 'statName' AS stat_name,
                    m.json ->> 'statDescription' AS stat_description,
                    manifest.fn_json_integer(m.json -> 'unitType') AS unit_type,
                    m.json
               FROM manifest.t_manifest m
              WHERE m.table_name = 'DestinyHistoricalStatsDefinition' AND m.deleted IS NULL
             $view$,
             'stat_id')
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
                RAISE NOTICE 'manifest.% has dependent objects; it keeps its strict casts',
                    view_name;
                CONTINUE;
        END;
        EXECUTE format('CREATE MATERIALIZED VIEW manifest.%I AS %s', view_name, definition);
        EXECUTE format('CREATE UNIQUE INDEX %I ON manifest.%I (%I)',
                       'ux_' || view_name, view_name, key_column);
        FOREACH statement IN ARRAY grants LOOP
            EXECUTE statement;
        END LOOP;
    END LOOP;
END
$$;

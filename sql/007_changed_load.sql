-- manifest-gui schema, version 7: loads do only the work they need.
-- Measured on a full-size manifest (~170,000 rows, ~390 MB of JSON) and its next version with
-- ~3% of rows changed.

-- Where the server has no LZ4 (the embedded one is built without it), the definitions' JSON is
-- stored uncompressed. pglz, the only other method, was about half of a first load's database
-- time (a COPY of the manifest took ~8.5 s with it, ~5 s without), and every read of a row
-- (the viewer, the views' refresh, which reads each activity's JSON once per column) paid for
-- decompressing it again. The cost is disk: ~540 MB for a full-size manifest instead of
-- ~245 MB. Rows already stored keep their compression until they are next written. Servers
-- with LZ4 keep it (sql/003): it is fast enough, and compresses as well as pglz.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_settings
                    WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE manifest.t_manifest ALTER COLUMN json SET STORAGE EXTERNAL;
    END IF;
END
$$;

-- A changed load reads every live row's digest, table by table. Through this index it reads
-- them from the index alone, in the order the rows lie in the table (entries with equal keys
-- are kept in heap order); through the viewer's indexes it read them in name order, one heap
-- page after another at random (~0.4 s, now ~0.1 s).
CREATE INDEX IF NOT EXISTS ix_manifest_live_digest
    ON manifest.t_manifest (table_name) INCLUDE (pk, json_digest)
    WHERE deleted IS NULL;

-- The stage is scratch space that lives for one load: its JSON is not worth compressing.
-- Out of line but uncompressed, a changed row is compressed once (into t_manifest) instead of
-- compressed into the stage, decompressed and compressed again; with pglz (servers built
-- without LZ4, like the embedded one) that was ~0.2 s of a changed load.
ALTER TABLE manifest.t_manifest_stage ALTER COLUMN json SET STORAGE EXTERNAL;

-- fn_load_manifest joins a few thousand staged rows to their live rows. Right after a first
-- load t_manifest has no statistics yet, and even with them the planner prices one pass over
-- every live row (a hash join) below a few thousand probes of the unique index; the pass took
-- ~0.5 s where the probes take ~0.05 s. Nested loops make each staged row find its live row
-- through the index, whatever the statistics say; a stage the size of the whole manifest
-- (every row changed) still loads, a little slower than with a hash join. The larger work_mem
-- keeps the changed rows' CTE in memory instead of a temporary file.
-- A load may now apply its stage in two parts (the views' tables first, so that their refresh
-- runs while the rest of the file is read): the counts it returns are the version's so far,
-- deletes included, so the last call gives the whole load's.
CREATE OR REPLACE FUNCTION manifest.fn_load_manifest(p_manifest_id integer)
RETURNS TABLE (inserts bigint, updates bigint, deletes bigint)
LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off
SET work_mem = '64MB'
AS $$
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
    SELECT count(*) INTO deletes FROM manifest.t_manifest m WHERE m.deleted_by = p_manifest_id;

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

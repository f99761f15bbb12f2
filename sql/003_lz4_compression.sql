-- manifest-gui schema, version 3: compress the stored JSON with LZ4 instead of pglz.
-- Most definitions are larger than the TOAST threshold (~2 kB), so every load compresses
-- hundreds of MB of JSON and every viewer page decompresses some. Measured on a full-size
-- manifest on PostgreSQL 15: a first load went from 12.5 s to 9.3 s. Rows already stored keep
-- their compression until they are next written. A server built without LZ4 support keeps pglz.
DO $$
BEGIN
    ALTER TABLE manifest.t_manifest ALTER COLUMN json SET COMPRESSION lz4;
    ALTER TABLE manifest.t_manifest_stage ALTER COLUMN json SET COMPRESSION lz4;
    ALTER TABLE manifest.t_manifest_history ALTER COLUMN json_before SET COMPRESSION lz4;
EXCEPTION
    WHEN feature_not_supported THEN
        RAISE NOTICE 'this PostgreSQL has no LZ4 support; the manifest JSON stays compressed with pglz';
END
$$;

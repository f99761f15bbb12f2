-- manifest-gui schema, version 6: what the release notes read.
-- Notes between two versions look up every key that a version in between created, changed or
-- removed, and need the row that was live at each end. Live rows have ux_manifest_live_pk;
-- a removed row had no index by key, so each lookup scanned the table (~170,000 rows). This
-- partial index holds removed rows only, so it stays small, and a load adds to it only the
-- rows it removes (that update writes new index entries anyway: deleted_by is indexed).
CREATE INDEX IF NOT EXISTS ix_manifest_removed_pk
    ON manifest.t_manifest (pk, table_name) WHERE deleted IS NOT NULL;

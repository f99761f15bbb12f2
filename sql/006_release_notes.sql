-- manifest-gui schema, version 6: what the release notes read.
-- Notes name the definitions that changed values point to (a perk swapped for another, a
-- socket's plug set), including definitions a release removed: those are looked up by key
-- among removed rows, which had no index by key, so each lookup scanned the table (~170,000
-- rows). This partial index holds removed rows only, so it stays small, and a load adds to it
-- only the rows it removes (an update that writes new index entries anyway: deleted_by is
-- indexed).
CREATE INDEX IF NOT EXISTS ix_manifest_removed_pk
    ON manifest.t_manifest (pk, table_name) WHERE deleted IS NOT NULL;

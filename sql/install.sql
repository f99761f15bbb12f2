-- Install or upgrade the manifest schema by hand, from the repository root:
--     psql -v ON_ERROR_STOP=1 -d DBNAME -f sql/install.sql
-- The app applies the same numbered files itself on first connection; both record what they
-- applied in manifest.t_schema_version, so either can follow the other.
\set ON_ERROR_STOP 1
CREATE SCHEMA IF NOT EXISTS manifest;
CREATE TABLE IF NOT EXISTS manifest.t_schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 1) AS apply_001 \gset
\if :apply_001
BEGIN;
\ir 001_schema.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (1, '001_schema.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 2) AS apply_002 \gset
\if :apply_002
BEGIN;
\ir 002_viewer.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (2, '002_viewer.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 3) AS apply_003 \gset
\if :apply_003
BEGIN;
\ir 003_lz4_compression.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (3, '003_lz4_compression.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 4) AS apply_004 \gset
\if :apply_004
BEGIN;
\ir 004_tolerant_view_casts.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (4, '004_tolerant_view_casts.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 5) AS apply_005 \gset
\if :apply_005
BEGIN;
\ir 005_seed_views.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (5, '005_seed_views.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 6) AS apply_006 \gset
\if :apply_006
BEGIN;
\ir 006_release_notes.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (6, '006_release_notes.sql');
COMMIT;
\endif

SELECT NOT EXISTS (SELECT 1 FROM manifest.t_schema_version WHERE version = 7) AS apply_007 \gset
\if :apply_007
BEGIN;
\ir 007_changed_load.sql
INSERT INTO manifest.t_schema_version (version, name) VALUES (7, '007_changed_load.sql');
COMMIT;
\endif

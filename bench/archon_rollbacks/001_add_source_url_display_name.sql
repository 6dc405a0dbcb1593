-- Rollback of Archon 0.1.0/001, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP INDEX IF EXISTS idx_archon_sources_display_name;
DROP INDEX IF EXISTS idx_archon_sources_url;
ALTER TABLE archon_sources
    DROP COLUMN IF EXISTS source_display_name,
    DROP COLUMN IF EXISTS source_url;

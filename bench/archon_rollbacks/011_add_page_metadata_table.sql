-- Rollback of Archon 0.1.0/011, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP INDEX IF EXISTS idx_archon_crawled_pages_page_id;
ALTER TABLE archon_crawled_pages DROP COLUMN IF EXISTS page_id;
DROP TABLE IF EXISTS archon_page_metadata;

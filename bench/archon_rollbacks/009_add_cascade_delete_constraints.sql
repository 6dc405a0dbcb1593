-- Rollback of Archon 0.1.0/009, written for the AP403 agreement measurement (bench/rollback_agreement.py).
-- The foreign keys of the legacy schema, without ON DELETE CASCADE.
ALTER TABLE archon_crawled_pages DROP CONSTRAINT IF EXISTS archon_crawled_pages_source_id_fkey;
ALTER TABLE archon_code_examples DROP CONSTRAINT IF EXISTS archon_code_examples_source_id_fkey;
ALTER TABLE archon_crawled_pages ADD CONSTRAINT archon_crawled_pages_source_id_fkey
    FOREIGN KEY (source_id) REFERENCES archon_sources (source_id);
ALTER TABLE archon_code_examples ADD CONSTRAINT archon_code_examples_source_id_fkey
    FOREIGN KEY (source_id) REFERENCES archon_sources (source_id);

-- A hurried rollback of Archon 0.1.0/009, for the AP403 agreement measurement (bench/rollback_agreement.py).
ALTER TABLE archon_crawled_pages DROP CONSTRAINT archon_crawled_pages_source_id_fkey;
ALTER TABLE archon_code_examples DROP CONSTRAINT archon_code_examples_source_id_fkey;

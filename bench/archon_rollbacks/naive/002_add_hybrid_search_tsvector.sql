-- A hurried rollback of Archon 0.1.0/002, for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP FUNCTION hybrid_search_archon_code_examples;
DROP FUNCTION hybrid_search_archon_code_examples_multi;
DROP FUNCTION hybrid_search_archon_crawled_pages;
DROP FUNCTION hybrid_search_archon_crawled_pages_multi;
ALTER TABLE archon_code_examples DROP COLUMN content_search_vector;
ALTER TABLE archon_crawled_pages DROP COLUMN content_search_vector;

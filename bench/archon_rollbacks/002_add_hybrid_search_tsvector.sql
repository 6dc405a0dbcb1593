-- Rollback of Archon 0.1.0/002, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP FUNCTION IF EXISTS hybrid_search_archon_code_examples(vector, text, int, jsonb, text);
DROP FUNCTION IF EXISTS hybrid_search_archon_code_examples_multi(vector, int, text, int, jsonb, text);
DROP FUNCTION IF EXISTS hybrid_search_archon_crawled_pages(vector, text, int, jsonb, text);
DROP FUNCTION IF EXISTS hybrid_search_archon_crawled_pages_multi(vector, int, text, int, jsonb, text);
-- The trigram indexes are on columns that stay: they are dropped one by one.
DROP INDEX IF EXISTS idx_archon_code_examples_summary_trgm;
DROP INDEX IF EXISTS idx_archon_code_examples_content_trgm;
DROP INDEX IF EXISTS idx_archon_crawled_pages_content_trgm;
-- Dropping the generated columns drops their GIN indexes.
ALTER TABLE archon_code_examples DROP COLUMN IF EXISTS content_search_vector;
ALTER TABLE archon_crawled_pages DROP COLUMN IF EXISTS content_search_vector;
DROP EXTENSION IF EXISTS pg_trgm;

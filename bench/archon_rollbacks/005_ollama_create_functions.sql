-- Rollback of Archon 0.1.0/005, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP FUNCTION IF EXISTS match_archon_code_examples_multi(vector, int, int, jsonb, text);
DROP FUNCTION IF EXISTS match_archon_crawled_pages_multi(vector, int, int, jsonb, text);
DROP FUNCTION IF EXISTS get_embedding_column_name(int);
DROP FUNCTION IF EXISTS detect_embedding_dimension(vector);
-- 005 replaced match_archon_crawled_pages and match_archon_code_examples: their legacy
-- definitions, read from the corpus's base/legacy_complete_setup.sql, are appended here when
-- the measurement builds its project.

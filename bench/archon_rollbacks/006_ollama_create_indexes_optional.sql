-- Rollback of Archon 0.1.0/006, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_1536;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_1536;
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_768;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_768;
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_384;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_384;
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_1024;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_1024;
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_model;
DROP INDEX IF EXISTS idx_archon_crawled_pages_embedding_dimension;
DROP INDEX IF EXISTS idx_archon_crawled_pages_llm_chat_model;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_model;
DROP INDEX IF EXISTS idx_archon_code_examples_embedding_dimension;
DROP INDEX IF EXISTS idx_archon_code_examples_llm_chat_model;

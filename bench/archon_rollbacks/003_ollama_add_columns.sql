-- Rollback of Archon 0.1.0/003, written for the AP403 agreement measurement (bench/rollback_agreement.py).
ALTER TABLE archon_crawled_pages
    DROP COLUMN IF EXISTS embedding_384,
    DROP COLUMN IF EXISTS embedding_768,
    DROP COLUMN IF EXISTS embedding_1024,
    DROP COLUMN IF EXISTS embedding_1536,
    DROP COLUMN IF EXISTS embedding_3072,
    DROP COLUMN IF EXISTS llm_chat_model,
    DROP COLUMN IF EXISTS embedding_model,
    DROP COLUMN IF EXISTS embedding_dimension;
ALTER TABLE archon_code_examples
    DROP COLUMN IF EXISTS embedding_384,
    DROP COLUMN IF EXISTS embedding_768,
    DROP COLUMN IF EXISTS embedding_1024,
    DROP COLUMN IF EXISTS embedding_1536,
    DROP COLUMN IF EXISTS embedding_3072,
    DROP COLUMN IF EXISTS llm_chat_model,
    DROP COLUMN IF EXISTS embedding_model,
    DROP COLUMN IF EXISTS embedding_dimension;

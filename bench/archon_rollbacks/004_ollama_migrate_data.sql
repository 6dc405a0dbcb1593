-- Rollback of Archon 0.1.0/004, written for the AP403 agreement measurement (bench/rollback_agreement.py).
-- 004 moved the 1536-dimension embeddings to embedding_1536 and dropped `embedding` (in a DO
-- block) with its index, which the legacy schema created without a name.
ALTER TABLE archon_crawled_pages ADD COLUMN IF NOT EXISTS embedding VECTOR(1536);
ALTER TABLE archon_code_examples ADD COLUMN IF NOT EXISTS embedding VECTOR(1536);
UPDATE archon_crawled_pages SET embedding = embedding_1536 WHERE embedding_1536 IS NOT NULL;
UPDATE archon_code_examples SET embedding = embedding_1536 WHERE embedding_1536 IS NOT NULL;
CREATE INDEX ON archon_crawled_pages USING ivfflat (embedding vector_cosine_ops);
CREATE INDEX ON archon_code_examples USING ivfflat (embedding vector_cosine_ops);

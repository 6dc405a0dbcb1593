-- Rollback of Archon 0.1.0/010, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DELETE FROM archon_settings
WHERE key IN ('OPENROUTER_API_KEY', 'ANTHROPIC_API_KEY', 'GROK_API_KEY') AND encrypted_value IS NULL;

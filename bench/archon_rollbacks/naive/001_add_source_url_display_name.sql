-- A hurried rollback of Archon 0.1.0/001, for the AP403 agreement measurement (bench/rollback_agreement.py).
ALTER TABLE archon_sources DROP COLUMN source_url, DROP COLUMN source_display_name;

-- Rollback of Archon 0.1.0/008, written for the AP403 agreement measurement (bench/rollback_agreement.py).
-- archon_migrations is archon-plan's own tracking table too: it stays; what 008 added to it goes.
DROP POLICY IF EXISTS "Allow authenticated users to read archon_migrations" ON archon_migrations;
DROP POLICY IF EXISTS "Allow service role full access to archon_migrations" ON archon_migrations;
ALTER TABLE archon_migrations DISABLE ROW LEVEL SECURITY;
DROP INDEX IF EXISTS idx_archon_migrations_applied_at;
DROP INDEX IF EXISTS idx_archon_migrations_version;

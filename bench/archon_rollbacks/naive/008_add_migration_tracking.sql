-- A hurried rollback of Archon 0.1.0/008, for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP POLICY "Allow authenticated users to read archon_migrations" ON archon_migrations;
DROP POLICY "Allow service role full access to archon_migrations" ON archon_migrations;

-- A hurried rollback of Archon 0.1.0/004, for the AP403 agreement measurement (bench/rollback_agreement.py).
-- (a data migration: nothing to undo)
SELECT 1;

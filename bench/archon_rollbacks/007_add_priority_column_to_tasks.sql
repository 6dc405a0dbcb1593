-- Rollback of Archon 0.1.0/007, written for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP INDEX IF EXISTS idx_archon_tasks_priority;
ALTER TABLE archon_tasks DROP COLUMN IF EXISTS priority;
DROP TYPE IF EXISTS task_priority;

-- A hurried rollback of Archon 0.1.0/007, for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP INDEX idx_archon_tasks_priority;

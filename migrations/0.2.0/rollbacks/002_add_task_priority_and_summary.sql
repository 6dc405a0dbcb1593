-- Roll back 0.2.0/002: drop the summary view, the due-date index, then the new task columns.
DROP VIEW IF EXISTS public.project_task_summary;
DROP INDEX IF EXISTS public.tasks_due_on_idx;
ALTER TABLE IF EXISTS public.tasks
    DROP COLUMN IF EXISTS due_on,
    DROP COLUMN IF EXISTS priority;

-- Roll back 0.1.0/002: drop the tasks table (with its index), then the task_status enum.
DROP INDEX IF EXISTS public.tasks_project_status_idx;
DROP TABLE IF EXISTS public.tasks;
DROP TYPE IF EXISTS public.task_status;

-- Roll back 0.1.0/003: drop the updated_at triggers, the columns, then the trigger function.
DROP TRIGGER IF EXISTS tasks_set_updated_at ON public.tasks;
DROP TRIGGER IF EXISTS projects_set_updated_at ON public.projects;

ALTER TABLE IF EXISTS public.tasks DROP COLUMN IF EXISTS updated_at;
ALTER TABLE IF EXISTS public.projects DROP COLUMN IF EXISTS updated_at;

DROP FUNCTION IF EXISTS public.set_updated_at();

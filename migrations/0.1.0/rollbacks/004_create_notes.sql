-- Roll back 0.1.0/004: drop the notes trigger, index and table.
DROP TRIGGER IF EXISTS notes_set_updated_at ON public.notes;
DROP INDEX IF EXISTS public.notes_task_id_idx;
DROP TABLE IF EXISTS public.notes;

-- Roll back 0.2.0/001: drop the task_labels join table, then labels (and its seed rows).
DROP INDEX IF EXISTS public.task_labels_label_id_idx;
DROP TABLE IF EXISTS public.task_labels;
DROP TABLE IF EXISTS public.labels;

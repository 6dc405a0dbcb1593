-- Add a priority and due date to tasks, and a per-project task summary view.
ALTER TABLE public.tasks
    ADD COLUMN priority smallint NOT NULL DEFAULT 3
        CONSTRAINT tasks_priority_range CHECK (priority BETWEEN 1 AND 5),
    ADD COLUMN due_on date;

CREATE INDEX tasks_due_on_idx ON public.tasks (due_on) WHERE status <> 'done';

CREATE VIEW public.project_task_summary AS
SELECT
    p.id                                                    AS project_id,
    p.slug,
    p.name,
    count(t.id)                                             AS total_tasks,
    count(t.id) FILTER (WHERE t.status = 'done')            AS done_tasks,
    count(t.id) FILTER (WHERE t.status <> 'done'
                          AND t.due_on < current_date)      AS overdue_tasks,
    count(DISTINCT tl.label_id)                             AS labels_in_use
FROM public.projects AS p
LEFT JOIN public.tasks AS t ON t.project_id = p.id
LEFT JOIN public.task_labels AS tl ON tl.task_id = t.id
WHERE NOT p.archived
GROUP BY p.id, p.slug, p.name;

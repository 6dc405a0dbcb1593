-- Create the task_status enum and the tasks table, each task belonging to a project.
CREATE TYPE public.task_status AS ENUM ('todo', 'in_progress', 'blocked', 'done');

CREATE TABLE public.tasks (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   uuid        NOT NULL
                             REFERENCES public.projects (id) ON DELETE CASCADE,
    title        text        NOT NULL,
    body         text,
    status       public.task_status NOT NULL DEFAULT 'todo',
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT tasks_title_not_blank CHECK (length(btrim(title)) > 0),
    CONSTRAINT tasks_completed_when_done
        CHECK ((status = 'done') = (completed_at IS NOT NULL))
);

CREATE INDEX tasks_project_status_idx ON public.tasks (project_id, status);

-- Create the notes table: knowledge-base articles in a project, optionally attached to a task.
CREATE TABLE public.notes (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id uuid        NOT NULL
                           REFERENCES public.projects (id) ON DELETE CASCADE,
    task_id    bigint      REFERENCES public.tasks (id) ON DELETE SET NULL,
    title      text        NOT NULL,
    content    text        NOT NULL DEFAULT '',
    pinned     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notes_project_title_key UNIQUE (project_id, title)
);

CREATE INDEX notes_task_id_idx ON public.notes (task_id) WHERE task_id IS NOT NULL;

CREATE TRIGGER notes_set_updated_at
    BEFORE UPDATE ON public.notes
    FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

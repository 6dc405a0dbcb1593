-- Add labels (seeded with a default set) and the task_labels join table.
CREATE TABLE public.labels (
    id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text    NOT NULL,
    color text    NOT NULL DEFAULT '#888888',
    CONSTRAINT labels_name_key UNIQUE (name),
    CONSTRAINT labels_color_hex CHECK (color ~ '^#[0-9a-fA-F]{6}$')
);

CREATE TABLE public.task_labels (
    task_id  bigint  NOT NULL REFERENCES public.tasks (id) ON DELETE CASCADE,
    label_id integer NOT NULL REFERENCES public.labels (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, label_id)
);

CREATE INDEX task_labels_label_id_idx ON public.task_labels (label_id);

INSERT INTO public.labels (name, color) VALUES
    ('bug',           '#d73a4a'),
    ('feature',       '#0e8a16'),
    ('documentation', '#0075ca'),
    ('question',      '#d876e3')
ON CONFLICT (name) DO NOTHING;

-- Roll back 0.1.0/001: drop the projects table.
DROP TABLE IF EXISTS public.projects;

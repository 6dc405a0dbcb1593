"""The read-only dashboard: the page `report` writes and `serve` serves, with its charts, and the
HTTP server. Starlette, uvicorn and Jinja2 are imported here and nowhere else."""

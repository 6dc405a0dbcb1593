"""Files on disk: the manifest and its schema, SQL files, the plan cache, the loader, create/init."""

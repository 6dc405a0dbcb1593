"""What the manifest accepts as names and text: identifiers, the tracking table's name, file
names and safe text. Only reading a manifest afresh needs them (a cached load does not)."""

from __future__ import annotations

import re

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # used with fullmatch
# The table's own name: every name archon-plan derives from it (`idx_<table>_applied_at`, the
# longest; `<table>_events`) must fit PostgreSQL's 63 bytes whole, or two would collide.
TABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")
# C0 and C1 controls other than tab and line breaks, and the bidirectional overrides and isolates.
UNSAFE_TEXT_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FILE_NAME_RULE = "NNN_snake_case_name.sql: exactly three digits, '_', lower-case letters, digits, '_'"
# Used with fullmatch: `$` would let a trailing newline through; ASCII digits only.
FILE_NAME_RE = re.compile(r"(?P<number>[0-9]{3})_(?P<slug>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql")

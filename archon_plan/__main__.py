"""`python -m archon_plan`."""

import sys

from .cli import entry

sys.exit(entry())

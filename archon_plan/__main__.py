"""`python -m archon_plan`."""

import sys

from .cli import main

sys.exit(main())

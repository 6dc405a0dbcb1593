"""The archon-plan benchmark: synthetic projects, baselines timed in the same run, ratios."""

"""Pure values and decisions: the model, the graph, planning, the resume protocol, releases, diffs. No I/O."""

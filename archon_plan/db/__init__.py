"""Everything that talks to PostgreSQL: connections, the tracking table and history, the lock, the runners, state, repair."""

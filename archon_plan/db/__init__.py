"""Everything that talks to PostgreSQL: connections, tracking, history, the lock, the runners, repair."""

"""Reading SQL, pure: statements and what stops them from running, what they create and drop, lint."""

"""Activities: every side effect of a tender (database projection, email)."""

"""Password hashing and link/session tokens."""

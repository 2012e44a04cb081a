"""Document downloads for logged-in users."""

"""The JSON API (``/api/v1``) with per-account keys, and their management page."""

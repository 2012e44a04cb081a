"""Stored documents: file storage, PDF checks and the cover note PDF."""

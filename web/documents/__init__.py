"""Documents: downloads for logged-in users, and removing a file before it went out."""

from web.documents.removal import removable, sent_document_ids

__all__ = ["removable", "sent_document_ids"]

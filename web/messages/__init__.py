"""Messaging (Nachrichten) and the audit timeline (Verlauf)."""

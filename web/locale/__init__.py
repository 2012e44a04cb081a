"""Gettext catalogues for the page templates (``<locale>/LC_MESSAGES/messages.po``) and their upkeep."""

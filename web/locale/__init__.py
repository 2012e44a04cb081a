"""Gettext catalogues (``<locale>/LC_MESSAGES/messages.po``) and ``keys.py``,
the message keys the extractor cannot see in a call."""

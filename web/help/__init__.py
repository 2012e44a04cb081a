"""Hilfe & Kontakt."""

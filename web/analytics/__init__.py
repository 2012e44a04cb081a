"""Auswertung: how each insurer answers the account's tenders (charts and tables)."""

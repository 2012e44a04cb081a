"""The dashboard ("Manuelle Anfragen"): the account's open requests in tabs."""

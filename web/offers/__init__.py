"""Offers: forms, release (Freigabe), comparison and binding (Abschluss)."""

"""The thin web layer: authenticates, validates, and turns clicks into workflow starts and updates."""

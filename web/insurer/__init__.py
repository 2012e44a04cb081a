"""The insurer's link pages, opened from the tender email."""

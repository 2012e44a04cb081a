"""Live updates over Server-Sent Events."""

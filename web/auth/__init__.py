"""Login, logout, password change and reset, language switch."""

"""Random tokens (insurer links, sessions, resets) and their stored hashes.

A token has 256 bits from ``secrets``; the database keeps only its SHA-256 (a
fast hash is right here: the input is random, not a password).
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

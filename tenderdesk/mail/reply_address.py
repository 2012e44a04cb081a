"""Per-tender reply addresses: an insurer's email answer finds its thread.

Every email to an insurer carries ``Reply-To: antwort+t<tender>.<sig>@<REPLY_DOMAIN>``.
``sig`` is an HMAC of the tender ID with the secret key, so the address can
be checked without storing it, cannot be made up for another tender, and
names nothing personal (the tender ID is a number). An address that does not
parse, has a wrong signature or names no tender is refused at RCPT time, so
the sender gets a bounce instead of a reply that silently vanishes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

LOCAL_PREFIX = "antwort+t"
_SIG_CHARS = 16
_ADDRESS = re.compile(rf"^{re.escape(LOCAL_PREFIX)}(\d{{1,10}})\.([a-z2-7]{{{_SIG_CHARS}}})@(.+)$", re.IGNORECASE)


def _signature(secret_key: str, tender_id: int) -> str:
    digest = hmac.new(secret_key.encode(), f"reply:{tender_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_SIG_CHARS]


def reply_address(secret_key: str, domain: str, tender_id: int) -> str:
    return f"{LOCAL_PREFIX}{tender_id}.{_signature(secret_key, tender_id)}@{domain}"


def tender_of(secret_key: str, domain: str, address: str) -> int | None:
    """The tender an address belongs to, or None if it is not one of ours or forged."""
    match = _ADDRESS.match(address.strip().strip("<>"))
    if not match or match.group(3).lower() != domain.lower():
        return None
    tender_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2).lower(), _signature(secret_key, tender_id)):
        return None
    return tender_id


__all__ = ["reply_address", "tender_of"]

"""The Message-ID scheme: derived from the System Email key, so a resend after a
lost acknowledgement is recognisable as the same message."""

from __future__ import annotations

from email.utils import parseaddr

FALLBACK_DOMAIN = "tenderdesk.local"


def mail_domain(mail_from: str) -> str:
    """The sender's domain (``MAIL_FROM``); a local fallback for a bare name."""
    _, at, domain = parseaddr(mail_from)[1].rpartition("@")
    return domain if at and domain else FALLBACK_DOMAIN


def message_id(key: str, mail_from: str) -> str:
    return f"<{key.replace(':', '.')}@{mail_domain(mail_from)}>"

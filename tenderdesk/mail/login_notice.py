"""The email that tells an account's owner that its logins are being slowed down.

Sent once per episode (the failure that starts the backoff), durably like every
other System Email. It names no address or password tried: only when, and
what the owner can do."""

from __future__ import annotations

from sqlmodel import Session

from tenderdesk.db.models import SystemEmail, User, utcnow
from tenderdesk.mail import outbox
from tenderdesk.mail.render import MailKind, render_email


def queue_login_notice(session: Session, *, user: User, failures: int, mail_from: str, base_url: str) -> SystemEmail:
    """The notice's System Email (flushed, not committed), one per user and quarter hour."""
    assert user.id is not None
    now = utcnow()
    bucket = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    locale = (user.locale or "").strip().lower()[:2]
    rendered = render_email(
        MailKind.LOGIN_THROTTLED,
        {"name": user.name, "failures": failures, "at": now, "link": f"{base_url.rstrip('/')}/passwort-vergessen",
         "subject": {}},
        locale=locale,
    )
    return outbox.record(
        session, key=f"{MailKind.LOGIN_THROTTLED.value}:{user.id}:{bucket:%Y%m%d%H%M}",
        kind=MailKind.LOGIN_THROTTLED.value, to_addr=user.email, subject=rendered.subject, body=rendered.text,
        mail_from=mail_from, request_id=None,
    )

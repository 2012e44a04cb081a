"""The "Passwort vergessen" email: queued by the web, its link minted by the email activity.

The web writes a ``PasswordReset`` row without a token (it counts towards the
throttle at once) and a System Email row whose stored body shows a
placeholder. Only when the activity sends the email does it mint the token,
store its hash on the reset row and put the link in the message, so the
token never enters the database in clear, a Temporal payload or a log. Each
attempt mints a new token; only the last one sent works. The link is valid
for :data:`RESET_MINUTES` from then on and works once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from tenderdesk.config import Settings
from tenderdesk.db.models import PasswordReset, SystemEmail, User, utcnow
from tenderdesk.mail import outbox
from tenderdesk.mail.render import MailKind, RenderedEmail, render_email
from tenderdesk.mail.tender import LINK_PLACEHOLDER
from tenderdesk.security.tokens import hash_token, new_token

RESET_MINUTES = 30
RESET_LIFETIME = timedelta(minutes=RESET_MINUTES)
RESET_PATH = "/passwort-zuruecksetzen"


def _render(user: User, link: str) -> RenderedEmail:
    context = {"name": user.name, "link": link, "minutes": RESET_MINUTES, "subject": {}}
    return render_email(MailKind.PASSWORD_RESET, context, locale=(user.locale or "").strip().lower()[:2])


def queue_password_reset(session: Session, *, user: User, mail_from: str) -> SystemEmail:
    """Write the reset row and its System Email (flushed, not committed); returns the email."""
    assert user.id is not None
    now = utcnow()
    session.exec(  # type: ignore[call-overload]
        delete(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id)
        .where(col(PasswordReset.expires_at) < now - timedelta(days=1))
    )
    # A new link voids every older one still open: only the newest email works.
    session.exec(  # type: ignore[call-overload]
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id)
        .where(col(PasswordReset.used_at).is_(None))
        .where(col(PasswordReset.expires_at) > now)
        .values(expires_at=now)
    )
    reset = PasswordReset(user_id=user.id, created_at=now, expires_at=now + RESET_LIFETIME)
    session.add(reset)
    session.flush()
    stored = _render(user, LINK_PLACEHOLDER)
    email = outbox.record(
        session, key=f"{MailKind.PASSWORD_RESET.value}:{reset.id}", kind=MailKind.PASSWORD_RESET.value,
        to_addr=user.email, subject=stored.subject, body=stored.text, mail_from=mail_from, request_id=None,
    )
    reset.system_email_id = email.id
    session.add(reset)
    return email


def mint_password_reset(session: Session, email: SystemEmail, settings: Settings) -> RenderedEmail:
    """A fresh token for the reset behind ``email``: its hash stored, the link in the result."""
    reset = session.exec(select(PasswordReset).where(PasswordReset.system_email_id == email.id)).one()
    user = session.get(User, reset.user_id)
    assert user is not None
    token = new_token()
    reset.token_hash = hash_token(token)
    if reset.expires_at is None or reset.expires_at > utcnow():
        # Counted from the sending (a retried send starts the clock again), unless a
        # newer request voided this one meanwhile: then its link is dead on arrival.
        reset.expires_at = utcnow() + RESET_LIFETIME
    session.add(reset)
    return _render(user, f"{settings.base_url.rstrip('/')}{RESET_PATH}/{token}")


__all__ = ["RESET_LIFETIME", "RESET_MINUTES", "RESET_PATH", "mint_password_reset", "queue_password_reset"]

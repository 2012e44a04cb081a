"""Server-side login sessions in the ``UserSession`` table.

The cookie holds a random 256-bit token; the table holds only its SHA-256, so
a leaked database backup cannot be replayed as a login. Logging out deletes
the row, which ends the session everywhere at once (a signed cookie could not
be revoked). Each session carries its own CSRF token for forms.

The cookie is HttpOnly (no script may read it), SameSite=Lax (no cross-site
POST carries it) and, when the app is served over https, Secure with the
``__Host-`` prefix, which also pins it to this host and path ``/``.

A session ends
- at ``expires_at`` (absolute: ``SESSION_MAX_AGE_S`` after login, however active),
- after ``IDLE_TIMEOUT`` without a request (a forgotten browser on a shared desk),
- on logout (this session), on "Passwort ändern" (every other session of the
  user) and on a password reset by email (every session of the user).

Resolving a session also tells :mod:`web.core.i18n` the user's language, so every
text of the request (flash messages, errors, labels) follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, delete, select
from starlette.requests import Request
from starlette.responses import Response

from tenderdesk.config import Settings
from tenderdesk.db.models import User, UserSession, utcnow
from tenderdesk.security.tokens import hash_token, new_token
from web.core import i18n

#: ``last_seen_at`` is written at most this often, so page views are not all writes.
TOUCH_INTERVAL = timedelta(minutes=5)
#: A session unused this long ends, even before its absolute expiry. Because of
#: ``TOUCH_INTERVAL`` the effective idle limit is up to five minutes longer.
IDLE_TIMEOUT = timedelta(hours=2)


@dataclass
class Login:
    """The logged-in user and the session row that proves it."""

    user: User
    session: UserSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def is_https(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def cookie_name(settings: Settings) -> str:
    return "__Host-td_session" if is_https(settings) else "td_session"


def start_session(db: Session, settings: Settings, user: User) -> tuple[str, UserSession]:
    """Create a session for ``user``; returns the cookie token and the row.

    Expired sessions of the same user are removed on the way, so the table
    does not grow with every login.
    """
    assert user.id is not None
    now = utcnow()
    db.exec(
        delete(UserSession)
        .where(col(UserSession.user_id) == user.id)
        .where(col(UserSession.expires_at) < now)
    )
    token = new_token()
    row = UserSession(
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_max_age_s),
    )
    db.add(row)
    db.commit()
    db.refresh(row)
    return token, row


def resolve_session(
    db: Session, token: str | None, *, idle_timeout: timedelta = IDLE_TIMEOUT
) -> Login | None:
    """The login for a cookie token, or ``None`` if unknown, expired (absolute or
    idle) or the user was deactivated. Expired rows are deleted when met."""
    if not token or len(token) > 200:
        return None
    row = db.exec(select(UserSession).where(UserSession.token_hash == hash_token(token))).first()
    if row is None:
        return None
    now = utcnow()
    expires_at = row.expires_at
    last_seen = row.last_seen_at
    if expires_at is None or expires_at <= now or last_seen is None or now - last_seen > idle_timeout:
        db.delete(row)
        db.commit()
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    i18n.use_locale(user.locale)
    if now - last_seen > TOUCH_INTERVAL:
        row.last_seen_at = now
        db.add(row)
        db.commit()
        db.refresh(row)
    return Login(user=user, session=row)


def session_token(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(cookie_name(settings))


def end_session(db: Session, row: UserSession) -> None:
    db.delete(row)
    db.commit()


def end_other_sessions(db: Session, user_id: int, keep_id: int | None) -> None:
    """Log the user out everywhere else (after a password change); with
    ``keep_id=None`` everywhere (after a password reset)."""
    stmt = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_id is not None:
        stmt = stmt.where(col(UserSession.id) != keep_id)
    db.exec(stmt)
    db.commit()


def end_all_sessions(db: Session, user_id: int) -> None:
    """Log the user out on every device: the password was reset by email, so
    any session may belong to whoever knew the old one."""
    end_other_sessions(db, user_id, keep_id=None)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        max_age=settings.session_max_age_s,
        path="/",
        httponly=True,
        secure=is_https(settings),
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings), path="/", httponly=True, secure=is_https(settings), samesite="lax"
    )

"""CSRF tokens for the three kinds of forms.

- Logged-in pages: the session's own random token (``UserSession.csrf_token``)
  in a hidden ``csrf_token`` field. A foreign site can make the browser send
  the cookie, but cannot read the token from our page.
- Insurer link pages have no session: their token is derived as
  HMAC(secret_key, link token hash), so it is stable per link, needs no
  storage, and cannot be computed without the server's secret.
- The login form has neither: a double-submit cookie (random value in a
  cookie and in the form) stops login CSRF, where a foreign site would log
  the victim into the attacker's account. The "Passwort vergessen" and
  "Passwort zurücksetzen" forms use the same kind of cookie, each scoped to
  its own path, so no cookie travels further than the form it protects.

All comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.responses import Response

from tenderdesk.config import Settings
from tenderdesk.security.tokens import new_token
from web.core.sessions import is_https

FIELD = "csrf_token"
LOGIN_COOKIE = "td_login_csrf"


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def link_csrf_token(settings: Settings, token_hash: str) -> str:
    return hmac.new(
        settings.secret_key.encode("utf-8"),
        f"tender-link-csrf:{token_hash}".encode(),
        hashlib.sha256,
    ).hexdigest()


def new_login_csrf() -> str:
    return new_token()


def set_login_csrf_cookie(response: Response, settings: Settings, value: str, *, path: str = "/login") -> None:
    """The double-submit cookie of an anonymous form whose POST goes to ``path``
    (or below it)."""
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=3600,
        path=path,
        httponly=True,
        secure=is_https(settings),
        samesite="strict",
    )


def clear_login_csrf_cookie(response: Response, settings: Settings, *, path: str = "/login") -> None:
    response.delete_cookie(
        LOGIN_COOKIE, path=path, httponly=True, secure=is_https(settings), samesite="strict"
    )

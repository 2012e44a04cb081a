"""Login, logout and "Passwort ändern".

A failed login reads and costs the same for unknown addresses and wrong
passwords (one Argon2 check either way); routes are plain ``def``, so the slow
hash never blocks the event loop."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import User, utcnow
from tenderdesk.mail.login_notice import queue_login_notice
from tenderdesk.mail.password_reset import RESET_PATH
from tenderdesk.security.common import is_common
from tenderdesk.security.passwords import hash_password, needs_rehash, verify_password
from web.auth.throttle import LoginThrottle, client_address
from web.core import csrf, i18n
from web.core.bridge import release_request_session
from web.core.deps import (
    CsrfLogin,
    CurrentLogin,
    OptionalLogin,
    PagesDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from web.core.errors import PageError
from web.core.flash import Flash, set_flash
from web.core.notifications import start_delivery
from web.core.sessions import (
    clear_session_cookie,
    end_other_sessions,
    end_session,
    set_session_cookie,
    start_session,
)
from web.core.temporal import TemporalConnector

log = logging.getLogger(__name__)

def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]

router = APIRouter(tags=["auth"])

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
FORGOT_PATH = "/passwort-vergessen"
#: Paths a redirect after login or a language switch must never lead to: they
#: carry a token, which would then travel in a query string.
_TOKEN_PATHS = ("/t/", RESET_PATH + "/")

TokenPath = Annotated[str, Path(min_length=1, max_length=200)]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser-not-a-password")


def safe_next(target: str | None) -> str:
    """Only local paths: ``//evil.example`` or ``/\\evil`` would leave the site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or target.startswith(_TOKEN_PATHS):
        return "/"
    return target


def _find_user(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()


# ------------------------------------------------------------------------ login
def _login_page(
    request: Request, pages: PagesDep, settings: SettingsDep, *, email: str = "",
    next_path: str = "/", error: str = "", status_code: int = 200,
) -> Response:
    token = csrf.new_login_csrf()
    response = pages.render(
        request,
        "auth/login.html",
        {
            "login_csrf": token,
            "email": email,
            "next_path": next_path,
            "error": error,
            "page_title": i18n.t("title.login"),
        },
        status_code=status_code,
    )
    csrf.set_login_csrf_cookie(response, settings, token)
    return response


@router.get("/login")
def login_form(
    request: Request, pages: PagesDep, settings: SettingsDep, login: OptionalLogin,
    next: str | None = None,
) -> Response:
    if login is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, pages, settings, next_path=safe_next(next))


def tell_owner_if_slowed(
    db: Session, throttle: LoginThrottle, settings: Settings, temporal: TemporalConnector,
    background: BackgroundTasks, *, user: User | None, email: str, address: str,
) -> None:
    """After a recorded failure: if it starts the backoff for this account, email
    its owner (durably, after the answer, so the page costs the same either way)."""
    if user is None or user.id is None or not user.is_active:
        return
    if not throttle.failure_starts_backoff(db, email=email, address=address):
        return
    notice = queue_login_notice(db, user=user, failures=throttle.pair_backoff.free, mail_from=settings.mail_from,
                                base_url=settings.base_url)
    db.commit()
    assert notice.id is not None
    background.add_task(start_delivery, temporal=temporal, settings=settings, system_email_id=notice.id,
                        kind=notice.kind)


@router.post("/login")
def login_submit(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    throttle: ThrottleDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    email = email.strip()
    next_path = safe_next(next)
    if not csrf.tokens_match(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
        return _login_page(
            request, pages, settings, email=email, next_path=next_path,
            error=i18n.t("login.cookie_missing"), status_code=403,
        )
    verdict = throttle.begin_login(db, email=email, address=client_address(request))
    if not verdict.allowed:
        return _login_page(
            request, pages, settings, email=email, next_path=next_path,
            error=i18n.t("login.throttled", wait=i18n.minutes_text(verdict.minutes)),
            status_code=429,
        )
    user = _find_user(db, email)
    # Argon2id takes a good part of a second under load: never with a database
    # connection held (50 logins at once would empty the pool for every page).
    release_request_session()
    if user is None:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    if not ok or user is None:
        # The attempt's row stays: it is the recorded failure.
        tell_owner_if_slowed(db, throttle, settings, temporal, background, user=user, email=email,
                             address=client_address(request))
        return _login_page(
            request, pages, settings, email=email, next_path=next_path,
            error=i18n.t("login.failed"), status_code=401,
        )
    throttle.login_succeeded(db, email=email)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.add(user)
        db.commit()
    token, _row = start_session(db, settings, user)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, settings, token)
    csrf.clear_login_csrf_cookie(response, settings)
    return response


@router.post("/logout")
def logout(login: CsrfLogin, db: SessionDep, settings: SettingsDep) -> Response:
    end_session(db, login.session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings)
    set_flash(response, settings, Flash("info", i18n.t("logout.done")))
    return response


# ------------------------------------------------------------- change password
def _new_password_errors(new_password: str, new_password_repeat: str) -> list[str]:
    errors: list[str] = []
    if len(new_password) < MIN_PASSWORD_LENGTH:
        errors.append(i18n.t("password.too_short", min=MIN_PASSWORD_LENGTH))
    elif is_common(new_password):
        errors.append(i18n.t("password.common"))
    if new_password != new_password_repeat:
        errors.append(i18n.t("password.mismatch"))
    return errors


@router.get("/password")
def password_form(request: Request, pages: PagesDep, login: CurrentLogin) -> Response:
    return pages.render(
        request, "auth/password.html",
        {"errors": [], "page_title": i18n.t("title.password"), "min_length": MIN_PASSWORD_LENGTH},
        login=login,
    )


@router.post("/password")
def password_submit(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    throttle: ThrottleDep,
    login: CsrfLogin,
    current_password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    new_password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    new_password_repeat: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
) -> Response:
    """Changing the password needs the current one and ends every other session,
    so whoever knew the old password is logged out everywhere. Wrong current
    passwords count as login failures: an open session must not become a way
    to guess the password without limit."""
    user = login.user
    errors: list[str] = []
    status_code = 422
    verdict = throttle.begin_login(db, email=user.email, address=client_address(request))
    release_request_session()  # no connection held while Argon2id works
    if not verdict.allowed:
        errors.append(i18n.t("login.throttled", wait=i18n.minutes_text(verdict.minutes)))
        status_code = 429
    elif not verify_password(user.password_hash, current_password):
        errors.append(i18n.t("password.current_wrong"))
    else:
        throttle.login_succeeded(db, email=user.email)
        errors = _new_password_errors(new_password, new_password_repeat)
        if new_password == current_password:
            errors.append(i18n.t("password.same"))
    if errors:
        return pages.render(
            request, "auth/password.html",
            {"errors": errors, "page_title": i18n.t("title.password"), "min_length": MIN_PASSWORD_LENGTH},
            login=login, status_code=status_code,
        )
    db_user = db.get(User, user.id)
    assert db_user is not None and db_user.id is not None
    db_user.password_hash = hash_password(new_password)
    db_user.password_changed_at = utcnow()
    db.add(db_user)
    db.commit()
    end_other_sessions(db, db_user.id, keep_id=login.session.id)
    response = RedirectResponse("/", status_code=303)
    set_flash(response, settings, Flash("success", i18n.t("password.changed")))
    return response


# ------------------------------------------------------------------- language
@router.post("/sprache")
def switch_language(
    db: SessionDep,
    login: CsrfLogin,
    locale: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The user menu's "Sprache: Deutsch / English": stored on the user, so it
    follows them to every device, then back to the page they were on."""
    if locale not in i18n.LOCALES:
        raise PageError(422, "language.unknown")
    user = db.get(User, login.user.id)
    assert user is not None
    user.locale = locale
    db.add(user)
    db.commit()
    i18n.use_locale(locale)
    return RedirectResponse(safe_next(next), status_code=303)

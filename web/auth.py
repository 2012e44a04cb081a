"""Login, logout and "Passwort ändern" for backoffice and broker users.

Passwords are checked with Argon2id (:mod:`tenderdesk.passwords`). A failed
login says the same for an unknown address and a wrong password, and an
unknown address still costs one Argon2 verification, so neither the text nor
the timing reveals which addresses exist. After five failures per address in
15 minutes further tries are refused for a while (:mod:`web.throttle`).

Routes are plain ``def``: FastAPI runs them in its thread pool, so the slow
hash never blocks the event loop.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Form
from sqlalchemy import func
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenderdesk.models import User, utcnow
from tenderdesk.passwords import hash_password, needs_rehash, verify_password
from web import csrf, i18n
from web.deps import (
    CsrfLogin,
    CurrentLogin,
    OptionalLogin,
    PagesDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
)
from web.flash import Flash, set_flash
from web.sessions import (
    clear_session_cookie,
    end_other_sessions,
    end_session,
    set_session_cookie,
    start_session,
)

router = APIRouter(tags=["auth"])

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser-not-a-password")


def safe_next(target: str | None) -> str:
    """Only local paths: ``//evil.example`` or ``/\\evil`` would leave the site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or target.startswith("/t/"):
        return "/"
    return target


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


@router.post("/login")
def login_submit(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    throttle: ThrottleDep,
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
    if throttle.retry_after_s(email) > 0:
        return _login_page(
            request, pages, settings, email=email, next_path=next_path,
            error=i18n.t("login.throttled", minutes=throttle.retry_after_minutes(email)),
            status_code=429,
        )
    user = db.exec(select(User).where(func.lower(User.email) == email.lower())).first()
    if user is None:
        verify_password(_dummy_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    if not ok or user is None:
        throttle.record_failure(email)
        return _login_page(
            request, pages, settings, email=email, next_path=next_path,
            error=i18n.t("login.failed"), status_code=401,
        )
    throttle.reset(email)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.add(user)
        db.commit()
    token, _row = start_session(db, settings, user)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, settings, token)
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(login: CsrfLogin, db: SessionDep, settings: SettingsDep) -> Response:
    end_session(db, login.session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings)
    set_flash(response, settings, Flash("info", i18n.t("logout.done")))
    return response


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
    so whoever knew the old password is logged out everywhere."""
    user = login.user
    errors: list[str] = []
    status_code = 422
    if throttle.retry_after_s(user.email) > 0:
        errors.append(i18n.t("login.throttled", minutes=throttle.retry_after_minutes(user.email)))
        status_code = 429
    elif not verify_password(user.password_hash, current_password):
        throttle.record_failure(user.email)
        errors.append(i18n.t("password.current_wrong"))
    else:
        if len(new_password) < MIN_PASSWORD_LENGTH:
            errors.append(i18n.t("password.too_short", min=MIN_PASSWORD_LENGTH))
        if new_password != new_password_repeat:
            errors.append(i18n.t("password.mismatch"))
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

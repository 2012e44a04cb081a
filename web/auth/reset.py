""""Passwort vergessen" and setting a new password from the emailed link.

The answer is the same whether or not the address has an account; the email is
delivered by a workflow and its link minted when it is sent (ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form
from sqlalchemy import update
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import PasswordReset, User, utcnow
from tenderdesk.mail.password_reset import RESET_MINUTES, RESET_PATH, queue_password_reset
from tenderdesk.security.passwords import hash_password
from tenderdesk.security.tokens import hash_token
from web.auth.routes import (
    FORGOT_PATH,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ThrottleDep,
    TokenPath,
    _find_user,
    _new_password_errors,
    log,
)
from web.auth.throttle import client_address
from web.core import csrf, i18n
from web.core.deps import (
    PagesDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from web.core.flash import Flash, set_flash
from web.core.notifications import start_delivery
from web.core.sessions import (
    clear_session_cookie,
    end_all_sessions,
)
from web.core.templating import Pages

router = APIRouter(tags=["auth"])


# ------------------------------------------------------------- forgot password
def _forgot_page(
    request: Request, pages: Pages, settings: Settings, *, email: str = "", error: str = "",
    status_code: int = 200,
) -> Response:
    token = csrf.new_login_csrf()
    response = pages.render(
        request,
        "auth/forgot.html",
        {"form_csrf": token, "email": email, "error": error, "page_title": i18n.t("title.forgot")},
        status_code=status_code,
    )
    csrf.set_login_csrf_cookie(response, settings, token, path=FORGOT_PATH)
    return response


@router.get(FORGOT_PATH)
def forgot_form(request: Request, pages: PagesDep, settings: SettingsDep) -> Response:
    return _forgot_page(request, pages, settings)


@router.post(FORGOT_PATH)
def forgot_submit(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    throttle: ThrottleDep,
    temporal: TemporalDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    email = email.strip()
    if not csrf.tokens_match(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
        return _forgot_page(
            request, pages, settings, email=email, error=i18n.t("login.cookie_missing"), status_code=403
        )
    if not email:
        return _forgot_page(request, pages, settings, error=i18n.t("forgot.email_missing"), status_code=422)
    verdict = throttle.begin_reset_request(db, email=email, address=client_address(request))
    if not verdict.allowed:
        return _forgot_page(
            request, pages, settings, email=email, status_code=429,
            error=i18n.t("forgot.throttled", wait=i18n.minutes_text(verdict.minutes)),
        )
    user = _find_user(db, email)
    if user is not None and user.is_active and user.id is not None:
        if throttle.reset_email_allowed(db, user_id=user.id):
            queued = queue_password_reset(db, user=user, mail_from=settings.mail_from)
            db.commit()
            assert queued.id is not None
            # After the answer: starting the workflow must not make this case slower to answer.
            background.add_task(
                start_delivery, temporal=temporal, settings=settings, system_email_id=queued.id, kind=queued.kind
            )
        else:
            log.info("password reset for user %s not sent again: limit reached", user.id)
    # The same answer in every case: nothing here says whether the account exists.
    response = RedirectResponse("/login", status_code=303)
    set_flash(
        response, settings,
        Flash("info", i18n.t("forgot.sent")), Flash("info", i18n.t("forgot.sent_hint", minutes=RESET_MINUTES)),
    )
    csrf.clear_login_csrf_cookie(response, settings, path=FORGOT_PATH)
    return response


# -------------------------------------------------------------- reset password
def _load_reset(db: Session, token: str) -> tuple[PasswordReset | None, User | None, str]:
    """The reset row and its user, or the i18n key saying what is wrong with the link."""
    row = db.exec(select(PasswordReset).where(PasswordReset.token_hash == hash_token(token))).first()
    if row is None:
        return None, None, "reset.unknown"
    if row.used_at is not None:
        return row, None, "reset.used"
    expires_at = row.expires_at
    if expires_at is None or expires_at <= utcnow():
        return row, None, "reset.expired"
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return row, None, "reset.unknown"
    return row, user, ""


def _reset_problem(request: Request, pages: Pages, key: str) -> Response:
    return pages.render(
        request,
        "auth/reset_invalid.html",
        {"message": i18n.t(key), "minutes": RESET_MINUTES, "page_title": i18n.t("title.reset")},
        status_code=404 if key == "reset.unknown" else 410,
    )


def _reset_page(
    request: Request, pages: Pages, settings: Settings, token: str, *, errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    form_csrf = csrf.new_login_csrf()
    response = pages.render(
        request,
        "auth/reset.html",
        {
            "form_csrf": form_csrf,
            "action": f"{RESET_PATH}/{token}",
            "errors": errors or [],
            "min_length": MIN_PASSWORD_LENGTH,
            "page_title": i18n.t("title.reset"),
        },
        status_code=status_code,
    )
    csrf.set_login_csrf_cookie(response, settings, form_csrf, path=RESET_PATH)
    return response


@router.get(RESET_PATH + "/{token}")
def reset_form(token: TokenPath, request: Request, pages: PagesDep, settings: SettingsDep, db: SessionDep) -> Response:
    _row, user, problem = _load_reset(db, token)
    if user is None:
        return _reset_problem(request, pages, problem)
    i18n.use_locale(user.locale)  # the page speaks the language of the email that led here
    return _reset_page(request, pages, settings, token)


@router.post(RESET_PATH + "/{token}")
def reset_submit(
    token: TokenPath,
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    throttle: ThrottleDep,
    new_password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    new_password_repeat: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    row, user, problem = _load_reset(db, token)
    if row is None or user is None or user.id is None:
        return _reset_problem(request, pages, problem)
    i18n.use_locale(user.locale)
    if not csrf.tokens_match(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
        return _reset_page(request, pages, settings, token, errors=[i18n.t("login.cookie_missing")], status_code=403)
    errors = _new_password_errors(new_password, new_password_repeat)
    if errors:
        return _reset_page(request, pages, settings, token, errors=errors, status_code=422)
    password_hash = hash_password(new_password)  # slow: before the transaction, not inside it
    now = utcnow()
    # Use the token up with a conditional update: of two simultaneous submits only one wins.
    claimed = db.exec(  # type: ignore[call-overload]
        update(PasswordReset)
        .where(col(PasswordReset.id) == row.id)
        .where(col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        db.rollback()
        return _reset_problem(request, pages, "reset.used")
    db.exec(  # type: ignore[call-overload]
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id)
        .where(col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    user.password_hash = password_hash
    user.password_changed_at = now
    db.add(user)
    db.commit()
    end_all_sessions(db, user.id)
    throttle.login_succeeded(db, email=user.email)
    log.info("password of user %s reset by email link", user.id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings)
    csrf.clear_login_csrf_cookie(response, settings, path=RESET_PATH)
    set_flash(response, settings, Flash("success", i18n.t("reset.done")))
    return response

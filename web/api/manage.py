"""„API-Schlüssel“ (``/api-schluessel``): the account's staff make and revoke keys.

A new key is shown once, on the page that answers the form (never in a
redirect, a cookie or a log), with the advice to store it now; afterwards
only its first characters name it. Revoking takes effect with the next call.
Staff (backoffice and admin alike: a key can do nothing a staff login cannot)
manage them; brokers see nothing.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from web.api.keys import SCOPES, account_keys, create_api_key, revoke_api_key
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import PagesDep, PathId, SessionDep, SettingsDep, StaffCsrfLogin, StaffLogin
from web.core.errors import PageError
from web.core.flash import Flash, set_flash
from web.core.sessions import Login

router = APIRouter(tags=["api-keys"])
MAX_NAME = 80


def _render(http: HttpRequest, pages: PagesDep, db: SessionDep, login: Login, *, secret: str | None = None,
            errors: list[str] | None = None, status_code: int = 200) -> Response:
    response = pages.render(http, "api/keys.html", {
        "keys": account_keys(db, login.user.account_id), "scopes": SCOPES, "secret": secret,
        "errors": errors or [], "nav": "api",
        "page_title": i18n.t("title.api_keys"),
    }, login=login, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/api-schluessel")
def keys_page(http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin) -> Response:
    return _render(http, pages, db, login)


@router.post("/api-schluessel")
def create_key(http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffCsrfLogin) -> Response:
    form = wait(http.form())
    name = str(form.get("name") or "").strip()
    scopes = [str(s) for s in form.getlist("scope") if str(s) in SCOPES]
    errors = []
    if not name or len(name) > MAX_NAME:
        errors.append(i18n.t("api.keys.name_invalid", max=MAX_NAME))
    if not scopes:
        errors.append(i18n.t("api.keys.scope_missing"))
    if errors:
        return _render(http, pages, db, login, errors=errors, status_code=422)
    _, secret = create_api_key(db, user=login.user, name=name, scopes=scopes)
    return _render(http, pages, db, login, secret=secret, status_code=201)


@router.post("/api-schluessel/{key_id}/widerrufen")
def revoke_key(key_id: PathId, db: SessionDep, settings: SettingsDep, login: StaffCsrfLogin) -> Response:
    if not revoke_api_key(db, account_id=login.user.account_id, key_id=key_id):
        raise PageError(404, "error.not_found")
    response = RedirectResponse("/api-schluessel", status_code=303)
    set_flash(response, settings, Flash("success", i18n.t("api.keys.revoked")))
    return response

"""Errors as German pages, never as stack traces.

Routes raise :class:`PageError` (a status and an i18n key) or
:class:`LoginRequired`; the handlers here turn them, and anything unexpected,
into a calm page. Unknown and foreign objects are both 404, so a user cannot
probe which IDs exist in other accounts.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from web.core import i18n
from web.core.logging import redact

log = logging.getLogger(__name__)


class PageError(Exception):
    def __init__(self, status_code: int, key: str) -> None:
        super().__init__(key)
        self.status_code = status_code
        self.key = key


class ActionRefused(i18n.Refusal):
    """A user's action did not happen: the workflow refused it, or Temporal could
    not be reached. ``str(err)`` is the reason for the page, ``status_code`` the
    answer's status. Routes that show the reason at a form catch this one type;
    anything uncaught becomes an error page with the reason (one handler)."""

    status_code = 409


class LoginRequired(Exception):
    """No valid session: send the browser to the login page and back afterwards."""


def not_found(key: str = "error.not_found") -> PageError:
    return PageError(404, key)


def forbidden() -> PageError:
    return PageError(403, "error.forbidden")


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = "/login"
    if request.method == "GET" and target not in ("/", "/login") and not target.startswith("/t/"):
        location += "?next=" + quote(target, safe="")
    return RedirectResponse(location, status_code=303)


#: Paths answered in JSON (the API), never with an HTML page.
JSON_PREFIX = "/api/"


def error_page(request: Request, status_code: int, message: str, errors: list[dict[str, object]] | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """The error as a page, or for the API as ``{"detail": message}`` (and the
    validation ``errors``), in the caller's language either way."""
    if request.url.path.startswith(JSON_PREFIX):
        body: dict[str, object] = {"detail": message}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status_code, headers=headers)
    pages = request.app.state.pages
    login = getattr(request.state, "login", None)
    return pages.render(
        request,
        "error.html",
        {"status_code": status_code, "message": message, "page_title": i18n.t("title.error")},
        login=login,
        status_code=status_code,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return error_page(request, exc.status_code, i18n.t(exc.key))

    @app.exception_handler(ActionRefused)
    async def _action_refused(request: Request, exc: ActionRefused) -> Response:
        return error_page(request, exc.status_code, str(exc))

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return _login_redirect(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {404: "error.not_found", 403: "error.forbidden", 405: "error.method", 401: "api.unauthorized",
               400: "api.bad_request"}.get(exc.status_code, "error.internal")
        return error_page(request, exc.status_code, i18n.t(key), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(JSON_PREFIX):
            # The API says which field is wrong; the input itself is not echoed.
            errors: list[dict[str, object]] = [
                {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
            return error_page(request, 422, i18n.t("api.invalid"), errors=errors)
        # Path or form values of the wrong shape: a hand-made URL, not a user mistake.
        return error_page(request, 404 if request.method == "GET" else 422, (
            i18n.t("error.not_found") if request.method == "GET" else i18n.t("error.action_id")
        ))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, redact(request.url.path))
        return error_page(request, 500, i18n.t("error.internal"))

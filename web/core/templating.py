"""Jinja2 for pages: autoescape always, German formatting filters, one render helper.

Every page goes through :meth:`Pages.render`, which adds what the layout
needs (user menu, CSRF token, pending flash messages, language switch),
sets the request's locale from the logged-in user and deletes the flash
cookie once shown. Formatting uses Babel with the page's locale.

Page texts are ``{{ _("Deutscher Text") }}`` (``jinja2.ext.i18n`` with
newstyle gettext): the callables read the request's locale when the page is
rendered (see :mod:`web.core.i18n`). Newstyle means placeholders are named,
``_("Seite %(n)s", n=3)``, the values are escaped, and a literal percent sign
is written ``%%``. A translation is trusted markup, so ``&`` is written
``&amp;`` in a msgid, as anywhere else in the HTML.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from tenderdesk import formats
from tenderdesk.config import ROOT, Settings
from web.core import flash, i18n
from web.core.bridge import release_request_session
from web.core.sessions import Login

TEMPLATES_DIR = ROOT / "templates"
_babel_locale = formats.babel_locale


def fmt_eur_input(cents: int | None) -> str:
    """An amount as the form field shows it again (``1.234,56``)."""
    if cents is None:
        return ""
    return format_decimal(
        Decimal(cents) / 100, format="#,##0.00", locale="de_DE"
    )


def fmt_filesize(size: int | None, locale: str = "de") -> str:
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{format_decimal(size / 1024, format='#,##0', locale=_babel_locale(locale))} KB"
    mb = format_decimal(size / (1024 * 1024), format="#,##0.0", locale=_babel_locale(locale))
    return f"{mb} MB"


def fmt_days(seconds: float) -> str:
    days = seconds / 86400
    return str(int(days)) if days == int(days) else format_decimal(days, locale="de_DE")


def breakable(text: str) -> Markup:
    """Escaped text that may wrap after a slash: "Einbruchdiebstahl/Vandalismus"
    is one word to the browser, which would otherwise break it mid-word."""
    return Markup("/<wbr>").join(escape(part) for part in str(text).split("/"))


def fmt_answer(value: Any) -> str:
    """Questionnaire answers are JSON: booleans and lists read as words."""
    if value is True:
        return i18n.t("answer.yes")
    if value is False:
        return i18n.t("answer.no")
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(fmt_answer(v) for v in value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_decimal(value, locale="de_DE")
    return str(value)


def _install_gettext(env: Environment) -> None:
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )


@lru_cache(maxsize=1)
def make_environment() -> Environment:
    """The process's one Jinja2 environment (nothing in it depends on settings),
    so compiled templates are shared by every app the process builds."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    _install_gettext(env)
    env.filters.update(
        breakable=breakable,
        weekday_dt=formats.weekday_moment,
        weekday_date=formats.weekday_day,
        dt=formats.moment,
        date=formats.day,
        eur=formats.money,
        percent=formats.percent,
        decimal=formats.decimal,
        eur_input=fmt_eur_input,
        filesize=fmt_filesize,
        days=fmt_days,
        answer=fmt_answer,
        status_label=i18n.tender_status_label,
        email_status=i18n.email_status_label,
        doc_kind=i18n.document_kind_label,
        party=i18n.party_label,
    )
    env.globals["t"] = i18n.t
    return env


def warm_templates() -> int:
    """Compile every page template now; returns how many.

    Jinja2 compiles a template on its first use and does not serialise cache
    misses, so the first burst after a start (50 insurers opening their links
    at once) compiled the same page 50 times over and stalled everything else.
    The app calls this once at startup, in a worker thread."""
    env = make_environment()
    names = [n for n in env.list_templates() if n.endswith(".html") and not n.startswith("email/")]
    for name in names:
        env.get_template(name)
    return len(names)


class Pages:
    """Renders page templates with the layout's common context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        i18n.load_translations()  # compile the catalogues now, not on the first page
        self.templates = Jinja2Templates(env=make_environment())

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        login: Login | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        if login is not None:
            i18n.use_locale(login.user.locale)
        locale = i18n.current_locale()
        ctx: dict[str, Any] = {
            "user": login.user if login else None,
            "csrf_token": login.csrf_token if login else "",
            "flashes": flash.pending(request, self.settings),
            "locale": locale,
            "locales": i18n.LOCALES,
            "current_path": _current_path(request),
            "nav": "",
            "page_title": "",
        }
        ctx.update(context or {})
        # Rendering is CPU work on rows already loaded: give the request's
        # database connection back first (a read-only transaction ends), so a
        # crowd of page loads does not hold the pool while it renders.
        release_request_session()
        response = self.templates.TemplateResponse(
            request, name, ctx, status_code=status_code, headers=headers
        )
        flash.clear(request, response, self.settings)
        return response


def _current_path(request: Request) -> str:
    """Where the language switch returns to: this page if it was a GET (a page
    answering a form POST may have no GET route), else the start page. The
    switch checks it again with ``web.auth.routes.safe_next``."""
    if request.method != "GET":
        return "/"
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path

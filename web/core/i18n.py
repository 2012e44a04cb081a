"""UI texts in German (first) and English (second), and which one a request uses.

Every text goes through gettext, with one catalogue per locale in
``web/locale/<locale>/LC_MESSAGES/messages.po``, compiled in memory when the
app starts (:func:`load_translations`): no ``.mo`` file, no build step.
Two kinds of msgid share the catalogues:
- Templates write ``{{ _("Deutscher Text") }}``: the msgid is the German text,
  so the German catalogue leaves it empty and anything untranslated shows German.
- Python code, and templates where a key reads better, write ``t("login.failed",
  wait=...)``: the msgid is a key, and both catalogues give its text (with
  ``str.format`` fields). Workflows and services hand the web such keys (codes)
  with parameters; the labels of statuses and kinds are keys too.
``pybabel extract``/``update`` keep the catalogues complete (README, "Texts and
languages"); keys the code builds at run time are listed in ``web/locale/keys.py``.

The language of a request is the logged-in user's ``User.locale`` ("de" if
nobody is logged in). :class:`LocaleMiddleware` gives every request a fresh
holder in a context variable; resolving the session fills it in
(:func:`use_locale`), and :func:`t`, the labels and the templates' gettext
read it. A mutable holder rather than the plain value, because FastAPI runs
sync dependencies and routes in worker threads, each in a *copy* of the
request's context: setting the variable there would not reach the route,
changing the shared holder does.
"""

from __future__ import annotations

import contextvars
import gettext as gettext_module
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.types import ASGIApp, Receive, Scope, Send

from tenderdesk.db.models import DocumentKind, EmailStatus, Party
from tenderdesk.states import TenderStatus, is_terminal

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "de"
#: Offered languages in menu order, each named in its own language.
LOCALES: dict[str, str] = {"de": "Deutsch", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"


def normalise_locale(locale: str | None) -> str:
    """A supported locale for a stored or submitted value; anything else is German."""
    value = (locale or "").strip().lower()[:2]
    return value if value in LOCALES else DEFAULT_LOCALE


# ---------------------------------------------------------------- request locale
class _LocaleHolder:
    """The locale of one request; shared by the thread-pool copies of its context."""

    __slots__ = ("locale",)

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = locale


_current: contextvars.ContextVar[_LocaleHolder] = contextvars.ContextVar("tenderdesk_locale")


def current_locale() -> str:
    holder = _current.get(None)
    return holder.locale if holder is not None else DEFAULT_LOCALE


def use_locale(locale: str | None) -> None:
    """Set the current request's locale (for the rest of the request)."""
    holder = _current.get(None)
    if holder is None:
        _current.set(_LocaleHolder(normalise_locale(locale)))
    else:
        holder.locale = normalise_locale(locale)


@contextmanager
def locale_scope(locale: str | None) -> Iterator[None]:
    """Texts in another locale for a moment (an email in the recipient's
    language) without changing the language of the page being answered."""
    token = _current.set(_LocaleHolder(normalise_locale(locale)))
    try:
        yield
    finally:
        _current.reset(token)


class LocaleMiddleware:
    """Gives each HTTP request its own locale holder, German until the session says otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(_LocaleHolder())
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


# ---------------------------------------------------------------- Python-side texts
def t(key: str, locale: str | None = None, **params: object) -> str:
    """The text for message key ``key`` in ``locale`` (default: the current
    request's), ``str.format``-ed with ``params``. English falls back to
    German, so a missing translation shows the original wording, not an error."""
    text = translations(locale).gettext(key)
    return text.format(**params) if params else text


def N_(key: str) -> str:  # noqa: N802 - the gettext name the extractor knows
    """Marks a key for ``pybabel extract`` where it is stored, not yet worded."""
    return key


class Refusal(Exception):
    """A refused action as a message key with parameters, so services need not
    know the reader's language: ``str(err)`` words it in the current locale.
    (A finished sentence passed as the key shows unchanged.)"""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def __str__(self) -> str:
        return t(self.key, None, **self.params)


def minutes_text(minutes: int, locale: str | None = None) -> str:
    """``1 Minute`` / ``15 Minuten`` (``1 minute`` / ``15 minutes``)."""
    return t("unit.minute", locale) if minutes == 1 else t("unit.minutes", locale, n=minutes)


def tender_status_label(status: TenderStatus, locale: str | None = None) -> str:
    return t(f"status.{status.value}", locale)


def email_status_label(status: EmailStatus, locale: str | None = None) -> str:
    return t(f"email_status.{status.value}", locale)


def document_kind_label(kind: DocumentKind, locale: str | None = None) -> str:
    return t(f"document_kind.{kind.value}", locale)


def party_label(party: Party, locale: str | None = None) -> str:
    return t(f"party.{party.value}", locale)


def why_ended(status: TenderStatus, locale: str | None = None) -> str:
    """Why a tender in a terminal status is over ("Die Gesellschaft hat abgesagt.")."""
    return t(f"why_ended.{status.value}", locale) if is_terminal(status) else ""


def refusal_text(code: str, params: Mapping[str, str] | None = None, locale: str | None = None) -> str:
    """A tender workflow's refusal (``TransitionError``: a code with status and
    action codes as parameters) as a sentence in the reader's language."""
    values = dict(params or {})
    if "status" in values:
        status = TenderStatus(values["status"])
        values["status"] = tender_status_label(status, locale)
        values["why"] = why_ended(status, locale)
    if "action" in values:
        values["action"] = t(f"workflow.action.{values['action']}", locale)
    return t(f"workflow.{code}", locale, **values)


def outcome_text(code: str, locale: str | None = None) -> str:
    """What a tender workflow's update did (``ActionResult.code``), as a sentence."""
    return t(f"workflow.done.{code}", locale)


# ---------------------------------------------------------------- template catalogues
def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogue(po_path: Path, locale: str) -> Translations:
    """Read a ``.po`` file and compile it in memory; fuzzy and empty entries are
    left out, so their German msgid shows."""
    with po_path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=1)
def load_translations() -> dict[str, gettext_module.NullTranslations]:
    """Every locale's compiled catalogue, once per process (at app start).
    German is the fallback of the others: it holds the texts of the message
    keys, and its template msgids are their own text."""
    german = _load(DEFAULT_LOCALE)
    loaded = {DEFAULT_LOCALE: german}
    for locale in LOCALES:
        if locale != DEFAULT_LOCALE:
            loaded[locale] = _load(locale)
            loaded[locale].add_fallback(german)
    return loaded


def _load(locale: str) -> gettext_module.NullTranslations:
    path = catalogue_path(locale)
    if path.exists():
        return compile_catalogue(path, locale)
    log.warning("no catalogue for locale %s at %s", locale, path)
    return gettext_module.NullTranslations()


def translations(locale: str | None = None) -> gettext_module.NullTranslations:
    catalogues = load_translations()
    return catalogues.get(locale or current_locale()) or catalogues[DEFAULT_LOCALE]


def gettext(message: str) -> str:
    """The template ``_()`` / ``gettext()``: the current request's translation."""
    return translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations().npgettext(context, singular, plural, n)

"""The one renderer of emails: ``templates/email/<kind>.txt`` (and ``.html`` if present).

HTML is always autoescaped (names, trades and notes are typed by people); text
is not. Texts go through gettext with the recipient's locale, so a template or
subject in ``_()`` follows the catalogue of that locale and falls back to the
German msgid. Subjects are ``str.format`` patterns filled from the context's
``subject`` mapping. Amounts and dates reach the templates as numbers and
datetimes and are formatted there by the ``money``, ``day`` and ``moment``
filters in the recipient's language (:mod:`tenderdesk.formats`).
"""

from __future__ import annotations

import contextvars
import gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tenderdesk import formats
from tenderdesk.config import ROOT

TEMPLATES_DIR = ROOT / "templates" / "email"
#: The catalogues the pages use too; msgids are the German texts.
CATALOGUE_DIR = ROOT / "web" / "locale"
DEFAULT_LOCALE = "de"


class MailKind(StrEnum):
    """Every email the system sends; the value names its template and ``SystemEmail.kind``."""

    TENDER = "tender"
    REMINDER = "reminder"
    NOT_SELECTED = "not_selected"
    COVER_ORDER = "cover_order"
    MESSAGE = "message"
    WITHDRAWN = "withdrawn"
    MESSAGE_BACKOFFICE = "message_backoffice"
    MESSAGE_BROKER = "message_broker"
    OFFERS_RELEASED = "offers_released"
    BOUND_BROKER = "bound_broker"
    PASSWORD_RESET = "password_reset"
    LOGIN_THROTTLED = "login_throttled"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a msgid for extraction; :func:`render_email` translates it."""
    return message


#: Subject per kind; a pair is (singular, plural), chosen by ``subject["n"]``.
SUBJECTS: dict[MailKind, str | tuple[str, str]] = {
    MailKind.TENDER: N_("Ausschreibung {number}: {product} – {trade}"),
    MailKind.REMINDER: N_("Erinnerung: Ausschreibung {number}: {product} – {trade}"),
    MailKind.NOT_SELECTED: N_("Ausschreibung {number}: nicht zum Zuge gekommen"),
    MailKind.COVER_ORDER: N_("Deckungsauftrag zur Ausschreibung {number}: {product}"),
    MailKind.WITHDRAWN: N_("Ausschreibung {number} zurückgezogen: {product} – {trade}"),
    MailKind.MESSAGE: N_("Neue Nachricht zur Ausschreibung {number}: {product}"),
    MailKind.MESSAGE_BACKOFFICE: N_("Neue Nachricht zur Anfrage {number} ({who})"),
    MailKind.MESSAGE_BROKER: N_("Neue Nachricht zu Ihrer Anfrage {number}: {product}"),
    MailKind.OFFERS_RELEASED: (
        N_("Neues Angebot zu Ihrer Anfrage {number}: {product}"),
        N_("Neue Angebote zu Ihrer Anfrage {number}: {product}"),
    ),
    MailKind.BOUND_BROKER: N_("Abschluss bestätigt: Anfrage {number} – {product}"),
    MailKind.PASSWORD_RESET: N_("Tenderdesk: Passwort zurücksetzen"),
    MailKind.LOGIN_THROTTLED: N_("Tenderdesk: fehlgeschlagene Anmeldeversuche"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None = None


# ------------------------------------------------------------------ locale
_locale: contextvars.ContextVar[str] = contextvars.ContextVar("tenderdesk_mail_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalogue of ``locale``, compiled in memory once; German needs none."""
    path = CATALOGUE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def _gettext(message: str) -> str:
    return translations(_locale.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, n)


@contextmanager
def _in_locale(locale: str) -> Iterator[None]:
    token = _locale.set(locale or DEFAULT_LOCALE)
    try:
        yield
    finally:
        _locale.reset(token)


# ------------------------------------------------------------- environment
@cache
def environment() -> Environment:
    """The one Jinja2 environment of all emails; its gettext reads the render's locale."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Amounts and dates in the recipient's language, as the pages show them.
    env.filters["money"] = lambda cents: formats.money(cents, _locale.get())
    env.filters["day"] = lambda at: formats.day(at, _locale.get())
    env.filters["moment"] = lambda at: formats.moment(at, _locale.get())
    return env


@cache
def _templates(kind: str, locale: str) -> tuple[str, str | None]:
    """Text and HTML template of ``kind``: the ones under ``<locale>/`` if that
    language has the text (``en/tender.txt``), else the German ones. HTML comes
    from the same folder only, so one email never mixes two languages."""
    folder = f"{locale}/" if locale != DEFAULT_LOCALE and (TEMPLATES_DIR / locale / f"{kind}.txt").is_file() else ""
    html = f"{folder}{kind}.html"
    return f"{folder}{kind}.txt", html if (TEMPLATES_DIR / html).is_file() else None


def subject_for(kind: MailKind | str, params: Mapping[str, Any], *, locale: str = DEFAULT_LOCALE) -> str:
    pattern = SUBJECTS[MailKind(kind)]
    with _in_locale(locale):
        if isinstance(pattern, tuple):
            text = _ngettext(*pattern, int(params["n"]))
        else:
            text = _gettext(pattern)
    return text.format_map(params)


def render_email(kind: MailKind | str, context: Mapping[str, Any], *, locale: str = DEFAULT_LOCALE) -> RenderedEmail:
    """Subject, text and (where a template exists) HTML of one email.

    ``context`` holds what the templates use plus ``subject``, the parameters of
    the subject pattern."""
    kind = MailKind(kind)
    env = environment()
    text_name, html_name = _templates(kind.value, locale)
    with _in_locale(locale):
        text = env.get_template(text_name).render(context)
        html = env.get_template(html_name).render(context) if html_name else None
    return RenderedEmail(subject=subject_for(kind, context.get("subject", {}), locale=locale), text=text, html=html)


__all__ = ["SUBJECTS", "MailKind", "RenderedEmail", "environment", "render_email", "subject_for", "translations"]

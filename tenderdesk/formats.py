"""Amounts and dates as people read them, in their language (Babel).

One place for the pages, the emails and the Deckungsnote, so an insurer's
cover order shows "1.234,56 €" exactly as the backoffice saw it on screen, and
an English reader gets "€1,234.56". Times are shown in Berlin time: a validity
that ends 23:59 Berlin stays that day wherever the server runs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

BERLIN = ZoneInfo("Europe/Berlin")
#: The Babel locale of each UI language; anything else reads German.
BABEL_LOCALES = {"de": "de_DE", "en": "en_GB"}
DASH = "—"


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get((locale or "de")[:2], "de_DE")


def money(cents: int | None, locale: str = "de") -> str:
    """``123456`` → ``"1.234,56 €"`` (de) or ``"€1,234.56"`` (en)."""
    if cents is None:
        return DASH
    return format_currency(Decimal(cents) / 100, "EUR", locale=babel_locale(locale))


def day(at: datetime | None, locale: str = "de") -> str:
    """A date in Berlin time: ``31.03.2030`` (de) or ``31/03/2030`` (en)."""
    if at is None:
        return DASH
    pattern = "dd.MM.yyyy" if babel_locale(locale) == "de_DE" else "dd/MM/yyyy"
    return format_date(at.astimezone(BERLIN).date(), pattern, locale=babel_locale(locale))


def moment(at: datetime | None, locale: str = "de") -> str:
    """A date and time in Berlin time: ``31.03.2030 09:00``."""
    if at is None:
        return DASH
    pattern = "dd.MM.yyyy HH:mm" if babel_locale(locale) == "de_DE" else "dd/MM/yyyy HH:mm"
    return format_datetime(at, pattern, tzinfo=BERLIN, locale=babel_locale(locale))


def _weekday(at: datetime, locale: str) -> str:
    return format_datetime(at, "EEE", tzinfo=BERLIN, locale=babel_locale(locale)).rstrip(".")


def weekday_moment(at: datetime | None, locale: str = "de") -> str:
    """When a reminder goes out, as the tender table shows it: ``Di 05.05. 09:00``."""
    if at is None:
        return DASH
    pattern = "dd.MM. HH:mm" if babel_locale(locale) == "de_DE" else "dd/MM HH:mm"
    return f"{_weekday(at, locale)} {format_datetime(at, pattern, tzinfo=BERLIN, locale=babel_locale(locale))}"


def weekday_day(at: datetime | None, locale: str = "de") -> str:
    """A deadline's day with its weekday: ``Fr 15.05.``."""
    if at is None:
        return DASH
    pattern = "dd.MM." if babel_locale(locale) == "de_DE" else "dd/MM"
    return f"{_weekday(at, locale)} {format_datetime(at, pattern, tzinfo=BERLIN, locale=babel_locale(locale))}"


__all__ = ["BABEL_LOCALES", "BERLIN", "babel_locale", "day", "money", "moment", "weekday_day", "weekday_moment"]


def percent(share: float | None, locale: str = "de") -> str:
    """``0.825`` → ``"83 %"`` (de) or ``"83%"`` (en); ``None`` → a dash."""
    if share is None:
        return DASH
    return format_percent(share, locale=babel_locale(locale))


def decimal(value: float | None, locale: str = "de", digits: int = 1) -> str:
    """``2.5`` → ``"2,5"`` (de) or ``"2.5"`` (en); ``None`` → a dash."""
    if value is None:
        return DASH
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0", locale=babel_locale(locale))

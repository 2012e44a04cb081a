"""Parsing of what people type into forms: German amounts and dates.

Insurers type premiums the German way ("1.234,56 €"), some paste "1234.56";
both must land as the same number of cents, and anything ambiguous must be
refused rather than guessed, because a wrong premium is worse than a retry.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from tenderdesk import formats

#: Dates in the UI are German calendar days; an offer is valid until the end
#: of its last day in Germany.
BERLIN = formats.BERLIN

#: Above this an amount is a typo (cents would also overflow nothing, but no
#: commercial premium or sum insured is a trillion euros).
MAX_EUR = Decimal("1000000000000")

#: What :func:`web.tenders.service.new_action_id` puts into a form's hidden ``action_id``;
#: anything else is a forged form.
ACTION_ID = re.compile(r"^[0-9a-f]{32}$")

_GROUPED = re.compile(r"^\d{1,3}(\.\d{3})+$")
_PLAIN_WITH_DOT = re.compile(r"^\d+\.\d{1,2}$")
_DIGITS = re.compile(r"^\d+$")
_DE_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class FormValueError(ValueError):
    """A value could not be read; ``key`` names the i18n message to show."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_eur_cents(raw: str) -> int:
    """Read a euro amount and return cents.

    Accepted: ``1.234,56``, ``1234,56``, ``1234``, ``1.234`` (thousands),
    ``1234.56`` (decimal point, at most two decimals), with optional ``€``/
    ``EUR`` and spaces. Refused: negative numbers, more than two decimals and
    mixed forms such as ``1,234.56``.
    """
    text = raw.strip().replace("\u00a0", " ")
    for unit in ("€", "EUR", "eur", "Euro"):
        text = text.replace(unit, "")
    text = text.replace(" ", "")
    if not text:
        raise FormValueError("empty")
    if "," in text:
        whole, _, frac = text.rpartition(",")
        if "," in whole or not re.fullmatch(r"\d{1,2}", frac):
            raise FormValueError("invalid")
        if "." in whole and not _GROUPED.match(whole):
            raise FormValueError("invalid")
        whole = whole.replace(".", "")
        if not _DIGITS.match(whole):
            raise FormValueError("invalid")
        number = f"{whole}.{frac}"
    elif _GROUPED.match(text):
        number = text.replace(".", "")
    elif _PLAIN_WITH_DOT.match(text) or _DIGITS.match(text):
        number = text
    else:
        raise FormValueError("invalid")
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise FormValueError("invalid") from None
    if value >= MAX_EUR:
        raise FormValueError("invalid")
    return int((value * 100).to_integral_value())


def parse_date(raw: str) -> date:
    """Read ``TT.MM.JJJJ`` (German) or ``JJJJ-MM-TT`` (what a date input sends)."""
    text = raw.strip()
    match = _DE_DATE.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    else:
        match = _ISO_DATE.match(text)
        if not match:
            raise FormValueError("invalid")
        year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise FormValueError("invalid") from None


def end_of_day_utc(day: date) -> datetime:
    """The last second of ``day`` in Germany, in UTC (every stored time is UTC)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=BERLIN).astimezone(UTC)


def today_berlin(now: datetime) -> date:
    return now.astimezone(BERLIN).date()


def new_action_id() -> str:
    """A fresh idempotency key for a form: it becomes the Temporal update ID, so a
    repeated submit of the same form gets the first answer and changes nothing."""
    return uuid.uuid4().hex


def date_input_value(raw: str) -> str:
    """A typed date as a date input shows it again (ISO); unreadable input stays as typed."""
    try:
        return parse_date(raw).isoformat()
    except FormValueError:
        return raw

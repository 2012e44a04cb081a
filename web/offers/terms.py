"""Structured offer terms as the offer forms read and show them.

Beside premium, sum insured and validity an offer carries what decides
between insurers: the Selbstbeteiligung (deductible), the Courtage
(commission), the sum insured per cover module and the main exclusions. The
forms keep these as plain fields that work without JavaScript: two amounts,
and two text areas with one entry per line (``Betriebshaftpflicht:
5.000.000`` for a module, one exclusion per line). Every offer form (the
insurer's link, the backoffice's "Angebot hinzufügen", the pencil) reads them
here, with the same German refusals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from tenderdesk.db.models import Offer
from web.core import i18n
from web.core.forms import FormValueError, parse_eur_cents

#: The form fields of the structured terms.
TERM_FIELDS = ("deductible", "commission", "modules", "exclusions")
MAX_MODULES = 20
MAX_EXCLUSIONS = 20
MAX_MODULE_NAME = 80
MAX_EXCLUSION_CHARS = 300
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:[.,]\d{1,2})?)\s*%?\s*$")


@dataclass
class StructuredTerms:
    deductible_cents: int | None = None
    commission_bp: int | None = None
    cover_modules: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)


def parse_commission_bp(raw: str) -> int:
    """``"12,5"``, ``"12.5 %"`` → ``1250`` basis points (0 to 100 %)."""
    match = _PERCENT.match(raw)
    if not match:
        raise FormValueError("invalid")
    try:
        value = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:
        raise FormValueError("invalid") from None
    if value > 100:
        raise FormValueError("invalid")
    return int((value * 100).to_integral_value())


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.replace("\r", "").split("\n") if line.strip()]


def read_terms(values: Mapping[str, str]) -> tuple[StructuredTerms, list[str]]:
    """The structured terms of an offer form, and every German reason they cannot be used."""
    terms, errors = StructuredTerms(), []
    raw = values.get("deductible", "").strip()
    if raw:
        try:
            terms.deductible_cents = parse_eur_cents(raw)
        except FormValueError:
            errors.append(i18n.t("offer.deductible_invalid"))
    raw = values.get("commission", "").strip()
    if raw:
        try:
            terms.commission_bp = parse_commission_bp(raw)
        except FormValueError:
            errors.append(i18n.t("offer.commission_invalid"))
    modules = _lines(values.get("modules", ""))
    if len(modules) > MAX_MODULES:
        errors.append(i18n.t("offer.modules_too_many", max=MAX_MODULES))
    seen: set[str] = set()
    for number, line in enumerate(modules[:MAX_MODULES], start=1):
        name, sep, amount = line.rpartition(":") if ":" in line else line.rpartition("=")
        name = name.strip()
        try:
            if not sep or not name or len(name) > MAX_MODULE_NAME or name.casefold() in seen:
                raise FormValueError("invalid")
            cents = parse_eur_cents(amount)
            if cents <= 0:
                raise FormValueError("invalid")
        except FormValueError:
            errors.append(i18n.t("offer.module_invalid", line=number, text=line[:60]))
            continue
        seen.add(name.casefold())
        terms.cover_modules.append({"name": name, "sum_insured_cents": cents})
    exclusions = _lines(values.get("exclusions", ""))
    if len(exclusions) > MAX_EXCLUSIONS:
        errors.append(i18n.t("offer.exclusions_too_many", max=MAX_EXCLUSIONS))
    if any(len(e) > MAX_EXCLUSION_CHARS for e in exclusions):
        errors.append(i18n.t("offer.exclusion_too_long", max=MAX_EXCLUSION_CHARS))
    terms.exclusions = exclusions[:MAX_EXCLUSIONS]
    return terms, errors


def _amount(cents: int | None) -> str:
    return "" if cents is None else format_decimal(Decimal(cents) / 100, format="#,##0.00", locale="de_DE")


def commission_text(bp: int | None, locale: str = "de") -> str:
    """``1250`` → ``"12,5"`` (de) / ``"12.5"`` (en); the form and the pages add the ``%``."""
    if bp is None:
        return ""
    return format_decimal(Decimal(bp) / 100, format="#,##0.##", locale="de_DE" if locale == "de" else "en_GB")


def terms_values(offer: Offer) -> dict[str, str]:
    """An offer's structured terms as its form shows them again."""
    return {
        "deductible": _amount(offer.deductible_cents),
        "commission": commission_text(offer.commission_bp),
        "modules": "\n".join(f"{m['name']}: {_amount(int(m['sum_insured_cents']))}" for m in offer.cover_modules),
        "exclusions": "\n".join(offer.exclusions),
    }


__all__ = [
    "MAX_EXCLUSIONS", "MAX_MODULES", "TERM_FIELDS", "StructuredTerms", "commission_text", "parse_commission_bp",
    "read_terms", "terms_values",
]

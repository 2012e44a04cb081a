"""The offer comparison that decides: the broker's offers row by row.

Every row is one term (premium, sum insured, each cover module, deductible,
Courtage, main exclusions, validity). Rows whose values differ between the
offers are marked, rows where all agree are dimmed, and in every row the best
value is marked: the lowest premium and deductible, the highest sums and
Courtage, the fewest exclusions, the longest validity. Expired offers are
shown but never "best" (they cannot be bound). An exclusion that not every
offer has is marked in the offer that has it: that is where offers differ.

The same rows make the PDF the broker gives the policyholder
(:func:`tenderdesk.documents.comparison.render_comparison_pdf`), without the
Courtage, which is the broker's business and not the policyholder's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter
from sqlmodel import Session
from starlette.responses import Response

from tenderdesk import formats
from tenderdesk.db.models import Policyholder, Product, utcnow
from tenderdesk.documents.comparison import ComparisonTable, TableRow, render_comparison_pdf
from web.core import i18n
from web.core.deps import CurrentLogin, PathId, SessionDep, VisibleRequest
from web.core.downloads import content_disposition
from web.core.errors import not_found
from web.offers.binding import OfferChoice, offer_choices
from web.offers.terms import commission_text


@dataclass
class Cell:
    text: str
    best: bool = False
    missing: bool = False
    #: For the exclusions: each entry and whether only some offers have it.
    items: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Row:
    key: str
    label: str
    cells: list[Cell]
    differs: bool
    #: Shown to the broker, left out of the policyholder's PDF.
    internal: bool = False


def _best(values: Sequence[float | None], choices: Sequence[OfferChoice], *, lowest: bool,
          missing_is_worst: bool = False) -> set[int]:
    """Indexes of the best value among offers that can still be bound; none if
    fewer than two take part or all agree. ``missing_is_worst``: an absent
    value (a cover module not included) takes part, as the worst."""
    worst = float("inf") if lowest else float("-inf")
    candidates = [(worst if v is None else v, i) for i, (v, c) in enumerate(zip(values, choices, strict=True))
                  if (v is not None or missing_is_worst) and not c.expired]
    if len(candidates) < 2 or len({v for v, _ in candidates}) < 2:
        return set()
    target = min(v for v, _ in candidates) if lowest else max(v for v, _ in candidates)
    return {i for v, i in candidates if v == target and v != worst}


def _row(key: str, label: str, choices: Sequence[OfferChoice], value: Callable[[OfferChoice], float | None],
         text: Callable[[float], str], *, lowest: bool, missing: str = "—", internal: bool = False,
         missing_is_worst: bool = False) -> Row:
    values = [value(c) for c in choices]
    best = _best(values, choices, lowest=lowest, missing_is_worst=missing_is_worst)
    cells = [Cell(text(v) if v is not None else missing, best=i in best, missing=v is None)
             for i, v in enumerate(values)]
    return Row(key, label, cells, differs=len(set(values)) > 1, internal=internal)


def _module_names(choices: Sequence[OfferChoice]) -> list[str]:
    names: dict[str, str] = {}
    for choice in choices:
        for module in choice.offer.cover_modules:
            names.setdefault(str(module["name"]).casefold(), str(module["name"]))
    return list(names.values())


def _module_sum(choice: OfferChoice, name: str) -> float | None:
    for module in choice.offer.cover_modules:
        if str(module["name"]).casefold() == name.casefold():
            return float(module["sum_insured_cents"])
    return None


def comparison_rows(choices: Sequence[OfferChoice], locale: str) -> list[Row]:
    """The rows of the comparison, in the order a broker reads them."""
    def money(v: float) -> str:
        return formats.money(int(v), locale)

    rows = [
        _row("premium", i18n.t("comparison.premium"), choices, lambda c: float(c.offer.premium_cents), money,
             lowest=True),
        _row("sum_insured", i18n.t("comparison.sum_insured"), choices,
             lambda c: None if c.offer.sum_insured_cents is None else float(c.offer.sum_insured_cents), money,
             lowest=False),
    ]
    not_included = i18n.t("comparison.not_included")
    for name in _module_names(choices):
        rows.append(_row(f"module:{name}", i18n.t("comparison.module", name=name), choices,
                         functools.partial(_module_sum, name=name), money, lowest=False, missing=not_included,
                         missing_is_worst=True))
    rows.append(_row("deductible", i18n.t("comparison.deductible"), choices,
                     lambda c: None if c.offer.deductible_cents is None else float(c.offer.deductible_cents), money,
                     lowest=True))
    rows.append(_row("commission", i18n.t("comparison.commission"), choices,
                     lambda c: None if c.offer.commission_bp is None else float(c.offer.commission_bp),
                     lambda v: f"{commission_text(int(v), locale)} %", lowest=False, internal=True))
    rows.append(_exclusions_row(choices))
    rows.append(_row("valid_until", i18n.t("comparison.valid_until"), choices,
                     lambda c: c.offer.valid_until.timestamp(),
                     lambda v: formats.day(datetime.fromtimestamp(v, formats.BERLIN), locale), lowest=False))
    return rows


def _exclusions_row(choices: Sequence[OfferChoice]) -> Row:
    """Fewest exclusions is best, if any offer names them; entries not in every offer are marked."""
    lists = [[e.strip() for e in c.offer.exclusions] for c in choices]
    named = any(lists)
    everywhere = set.intersection(*({e.casefold() for e in items} for items in lists)) if lists else set()
    best = _best([float(len(items)) if named else None for items in lists], choices, lowest=True)
    cells = []
    for i, items in enumerate(lists):
        cells.append(Cell(
            "; ".join(items) if items else i18n.t("comparison.no_exclusions"),
            best=i in best, missing=not items,
            items=[(e, e.casefold() not in everywhere) for e in items],
        ))
    differs = len({frozenset(e.casefold() for e in items) for items in lists}) > 1
    return Row("exclusions", i18n.t("comparison.exclusions"), cells, differs=differs)


def comparison_table(choices: Sequence[OfferChoice], rows: Sequence[Row], *, title: str, subtitle: str,
                     note: str, footer: str) -> ComparisonTable:
    """What the PDF draws: the policyholder's rows only (no Courtage)."""
    return ComparisonTable(
        title=title, subtitle=subtitle, note=note, footer=footer,
        headers=[c.insurer.name for c in choices],
        rows=[TableRow(r.label, [cell.text for cell in r.cells], [cell.best for cell in r.cells], r.differs)
              for r in rows if not r.internal],
    )




# ------------------------------------------------------------------ the PDF

router = APIRouter(tags=["offers"])


def comparable_choices(db: Session, request_id: int) -> list[OfferChoice]:
    """The offers the broker may compare (released where the account releases),
    as his page orders them: the bound one first, then valid offers, cheapest first."""
    return sorted(offer_choices(db, request_id), key=lambda c: (not c.bound, c.expired, c.offer.premium_cents))


@router.get("/requests/{request_id}/angebote/vergleich.pdf")
def comparison_pdf(request_id: PathId, request: VisibleRequest, db: SessionDep, login: CurrentLogin) -> Response:
    """The comparison for the policyholder: the broker's offers that can still be
    bound (or the bound one), without the Courtage, in the reader's language."""
    assert request.id is not None
    choices = [c for c in comparable_choices(db, request.id) if c.bound or not c.expired]
    if not choices:
        raise not_found("comparison.none")
    locale = i18n.current_locale()
    product = db.get(Product, request.product_id)
    holder = db.get(Policyholder, request.policyholder_id)
    now = utcnow()
    table = comparison_table(
        choices, comparison_rows(choices, locale),
        title=i18n.t("comparison.pdf_title"),
        subtitle=i18n.t("comparison.pdf_subtitle", number=request.number, product=product.name if product else "",
                        holder=holder.name if holder else "", date=formats.day(now, locale)),
        note=i18n.t("comparison.pdf_note"),
        footer=i18n.t("comparison.pdf_footer", number=request.number),
    )
    data = render_comparison_pdf(table, created=now)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(f"Angebotsvergleich-{request.number}.pdf"),
        "Cache-Control": "private, no-store"})


__all__ = ["Cell", "Row", "comparable_choices", "comparison_pdf", "comparison_rows", "comparison_table", "router"]

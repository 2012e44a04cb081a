"""Auswertung (``/auswertung``): per insurer and product, how the account's
tenders were answered, with four charts and the tables behind them.

Backoffice only (a broker sees no insurer's record); every figure is of the
logged-in user's account. The filters are a plain GET form (period, product),
so a view can be bookmarked and works without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.analytics import InsurerFigures, by_insurer, insurer_figures
from tenderdesk.db.models import Insurer, Product, utcnow
from web.analytics.charts import METRICS, render_chart
from web.core import i18n
from web.core.deps import PagesDep, SessionDep, StaffLogin
from web.core.errors import PageError

router = APIRouter(tags=["analytics"])

#: Periods of the filter: query value → days back (``None``: everything).
PERIODS: dict[str, int | None] = {"90": 90, "365": 365, "alle": None}
DEFAULT_PERIOD = "365"
#: The chart image may use pygal's inline style; it runs no script and loads nothing.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

Period = Annotated[str, Query(alias="zeitraum", pattern="^(90|365|alle)$")]
ProductFilter = Annotated[int | None, Query(alias="produkt", ge=1, le=2**31 - 1)]


@dataclass
class Scope:
    period: str
    product: Product | None


def _scope(db: Session, period: str, product_id: int | None) -> Scope:
    product = db.get(Product, product_id) if product_id else None
    if product_id and product is None:
        raise PageError(404, "error.not_found")
    return Scope(period, product)


def _ranked(db: Session, account_id: int, scope: Scope) -> tuple[list[tuple[str, InsurerFigures]],
                                                                   list[tuple[str, str, InsurerFigures]]]:
    days = PERIODS[scope.period]
    since = utcnow() - timedelta(days=days) if days else None
    figures = insurer_figures(db, account_id, product_id=scope.product.id if scope.product else None, since=since)
    names = {i.id: i.name for i in db.exec(select(Insurer)).all()}
    products = {p.id: p.name for p in db.exec(select(Product)).all()}
    overall = sorted(by_insurer(figures.values()).values(), key=lambda f: (-f.score, names.get(f.insurer_id, "")))
    detail = sorted(figures.values(), key=lambda f: (names.get(f.insurer_id, ""), products.get(f.product_id, "")))
    return ([(names.get(f.insurer_id, "?"), f) for f in overall],
            [(names.get(f.insurer_id, "?"), products.get(f.product_id, "?"), f) for f in detail])


@router.get("/auswertung")
def analytics_page(
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin,
    period: Period = DEFAULT_PERIOD, product_id: ProductFilter = None,
) -> Response:
    scope = _scope(db, period, product_id)
    overall, detail = _ranked(db, login.user.account_id, scope)
    query = f"zeitraum={scope.period}" + (f"&produkt={scope.product.id}" if scope.product else "")
    return pages.render(http, "analytics/insurers.html", {
        "overall": overall,
        "detail": detail,
        "period": scope.period,
        "periods": list(PERIODS),
        "product": scope.product,
        "products": db.exec(select(Product).order_by(col(Product.name))).all(),
        "charts": list(METRICS),
        "query": query,
        "nav": "analytics",
        "page_title": i18n.t("title.analytics"),
    }, login=login)


@router.get("/auswertung/diagramm/{metric}.svg")
def analytics_chart(
    db: SessionDep, login: StaffLogin, metric: Annotated[str, Path(pattern="^[a-z]{1,30}$")],
    period: Period = DEFAULT_PERIOD, product_id: ProductFilter = None,
) -> Response:
    chosen = METRICS.get(metric)
    if chosen is None:
        raise PageError(404, "error.not_found")
    overall, _ = _ranked(db, login.user.account_id, _scope(db, period, product_id))
    svg = render_chart(chosen, i18n.t(chosen.title_key), overall, i18n.current_locale(),
                       i18n.t("analytics.no_data"))
    return Response(svg, media_type="image/svg+xml", headers={
        "Content-Security-Policy": CHART_CSP, "Cache-Control": "private, max-age=60"})

"""Dashboard "Manuelle Anfragen": the account's open requests, sortable and paged.

Reads only the database (the projection of the tender workflows), so it works
while Temporal or the worker is down. Sorting and paging happen in SQL, the
request's status too: it is derived from its tenders as the most advanced
tender status (an offer beats "in progress" beats "sent" ...), so a request
with one offer among five tenders reads "Angebot erhalten".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy import ColumnElement, and_, case, exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.models import Binding, Broker, Product, Request, RequestStatus, Role, Tender, User
from tenderdesk.states import OPEN, TenderStatus
from web import i18n
from web.deps import CurrentLogin, PagesDep, SessionDep

router = APIRouter(tags=["dashboard"])

PAGE_SIZE = 50
S = TenderStatus

#: How far a tender got; the request shows its most advanced tender.
PROGRESS: dict[TenderStatus, int] = {
    S.OFFERED: 9,
    S.OFFER_EXPIRED: 8,
    S.IN_PROGRESS: 7,
    S.SENT: 6,
    S.QUEUED: 5,
    S.DECLINED: 4,
    S.EXPIRED: 3,
    S.WITHDRAWN: 2,
    S.CLOSED: 1,
}
STATUS_BY_PROGRESS = {rank: status for status, rank in PROGRESS.items()}

TABS = ("alle", "vermittleraktion")
#: Sortable columns in display order; labels are ``column.<key>`` in :mod:`web.i18n`.
COLUMNS = ("id", "vermittler", "bearbeiter", "produkt", "gewerbe", "status", "datum")
DEFAULT_SORT = ("datum", "desc")

Assignee = aliased(User)


@dataclass
class DashboardRow:
    id: int
    number: str
    broker_name: str
    broker_company: str
    assignee_name: str | None
    product_name: str
    trade: str
    status: TenderStatus | None
    tender_count: int
    created_at: datetime
    self_handled: bool


@dataclass
class DashboardPage:
    rows: list[DashboardRow]
    total: int
    page: int
    pages: int
    tab: str
    sort: str
    direction: str


def _progress_expr() -> Any:
    rank = case(*[(col(Tender.status) == status, value) for status, value in PROGRESS.items()],
                else_=0)
    subquery = (
        select(func.max(rank))
        .where(col(Tender.request_id) == col(Request.id))
        .correlate(Request)
        .scalar_subquery()
    )
    return func.coalesce(subquery, 0)


def _tender_count_expr() -> Any:
    return (
        select(func.count(col(Tender.id)))
        .where(col(Tender.request_id) == col(Request.id))
        .correlate(Request)
        .scalar_subquery()
    )


def _filters(user: User, tab: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Request.account_id) == user.account_id,
        col(Request.status) == RequestStatus.OPEN,
    ]
    if user.role == Role.BROKER:
        # A broker without a broker record sees nothing rather than everything.
        conditions.append(col(Request.broker_id) == (user.broker_id or -1))
    if tab == "vermittleraktion":
        # "Offene Anfragen ohne offene Ausschreibungen mit mind. einem Angebot
        # und ohne bisherigen Abschluss" (the guide's definition).
        open_tender = exists().where(
            and_(col(Tender.request_id) == col(Request.id), col(Tender.status).in_(list(OPEN)))
        )
        offered = exists().where(
            and_(
                col(Tender.request_id) == col(Request.id),
                or_(col(Tender.status) == S.OFFERED, col(Tender.status) == S.OFFER_EXPIRED),
            )
        )
        bound = exists().where(col(Binding.request_id) == col(Request.id))
        conditions += [~open_tender, offered, ~bound]
    return conditions


def _order_by(sort: str, direction: str, progress: Any) -> list[Any]:
    desc = direction == "desc"
    if sort == "bearbeiter":
        # Unassigned first when ascending (the guide's tip to find untouched
        # requests), explicitly, because PostgreSQL sorts NULLs last.
        assigned = case((col(Request.assignee_id).is_(None), 0), else_=1)
        name = func.lower(col(Assignee.name))
        keys = [assigned.desc(), name.desc()] if desc else [assigned.asc(), name.asc()]
    else:
        column = {
            "id": col(Request.number),
            "vermittler": func.lower(col(Broker.name)),
            "produkt": func.lower(col(Product.name)),
            "gewerbe": func.lower(col(Request.trade)),
            "status": progress,
            "datum": col(Request.created_at),
        }[sort]
        keys = [column.desc() if desc else column.asc()]
    keys.append(col(Request.id).desc() if desc else col(Request.id).asc())
    return keys


def load_dashboard(
    db: Session, user: User, *, tab: str, sort: str, direction: str, page: int
) -> DashboardPage:
    tab = tab if tab in TABS else "alle"
    if sort not in COLUMNS:
        sort, direction = DEFAULT_SORT
    direction = "desc" if direction == "desc" else "asc"
    conditions = _filters(user, tab)
    total = db.exec(select(func.count()).select_from(Request).where(*conditions)).one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    progress = _progress_expr()
    statement = (
        # Six columns: more than sqlmodel's typed ``select`` overloads cover.
        sa_select(Request, Broker, Product, col(Assignee.name), progress, _tender_count_expr())
        .join(Broker, col(Broker.id) == col(Request.broker_id))
        .join(Product, col(Product.id) == col(Request.product_id))
        .outerjoin(Assignee, col(Assignee.id) == col(Request.assignee_id))
        .where(*conditions)
        .order_by(*_order_by(sort, direction, progress))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    result = db.exec(statement)  # type: ignore[call-overload]  # untyped 6-column select
    rows = [
        DashboardRow(
            id=request.id,  # type: ignore[arg-type]
            number=request.number,
            broker_name=broker.name,
            broker_company=broker.company,
            assignee_name=assignee_name,
            product_name=product.name,
            trade=request.trade,
            status=STATUS_BY_PROGRESS.get(int(rank or 0)),
            tender_count=int(count or 0),
            created_at=request.created_at,
            self_handled=request.self_handled,
        )
        for request, broker, product, assignee_name, rank, count in result.all()
    ]
    return DashboardPage(
        rows=rows, total=total, page=page, pages=pages, tab=tab, sort=sort, direction=direction
    )


def dashboard_url(tab: str, sort: str, direction: str, page: int = 1) -> str:
    params = {"tab": tab, "sort": sort, "dir": direction}
    if page > 1:
        params["page"] = str(page)
    return "/?" + urlencode(params)


def sort_links(view: DashboardPage) -> dict[str, str]:
    """Per column: the link that sorts by it (ascending first, then toggles)."""
    links = {}
    for key in COLUMNS:
        if key == view.sort:
            direction = "desc" if view.direction == "asc" else "asc"
        else:
            direction = "asc"
        links[key] = dashboard_url(view.tab, key, direction)
    return links


@router.get("/")
def dashboard(
    request: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    login: CurrentLogin,
    tab: str = "alle",
    sort: str = DEFAULT_SORT[0],
    dir: str = DEFAULT_SORT[1],
    page: int = 1,
) -> Response:
    view = load_dashboard(db, login.user, tab=tab, sort=sort, direction=dir, page=page)
    return pages.render(
        request,
        "requests/dashboard.html",
        {
            "view": view,
            "tabs": {key: i18n.t(f"tab.{key}") for key in TABS},
            "columns": [(key, i18n.t(f"column.{key}")) for key in COLUMNS],
            "sort_links": sort_links(view),
            "tab_links": {key: dashboard_url(key, view.sort, view.direction) for key in TABS},
            "prev_url": dashboard_url(view.tab, view.sort, view.direction, view.page - 1)
            if view.page > 1 else None,
            "next_url": dashboard_url(view.tab, view.sort, view.direction, view.page + 1)
            if view.page < view.pages else None,
            "nav": "requests",
            "page_title": i18n.t("title.dashboard"),
        },
        login=login,
    )

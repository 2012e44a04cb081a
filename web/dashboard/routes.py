"""Dashboard "Manuelle Anfragen": the account's open requests in the tabs Alle,
Vermittleraktion erforderlich and Nachrichten. Reads only the database, so the
page works while Temporal is down; live updates swap its ``data-live`` parts."""

from __future__ import annotations

from dataclasses import dataclass, field

from babel.numbers import format_decimal
from fastapi import APIRouter
from sqlmodel import Session
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import (
    Account,
    User,
)
from web import live
from web import messages as messaging
from web.core import i18n
from web.core.access import is_staff
from web.core.deps import CurrentLogin, PagesDep, SessionDep
from web.core.forms import new_action_id
from web.dashboard.queries import RequestList, TabCounts, archive_matches, list_requests, tab_counts
from web.dashboard.query import (
    ARCHIVE_TABS,
    ASSIGNEE_ME,
    ASSIGNEE_NONE,
    COLUMNS,
    MAX_QUERY_CHARS,
    MESSAGES_TAB,
    PAGE_SIZE,
    PROGRESS_ORDER,
    TAB_KEYS,
    Choices,
    DashboardQuery,
    load_choices,
    parse_query,
)
from web.tenders import overdue_count

router = APIRouter(tags=["dashboard"])

# ---------------------------------------------------------------- the page


@dataclass(frozen=True)
class PagerLink:
    label: str
    url: str | None
    current: bool = False
    gap: bool = False


def pager_links(query: DashboardQuery, page: int, pages: int) -> list[PagerLink]:
    """First, last and two pages either side of the current one, with gaps."""
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links: list[PagerLink] = []
    previous = 0
    for number in wanted:
        if number - previous > 1:
            links.append(PagerLink("…", None, gap=True))
        links.append(PagerLink(str(number), query.url(page=number), current=number == page))
        previous = number
    return links


@dataclass
class DashboardView:
    query: DashboardQuery
    counts: TabCounts
    choices: Choices
    requests: RequestList | None = None
    messages: messaging.MessagesTab | None = None
    errors: list[str] = field(default_factory=list)
    #: Bound requests the search would find in "Abgeschlossen" (only asked on an empty open list).
    archive_hits: int = 0

    @property
    def page(self) -> int:
        listing = self.requests or self.messages
        return listing.page if listing else 1

    @property
    def pages(self) -> int:
        listing = self.requests or self.messages
        return listing.pages if listing else 1

    def page_url(self, page: int) -> str | None:
        return self.query.url(page=page) if 1 <= page <= self.pages and page != self.page else None


def _messages_assignee(query: DashboardQuery) -> messaging.AssigneeFilter:
    if query.assignee == ASSIGNEE_ME:
        return "me"
    if query.assignee == ASSIGNEE_NONE:
        return "unassigned"
    return int(query.assignee) if query.assignee else None


def load_dashboard(
    db: Session, user: User, query: DashboardQuery, *, choices: Choices | None = None, errors: list[str] | None = None
) -> DashboardView:
    view = DashboardView(
        query=query, counts=tab_counts(db, user), choices=choices or load_choices(db, user), errors=errors or []
    )
    if query.is_messages:
        view.messages = messaging.messages_tab(
            db, user, assignee_id=_messages_assignee(query), only_unprocessed=query.unprocessed,
            page=query.page, per_page=PAGE_SIZE,
        )
    else:
        total = None if query.filtered else view.counts.of(query.tab)
        view.requests = list_requests(db, user, query, total=total)
        if query.filtered and not view.requests.total and query.tab not in ARCHIVE_TABS:
            view.archive_hits = archive_matches(db, user, query)
    return view


def fmt_count(number: int) -> str:
    """A total with thousands separators in the page's language (``1.234``)."""
    return format_decimal(number, format="#,##0", locale="en_GB" if i18n.current_locale() == "en" else "de_DE")


def reset_url(query: DashboardQuery) -> str:
    """The tab without search and filters, keeping the sort (and the unread/unprocessed view)."""
    if query.is_messages:
        return DashboardQuery(tab=MESSAGES_TAB, unprocessed=query.unprocessed).url()
    return DashboardQuery(tab=query.tab, sort=query.sort, direction=query.direction).url()


def _overdue_count(db: Session, user: User) -> int:
    """How many tenders "Alle überfälligen erinnern" would remind (staff only)."""
    if not is_staff(user):
        return 0
    account = db.get(Account, user.account_id)
    return overdue_count(db, account) if account is not None else 0


@router.get("/")
def dashboard(http: HttpRequest, pages: PagesDep, db: SessionDep, login: CurrentLogin) -> Response:
    user = login.user
    choices = load_choices(db, user)
    query, errors = parse_query(http.query_params, choices)
    view = load_dashboard(db, user, query, choices=choices, errors=errors)
    if view.messages is not None:
        page, pages_total, per_page, shown = view.messages.page, view.messages.pages, view.messages.per_page, len(
            view.messages.rows
        )
    else:
        assert view.requests is not None
        page, pages_total, per_page, shown = view.requests.page, view.requests.pages, PAGE_SIZE, len(view.requests.rows)
    return pages.render(
        http,
        "dashboard/dashboard.html",
        {
            "view": view,
            "q": query,
            "tab_keys": TAB_KEYS,
            "columns": [(key, i18n.t(f"column.{key}")) for key in COLUMNS],
            "statuses": PROGRESS_ORDER,
            "max_query": MAX_QUERY_CHARS,
            "reset_url": reset_url(query),
            "pager": pager_links(query, page, pages_total),
            "range_first": fmt_count((page - 1) * per_page + 1),
            "range_last": fmt_count((page - 1) * per_page + shown),
            "fmt_count": fmt_count,
            "staff": is_staff(user),
            "overdue_count": _overdue_count(db, user),
            "batch_id": new_action_id(),
            "live_marker": live.page_marker(http, db, user),
            "nav": "requests",
            "page_title": i18n.t("title.dashboard"),
        },
        login=login,
        status_code=400 if errors else 200,
        headers=live.page_headers(),
    )



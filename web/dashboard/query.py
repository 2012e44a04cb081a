"""The dashboard's query string: tabs, sorting, filters and paging, parsed and
checked once, so every view is a bookmarkable GET and malformed values get a
clear message instead of an error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from tenderdesk.db.models import (
    Product,
    Role,
    User,
)
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.access import is_staff

PAGE_SIZE = 50
#: Longest search text; longer input is refused, not cut (the user would not see what was searched).
MAX_QUERY_CHARS = 100
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
#: Tender states that count as "an offer" for the broker-action rule.
OFFER_STATES: frozenset[TenderStatus] = frozenset({S.OFFERED, S.OFFER_EXPIRED})

#: Tabs that list requests; labels are ``tab.<key>`` in :mod:`web.core.i18n`.
TABS = ("alle", "vermittleraktion")
#: The third tab lists messages, not requests (see :mod:`web.messages.service`).
MESSAGES_TAB = "nachrichten"
#: The archive: bound (and closed) requests only, and everything including them.
#: "alle" stays the open requests, the working list of the day.
ARCHIVE_TABS = ("abgeschlossen", "gesamt")
TAB_KEYS = (*TABS, MESSAGES_TAB, *ARCHIVE_TABS)
#: Sortable columns in display order; labels are ``column.<key>`` in :mod:`web.core.i18n`.
COLUMNS = ("id", "vermittler", "bearbeiter", "produkt", "gewerbe", "status", "datum")
#: "Die Anfragen sind nach Datum sortiert" (the guide): newest first.
DEFAULT_SORT = ("datum", "desc")
#: Status filter value for requests without any tender.
STATUS_NEW = "neu"
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"

Assignee = aliased(User)

# Messages for malformed query strings (hand-edited or stale bookmarks) are
# ``dashboard.bad_*`` in :mod:`web.core.i18n`, in the user's language.


# ---------------------------------------------------------------- the query string


@dataclass(frozen=True)
class DashboardQuery:
    """One view of the dashboard, exactly as its URL says."""

    tab: str = "alle"
    sort: str = DEFAULT_SORT[0]
    direction: str = DEFAULT_SORT[1]
    page: int = 1
    q: str = ""
    #: "" anyone, :data:`ASSIGNEE_ME`, :data:`ASSIGNEE_NONE`, or a user id as text.
    assignee: str = ""
    product_id: int | None = None
    #: "" any, :data:`STATUS_NEW`, or a :class:`TenderStatus` value.
    status: str = ""
    unprocessed: bool = False

    @property
    def is_messages(self) -> bool:
        return self.tab == MESSAGES_TAB

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the tab's list (the tab count then differs from the total)."""
        if self.is_messages:
            return bool(self.assignee)
        return bool(self.q or self.assignee or self.product_id is not None or self.status)

    def params(self) -> dict[str, str]:
        """The non-default parameters, in a stable order (so URLs compare equal)."""
        out: dict[str, str] = {"tab": self.tab}
        if not self.is_messages:
            out["sort"], out["dir"] = self.sort, self.direction
            if self.q:
                out["q"] = self.q
        if self.assignee:
            out["bearbeiter"] = self.assignee
        if not self.is_messages:
            if self.product_id is not None:
                out["produkt"] = str(self.product_id)
            if self.status:
                out["status"] = self.status
        elif self.unprocessed:
            out["unbearbeitet"] = "1"
        if self.page > 1:
            out["page"] = str(self.page)
        return out

    def url(self, **changes: Any) -> str:
        """This view with ``changes``; any change but ``page`` itself goes back to page 1."""
        if "page" not in changes:
            changes["page"] = 1
        return "/?" + urlencode(replace(self, **changes).params())

    def tab_url(self, tab: str) -> str:
        """Switch tabs, keeping what still applies: the Bearbeiter filter always,
        search and the other filters between the two request lists."""
        if tab == MESSAGES_TAB or self.is_messages:
            return DashboardQuery(tab=tab, assignee=self.assignee).url()
        return self.url(tab=tab)

    def sort_url(self, column: str) -> str:
        """Ascending on first click, then toggling (the header link)."""
        direction = "desc" if column == self.sort and self.direction == "asc" else "asc"
        return self.url(sort=column, direction=direction)


@dataclass(frozen=True)
class Choices:
    """What the filter drop-downs offer this user; also what the parser accepts."""

    assignees: list[tuple[int, str]]
    products: list[tuple[int, str]]
    allow_me: bool


#: Status filter options in the order a tender moves (after "Noch nicht ausgeschrieben").
PROGRESS_ORDER = sorted(PROGRESS, key=lambda s: list(TenderStatus).index(s))
STATUS_VALUES = frozenset({STATUS_NEW, *(s.value for s in PROGRESS)})


def load_choices(db: Session, user: User) -> Choices:
    """Backoffice users of the account (active ones; for the backoffice only, a
    broker is not shown the pool's staff list) and every product."""
    staff = db.exec(
        select(User.id, User.name)
        .where(User.account_id == user.account_id)
        .where(col(User.role).in_([Role.BACKOFFICE, Role.ADMIN]))
        .where(col(User.is_active).is_(True))
        .order_by(func.lower(col(User.name)), col(User.id))
    ).all() if is_staff(user) else []
    products = db.exec(select(Product.id, Product.name).order_by(col(Product.name), col(Product.id))).all()
    return Choices(
        assignees=[(uid, name) for uid, name in staff if uid is not None],
        products=[(pid, name) for pid, name in products if pid is not None],
        allow_me=is_staff(user),
    )


def _positive_int(value: str) -> int | None:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    number = int(text)
    return number if number >= 1 else None


def parse_query(raw: Mapping[str, str], choices: Choices) -> tuple[DashboardQuery, list[str]]:
    """The view the URL asks for, and German errors for anything malformed.

    Empty values mean "not set" (a GET form submits empty selects). Each
    malformed parameter falls back to its default, so the page can still show
    a sensible list under the error.
    """
    errors: list[str] = []
    query = DashboardQuery()
    tab = raw.get("tab", "") or query.tab
    if tab not in TAB_KEYS:
        errors.append(i18n.t("dashboard.bad_tab"))
        tab = query.tab
    query = replace(query, tab=tab)

    sort = raw.get("sort", "") or DEFAULT_SORT[0]
    direction = raw.get("dir", "") or (DEFAULT_SORT[1] if sort == DEFAULT_SORT[0] else "asc")
    if sort not in COLUMNS or direction not in ("asc", "desc"):
        errors.append(i18n.t("dashboard.bad_sort"))
        sort, direction = DEFAULT_SORT
    query = replace(query, sort=sort, direction=direction)

    if raw.get("page"):
        page = _positive_int(raw["page"])
        if page is None:
            errors.append(i18n.t("dashboard.bad_page"))
        else:
            query = replace(query, page=page)

    q = " ".join(raw.get("q", "").split())
    if len(q) > MAX_QUERY_CHARS:
        errors.append(i18n.t("dashboard.bad_query", max=MAX_QUERY_CHARS))
    else:
        query = replace(query, q=q)

    assignee = raw.get("bearbeiter", "").strip()
    if assignee:
        valid = {str(uid) for uid, _ in choices.assignees} | {ASSIGNEE_NONE}
        if choices.allow_me:
            valid.add(ASSIGNEE_ME)
        if assignee in valid:
            query = replace(query, assignee=assignee)
        else:
            errors.append(i18n.t("dashboard.bad_assignee"))

    product = raw.get("produkt", "").strip()
    if product:
        product_id = _positive_int(product)
        if product_id is not None and product_id in {pid for pid, _ in choices.products}:
            query = replace(query, product_id=product_id)
        else:
            errors.append(i18n.t("dashboard.bad_product"))

    status = raw.get("status", "").strip()
    if status:
        if status in STATUS_VALUES:
            query = replace(query, status=status)
        else:
            errors.append(i18n.t("dashboard.bad_status"))

    unprocessed = raw.get("unbearbeitet", "")
    query = replace(query, unprocessed=unprocessed not in ("", "0") and choices.allow_me)
    return query, errors


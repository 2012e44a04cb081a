"""Sammelaktionen: the HTTP shape. Each POST answers with a report page (200),
so reloading it sends the same ``batch_id`` again and changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import Account
from web.bulk.service import BulkItem, BulkRefused, assign_requests, run_tender_updates
from web.core import i18n
from web.core.access import load_request
from web.core.bridge import wait
from web.core.deps import PagesDep, PathId, SessionDep, StaffCsrfLogin, StaffRequest, TemporalDep
from web.core.forms import ACTION_ID
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages
from web.tenders import open_tenders, overdue_tenders

router = APIRouter(tags=["bulk"])

#: At most this many requests in one "Zuweisen" (a page of the dashboard is 50).
MAX_ASSIGN = 200


def _batch(batch_id: str) -> str:
    if not ACTION_ID.match(batch_id):
        raise BulkRefused("error.action_id")
    return batch_id


def _report(http: HttpRequest, pages: Pages, login: Login, title: str, items: Sequence[BulkItem],
            back_url: str) -> Response:
    counts = {kind: sum(1 for i in items if i.outcome == kind) for kind in ("done", "unchanged", "refused")}
    return pages.render(
        http, "bulk/result.html",
        {"title": title, "items": items, "counts": counts, "back_url": back_url, "nav": "requests",
         "page_title": title},
        login=login,
    )


@router.post("/bulk/remind")
def remind_overdue(
    http: HttpRequest, pages: PagesDep, db: SessionDep, temporal: TemporalDep, login: StaffCsrfLogin,
    batch_id: Annotated[str, Form(max_length=64)] = "",
    request_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """"Alle überfälligen erinnern": of the account, or of one request (``request_id``)."""
    batch = _batch(batch_id)
    scope = None
    if request_id:
        chosen = parse_id(request_id)
        scope = load_request(db, login.user, chosen).id if chosen else None
        if scope is None:
            raise BulkRefused("error.request_not_found")
    account = db.get(Account, login.user.account_id)
    assert account is not None
    targets = overdue_tenders(db, account, scope)
    client = wait(temporal.get())
    items = wait(run_tender_updates(client, targets, "remind_now", batch_id=batch, user_id=login.user.id))
    back = f"/requests/{scope}#tenders" if scope else "/"
    return _report(http, pages, login, i18n.t("bulk.remind.title"), items, back)


@router.post("/requests/{request_id}/bulk/withdraw")
def withdraw_open(
    request_id: PathId, request: StaffRequest, http: HttpRequest, pages: PagesDep, db: SessionDep,
    temporal: TemporalDep, login: StaffCsrfLogin, batch_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """"Alle offenen zurückziehen": every tender of this request that has not ended."""
    batch = _batch(batch_id)
    targets = open_tenders(db, request.account_id, request_id)
    client = wait(temporal.get())
    items = wait(run_tender_updates(client, targets, "withdraw", batch_id=batch, user_id=login.user.id))
    return _report(http, pages, login, i18n.t("bulk.withdraw.title", number=request.number), items,
                   f"/requests/{request_id}#tenders")


@router.post("/bulk/assign")
def assign(
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffCsrfLogin,
    request_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    assignee_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """"Ausgewählte zuweisen": the ticked requests of the dashboard get one Bearbeiter."""
    ids = [parse_id(value) for value in request_id[: MAX_ASSIGN + 1]]
    if not ids:
        raise BulkRefused("bulk.assign.none")
    if len(ids) > MAX_ASSIGN or any(i is None for i in ids):
        raise BulkRefused("bulk.assign.invalid", max=MAX_ASSIGN)
    items = assign_requests(db, login.user, [i for i in ids if i is not None], parse_id(assignee_id))
    return _report(http, pages, login, i18n.t("bulk.assign.title"), items, "/")

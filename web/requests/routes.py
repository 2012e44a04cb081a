"""The request page ("Anfrage"): overview, Bearbeiter, Detail-Angaben, tenders, emails, documents.

Everything on it is read from the database, so the page renders while
Temporal is down; only the action buttons need Temporal when pressed. Brokers
see their own requests in a reduced form (no insurer contacts, no system
emails, no actions, offers only once released); see :mod:`web.core.access`.

The tender table and the System Emails section carry ``data-live`` and a
stable id: :mod:`web.live.routes`'s script re-fetches the page when a tender of the
request changes and swaps exactly those sections, so "Bereit ausgeschrieben zu
werden" turns into "Ausgeschrieben" without a reload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    AuditEvent,
    Party,
    Request,
    RequestStatus,
    User,
    utcnow,
)
from web import live
from web.core import i18n
from web.core.deps import (
    CurrentLogin,
    PagesDep,
    PathId,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffRequest,
    VisibleRequest,
)
from web.core.flash import Flash, set_flash
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages
from web.requests.timeline import timeline
from web.requests.views import load_request_view, staff_members

#: Sent by live.js with every refresh: the tab's ``document.visibilityState``.
LIVE_VISIBILITY_HEADER = "x-live-visibility"

router = APIRouter(tags=["requests"])



def render_request_page(
    http: HttpRequest,
    pages: Pages,
    db: Session,
    settings: Settings,
    login: Login,
    request: Request,
    *,
    errors: Sequence[str] = (),
    status_code: int = 200,
) -> Response:
    """The request page; with ``errors`` it is the answer to invalid input (4xx),
    showing the German messages where the flash messages go."""
    view = load_request_view(db, settings, login.user, request)
    # live.js says whether its tab is visible when it refreshes (web/static/live.js).
    view.seen = http.headers.get(LIVE_VISIBILITY_HEADER, "visible") != "hidden"
    context: dict[str, Any] = {
        "view": view,
        "nav": "requests",
        "page_title": i18n.t("title.request", number=request.number),
    }
    if errors:
        context["flashes"] = [Flash("error", text) for text in errors]
    # The Verlauf, newest first, for the backoffice only: it shows internal
    # notes and unreleased offers.
    staff_sees = view.staff and request.id is not None
    context["timeline_entries"] = list(reversed(timeline(db, request.id or 0))) if staff_sees else []
    # The feature sections (messages, offers) are wired in by ``web.app``.
    for section in http.app.state.request_sections:
        context.update(section(db, settings, login, view))
    # After the extras: they mark threads read, which moves the marker; taken
    # before, the page would refresh itself right after loading.
    context["live_marker"] = live.page_marker(http, db, login.user, "request", request.id)
    return pages.render(
        http, "requests/detail.html", context, login=login, status_code=status_code, headers=live.page_headers()
    )


@router.get("/requests/{request_id}")
def request_page(
    request_id: PathId,
    request: VisibleRequest,
    http: HttpRequest,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    login: CurrentLogin,
) -> Response:
    return render_request_page(http, pages, db, settings, login, request)


def detail_redirect(request_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/requests/{request_id}{anchor}", status_code=303)


def set_assignee(db: Session, request: Request, assignee: User, actor: User) -> None:
    """Make ``assignee`` Bearbeiter and write the audit event the timeline shows."""
    assert request.id is not None
    request.assignee_id = assignee.id
    request.updated_at = utcnow()
    db.add(request)
    db.add(
        AuditEvent(
            request_id=request.id,
            at=utcnow(),
            actor=Party.BACKOFFICE,
            actor_user_id=actor.id,
            kind="assigned",
            detail=assignee.name,
        )
    )
    db.commit()


@router.post("/requests/{request_id}/assign")
def assign_to_me(
    request_id: PathId,
    request: StaffRequest, db: SessionDep, settings: SettingsDep, login: StaffCsrfLogin
) -> Response:
    """"Zuweisen an mich": the logged-in backoffice user becomes Bearbeiter."""
    response = detail_redirect(request_id)
    if request.status != RequestStatus.OPEN:
        set_flash(response, settings, Flash("error", i18n.t("request.not_open")))
        return response
    if request.assignee_id == login.user.id:
        set_flash(response, settings, Flash("info", i18n.t("requests.assign.same", name=login.user.name)))
        return response
    set_assignee(db, request, login.user, login.user)
    set_flash(response, settings, Flash("success", i18n.t("request.assigned")))
    return response


@router.post("/requests/{request_id}/assignee")
def reassign(
    request_id: PathId,
    request: StaffRequest,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    login: StaffCsrfLogin,
    assignee_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Bearbeiter ändern: any active backoffice user of the account. Anything
    else (another account's user, a broker, a deactivated user, junk) is refused
    with 422 and changes nothing."""
    if request.status != RequestStatus.OPEN:
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    members = {m.id: m for m in staff_members(db, request.account_id)}
    chosen = parse_id(assignee_id)
    assignee = db.get(User, chosen) if chosen in members else None
    if assignee is None:
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("requests.assign.invalid")], status_code=422
        )
    response = detail_redirect(request_id)
    if request.assignee_id == assignee.id:
        set_flash(response, settings, Flash("info", i18n.t("requests.assign.same", name=assignee.name)))
        return response
    set_assignee(db, request, assignee, login.user)
    text = (
        i18n.t("request.assigned") if assignee.id == login.user.id
        else i18n.t("requests.assign.other", name=assignee.name)
    )
    set_flash(response, settings, Flash("success", text))
    return response


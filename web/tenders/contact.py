""""Kontaktadresse ändern": correct the address a tender's emails go to, then send again.

After a hard bounce (550 "user unknown") the backoffice used to be able to
resend only to the same address. Here it corrects the tender's address (and,
if it wants, the insurer's contact for the product, so later tenders use it
too), and by default sends again at once: the tender email if its first
delivery failed, else a reminder (the workflow's ``remind_now``). The email
activity reads the tender's address when it sends, so the next email of this
tender, a retry included, goes to the new address.

The change is written once per form (the ``action_id`` is the audit event's
dedupe key) and recorded in the request's timeline as "Kontaktadresse
geändert" with the old and the new address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.contracts import Action
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import AuditEvent, InsurerContact, Party, Request, Tender
from tenderdesk.states import is_terminal
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    EngineDep,
    PagesDep,
    PathId,
    RequestTender,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.errors import ActionRefused
from web.core.flash import Flash, set_flash
from web.core.forms import ACTION_ID
from web.core.sessions import Login
from web.core.templating import Pages
from web.requests import detail_redirect
from web.tenders.pages import TenderPage, blocked_reason, load_tender_page, render_tender_page, result_flash
from web.tenders.service import send_action

router = APIRouter(tags=["tenders"])

#: RFC 5321 caps a path at 256 octets, so an address at 254.
MAX_ADDRESS_CHARS = 254
#: One ``@``, no spaces or brackets, a dot in the domain: what a typo usually breaks.
ADDRESS_RE = re.compile(r"^[^\s@<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
AUDIT_KIND = "contact_changed"


def check_address(raw: str) -> tuple[str, str | None]:
    """The cleaned address and ``None``, or the raw text and the reason it is refused."""
    address = raw.strip()
    if not address:
        return raw, i18n.t("contact_edit.empty")
    if len(address) > MAX_ADDRESS_CHARS or not ADDRESS_RE.match(address):
        return raw, i18n.t("contact_edit.invalid")
    return address, None


@dataclass(frozen=True)
class ContactChange:
    old: str
    new: str
    changed: bool


def change_contact(
    engine: Engine, *, tender_id: int, address: str, also_insurer: bool, user_id: int | None, action_id: str,
) -> ContactChange:
    """Set the tender's address (and the insurer's product contact) and record it, once per ``action_id``."""
    with session_scope(engine) as s:
        tender = s.get(Tender, tender_id)
        request = s.get(Request, tender.request_id) if tender is not None else None
        assert tender is not None and request is not None
        dedupe = f"{AUDIT_KIND}:{action_id}"
        if s.exec(select(AuditEvent.id).where(AuditEvent.dedupe_key == dedupe)).first() is not None:
            return ContactChange(tender.contact_email, address, changed=False)
        old = tender.contact_email
        tender.contact_email = address
        if also_insurer:
            contact = s.exec(
                select(InsurerContact)
                .where(InsurerContact.insurer_id == tender.insurer_id)
                .where(InsurerContact.product_id == request.product_id)
            ).first()
            if contact is not None:
                contact.email = address
        s.add(AuditEvent(
            request_id=tender.request_id, tender_id=tender.id, actor=Party.BACKOFFICE, actor_user_id=user_id,
            kind=AUDIT_KIND, detail=f"{old} → {address}", dedupe_key=dedupe,
        ))
    return ContactChange(old, address, changed=old != address)


def _render(http: HttpRequest, pages: Pages, login: Login, page: TenderPage, status_code: int = 200) -> Response:
    if not page.values:
        page.values = {"email": page.tender.contact_email, "resend": "1"}
    return render_tender_page(http, pages, login, "tender_contact", page, i18n.t("title.contact_edit"), status_code)


def _blocked(page: TenderPage) -> str:
    return blocked_reason(page, not is_terminal(page.tender.status), "contact_edit.not_possible")


@router.get("/requests/{request_id}/tenders/{tender_id}/contact")
def contact_form(
    request_id: PathId, request: StaffRequest, tender_id: PathId, tender: RequestTender,
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin,
) -> Response:
    page = load_tender_page(db, request, tender)
    page.blocked = _blocked(page)
    return _render(http, pages, login, page, 409 if page.blocked else 200)


@router.post("/requests/{request_id}/tenders/{tender_id}/contact")
def contact_submit(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    action_id: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=1000)] = "",
    also_insurer: Annotated[str, Form(max_length=8)] = "",
    resend: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    page = load_tender_page(db, request, tender)
    page.values = {"email": email, "also_insurer": also_insurer, "resend": resend}
    page.blocked = _blocked(page)
    if page.blocked:
        return _render(http, pages, login, page, 409)
    if not ACTION_ID.match(action_id):
        page.errors = [i18n.t("error.action_id")]
        return _render(http, pages, login, page, 422)
    page.action_id = action_id
    address, problem = check_address(email)
    if problem:
        page.errors = [problem]
        return _render(http, pages, login, page, 422)
    assert tender.id is not None
    try:
        change = change_contact(engine, tender_id=tender.id, address=address, also_insurer=bool(also_insurer),
                                user_id=login.user.id, action_id=action_id)
    except IntegrityError:  # the same form twice at the same moment: the first one wrote it
        change = ContactChange(tender.contact_email, address, changed=False)
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    message = i18n.t("contact_edit.done", email=address)
    if resend:
        tender.contact_email = address
        try:
            client = wait(temporal.get())
            result = wait(send_action(
                client, tender, "remind_now", Action(action_id=f"{action_id}-send", actor_user_id=login.user.id)
            ))
        except ActionRefused as err:
            set_flash(response, settings, Flash("error", f"{page.insurer_name}: {message} {err}"))
            return response
        message = f"{message} {i18n.outcome_text(result.code)}"
    set_flash(response, settings, result_flash(page.insurer_name, message, change.changed or bool(resend)))
    return response

"""The request page ("Anfrage"): overview, Detail-Angaben, tenders, emails, documents.

Everything on it is read from the database, so the page renders while
Temporal is down; only the action buttons need Temporal when pressed. Brokers
see their own requests in a reduced form (no insurer contacts, no system
emails, no actions, offers only once released); see :mod:`web.access`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.models import (
    Account,
    Broker,
    Document,
    Insurer,
    Offer,
    Policyholder,
    Product,
    ReferralReason,
    Request,
    RequestStatus,
    SystemEmail,
    Tender,
    User,
    utcnow,
)
from tenderdesk.settings import Settings
from tenderdesk.states import AWAITING_INSURER, TenderStatus, is_terminal
from web import i18n
from web.access import broker_sees_offer, can_see_document, is_staff, load_request
from web.deps import CurrentLogin, PagesDep, SessionDep, SettingsDep, StaffCsrfLogin
from web.flash import Flash, set_flash
from web.request_extras import request_page_extras
from web.templating import fmt_days
from web.tenders import new_action_id

router = APIRouter(tags=["requests"])

#: The per-tender actions the backoffice can take (workflow update names), in
#: menu order; button labels are ``action.<name>`` in :mod:`web.i18n`.
TENDER_ACTIONS = ("remind_now", "mark_in_progress", "withdraw")


def available_actions(tender: Tender) -> list[str]:
    """The actions that make sense in the projected status. The workflow checks
    again; this only hides buttons that would certainly be refused."""
    status = tender.status
    actions = []
    if status in AWAITING_INSURER or (status == TenderStatus.QUEUED and tender.delivery_failed):
        actions.append("remind_now")
    if status == TenderStatus.SENT:
        actions.append("mark_in_progress")
    if not is_terminal(status):
        actions.append("withdraw")
    return actions


def temporal_workflow_url(settings: Settings, workflow_id: str) -> str:
    base = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"


@dataclass
class TenderRow:
    tender: Tender
    insurer: Insurer
    offer: Offer | None
    offer_document: Document | None
    failed_reply: str
    temporal_url: str
    actions: list[tuple[str, str, str]]  # (update name, label, fresh action id)


@dataclass
class RequestView:
    request: Request
    account: Account
    broker: Broker
    policyholder: Policyholder
    product: Product
    assignee: User | None
    staff: bool
    referral_reasons: dict[str, list[str]]
    tenders: list[TenderRow]
    system_emails: list[SystemEmail]
    documents: list[Document]
    reminder_days: list[str] = field(default_factory=list)


def _referral_reasons(db: Session, request_id: int) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    rows = db.exec(
        select(Insurer.name, ReferralReason.reason)
        .join(Insurer, col(Insurer.id) == col(ReferralReason.insurer_id))
        .where(ReferralReason.request_id == request_id)
        .order_by(col(Insurer.name), col(ReferralReason.id))
    ).all()
    for name, reason in rows:
        grouped[name].append(reason)
    return dict(grouped)


def _failed_reply(db: Session, tender: Tender) -> str:
    if not tender.delivery_failed:
        return ""
    email = db.exec(
        select(SystemEmail)
        .where(SystemEmail.tender_id == tender.id)
        .order_by(col(SystemEmail.created_at).desc(), col(SystemEmail.id).desc())
    ).first()
    return email.last_reply if email else ""


def load_request_view(
    db: Session, settings: Settings, user: User, request: Request
) -> RequestView:
    staff = is_staff(user)
    account = db.get(Account, request.account_id)
    broker = db.get(Broker, request.broker_id)
    policyholder = db.get(Policyholder, request.policyholder_id)
    product = db.get(Product, request.product_id)
    assert account and broker and policyholder and product
    assignee = db.get(User, request.assignee_id) if request.assignee_id else None

    tenders: list[TenderRow] = []
    rows = db.exec(
        select(Tender, Insurer)
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Tender.request_id == request.id)
        .order_by(col(Tender.created_at), col(Tender.id))
    ).all()
    for tender, insurer in rows:
        offer = db.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
        if offer is not None and not staff and not broker_sees_offer(account, offer):
            offer = None
        offer_doc = db.get(Document, offer.document_id) if offer and offer.document_id else None
        actions = (
            [(name, i18n.t(f"action.{name}"), new_action_id()) for name in available_actions(tender)]
            if staff and request.status == RequestStatus.OPEN
            else []
        )
        tenders.append(
            TenderRow(
                tender=tender,
                insurer=insurer,
                offer=offer,
                offer_document=offer_doc,
                failed_reply=_failed_reply(db, tender) if staff else "",
                temporal_url=temporal_workflow_url(settings, tender.workflow_id),
                actions=actions,
            )
        )

    system_emails: list[SystemEmail] = []
    if staff:
        system_emails = list(
            db.exec(
                select(SystemEmail)
                .where(SystemEmail.request_id == request.id)
                .order_by(col(SystemEmail.created_at).desc(), col(SystemEmail.id).desc())
            ).all()
        )
    documents = [
        doc
        for doc in db.exec(
            select(Document)
            .where(Document.request_id == request.id)
            .order_by(col(Document.created_at), col(Document.id))
        ).all()
        if can_see_document(db, user, account, doc)
    ]
    return RequestView(
        request=request,
        account=account,
        broker=broker,
        policyholder=policyholder,
        product=product,
        assignee=assignee,
        staff=staff,
        referral_reasons=_referral_reasons(db, request.id) if request.id else {},
        tenders=tenders,
        system_emails=system_emails,
        documents=documents,
        reminder_days=[fmt_days(s) for s in account.reminder_offsets_s],
    )


@router.get("/requests/{request_id}")
def request_page(
    request_id: int,
    http: HttpRequest,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    login: CurrentLogin,
) -> Response:
    request = load_request(db, login.user, request_id)
    view = load_request_view(db, settings, login.user, request)
    context = {"view": view, "nav": "requests", "page_title": i18n.t("title.request", number=request.number)}
    context.update(request_page_extras(db, settings, login, view))
    return pages.render(http, "requests/detail.html", context, login=login)


def detail_redirect(request_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/requests/{request_id}{anchor}", status_code=303)


@router.post("/requests/{request_id}/assign")
def assign_to_me(
    request_id: int, db: SessionDep, settings: SettingsDep, login: StaffCsrfLogin
) -> Response:
    """"Zuweisen an mich": the logged-in backoffice user becomes Bearbeiter."""
    request = load_request(db, login.user, request_id)
    response = detail_redirect(request_id)
    if request.status != RequestStatus.OPEN:
        set_flash(response, settings, Flash("error", i18n.t("request.not_open")))
        return response
    request.assignee_id = login.user.id
    request.updated_at = utcnow()
    db.add(request)
    db.commit()
    set_flash(response, settings, Flash("success", i18n.t("request.assigned")))
    return response

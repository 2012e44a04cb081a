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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Account,
    AuditEvent,
    Broker,
    Document,
    DocumentKind,
    Insurer,
    Offer,
    Party,
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
from tenderdesk.states import AWAITING_INSURER, TenderStatus, is_terminal
from web import live
from web.core import i18n
from web.core.access import STAFF_ROLES, broker_sees_offer, can_see_document, is_staff, load_request
from web.core.deps import CurrentLogin, PagesDep, SessionDep, SettingsDep, StaffCsrfLogin
from web.core.flash import Flash, set_flash
from web.core.forms import new_action_id
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages, fmt_days
from web.requests.timeline import email_kind_label, timeline

router = APIRouter(tags=["requests"])

#: The per-tender actions that are one confirmed click (workflow update names),
#: in the guide's menu order; button labels are ``action.<name>`` in :mod:`web.core.i18n`.
TENDER_ACTIONS = ("remind_now", "withdraw", "mark_in_progress")


def available_actions(tender: Tender) -> list[str]:
    """The actions that make sense in the projected status. The workflow checks
    again; this only hides buttons that would certainly be refused."""
    status = tender.status
    actions = []
    if status in AWAITING_INSURER or (status == TenderStatus.QUEUED and tender.delivery_failed):
        actions.append("remind_now")
    if not is_terminal(status):
        actions.append("withdraw")
    if status == TenderStatus.SENT:
        actions.append("mark_in_progress")
    return actions


def can_add_offer(tender: Tender) -> bool:
    """"Angebot hinzufügen" while the insurer still owes an answer (the workflow's rule)."""
    return tender.status in AWAITING_INSURER


def can_reschedule(tender: Tender) -> bool:
    """"Termine ändern": reminders and the deadline run only while awaiting the insurer."""
    return tender.status in AWAITING_INSURER


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
    can_add_offer: bool = False
    can_reschedule: bool = False


@dataclass
class SystemEmailRow:
    email: SystemEmail
    kind_label: str
    insurer_name: str


@dataclass
class StaffMember:
    id: int
    name: str


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
    system_emails: list[SystemEmailRow]
    documents: list[Document]
    reminder_days: list[str] = field(default_factory=list)
    staff_members: list[StaffMember] = field(default_factory=list)
    answer_count: int = 0
    document_groups: list[DocumentGroup] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.request.status == RequestStatus.OPEN


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
    return (email.last_reply if email else "") or tender.delivery_error


def staff_members(db: Session, account_id: int) -> list[StaffMember]:
    """Who can be Bearbeiter: the account's active backoffice (and admin) users."""
    rows = db.exec(
        select(User)
        .where(User.account_id == account_id)
        .where(col(User.role).in_(list(STAFF_ROLES)))
        .where(col(User.is_active).is_(True))
        .order_by(col(User.name))
    ).all()
    return [StaffMember(id=u.id, name=u.name) for u in rows if u.id is not None]


def _count_answers(answers: dict[str, Any]) -> int:
    return sum(len(items) if isinstance(items, dict) else 1 for items in answers.values())


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
    is_open = request.status == RequestStatus.OPEN

    tenders: list[TenderRow] = []
    insurer_names: dict[int, str] = {}
    rows = db.exec(
        select(Tender, Insurer)
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Tender.request_id == request.id)
        .order_by(col(Tender.created_at), col(Tender.id))
    ).all()
    for tender, insurer in rows:
        assert tender.id is not None
        insurer_names[tender.id] = insurer.name
        offer = db.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
        if offer is not None and not staff and not broker_sees_offer(account, offer):
            offer = None
        offer_doc = db.get(Document, offer.document_id) if offer and offer.document_id else None
        acting = staff and is_open
        actions = (
            [(name, i18n.t(f"action.{name}"), new_action_id()) for name in available_actions(tender)]
            if acting
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
                can_add_offer=acting and can_add_offer(tender),
                can_reschedule=acting and can_reschedule(tender),
            )
        )

    system_emails: list[SystemEmailRow] = []
    if staff:
        system_emails = [
            SystemEmailRow(
                email=e,
                kind_label=email_kind_label(e.kind),
                insurer_name=insurer_names.get(e.tender_id, "") if e.tender_id else "",
            )
            for e in db.exec(
                select(SystemEmail)
                .where(SystemEmail.request_id == request.id)
                .order_by(col(SystemEmail.created_at).desc(), col(SystemEmail.id).desc())
            ).all()
        ]
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
        staff_members=staff_members(db, account.id) if staff and account.id else [],
        answer_count=_count_answers(request.answers),
        document_groups=document_groups(documents, insurer_names),
    )


@dataclass
class DocumentGroup:
    kind: DocumentKind  # the template names the group ("Anfrageunterlagen", "Angebote", ...)
    items: list[tuple[Document, str]]  # (document, insurer name for offers and tender attachments)


#: Dokumente in a fixed order: request papers, offers, chat attachments, cover notes.
DOCUMENT_GROUP_ORDER = (DocumentKind.REQUEST, DocumentKind.OFFER, DocumentKind.ATTACHMENT, DocumentKind.COVER_NOTE)


def document_groups(documents: Sequence[Document], insurer_by_tender: dict[int, str]) -> list[DocumentGroup]:
    """Every file of the request, grouped by kind, offers named by their insurer."""
    groups = []
    for kind in DOCUMENT_GROUP_ORDER:
        items = [
            (d, insurer_by_tender.get(d.tender_id, "") if d.tender_id else "")
            for d in documents
            if d.kind == kind
        ]
        if items:
            groups.append(DocumentGroup(kind=kind, items=items))
    return groups


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
    request_id: int,
    http: HttpRequest,
    pages: PagesDep,
    settings: SettingsDep,
    db: SessionDep,
    login: CurrentLogin,
) -> Response:
    request = load_request(db, login.user, request_id)
    return render_request_page(http, pages, db, settings, login, request)


def detail_redirect(request_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/requests/{request_id}{anchor}", status_code=303)


def _set_assignee(db: Session, request: Request, assignee: User, actor: User) -> None:
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
    request_id: int, db: SessionDep, settings: SettingsDep, login: StaffCsrfLogin
) -> Response:
    """"Zuweisen an mich": the logged-in backoffice user becomes Bearbeiter."""
    request = load_request(db, login.user, request_id)
    response = detail_redirect(request_id)
    if request.status != RequestStatus.OPEN:
        set_flash(response, settings, Flash("error", i18n.t("request.not_open")))
        return response
    if request.assignee_id == login.user.id:
        set_flash(response, settings, Flash("info", i18n.t("requests.assign.same", name=login.user.name)))
        return response
    _set_assignee(db, request, login.user, login.user)
    set_flash(response, settings, Flash("success", i18n.t("request.assigned")))
    return response


@router.post("/requests/{request_id}/assignee")
def reassign(
    request_id: int,
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
    request = load_request(db, login.user, request_id)
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
    _set_assignee(db, request, assignee, login.user)
    text = (
        i18n.t("request.assigned") if assignee.id == login.user.id
        else i18n.t("requests.assign.other", name=assignee.name)
    )
    set_flash(response, settings, Flash("success", text))
    return response


"""What the request page shows, loaded in a few queries: tenders with their
actions, System Emails, staff, documents by kind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Account,
    Binding,
    Broker,
    Document,
    DocumentKind,
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
from tenderdesk.states import AWAITING_INSURER, TenderStatus, is_overdue, is_terminal
from web.core import i18n
from web.core.access import STAFF_ROLES, broker_sees_offer, can_see_document, is_staff
from web.core.forms import new_action_id
from web.core.templating import fmt_days
from web.documents import removable, sent_document_ids
from web.requests.timeline import email_kind_label

#: The per-tender actions that are one confirmed click (workflow update names),
#: in the guide's menu order; button labels are ``action.<name>`` in :mod:`web.core.i18n`.
TENDER_ACTIONS = ("remind_now", "withdraw", "mark_in_progress")


#: A failed tender email (still queued) or cover order (tender closed as won) can be sent again.
RESENDABLE = (TenderStatus.QUEUED, TenderStatus.CLOSED)


def action_label(name: str, tender: Tender) -> str:
    """"Erinnerung schicken" sends the failed email again where there is nothing to remind of."""
    if name == "remind_now" and tender.status in RESENDABLE:
        return i18n.t("action.resend")
    return i18n.t(f"action.{name}")


def available_actions(tender: Tender) -> list[str]:
    """The actions that make sense in the projected status. The workflow checks
    again; this only hides buttons that would certainly be refused."""
    status = tender.status
    actions = []
    if status in AWAITING_INSURER or (status in RESENDABLE and tender.delivery_failed):
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
    #: For a closed tender: chosen in the Abschluss ("Beauftragt") or not.
    won: bool = False


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
    #: What the Sammelaktionen of the tender section would act on, and their batch.
    overdue_count: int = 0
    open_count: int = 0
    batch_id: str = field(default_factory=new_action_id)
    #: Uploads no tender has sent yet: the backoffice may still remove them.
    removable_document_ids: set[int] = field(default_factory=set)
    #: Whether a person is looking: False for a live refresh of a hidden tab,
    #: which must not mark new messages read.
    seen: bool = True

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
    now = utcnow()

    tenders: list[TenderRow] = []
    won_tender_id = db.exec(select(Binding.tender_id).where(Binding.request_id == request.id)).first()
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
            [(name, action_label(name, tender), new_action_id()) for name in available_actions(tender)]
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
                won=tender.id == won_tender_id,
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
            .where(Document.request_id == request.id, Document.kind != DocumentKind.REMOVED)
            .order_by(col(Document.created_at), col(Document.id))
        ).all()
        if can_see_document(db, user, account, doc)
    ]
    sent = sent_document_ids([row.tender for row in tenders])
    removable_ids = {d.id for d in documents if staff and d.id is not None and removable(d, sent)}
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
        removable_document_ids=removable_ids,
        overdue_count=sum(
            1 for row in tenders if is_overdue(row.tender.status, row.tender.sent_at, account.reminder_offsets_s, now)
        ) if staff else 0,
        open_count=sum(1 for row in tenders if not is_terminal(row.tender.status)) if staff else 0,
    )


@dataclass
class DocumentGroup:
    kind: DocumentKind  # the template names the group ("Anfrageunterlagen", "Angebote", ...)
    items: list[tuple[Document, str]]  # (document, insurer name for offers and tender attachments)


#: Dokumente in a fixed order: request papers, uploads not sent yet, offers,
#: chat attachments, cover notes. Removed files show only in the timeline.
DOCUMENT_GROUP_ORDER = (
    DocumentKind.REQUEST, DocumentKind.STAGED, DocumentKind.OFFER, DocumentKind.ATTACHMENT, DocumentKind.COVER_NOTE,
)


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

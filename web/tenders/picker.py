"""Step 1 of "+ Ausschreibung hinzufügen": the insurers in three groups (recommended,
others covering the product, the rest) and the request's documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlmodel import Session, and_, col, or_, select

from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Recommendation,
    ReferralReason,
    Request,
    Tender,
)
from tenderdesk.states import TenderStatus, is_terminal

# ------------------------------------------------------------------ the picker


@dataclass
class InsurerChoice:
    insurer: Insurer
    contact: InsurerContact | None
    recommended: bool
    open_status: TenderStatus | None
    last_status: TenderStatus | None
    referral_reasons: list[str] = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        return self.insurer.reachable and self.contact is not None

    @property
    def selectable(self) -> bool:
        return self.relevant and self.open_status is None


@dataclass
class InsurerPicker:
    recommended: list[InsurerChoice]
    others: list[InsurerChoice]
    not_relevant: list[InsurerChoice]

    @property
    def by_id(self) -> dict[int, InsurerChoice]:
        return {
            c.insurer.id: c
            for c in (*self.recommended, *self.others, *self.not_relevant)
            if c.insurer.id is not None
        }


def load_picker(db: Session, request: Request) -> InsurerPicker:
    contacts = {
        c.insurer_id: c
        for c in db.exec(
            select(InsurerContact).where(InsurerContact.product_id == request.product_id)
        ).all()
    }
    starred = set(
        db.exec(
            select(Recommendation.insurer_id)
            .where(Recommendation.account_id == request.account_id)
            .where(Recommendation.product_id == request.product_id)
        ).all()
    )
    reasons: dict[int, list[str]] = defaultdict(list)
    for insurer_id, reason in db.exec(
        select(ReferralReason.insurer_id, ReferralReason.reason)
        .where(ReferralReason.request_id == request.id)
        .order_by(col(ReferralReason.id))
    ).all():
        reasons[insurer_id].append(reason)
    open_status: dict[int, TenderStatus] = {}
    last_status: dict[int, TenderStatus] = {}
    for tender in db.exec(
        select(Tender).where(Tender.request_id == request.id).order_by(col(Tender.id))
    ).all():
        last_status[tender.insurer_id] = tender.status
        if not is_terminal(tender.status):
            open_status[tender.insurer_id] = tender.status
    picker = InsurerPicker(recommended=[], others=[], not_relevant=[])
    for insurer in db.exec(select(Insurer).order_by(col(Insurer.name))).all():
        assert insurer.id is not None
        choice = InsurerChoice(
            insurer=insurer,
            contact=contacts.get(insurer.id),
            recommended=insurer.id in starred,
            open_status=open_status.get(insurer.id),
            last_status=last_status.get(insurer.id),
            referral_reasons=reasons.get(insurer.id, []),
        )
        if not choice.relevant:
            picker.not_relevant.append(choice)
        elif choice.recommended:
            picker.recommended.append(choice)
        else:
            picker.others.append(choice)
    return picker


def request_documents(db: Session, request_id: int, staged: Collection[int] = ()) -> list[Document]:
    """The documents a tender email may attach: the request's own papers
    (never other insurers' offers or chat attachments), plus the files staged
    in this run of the wizard (``staged``, from its hidden fields). Files staged
    by a wizard that was cancelled are not offered again."""
    kinds = col(Document.kind) == DocumentKind.REQUEST
    if staged:
        kinds = or_(kinds, and_(col(Document.kind) == DocumentKind.STAGED, col(Document.id).in_(list(staged))))
    return list(
        db.exec(
            select(Document)
            .where(Document.request_id == request_id)
            .where(kinds)
            .order_by(col(Document.id))
        ).all()
    )

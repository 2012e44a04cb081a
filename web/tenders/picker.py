"""Step 1 of "+ Ausschreibung hinzufügen": the insurers in three groups (recommended,
others covering the product, the rest) and the request's documents.

Recommended (★) are the insurers the account starred for the product and
those whose figures of the last 12 months speak for them
(:attr:`tenderdesk.analytics.InsurerFigures.advisable`: enough tenders, most
of them answered, at least one offer). Within each group the insurers that
answer, win and offer fastest come first (:attr:`~tenderdesk.analytics.InsurerFigures.score`),
and each recommended one says why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, and_, col, or_, select

from tenderdesk.analytics import InsurerFigures, insurer_figures
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Recommendation,
    ReferralReason,
    Request,
    Tender,
    utcnow,
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
    #: Starred by the account for this product.
    starred: bool = False
    #: The insurer's figures for this product over :data:`ADVICE_DAYS`; ``None``: never tendered.
    figures: InsurerFigures | None = None

    @property
    def advised_by_figures(self) -> bool:
        return self.figures is not None and self.figures.advisable

    @property
    def score(self) -> float:
        return self.figures.score if self.figures else 0.0

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


#: The figures behind the ★ order cover this many days back.
ADVICE_DAYS = 365


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
    figures = {insurer_id: f for (insurer_id, _), f in insurer_figures(
        db, request.account_id, product_id=request.product_id, since=utcnow() - timedelta(days=ADVICE_DAYS)).items()}
    picker = InsurerPicker(recommended=[], others=[], not_relevant=[])
    for insurer in db.exec(select(Insurer).order_by(col(Insurer.name))).all():
        assert insurer.id is not None
        own = figures.get(insurer.id)
        choice = InsurerChoice(
            insurer=insurer,
            contact=contacts.get(insurer.id),
            recommended=insurer.id in starred or (own is not None and own.advisable),
            open_status=open_status.get(insurer.id),
            last_status=last_status.get(insurer.id),
            referral_reasons=reasons.get(insurer.id, []),
            starred=insurer.id in starred,
            figures=own,
        )
        if not choice.relevant:
            picker.not_relevant.append(choice)
        elif choice.recommended:
            picker.recommended.append(choice)
        else:
            picker.others.append(choice)
    # Stable sort: equal scores (e.g. no tenders yet) keep the name order.
    picker.recommended.sort(key=lambda c: -c.score)
    picker.others.sort(key=lambda c: -c.score)
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

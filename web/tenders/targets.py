"""Which tenders a Sammelaktion touches: the overdue ones and the open ones.

Here, below the dashboard and the request page, so both can show how many a
button would act on; ``web.bulk`` acts on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from tenderdesk.db.models import Account, Insurer, Request, RequestStatus, Tender, utcnow
from tenderdesk.states import AWAITING_INSURER, OVERDUE_WITHOUT_PLAN_S, is_overdue, is_terminal


@dataclass
class TenderTarget:
    tender: Tender
    request_number: str
    insurer_name: str


def _targets(
    db: Session, account_id: int, request_id: int | None, *conditions: ColumnElement[bool]
) -> list[TenderTarget]:
    query = (
        select(Tender, Request.number, Insurer.name)
        .join(Request, col(Request.id) == col(Tender.request_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Request.account_id == account_id, Request.status == RequestStatus.OPEN, *conditions)
        .order_by(col(Request.id), col(Insurer.name))
    )
    if request_id is not None:
        query = query.where(Tender.request_id == request_id)
    return [TenderTarget(tender, number, name) for tender, number, name in db.exec(query).all()]


def overdue_tenders(
    db: Session, account: Account, request_id: int | None = None, now: datetime | None = None
) -> list[TenderTarget]:
    """Open requests' tenders still waiting for the insurer past their first reminder
    (:func:`tenderdesk.states.is_overdue`), oldest request first."""
    now = now or utcnow()
    assert account.id is not None
    first = min(account.reminder_offsets_s, default=OVERDUE_WITHOUT_PLAN_S)
    candidates = _targets(
        db, account.id, request_id,
        col(Tender.status).in_(list(AWAITING_INSURER)), col(Tender.sent_at) <= now - timedelta(seconds=first),
    )
    return [t for t in candidates if is_overdue(t.tender.status, t.tender.sent_at, account.reminder_offsets_s, now)]


def overdue_count(db: Session, account: Account, now: datetime | None = None) -> int:
    """How many tenders :func:`overdue_tenders` would return, counted by the
    database (the dashboard shows it on every load; loading the rows to count
    them cost 10–20 ms at 10,000 requests)."""
    now = now or utcnow()
    first = min(account.reminder_offsets_s, default=OVERDUE_WITHOUT_PLAN_S)
    return int(db.exec(
        select(func.count()).select_from(Tender)
        .join(Request, col(Request.id) == col(Tender.request_id))
        .where(Request.account_id == account.id, Request.status == RequestStatus.OPEN,
               col(Tender.status).in_(list(AWAITING_INSURER)),
               col(Tender.sent_at) <= now - timedelta(seconds=first))
    ).one())


def open_tenders(db: Session, account_id: int, request_id: int) -> list[TenderTarget]:
    """Every tender of the request that has not ended: what "Alle zurückziehen" withdraws."""
    return [t for t in _targets(db, account_id, request_id) if not is_terminal(t.tender.status)]



__all__ = ["TenderTarget", "open_tenders", "overdue_count", "overdue_tenders"]

"""Which tenders a Sammelaktion touches: the overdue ones and the open ones.

Here, below the dashboard and the request page, so both can show how many a
button would act on; ``web.bulk`` acts on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from tenderdesk.db.models import Account, Insurer, Request, RequestStatus, Tender, utcnow
from tenderdesk.states import AWAITING_INSURER, TERMINAL, overdue_cutoff


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


def _overdue(account: Account, now: datetime | None) -> tuple[ColumnElement[bool], ...]:
    """:func:`tenderdesk.states.is_overdue` as SQL conditions."""
    cutoff = overdue_cutoff(now or utcnow(), account.reminder_offsets_s)
    return col(Tender.status).in_(list(AWAITING_INSURER)), col(Tender.sent_at) <= cutoff


def overdue_tenders(
    db: Session, account: Account, request_id: int | None = None, now: datetime | None = None
) -> list[TenderTarget]:
    """Open requests' tenders still waiting for the insurer past their first reminder, oldest request first."""
    assert account.id is not None
    return _targets(db, account.id, request_id, *_overdue(account, now))


def overdue_count(db: Session, account: Account, now: datetime | None = None) -> int:
    """How many tenders :func:`overdue_tenders` would return, counted by the
    database (the dashboard shows it on every load)."""
    return int(db.exec(
        select(func.count()).select_from(Tender)
        .join(Request, col(Request.id) == col(Tender.request_id))
        .where(Request.account_id == account.id, Request.status == RequestStatus.OPEN, *_overdue(account, now))
    ).one())


def open_tenders(db: Session, account_id: int, request_id: int) -> list[TenderTarget]:
    """Every tender of the request that has not ended: what "Alle zurückziehen" withdraws."""
    return _targets(db, account_id, request_id, col(Tender.status).not_in(list(TERMINAL)))


__all__ = ["TenderTarget", "open_tenders", "overdue_count", "overdue_tenders"]

"""Insurer figures of one account: how each insurer answers our tenders.

Per insurer and product, over the tenders that went out (``sent_at`` set) in a
period: how many were sent, how many the insurer answered (an offer or a
decline), the median time from sending to its first offer, how many it
declined and why, its hit rate (tenders bound / tenders offered) and how far
its premium lay above the best offer of the same request (median, in per
cent; 0 means it was the best).

The numbers serve two screens: the Auswertung page (charts and tables) and the
★ order in "+ Ausschreibung hinzufügen", which lists the insurers that answer
and win first and says why. The figures are computed here, from a handful of
column-only queries over the period, and aggregated in Python; nothing here
knows a language (the web layer words the reasons).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tenderdesk.db.models import Binding, Message, Offer, Party, Request, Tender, Thread
from tenderdesk.states import TenderStatus

#: Prefix of the chat message a decline writes (web.tenders.service.decline).
DECLINE_PREFIX = "Absage: "
#: At least this many tenders sent before figures count as a recommendation.
MIN_TENDERS_FOR_ADVICE = 3
#: An insurer that answers this share of tenders, and has offered at least once, is recommended.
RECOMMEND_ANSWER_RATE = 0.6


@dataclass
class InsurerFigures:
    """One insurer's figures, for one product or all products together."""

    insurer_id: int
    product_id: int | None
    sent: int = 0
    offered: int = 0
    declined: int = 0
    bound: int = 0
    hours_to_offer: list[float] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    decline_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def answered(self) -> int:
        return self.offered + self.declined

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def decline_rate(self) -> float | None:
        return self.declined / self.sent if self.sent else None

    @property
    def hit_rate(self) -> float | None:
        return self.bound / self.offered if self.offered else None

    @property
    def median_hours_to_offer(self) -> float | None:
        return statistics.median(self.hours_to_offer) if self.hours_to_offer else None

    @property
    def median_spread(self) -> float | None:
        """Median premium above the request's best offer, in per cent."""
        return statistics.median(self.spreads) if self.spreads else None

    @property
    def top_reasons(self) -> list[tuple[str, int]]:
        return self.decline_reasons.most_common(3)

    @property
    def advisable(self) -> bool:
        """Enough history, answers most tenders, and has offered."""
        return (self.sent >= MIN_TENDERS_FOR_ADVICE and self.offered > 0
                and (self.answer_rate or 0) >= RECOMMEND_ANSWER_RATE)

    @property
    def score(self) -> float:
        """Order of the picker: answer rate, then hit rate, then speed.
        Unknown insurers (no tenders yet) score 0 and keep their name order."""
        if not self.sent:
            return 0.0
        speed = 1 / (1 + (self.median_hours_to_offer or 24 * 14) / 24)
        return (self.answer_rate or 0) * 2 + (self.hit_rate or 0) + speed * 0.5

    def merge(self, other: InsurerFigures) -> None:
        self.sent += other.sent
        self.offered += other.offered
        self.declined += other.declined
        self.bound += other.bound
        self.hours_to_offer += other.hours_to_offer
        self.spreads += other.spreads
        self.decline_reasons.update(other.decline_reasons)


def _scope(account_id: int, product_id: int | None, since: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Request.account_id) == account_id, col(Tender.sent_at).is_not(None)]
    if product_id is not None:
        conditions.append(col(Request.product_id) == product_id)
    if since is not None:
        conditions.append(col(Tender.sent_at) >= since)
    return conditions


def insurer_figures(
    db: Session, account_id: int, *, product_id: int | None = None, since: datetime | None = None,
) -> dict[tuple[int, int], InsurerFigures]:
    """Figures per ``(insurer_id, product_id)`` for the account's tenders sent since ``since``."""
    scope = _scope(account_id, product_id, since)
    tenders = db.execute(
        sa_select(col(Tender.id), col(Tender.insurer_id), col(Request.product_id), col(Tender.request_id),
                  col(Tender.status), col(Tender.sent_at))
        .join(Request, col(Request.id) == col(Tender.request_id)).where(*scope)
    ).all()
    first_offer = dict(db.exec(
        # Accepted offers only: the tender's current one, or one an edit superseded
        # (a pending row the workflow refused never counts).
        select(Offer.tender_id, func.min(Offer.created_at))
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Request, col(Request.id) == col(Tender.request_id))
        .where(*scope)
        .where(or_(col(Offer.id) == col(Tender.current_offer_id), col(Offer.superseded_by_id).is_not(None)))
        .group_by(col(Offer.tender_id))
    ).all())
    premiums = dict(db.exec(
        select(Tender.id, Offer.premium_cents)
        .join(Offer, col(Offer.id) == col(Tender.current_offer_id))
        .join(Request, col(Request.id) == col(Tender.request_id)).where(*scope)
    ).all())
    bound = set(db.exec(
        select(Binding.tender_id).join(Tender, col(Tender.id) == col(Binding.tender_id))
        .join(Request, col(Request.id) == col(Tender.request_id)).where(*scope)
    ).all())
    reasons: dict[int, str] = {}
    for tender_id, body in db.exec(
        select(Thread.tender_id, Message.body)
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .join(Tender, col(Tender.id) == col(Thread.tender_id))
        .join(Request, col(Request.id) == col(Tender.request_id))
        .where(*scope).where(col(Tender.status) == TenderStatus.DECLINED)
        .where(col(Message.author) == Party.INSURER).where(col(Message.body).startswith(DECLINE_PREFIX))
        .order_by(col(Message.id))
    ).all():
        if tender_id is not None:
            reasons[tender_id] = body.removeprefix(DECLINE_PREFIX).strip()

    best: dict[int, int] = {}
    for tender_id, _insurer, _product, request_id, _status, _sent in tenders:
        premium = premiums.get(tender_id)
        if premium is not None:
            best[request_id] = min(best.get(request_id, premium), premium)

    figures: dict[tuple[int, int], InsurerFigures] = {}
    for tender_id, insurer_id, product, request_id, status, sent_at in tenders:
        entry = figures.setdefault((insurer_id, product), InsurerFigures(insurer_id, product))
        entry.sent += 1
        offered_at = first_offer.get(tender_id)
        if offered_at is not None:
            entry.offered += 1
            if sent_at is not None:
                entry.hours_to_offer.append(max(0.0, (offered_at - sent_at).total_seconds() / 3600))
        elif status == TenderStatus.DECLINED:
            entry.declined += 1
            entry.decline_reasons[reasons.get(tender_id, "")] += 1
        if tender_id in bound:
            entry.bound += 1
        premium = premiums.get(tender_id)
        if premium is not None and best.get(request_id):
            entry.spreads.append((premium - best[request_id]) / best[request_id] * 100)
    return figures


def by_insurer(figures: Iterable[InsurerFigures]) -> dict[int, InsurerFigures]:
    """The same figures with all products of an insurer together."""
    merged: dict[int, InsurerFigures] = defaultdict(lambda: InsurerFigures(0, None))
    for entry in figures:
        total = merged[entry.insurer_id]
        total.insurer_id = entry.insurer_id
        total.merge(entry)
    return dict(merged)


__all__ = [
    "DECLINE_PREFIX", "MIN_TENDERS_FOR_ADVICE", "RECOMMEND_ANSWER_RATE", "InsurerFigures", "by_insurer",
    "insurer_figures",
]

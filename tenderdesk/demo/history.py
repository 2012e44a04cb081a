"""A year of finished tenders for the demo, so the Auswertung has something to show.

:func:`seed_demo` creates only open requests: their tenders are started by the
product. Insurer figures, though, come from tenders that ended, which a fresh
demo would not have for months. :func:`seed_history` writes the main
account's past, bound requests as the projection leaves them when their
workflows are long finished: tenders closed, declined (with a reason in the
insurer's thread) or expired, accepted offers, and one binding per request.
No workflow belongs to these rows; none is needed for a tender that ended
(Temporal's retention would have removed it anyway).

Each insurer has a character (how often it answers, how fast, how dear), so
the figures and the ★ order differ between insurers as they would in life.
The output depends only on ``seed`` and ``now``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.analytics import DECLINE_PREFIX
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Binding,
    Broker,
    InsurerContact,
    Message,
    Offer,
    Party,
    Policyholder,
    Request,
    RequestStatus,
    Role,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.states import TenderStatus

#: Number prefix of the past requests: ``MA-H-2025-00001``.
HISTORY_PREFIX = "MA-H"
DECLINE_REASONS = (
    "Risiko außerhalb unserer Zeichnungsrichtlinien",
    "Vorschäden zu hoch",
    "Kapazität für diese Branche ausgeschöpft",
    "Betriebsart nicht versicherbar",
)


@dataclass(frozen=True)
class Character:
    """How one insurer behaves: share of tenders it answers, share of the
    answers that are offers, days to its offer, and its price level."""

    answers: float
    offers: float
    days: tuple[float, float]
    price: float


def _character(rng: random.Random) -> Character:
    return Character(answers=rng.uniform(0.45, 0.95), offers=rng.uniform(0.5, 0.9),
                     days=(rng.uniform(0.5, 2.0), rng.uniform(3.0, 9.0)), price=rng.uniform(0.9, 1.25))


def seed_history(engine: Engine, *, requests: int = 36, seed: int = 20260102, now: datetime) -> int:
    """Write ``requests`` bound past requests of the main account (the first
    account); returns how many tenders were written. Call it once, right
    after :func:`tenderdesk.demo.seed.seed_demo`."""
    rng = random.Random(seed)
    tenders = 0
    with session_scope(engine) as db:
        account = db.exec(select(Account).order_by(col(Account.id))).first()
        assert account is not None and account.id is not None, "seed_demo first"
        staff = db.exec(select(User).where(User.account_id == account.id)
                        .where(User.role == Role.BACKOFFICE).order_by(col(User.id))).all()
        brokers = db.exec(select(Broker).where(Broker.account_id == account.id).order_by(col(Broker.id))).all()
        holders = db.exec(select(Policyholder).where(Policyholder.account_id == account.id)
                          .order_by(col(Policyholder.id))).all()
        contacts = db.exec(select(InsurerContact).order_by(col(InsurerContact.id))).all()
        if not (staff and brokers and holders and contacts):
            return 0
        by_product: dict[int, list[InsurerContact]] = {}
        for contact in contacts:
            by_product.setdefault(contact.product_id, []).append(contact)
        characters = {c.insurer_id: _character(rng) for c in contacts}
        products = sorted(by_product)
        for seq in range(1, requests + 1):
            product_id = products[seq % len(products)]
            created = now - timedelta(days=rng.uniform(20, 340))
            request = Request(
                number=f"{HISTORY_PREFIX}-{created.year}-{seq:05d}", account_id=account.id,
                broker_id=rng.choice(brokers).id, policyholder_id=rng.choice(holders).id,  # type: ignore[arg-type]
                product_id=product_id, trade="Handwerk", status=RequestStatus.OPEN,
                assignee_id=rng.choice(staff).id, created_at=created, updated_at=created,
            )
            db.add(request)
            db.flush()
            chosen = rng.sample(by_product[product_id], k=min(len(by_product[product_id]), rng.randint(3, 5)))
            # The risk sets the price; each insurer's level and a little noise vary it.
            base = rng.uniform(1800, 9000)
            offers = [_tender(db, rng, request, c, characters[c.insurer_id], base) for c in chosen]
            tenders += len(chosen)
            priced = [o for o in offers if o is not None]
            if priced:
                winner = min(priced, key=lambda o: o.premium_cents * rng.uniform(0.95, 1.05))
                bound_at = max(o.created_at for o in priced) + timedelta(days=rng.uniform(1, 6))
                db.add(Binding(request_id=request.id, offer_id=winner.id, tender_id=winner.tender_id,  # type: ignore[arg-type]
                               bound_by_id=request.assignee_id, created_at=bound_at))  # type: ignore[arg-type]
                request.status, request.bound_at, request.updated_at = RequestStatus.BOUND, bound_at, bound_at
            else:
                request.status = RequestStatus.CLOSED
            db.add(request)
    return tenders


def _tender(db: Session, rng: random.Random, request: Request, contact: InsurerContact,
            who: Character, base_premium: float) -> Offer | None:
    """One ended tender; its accepted offer, if the insurer made one."""
    sent = request.created_at + timedelta(hours=rng.uniform(1, 30))
    tender = Tender(request_id=request.id, insurer_id=contact.insurer_id, contact_email=contact.email,  # type: ignore[arg-type]
                    workflow_id=f"demo-history-{uuid.UUID(int=rng.getrandbits(128)).hex}",
                    status=TenderStatus.EXPIRED, sent_at=sent, created_at=sent, projection_version=1)
    db.add(tender)
    db.flush()
    if rng.random() > who.answers:
        tender.ended_at = sent + timedelta(days=14)
        db.add(tender)
        return None
    answered = sent + timedelta(days=rng.uniform(*who.days))
    tender.ended_at = answered
    if rng.random() > who.offers:
        tender.status = TenderStatus.DECLINED
        thread = Thread(request_id=request.id, kind=ThreadKind.INSURER, tender_id=tender.id)  # type: ignore[arg-type]
        db.add(thread)
        db.flush()
        db.add(Message(thread_id=thread.id, request_id=request.id, action_id=uuid.UUID(int=rng.getrandbits(128)).hex,  # type: ignore[arg-type]
                       author=Party.INSURER, body=f"{DECLINE_PREFIX}{rng.choice(DECLINE_REASONS)}", visible=True,
                       unprocessed=False, created_at=answered))
        db.add(tender)
        return None
    premium = round(base_premium * who.price * rng.uniform(0.95, 1.05)) * 100
    offer = Offer(tender_id=tender.id, request_id=request.id,  # type: ignore[arg-type]
                  action_id=uuid.UUID(int=rng.getrandbits(128)).hex, premium_cents=premium,
                  valid_until=answered + timedelta(days=60), submitted_by=Party.INSURER, active=True,
                  released_at=answered + timedelta(hours=4), created_at=answered)
    db.add(offer)
    db.flush()
    tender.status, tender.current_offer_id = TenderStatus.CLOSED, offer.id
    db.add(tender)
    return offer


__all__ = ["HISTORY_PREFIX", "seed_history"]

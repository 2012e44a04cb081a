"""Demo showcase: a request whose released offers have already expired.

A new user should be able to try the guide's "Abgelaufene Angebote" path
(abgelaufen → beim Versicherer nachfragen → Stift → wieder freigeben) right
after ``make run``, without waiting days for a validity to run out. The seed
writes no tenders (starting one starts a workflow, that is the product's job),
so this module drives the product through its own services, exactly as the
wizard, the insurer's upload form and "Freigeben" do: two tenders are started,
each insurer's offer arrives with a validity of a few seconds (the form only
takes whole days; the service takes a time), both are released, and the
workflows' own validity timers move them to "Angebot abgelaufen".

``tenderdesk run`` runs ``python -m web.demo`` once, right after it seeded a
fresh database and the stack is up. Running it again changes nothing: it
stops if the chosen request already has tenders.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from tenderdesk import temporal_client
from tenderdesk.config import Settings, get_settings
from tenderdesk.db.engine import get_engine
from tenderdesk.db.models import (
    Account,
    Insurer,
    InsurerContact,
    Offer,
    Party,
    Request,
    RequestStatus,
    Role,
    Tender,
    User,
    utcnow,
)
from tenderdesk.demo.seed import MAIN_ACCOUNT_NAME
from tenderdesk.states import TenderStatus
from web.offers import release_offers
from web.tenders import OfferTerms, start_tenders, submit_offer

#: Long enough for both offers to be released before they run out.
VALIDITY_S = 8
#: How long to wait for the tender emails and for the validity timers.
WAIT_S = 90.0
NOTE = "Demo: Angebote kurz gültig, damit „abgelaufen → nachfragen → Stift → wieder freigeben“ sofort geht."
OFFERS = (
    (318_000, "Selbstbehalt 1.000 €; Laufzeit 1 Jahr"),
    (289_500, "Selbstbehalt 2.500 €; ohne Betriebsunterbrechung"),
)
#: The structured terms of the two offers, so the comparison has rows that differ.
OFFER_TERMS = (
    {"deductible_cents": 100_000, "commission_bp": 1250,
     "cover_modules": [{"name": "Inhalt", "sum_insured_cents": 50_000_000},
                       {"name": "Betriebsunterbrechung", "sum_insured_cents": 20_000_000}],
     "exclusions": ["Vorsätzlich herbeigeführte Schäden", "Schäden durch Krieg"]},
    {"deductible_cents": 250_000, "commission_bp": 1500,
     "cover_modules": [{"name": "Inhalt", "sum_insured_cents": 60_000_000}],
     "exclusions": ["Vorsätzlich herbeigeführte Schäden", "Schäden durch Krieg", "Betriebsunterbrechung"]},
)


@dataclass
class Showcase:
    request_id: int
    number: str
    staff: User
    insurer_ids: list[int]


def choose(engine: Engine) -> Showcase | None:
    """The main account's oldest open request (of a broker who can log in if any), its
    backoffice user and two reachable insurers for its product; None if that
    request has tenders already (the showcase ran) or the demo data is missing."""
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.name == MAIN_ACCOUNT_NAME)).first()
        if account is None:
            return None
        staff = session.exec(
            select(User).where(User.account_id == account.id, User.role == Role.BACKOFFICE).order_by(col(User.id))
        ).first()
        open_requests = (
            select(Request)
            .where(Request.account_id == account.id, Request.status == RequestStatus.OPEN,
                   col(Request.self_handled).is_(False))
            .order_by(col(Request.id))
        )
        # One whose broker can log in, so both sides can be tried; else any.
        request = session.exec(
            open_requests.join(User, col(User.broker_id) == col(Request.broker_id))
        ).first() or session.exec(open_requests).first()
        if staff is None or request is None or request.id is None:
            return None
        if session.exec(select(Tender.id).where(Tender.request_id == request.id)).first() is not None:
            return None
        insurer_ids = session.exec(
            select(Insurer.id)
            .join(InsurerContact, col(InsurerContact.insurer_id) == col(Insurer.id))
            .where(InsurerContact.product_id == request.product_id, col(Insurer.reachable))
            .order_by(col(Insurer.name))
            .limit(len(OFFERS))
        ).all()
        if len(insurer_ids) < len(OFFERS):
            return None
        # The request is the demo backoffice user's own, so it shows under "Meine".
        request.assignee_id = staff.id
        session.add(request)
        session.commit()
        session.refresh(staff)
        session.expunge(staff)
        return Showcase(request.id, request.number, staff, [i for i in insurer_ids if i is not None])


async def _until(engine: Engine, tender_ids: list[int], status: TenderStatus) -> list[Tender]:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        with Session(engine) as session:
            rows = session.exec(select(Tender).where(col(Tender.id).in_(tender_ids))).all()
        if len(rows) == len(tender_ids) and all(row.status == status for row in rows):
            return list(rows)
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"tenders not {status.value} after {WAIT_S:.0f} s")
        await asyncio.sleep(0.3)


async def expired_offer_showcase(settings: Settings, client: Client, engine: Engine) -> str | None:
    """Build the showcase; returns its request number, or None if there was nothing to do."""
    chosen = await asyncio.to_thread(choose, engine)
    if chosen is None:
        return None
    outcome = await start_tenders(
        client=client, engine=engine, task_queue=settings.temporal_task_queue, request_id=chosen.request_id,
        insurer_ids=chosen.insurer_ids, actor_user_id=chosen.staff.id, email_note=NOTE,
    )
    sent = await _until(engine, [t.id for t in outcome.started if t.id is not None], TenderStatus.SENT)
    for tender, (premium, note), terms in zip(sent, OFFERS, OFFER_TERMS, strict=False):
        await submit_offer(
            client, engine, tender,
            OfferTerms(premium_cents=premium, valid_until=utcnow() + timedelta(seconds=VALIDITY_S),
                       conditions_note=note, **terms),  # type: ignore[arg-type]
            by=Party.INSURER,
        )
    with Session(engine) as session:
        offer_ids = [i for i in session.exec(
            select(Offer.id).where(col(Offer.tender_id).in_([t.id for t in sent]), col(Offer.active))
        ).all() if i is not None]
    await release_offers(engine=engine, client=client, settings=settings, offer_ids=offer_ids, user=chosen.staff)
    await _until(engine, [t.id for t in sent if t.id is not None], TenderStatus.OFFER_EXPIRED)
    return chosen.number


async def main() -> int:
    settings = get_settings()
    client = await temporal_client.connect(settings)
    number = await expired_offer_showcase(settings, client, get_engine(settings.database_url))
    if number:
        print(f"Demo: Anfrage {number} hat freigegebene Angebote, die schon abgelaufen sind "
              "(abgelaufen → nachfragen → Stift → wieder freigeben).", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

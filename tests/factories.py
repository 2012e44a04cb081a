"""Small, explicit test data: one account with a request and a few insurers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Binding,
    Broker,
    Insurer,
    InsurerContact,
    Message,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    Role,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.states import TenderStatus


@dataclass
class World:
    account_id: int
    request_id: int
    product_id: int
    insurer_ids: list[int]
    backoffice_user_id: int


def make_world(
    engine: Engine,
    *,
    insurers: int = 3,
    reminder_offsets_s: tuple[float, ...] = (3 * 86400.0, 7 * 86400.0),
    response_deadline_s: float = 14 * 86400.0,
    offer_validity_s: float = 60 * 86400.0,
    tag: str = "",
    business_days: bool = False,
    state: str = "HH",
) -> World:
    """One account, broker, policyholder, product, request and N insurers with contacts."""
    with session_scope(engine) as s:
        account = Account(
            name=f"Testpool{tag}",
            reminder_offsets_s=list(reminder_offsets_s),
            response_deadline_s=response_deadline_s,
            offer_validity_s=offer_validity_s,
            # Timer tests count plain days unless they test business days.
            business_days=business_days,
        )
        s.add(account)
        s.flush()
        product = Product(code=f"BHV{tag}", name="Betriebshaftpflicht")
        s.add(product)
        broker = Broker(account_id=account.id, name="Erika Muster", company="Muster Makler GmbH",  # type: ignore[arg-type]
                        email="erika@makler.example")
        holder = Policyholder(account_id=account.id, name="Elektro Blitz", legal_form="GmbH",  # type: ignore[arg-type]
                              postcode="20095", city="Hamburg", state=state)
        s.add_all([broker, holder])
        s.flush()
        user = User(account_id=account.id, email=f"bo{tag}@test.example", name="Bea Backoffice",  # type: ignore[arg-type]
                    role=Role.BACKOFFICE, password_hash="x")
        s.add(user)
        request = Request(
            number=f"MA-TEST{tag}-00001", account_id=account.id, broker_id=broker.id,  # type: ignore[arg-type]
            policyholder_id=holder.id, product_id=product.id, trade="Elektroinstallateur",  # type: ignore[arg-type]
            answers={"Betrieb": {"Mitarbeiter": "12", "Umsatz": "1.200.000 €"}},
        )
        s.add(request)
        s.flush()
        insurer_ids = []
        for i in range(insurers):
            insurer = Insurer(name=f"Testversicherung {tag}{i} AG", short_name=f"TV{i}")
            s.add(insurer)
            s.flush()
            s.add(InsurerContact(insurer_id=insurer.id, product_id=product.id,  # type: ignore[arg-type]
                                 email=f"ausschreibung{i}@tv{i}{tag}.example"))
            insurer_ids.append(insurer.id)
        return World(account.id, request.id, product.id, insurer_ids, user.id)  # type: ignore[arg-type]


def add_request(engine: Engine, world: World, number: str) -> int:
    """Another request of the world's account, broker, policyholder and product."""
    with session_scope(engine) as s:
        first = s.get(Request, world.request_id)
        assert first is not None
        request = Request(number=number, account_id=first.account_id, broker_id=first.broker_id,
                          policyholder_id=first.policyholder_id, product_id=first.product_id, trade=first.trade)
        s.add(request)
        s.flush()
        return request.id  # type: ignore[return-value]


def add_answered_tender(
    engine: Engine, request_id: int, insurer_id: int, *, sent_at: datetime,
    status: TenderStatus = TenderStatus.SENT, premium_cents: int | None = None,
    offered_after: timedelta = timedelta(days=1), bound_by: int | None = None, decline_reason: str | None = None,
) -> int:
    """A tender row as its projection leaves it: sent, maybe with an accepted
    offer (current), a binding, or a decline message in its insurer thread."""
    with session_scope(engine) as s:
        tender = Tender(request_id=request_id, insurer_id=insurer_id, contact_email="a@b.example",
                        workflow_id=f"t-{uuid.uuid4().hex}", status=status, sent_at=sent_at)
        s.add(tender)
        s.flush()
        if premium_cents is not None:
            offer = Offer(tender_id=tender.id, request_id=request_id, action_id=uuid.uuid4().hex,  # type: ignore[arg-type]
                          premium_cents=premium_cents, valid_until=sent_at + timedelta(days=60),
                          submitted_by=Party.INSURER, active=True, created_at=sent_at + offered_after)
            s.add(offer)
            s.flush()
            tender.current_offer_id = offer.id
            if bound_by is not None:
                s.add(Binding(request_id=request_id, offer_id=offer.id, tender_id=tender.id,  # type: ignore[arg-type]
                              bound_by_id=bound_by))
        if decline_reason is not None:
            thread = Thread(request_id=request_id, kind=ThreadKind.INSURER, tender_id=tender.id)
            s.add(thread)
            s.flush()
            s.add(Message(thread_id=thread.id, request_id=request_id, action_id=uuid.uuid4().hex,  # type: ignore[arg-type]
                          author=Party.INSURER, body=f"Absage: {decline_reason}", visible=True))
        return tender.id  # type: ignore[return-value]

"""Small, explicit test data: one account with a request and a few insurers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Broker,
    Insurer,
    InsurerContact,
    Policyholder,
    Product,
    Request,
    Role,
    User,
)


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

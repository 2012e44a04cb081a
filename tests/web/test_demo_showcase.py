"""The expired-offer demo request that ``make run`` prepares on a fresh database
(``web/demo.py``), against a real Temporal dev server, worker and SMTP capture,
on SQLite and PostgreSQL: released offers that the workflows' own validity
timers have expired, ready for "nachfragen → Stift → wieder freigeben"."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tenderdesk.db.models import Offer, Request, Tender
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.demo import expired_offer_showcase

from ..conftest import Running, SmtpServer
from .conftest import BROKER_USER, MAIN_BACKOFFICE, client_for, logged_in


async def test_fresh_demo_has_a_request_with_expired_released_offers(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=10)
    number = await expired_offer_showcase(dev.settings, dev.client, dev.engine)
    assert number is not None
    with Session(dev.engine) as s:
        request = s.exec(select(Request).where(Request.number == number)).one()
        tenders = s.exec(select(Tender).where(Tender.request_id == request.id)).all()
        offers = s.exec(select(Offer).where(col(Offer.tender_id).in_([t.id for t in tenders]))).all()
    assert len(tenders) == 2 and {t.status for t in tenders} == {TenderStatus.OFFER_EXPIRED}
    assert len(offers) == 2 and all(o.active and o.released_at is not None for o in offers)

    # Running it again (a second `make run` on the same data) changes nothing.
    assert await expired_offer_showcase(dev.settings, dev.client, dev.engine) is None
    with Session(dev.engine) as s:
        assert len(s.exec(select(Tender)).all()) == 2

    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    async with client_for(app) as backoffice, client_for(app) as broker:
        await logged_in(backoffice, MAIN_BACKOFFICE)
        page = await backoffice.get(f"/requests/{request.id}")
        assert page.status_code == 200 and page.text.count("Angebot abgelaufen") >= 2
        await logged_in(broker, BROKER_USER)
        page = await broker.get(f"/requests/{request.id}")
        assert page.status_code == 200 and "abgelaufen" in page.text

"""Sammelaktionen on real parts (Temporal dev server, worker, SMTP capture,
SQLite and PostgreSQL): remind every overdue tender, release every offer,
withdraw every open tender, assign several requests. Each runs through the
workflows' own updates, reports per item, and a repeated click changes nothing."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta

from sqlmodel import Session, col, select

from tenderdesk.db.models import Account, AuditEvent, Offer, Party, Request, SystemEmail, Tender, utcnow
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.tenders.service import OfferTerms, submit_offer

from ..conftest import Running, SmtpServer, eventually
from .conftest import BROKER_USER, MAIN_BACKOFFICE, client_for, logged_in, tenderable_insurer
from .test_end_to_end import tender_status

BATCH_RE = re.compile(r'name="batch_id" value="([0-9a-f]{32})"')


def _tenders(run: Running, request_id: int | None) -> list[Tender]:
    with Session(run.engine) as s:
        return list(s.exec(select(Tender).where(Tender.request_id == request_id).order_by(col(Tender.id))).all())


def _emails(run: Running, kind: str) -> int:
    with Session(run.engine) as s:
        return len(s.exec(select(SystemEmail).where(SystemEmail.kind == kind)).all())


async def test_bulk_actions_act_once_per_item_and_report_each(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=4)
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    with Session(dev.engine) as s:
        requests = s.exec(select(Request).where(Request.account_id == 1).order_by(col(Request.id))).all()
        foreign = s.exec(select(Request).where(Request.account_id != 1)).first()
    request = requests[0]
    insurers = [tenderable_insurer(dev.engine, request, skip=n) for n in range(3)]

    async with client_for(app) as http, client_for(app) as broker:
        csrf = await logged_in(http, MAIN_BACKOFFICE)
        started = await http.post(f"/requests/{request.id}/tenders",
                                  data={"csrf_token": csrf, "insurer_id": [str(i.id) for i in insurers]})
        assert started.status_code == 303
        tenders = _tenders(dev, request.id)
        for tender in tenders:
            await eventually(lambda t=tender: tender_status(dev.engine, t.id) == TenderStatus.SENT)  # type: ignore[misc]
        # The account's first reminder is after 3 days; make that one second, so all three are overdue.
        with Session(dev.engine) as s:
            account = s.get(Account, request.account_id)
            account.reminder_offsets_s = [1.0, 604800.0]  # type: ignore[union-attr]
            s.add(account)
            s.commit()
        await asyncio.sleep(1.1)

        # -- remind every overdue tender, from the dashboard
        page = html.unescape((await http.get("/")).text)
        assert "Alle 3 überfälligen Ausschreibungen erinnern" in page
        batch = BATCH_RE.search(page).group(1)  # type: ignore[union-attr]
        for _ in range(2):  # the second click (or a reload of the report) changes nothing
            report = await http.post("/bulk/remind", data={"csrf_token": csrf, "batch_id": batch})
            assert report.status_code == 200, report.text
            text = html.unescape(report.text)
            assert text.count("Erinnerung") >= 3 and "3 erledigt, 0 unverändert, 0 nicht möglich" in text
        await eventually(lambda: _emails(dev, "reminder") == 3)
        await asyncio.sleep(0.5)
        assert _emails(dev, "reminder") == 3
        assert all(len(smtp_server.capture.to(t.contact_email)) == 2 for t in tenders)

        # -- release every offer at once
        now = utcnow()
        for tender in tenders[:2]:
            await submit_offer(dev.client, dev.engine, tender, OfferTerms(
                premium_cents=100_000, valid_until=now + timedelta(days=30)), by=Party.INSURER)
        for _ in range(2):
            released = await http.post(f"/requests/{request.id}/offers/release", data={"csrf_token": csrf, "all": "1"})
            assert released.status_code == 303
        with Session(dev.engine) as s:
            offers = s.exec(select(Offer).where(Offer.request_id == request.id)).all()
        assert len(offers) == 2 and all(o.released_at is not None for o in offers)
        assert _emails(dev, "offers_released") == 1

        # -- withdraw every open tender, from the request page
        page = html.unescape((await http.get(f"/requests/{request.id}")).text)
        assert "Alle 3 offenen zurückziehen" in page
        batch = BATCH_RE.search(page).group(1)  # type: ignore[union-attr]
        reports = [html.unescape((await http.post(f"/requests/{request.id}/bulk/withdraw",
                                                  data={"csrf_token": csrf, "batch_id": batch})).text)
                   for _ in range(2)]
        assert "3 erledigt" in reports[0] and "Nichts zu tun" in reports[1]
        assert {t.status for t in _tenders(dev, request.id)} == {TenderStatus.WITHDRAWN}
        await eventually(lambda: _emails(dev, "withdrawn") == 3)
        with Session(dev.engine) as s:
            assert len(s.exec(select(AuditEvent).where(AuditEvent.kind == "withdrawn")).all()) == 3

        # -- assign several requests; a foreign one is refused by name, the rest done once
        me = [r for r in requests[1:3]]
        form = {"csrf_token": csrf, "assignee_id": "2",
                "request_id": [str(r.id) for r in me] + [str(foreign.id)]}  # type: ignore[union-attr]
        first = html.unescape((await http.post("/bulk/assign", data=form)).text)
        again = html.unescape((await http.post("/bulk/assign", data=form)).text)
        assert "2 erledigt, 0 unverändert, 1 nicht möglich" in first
        assert "0 erledigt, 2 unverändert, 1 nicht möglich" in again
        with Session(dev.engine) as s:
            assert all(s.get(Request, r.id).assignee_id == 2 for r in me)  # type: ignore[union-attr]
            assert s.get(Request, foreign.id).assignee_id != 2  # type: ignore[union-attr]
            assert len(s.exec(select(AuditEvent).where(AuditEvent.kind == "assigned")).all()) == 2
        bad = await http.post("/bulk/assign", data={**form, "assignee_id": "999"})
        assert bad.status_code == 422

        # -- a broker may do none of it
        broker_csrf = await logged_in(broker, BROKER_USER)
        for path, data in (("/bulk/remind", {"batch_id": batch}), ("/bulk/assign", form)):
            refused = await broker.post(path, data={**data, "csrf_token": broker_csrf})
            assert refused.status_code == 403, path

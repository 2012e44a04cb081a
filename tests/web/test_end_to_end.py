"""The web layer against a real Temporal dev server, worker and SMTP capture,
on SQLite and PostgreSQL: backoffice starts tenders, the insurer opens the
emailed link, asks, uploads an offer; the backoffice reminds and withdraws."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.db.models import Message, Offer, Request, Tender, utcnow
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus
from web.app import create_app

from ..conftest import Running, SmtpServer, eventually
from .conftest import MAIN_BACKOFFICE, client_for, csrf_from, logged_in, tenderable_insurer
from .test_insurer_link import forms, sample_pdf

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")
ACTION_ID_RE = re.compile(r'/actions/(\w+)">\s*<input type="hidden" name="csrf_token" value="[^"]+">'
                          r'\s*<input type="hidden" name="action_id" value="([0-9a-f]{32})">')


def tender_status(engine: Engine, tender_id: int | None) -> TenderStatus:
    with Session(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender.status


def token_for(smtp: SmtpServer, address: str) -> str | None:
    for message in smtp.capture.to(address):
        body = message.get_body(preferencelist=("plain",))
        match = LINK_RE.search(body.get_content()) if body else None
        if match:
            return match.group(1)
    return None


async def test_tender_round_trip(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=3)
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    with Session(dev.engine) as s:
        request = s.exec(select(Request).order_by(Request.id)).first()  # type: ignore[arg-type]
    assert request is not None
    first, second = (tenderable_insurer(dev.engine, request, skip=n) for n in (0, 1))

    async with client_for(app) as backoffice, client_for(app) as insurer:
        csrf = await logged_in(backoffice, MAIN_BACKOFFICE)
        started = await backoffice.post(
            f"/requests/{request.id}/tenders",
            data={"csrf_token": csrf, "insurer_id": [str(first.id), str(second.id)]},
        )
        assert started.status_code == 303, started.text
        with Session(dev.engine) as s:
            tenders = {t.insurer_id: t for t in s.exec(select(Tender)).all()}
        offered_tender, withdrawn_tender = tenders[first.id], tenders[second.id]  # type: ignore[index]
        for tender_id in (offered_tender.id, withdrawn_tender.id):
            await eventually(
                lambda tid=tender_id: tender_status(dev.engine, tid) == TenderStatus.SENT  # type: ignore[misc]
            )
        token = await eventually(lambda: token_for(smtp_server, offered_tender.contact_email))
        assert isinstance(token, str)

        # the insurer opens the link, asks a question and uploads an offer
        page = await insurer.get(f"/t/{token}")
        assert page.status_code == 200 and request.number in page.text
        await eventually(lambda: _row(dev.engine, offered_tender.id).first_opened_at is not None)
        csrf_q, action_q = forms(page.text)["question"]
        asked = await insurer.post(f"/t/{token}/question", data={
            "csrf_token": csrf_q, "action_id": action_q, "body": "Wie hoch ist der Jahresumsatz?"})
        assert asked.status_code == 303, asked.text
        assert tender_status(dev.engine, offered_tender.id) == TenderStatus.IN_PROGRESS
        with Session(dev.engine) as s:
            assert s.exec(select(Message).where(Message.action_id == action_q)).one().visible

        page = await insurer.get(f"/t/{token}")
        assert "Wie hoch ist der Jahresumsatz?" in page.text
        csrf_o, action_o = forms(page.text)["offer"]
        valid_until = (utcnow() + timedelta(days=60)).strftime("%Y-%m-%d")
        offered = await insurer.post(
            f"/t/{token}/offer",
            data={"csrf_token": csrf_o, "action_id": action_o, "premium": "2.345,00",
                  "valid_until": valid_until},
            files={"file": ("angebot.pdf", sample_pdf(), "application/pdf")},
        )
        assert offered.status_code == 303, offered.text
        assert tender_status(dev.engine, offered_tender.id) == TenderStatus.OFFERED
        with Session(dev.engine) as s:
            offer = s.exec(select(Offer)).one()
        assert offer.active and offer.premium_cents == 234500

        # the backoffice sees it, reminds the other insurer and then withdraws it
        detail = await backoffice.get(f"/requests/{request.id}")
        assert "Angebot erhalten" in detail.text and "2.345,00" in detail.text
        actions = dict(ACTION_ID_RE.findall(detail.text.split(f'id="tender-{withdrawn_tender.id}"')[1]))
        base = f"/requests/{request.id}/tenders/{withdrawn_tender.id}/actions"
        reminded = await backoffice.post(f"{base}/remind_now",
                                         data={"csrf_token": csrf, "action_id": actions["remind_now"]})
        assert reminded.status_code == 303
        await eventually(lambda: _row(dev.engine, withdrawn_tender.id).reminders_sent == 1)
        withdrawn = await backoffice.post(f"{base}/withdraw",
                                          data={"csrf_token": csrf, "action_id": actions["withdraw"]})
        assert withdrawn.status_code == 303
        shown = await backoffice.get(withdrawn.headers["location"])
        assert "zurückgezogen" in shown.text
        assert tender_status(dev.engine, withdrawn_tender.id) == TenderStatus.WITHDRAWN

        other_token = token_for(smtp_server, withdrawn_tender.contact_email)
        ended = await insurer.get(f"/t/{other_token}")
        assert ended.status_code == 410
        assert "Die Ausschreibung wurde zurückgezogen." in ended.text

        again = await backoffice.post(f"{base}/withdraw",
                                      data={"csrf_token": csrf, "action_id": "b" * 32})
        page = await backoffice.get(again.headers["location"])
        assert "nicht mehr möglich" in page.text or "bereits beendet" in page.text
        assert csrf_from(page.text)


def _row(engine: Engine, tender_id: int | None) -> Tender:
    with Session(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender


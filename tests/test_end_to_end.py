"""The engine end to end, over real parts: a demo request is tendered to three
insurers through the web app; the three emails are read from the SMTP server;
each insurer follows its link over HTTP and answers (offer, decline, question).
The states are checked in the database and in Temporal visibility."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlmodel import Session, col, select

from tenderdesk.db.models import Message, Offer, Request, SystemEmail, Tender, TenderLink, utcnow
from tenderdesk.demo.seed import seed_demo
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus
from web.app import create_app

from .conftest import Running, SmtpServer, eventually
from .web.conftest import MAIN_BACKOFFICE, client_for, logged_in, tenderable_insurer
from .web.test_insurer_link import forms, sample_pdf

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]{40,})")


async def visible_status(run: Running, request_id: int, insurer_id: int) -> str | None:
    query = (f'RequestId = "{request_id}" AND InsurerId = "{insurer_id}" '
             f'AND TaskQueue = "{run.task_queue}"')
    async for wf in run.client.list_workflows(query):
        values = wf.search_attributes.get("TenderStatus")
        return str(values[0]) if values else None
    return None


async def test_three_insurers_answer_through_their_links(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=3)
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    with Session(dev.engine) as s:
        request = s.exec(select(Request).order_by(col(Request.id))).first()
    assert request is not None and request.id is not None
    insurers = [tenderable_insurer(dev.engine, request, skip=n) for n in range(3)]

    async with client_for(app) as backoffice:
        csrf = await logged_in(backoffice, MAIN_BACKOFFICE)
        started = await backoffice.post(
            f"/requests/{request.id}/tenders",
            data={"csrf_token": csrf, "insurer_id": [str(i.id) for i in insurers]},
        )
        assert started.status_code == 303, started.text

    with Session(dev.engine) as s:
        tenders = {t.insurer_id: t for t in s.exec(select(Tender).where(Tender.request_id == request.id))}
    assert set(tenders) == {i.id for i in insurers}

    # three emails, one per insurer contact, each with its own link
    await eventually(lambda: len(smtp_server.capture.messages) == 3)
    tokens: dict[int, str] = {}
    for insurer_id, tender in tenders.items():
        [mail] = smtp_server.capture.to(tender.contact_email)
        assert request.number in str(mail["Subject"])
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        match = LINK_RE.search(body.get_content())
        assert match, "tender email carries the insurer's link"
        tokens[insurer_id] = match.group(1)
        with Session(dev.engine) as s:
            link = s.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(match.group(1)))).one()
            assert link.tender_id == tender.id
            stored = s.exec(select(SystemEmail).where(SystemEmail.tender_id == tender.id)).one()
            assert match.group(1) not in stored.body_text
    for tender in tenders.values():
        await eventually(lambda t=tender: _status(dev, t.id) == TenderStatus.SENT)  # type: ignore[misc]

    offering, declining, asking = (i.id for i in insurers)
    assert offering is not None and declining is not None and asking is not None
    async with client_for(app) as insurer:
        page = await insurer.get(f"/t/{tokens[offering]}")
        assert page.status_code == 200 and request.number in page.text
        csrf_o, action_o = forms(page.text)["offer"]
        valid_until = (utcnow() + timedelta(days=60)).strftime("%d.%m.%Y")
        offered = await insurer.post(
            f"/t/{tokens[offering]}/offer",
            data={"csrf_token": csrf_o, "action_id": action_o, "premium": "3.210,00", "valid_until": valid_until},
            files={"file": ("angebot.pdf", sample_pdf(), "application/pdf")},
        )
        assert offered.status_code == 303, offered.text

    async with client_for(app) as insurer:
        page = await insurer.get(f"/t/{tokens[declining]}")
        csrf_d, action_d = forms(page.text)["decline"]
        declined = await insurer.post(f"/t/{tokens[declining]}/decline", data={
            "csrf_token": csrf_d, "action_id": action_d, "reason": "Gewerbe nicht im Zeichnungsrahmen"})
        assert declined.status_code == 303, declined.text
        dead = await insurer.get(f"/t/{tokens[declining]}")
        assert dead.status_code == 410

    async with client_for(app) as insurer:
        page = await insurer.get(f"/t/{tokens[asking]}")
        csrf_q, action_q = forms(page.text)["question"]
        asked = await insurer.post(f"/t/{tokens[asking]}/question", data={
            "csrf_token": csrf_q, "action_id": action_q, "body": "Gibt es Vorschäden seit 2020?"})
        assert asked.status_code == 303, asked.text

    expected = {offering: TenderStatus.OFFERED, declining: TenderStatus.DECLINED, asking: TenderStatus.IN_PROGRESS}
    for insurer_id, status in expected.items():
        assert _status(dev, tenders[insurer_id].id) == status
    with Session(dev.engine) as s:
        [offer] = s.exec(select(Offer).where(Offer.request_id == request.id)).all()
        assert offer.active and offer.premium_cents == 321_000 and offer.tender_id == tenders[offering].id
        bodies = {m.body for m in s.exec(select(Message).where(Message.request_id == request.id)) if m.visible}
        assert "Gibt es Vorschäden seit 2020?" in bodies
        assert any("Gewerbe nicht im Zeichnungsrahmen" in b for b in bodies)
        assert all(link.revoked_at is not None for link in s.exec(
            select(TenderLink).where(TenderLink.tender_id == tenders[declining].id)))

    # Temporal visibility agrees (eventually consistent)
    for insurer_id, status in expected.items():
        async def seen(iid: int = insurer_id, st: TenderStatus = status) -> bool:
            return await visible_status(dev, request.id, iid) == st.value  # type: ignore[arg-type]

        for _ in range(100):
            if await seen():
                break
            await asyncio.sleep(0.1)
        assert await seen(), f"TenderStatus of insurer {insurer_id} not {status}"


def _status(run: Running, tender_id: int | None) -> TenderStatus:
    with Session(run.engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender.status

"""Payload hygiene (issue 8): after a full journey (tenders sent, a question
with a name in it, an uploaded offer, release, binding with cover order and
cover note), no workflow history of the run holds a link token, an email
address, a person's or company's name or document bytes, in any payload,
search attribute, memo or failure; and no log line holds a token."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from sqlmodel import Session, select

from tenderdesk.db.models import Broker, Document, Insurer, Offer, Policyholder, User
from tenderdesk.states import TenderStatus

from ..binding.helpers import binding_result, sent_tenders, wait_for
from ..conftest import Running, SmtpServer
from ..web.test_broker import insurer_uploads_offer
from ..web.test_end_to_end import token_for
from ..web.test_insurer_link import forms
from ..web.test_offers_ui import open_site, release_via_page, tender_row

EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
QUESTION = "Bitte Rückruf an Frau Erika Muster wegen der Schadenquote."


async def test_no_token_address_name_or_document_in_any_history_or_log(
    dev: Running, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with open_site(dev) as site:
        chosen, other = await sent_tenders(site.run, site.world, 2)
        token = await insurer_uploads_offer(site, smtp_server, chosen, "1.234,50")
        other_token = token_for(smtp_server, other.contact_email)
        assert other_token is not None
        transport = httpx.ASGITransport(app=site.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as insurer:
            csrf, action_id = forms((await insurer.get(f"/t/{other_token}")).text)["question"]
            asked = await insurer.post(f"/t/{other_token}/question",
                                       data={"csrf_token": csrf, "action_id": action_id, "body": QUESTION})
            assert asked.status_code == 303
        bo, bo_csrf = await site.login(site.backoffice)
        broker, broker_csrf = await site.login(site.broker)
        offer_id = tender_row(site, chosen.id).current_offer_id
        with Session(dev.engine) as s:
            offer = s.get(Offer, offer_id)
            assert offer is not None
        await release_via_page(site, bo, bo_csrf, offer)
        bound = await broker.post(f"{site.page}/offers/{offer_id}/bind", data={"csrf_token": broker_csrf})
        assert bound.status_code == 303
        await binding_result(dev, site.request_id)
        await wait_for(lambda: all(tender_row(site, t.id).status == TenderStatus.CLOSED for t in (chosen, other)),
                       what="tenders closed")

        with Session(dev.engine) as s:
            names = [u.name for u in s.exec(select(User)).all()]
            names += [b.name for b in s.exec(select(Broker)).all()] + [b.company for b in s.exec(select(Broker)).all()]
            names += [p.name for p in s.exec(select(Policyholder)).all()]
            names += [i.name for i in s.exec(select(Insurer)).all()]
            documents = [(site.run.settings.storage_dir / d.storage_key).read_bytes()
                         for d in s.exec(select(Document)).all()]
        secrets = {token.encode(), other_token.encode(), QUESTION.encode(), b"Schadenquote"}
        secrets |= {n.encode() for n in names if len(n) >= 5}
        # A stretch from the middle of every stored file (its header is shared by all PDFs).
        secrets |= {d[len(d) // 2: len(d) // 2 + 48] for d in documents if len(d) > 200}

        histories = 0
        events = 0
        async for execution in dev.client.list_workflows(f"TaskQueue = '{dev.task_queue}'"):
            handle = dev.client.get_workflow_handle(execution.id, run_id=execution.run_id)
            history = await handle.fetch_history()
            histories += 1
            for event in history.events:
                events += 1
                raw = event.SerializeToString()
                assert not EMAIL_RE.search(raw), (execution.id, event.event_type, EMAIL_RE.search(raw))
                leaked = [s[:30] for s in secrets if s in raw]
                assert not leaked, (execution.id, event.event_type, leaked)
        print(f"\npayload hygiene: {histories} histories, {events} events scanned for {len(secrets)} secrets")
        assert histories >= 4 and events > 50  # tenders, notifications, binding: the journey really ran
        # The product's own log lines (not the test's HTTP client or SMTP capture server).
        product = ("web", "activities", "workflows", "tenderdesk", "worker", "uvicorn", "temporalio")
        log_text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records
                              if r.name.split(".")[0] in product)
        assert log_text and token not in log_text and other_token not in log_text

"""Concurrency at the edges (issue 8, "Fault tests"): the same action many
times at once runs once, and every action after the end is refused with its
reason. Real app (over ASGI), Temporal dev server, worker, loopback SMTP, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import html
import re
from collections import Counter

import httpx
from sqlmodel import Session, col, select

from tenderdesk.db.models import Offer, Tender
from tenderdesk.states import TenderStatus

from ..conftest import Running, SmtpServer, eventually
from ..web.test_insurer_link import future_date, linked, sample_pdf
from ..web.test_messages_ui import one_form, open_portal, rows

SENDS = 20
#: The reason a refused page gives, in an error list or an alert.
ALERT_OR_ERROR = re.compile(r'(?:class="form-errors" role="alert">\s*<p>|class="flash flash-error"[^>]*>)([^<]+)')
OFFERS = 50


async def test_twenty_identical_sends_start_one_workflow_and_one_email(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        staff, csrf = await portal.as_user(portal.cast.backoffice)
        insurer_id = portal.cast.world.insurer_ids[0]
        url = f"/requests/{portal.request_id}/tenders"
        answers = await asyncio.gather(*(
            staff.post(url, data={"csrf_token": csrf, "insurer_id": [str(insurer_id)]}) for _ in range(SENDS)
        ))
        codes = Counter(a.status_code for a in answers)
        [tender] = rows(portal.engine, Tender, col(Tender.request_id) == portal.request_id)
        await eventually(lambda: rows(portal.engine, Tender, col(Tender.id) == tender.id)[0].status
                         == TenderStatus.SENT or None, timeout=20)
        await asyncio.sleep(0.5)
        mails = smtp_server.capture.to(tender.contact_email)
        refusals = [a for a in answers if a.status_code != 303]
        print(f"\n{SENDS} identical sends: answers {dict(codes)}, 1 tender row, {len(mails)} email(s)")
        print({a.status_code: ALERT_OR_ERROR.findall(html.unescape(a.text))[:1] for a in refusals})
        assert codes[303] >= 1 and set(codes) <= {303, 409, 422}
        assert all(ALERT_OR_ERROR.search(html.unescape(a.text)) for a in refusals)
        assert len(mails) == 1
        workflows = [w async for w in dev.client.list_workflows(f"WorkflowId = '{tender.workflow_id}'")]
        assert len(workflows) == 1


async def test_fifty_posts_of_one_offer_form_record_one_offer(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        form = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new")
        pdf = sample_pdf()

        async def post(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(f"/t/{token}/offer",
                                     data={**form.fields, "premium": "1.234,56", "valid_until": future_date()},
                                     files={"file": ("angebot.pdf", pdf, "application/pdf")})

        answers = await asyncio.gather(*(post(insurer) for _ in range(OFFERS)))
        codes = Counter(a.status_code for a in answers)
        offers = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id)
        print(f"\n{OFFERS} posts of one offer form: answers {dict(codes)}, {len(offers)} offer row(s)")
        assert set(codes) == {303}, [a.text[-500:] for a in answers if a.status_code != 303][:1]
        assert len(offers) == 1 and offers[0].active


async def test_fifty_tabs_racing_offers_keep_one_and_say_why_to_the_rest(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        tabs = [one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new") for _ in range(OFFERS)]

        async def post(fields: dict[str, str], n: int) -> httpx.Response:
            return await insurer.post(f"/t/{token}/offer",
                                      data={**fields, "premium": f"{1000 + n},00", "valid_until": future_date()},
                                      files={"file": ("angebot.pdf", sample_pdf(str(n)), "application/pdf")})

        answers = await asyncio.gather(*(post(tab.fields, n) for n, tab in enumerate(tabs)))
        codes = Counter(a.status_code for a in answers)
        active = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id, col(Offer.active))
        refused = [a for a in answers if a.status_code != 303]
        print(f"\n{OFFERS} tabs posting offers at once: answers {dict(codes)}, {len(active)} active offer")
        assert codes[303] >= 1 and len(active) == 1
        assert all(ALERT_OR_ERROR.search(a.text) for a in refused), "a refusal without a reason"
        assert 500 not in codes


async def test_every_post_after_the_end_is_refused_with_a_reason(dev: Running, smtp_server: SmtpServer) -> None:
    """Decline, withdrawal and binding end a tender; an expired link ends too
    (tests/web/test_insurer_link.py covers each page). Here: posts from a page
    loaded before the end."""
    async with open_portal(dev, smtp_server) as portal:
        tenders, tokens, insurer = await linked(portal, 2)
        staff, csrf = await portal.as_user(portal.cast.backoffice)
        forms = [one_form((await insurer.get(f"/t/{t}")).text, "/offer", mode="new") for t in tokens]
        decline = one_form((await insurer.get(f"/t/{tokens[0]}")).text, "/decline")
        assert (await insurer.post(f"/t/{tokens[0]}/decline",
                                   data={**decline.fields, "reason": "Kein Risikoappetit"})).status_code == 303
        page = (await staff.get(f"/requests/{portal.request_id}")).text
        withdraw = one_form(page, f"/tenders/{tenders[1].id}/actions/withdraw")
        assert (await staff.post(withdraw.action, data=withdraw.fields)).status_code == 303
        await eventually(lambda: rows(portal.engine, Tender, col(Tender.id) == tenders[1].id)[0].status
                         == TenderStatus.WITHDRAWN or None)

        for token, form in zip(tokens, forms, strict=True):
            late = await insurer.post(f"/t/{token}/offer",
                                      data={**form.fields, "premium": "1.000,00", "valid_until": future_date()},
                                      files={"file": ("a.pdf", sample_pdf(), "application/pdf")})
            assert late.status_code == 410
            assert "abgesagt" in late.text or "zurückgezogen" in late.text or "beendet" in late.text, late.text[-800:]
        with Session(portal.engine) as s:
            assert s.exec(select(Offer)).all() == []

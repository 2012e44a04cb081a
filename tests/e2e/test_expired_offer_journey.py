"""Expired offers, end to end in real Chromium: the guide's "Abgelaufene Angebote".

An insurer's released offer runs out of validity; the broker sees it marked
expired and cannot bind it. The backoffice asks the insurer for an extension
through the messaging module, the insurer confirms through its link, the
backoffice enters the new validity with the pencil (Stiftsymbol) and releases
the offer again, and the broker binds it.

To expire within seconds, the offer is submitted with a validity a few
seconds ahead through :func:`web.tenders.service.submit_offer`, the same service the
insurer's upload form calls (the form only takes whole days); the workflow's
own validity timer then moves the tender to "Angebot abgelaufen".
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlmodel import Session, select

from tenderdesk.db.models import Binding, Message, Party, Request, RequestStatus, utcnow
from tenderdesk.states import TenderStatus
from web.tenders.service import OfferTerms, submit_offer

from .conftest import BACKOFFICE, BROKER, Live, log_in
from .test_backoffice_journey import (
    SOON,
    Journey,
    active_offer,
    add_tenders,
    insurer_link,
    open_request,
    tender_row,
    tenders_of,
    valid_until_input,
    wait_sent,
)
from .test_insurer_broker_journey import bind, broker_request, release

INSURER = "Weserbogen Versicherung AG"
#: Long enough to release the offer through the page before it runs out.
VALIDITY_S = 7
CONFIRMATION = "Wir verlängern unser Angebot gern um 30 Tage."


async def test_expired_offer_extended_and_bound(live_server: Live, browser: Browser, tmp_path: Path) -> None:
    live = live_server
    request = broker_request(live)
    assert request.id is not None
    number = request.number
    async with Journey(browser, tmp_path) as journey:
        journey.step("log in, open the broker's request, assign myself, tender to one insurer")
        backoffice = await journey.page("backoffice")
        await log_in(backoffice, live, BACKOFFICE)
        await open_request(backoffice, live, number)
        await backoffice.get_by_role("button", name="Zuweisen an mich").click()
        await add_tenders(backoffice, (INSURER,))
        await wait_sent(backoffice, (INSURER,))
        tender = tenders_of(live, request.id)[INSURER]

        journey.step("the insurer's offer, valid for a few seconds, released at once")
        await submit_offer(
            live.run.client, live.run.engine, tender,
            OfferTerms(premium_cents=315000, valid_until=utcnow() + timedelta(seconds=VALIDITY_S),
                       conditions_note="Kurz gültig"),
            by=Party.INSURER,
        )
        await backoffice.reload()
        await release(backoffice, INSURER)

        journey.step("the validity timer fires; the open page shows Angebot abgelaufen")
        await expect(tender_row(backoffice, INSURER).locator("td.status")).to_contain_text(
            "Angebot abgelaufen", timeout=VALIDITY_S * 1000 + SOON
        )
        assert tenders_of(live, request.id)[INSURER].status == TenderStatus.OFFER_EXPIRED
        expired_offer = active_offer(live, tender.id or 0)
        assert expired_offer is not None and expired_offer.released_at is not None

        journey.step("the broker sees it expired and cannot bind it")
        broker = await journey.page("broker")
        await log_in(broker, live, BROKER)
        await open_request(broker, live, number)
        compare = broker.locator("table.compare")
        await expect(compare.locator("thead th").filter(has_text=INSURER)).to_contain_text("abgelaufen")
        await expect(compare.get_by_role("link", name="Abschließen")).to_have_count(0)
        await broker.goto(f"{live.base_url}/requests/{request.id}/offers/{expired_offer.id}/bind")
        await expect(broker.get_by_role("alert")).to_be_visible()
        await expect(broker.get_by_role("button", name=re.compile("Verbindlich abschließen"))).to_have_count(0)

        journey.step("Verlängerung anfragen (messaging module)")
        offers = backoffice.locator("#angebote")
        await offers.get_by_role("button", name="Verlängerung anfragen").click()
        await expect(backoffice.locator("#angebote")).to_contain_text("Verlängerung angefragt am", timeout=SOON)
        with Session(live.run.engine) as db:
            asked = db.exec(select(Message).where(Message.request_id == request.id)
                            .where(Message.author == Party.BACKOFFICE)).all()
            assert any("verlängern" in m.body for m in asked), [m.body for m in asked]

        journey.step("the insurer reads the request on its link page and confirms")
        insurer = await journey.page("insurer")
        await insurer.goto(insurer_link(live, tender))
        await expect(insurer.locator("#status")).to_contain_text("Angebot abgelaufen")
        await expect(insurer.locator("#nachrichten")).to_contain_text("verlängern")
        await insurer.get_by_label("Ihre Rückfrage an das Backoffice").fill(CONFIRMATION)
        await insurer.get_by_role("button", name="Rückfrage senden").click()
        await expect(insurer.locator("#nachrichten")).to_contain_text(CONFIRMATION, timeout=SOON)
        await expect(backoffice.locator("#nachrichten")).to_contain_text(CONFIRMATION, timeout=SOON)

        journey.step("pencil: new validity, then Freigabe again")
        await backoffice.reload()
        await backoffice.locator("#angebote").get_by_role("link", name="Bearbeiten").click()
        await expect(backoffice.get_by_role("heading", name="Angebot bearbeiten")).to_be_visible()
        await backoffice.get_by_label("Angebot gültig bis").fill(valid_until_input(30))
        await backoffice.get_by_role("button", name="Änderungen speichern").click()
        await expect(tender_row(backoffice, INSURER).locator("td.status")).to_contain_text(
            "Angebot erhalten", timeout=SOON
        )
        renewed = active_offer(live, tender.id or 0)
        assert renewed is not None and renewed.id != expired_offer.id
        assert renewed.premium_cents == 315000 and renewed.released_at is None
        renewed_until = renewed.valid_until
        assert renewed_until is not None and renewed_until > utcnow() + timedelta(days=29)
        assert tenders_of(live, request.id)[INSURER].status == TenderStatus.OFFERED
        await release(backoffice, INSURER)

        journey.step("the broker binds the renewed offer")
        await broker.goto(f"{live.base_url}/requests/{request.id}")
        await expect(compare.locator("thead th").filter(has_text=INSURER)).not_to_contain_text("abgelaufen")
        await bind(broker, INSURER)
        await expect(broker.locator("#abschluss")).to_contain_text("Abschluss erfolgt", timeout=SOON)
        with Session(live.run.engine) as db:
            binding = db.exec(select(Binding).where(Binding.request_id == request.id)).one()
            assert binding.offer_id == renewed.id
            bound = db.get(Request, request.id)
            assert bound is not None and bound.status == RequestStatus.BOUND

"""Insurer portal, messaging, release and binding, end to end in real Chromium.

The guide's path from question to cover: an insurer asks a question through
the link in its email, the backoffice answers in "Nachrichten", the insurer
sees the answer and uploads an offer (a second insurer offers too), the
backoffice releases both (Freigabe), the broker compares them and binds one
(Abschließen), the other insurer's link is dead, and the cover note
(Deckungsnote), with the chat transcript in it, downloads as a PDF.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader
from sqlmodel import Session, col, select

from tenderdesk.db.models import Binding, Broker, Message, Offer, Request, RequestStatus, User
from tenderdesk.states import TenderStatus

from .conftest import BACKOFFICE, BROKER, Live, log_in
from .test_backoffice_journey import (
    NO_RELOAD_CHECK,
    NO_RELOAD_MARK,
    SOON,
    Journey,
    active_offer,
    add_tenders,
    insurer_link,
    offer_pdf,
    open_request,
    tender_row,
    tenders_of,
    upload_offer,
    wait_sent,
)

CHOSEN = "Hanseatische Gewerbe Versicherung AG"
OTHER = "Nordlicht Versicherung a.G."
QUESTION = "Ist die Betriebsunterbrechung nach einem Cyberangriff mitversichert?"
ANSWER = "Ja, bitte mit 30 Tagen Haftzeit anbieten."


def broker_request(live: Live, email: str = BROKER) -> Request:
    """An open request of this broker that the backoffice handles (no hand icon)."""
    with Session(live.run.engine) as db:
        user = db.exec(select(User).where(User.email == email)).one()
        return db.exec(
            select(Request)
            .join(Broker, col(Broker.id) == col(Request.broker_id))
            .where(Broker.id == user.broker_id)
            .where(col(Request.self_handled).is_(False))
            .order_by(col(Request.id))
        ).first() or _missing(email)


def _missing(email: str) -> Request:
    raise AssertionError(f"the demo seed has no backoffice-handled request of {email}")


async def release(page: Page, *insurers: str) -> None:
    """Freigabe: tick the insurers' offers, press "Freigeben"."""
    offers = page.locator("#angebote")
    for name in insurers:
        await offers.get_by_label(f"Angebot von {name} zur Freigabe auswählen").check()
    await offers.get_by_role("button", name="Freigeben").click()
    for name in insurers:
        await expect(offers.locator("tr").filter(has_text=name)).to_contain_text("freigegeben", timeout=SOON)
        await expect(offers.locator("tr").filter(has_text=name)).not_to_contain_text("nicht freigegeben")


async def bind(page: Page, insurer: str) -> None:
    """Broker: "Abschließen" in the insurer's column of the comparison, then confirm."""
    compare = page.locator("table.compare")
    headers = await compare.locator("thead th").all_inner_texts()
    column = next(i for i, text in enumerate(headers) if insurer in text)
    cell = compare.locator("tr.bind-row td").nth(column - 1)  # the first column is a row header (th)
    await cell.get_by_role("link", name="Abschließen").click()
    await expect(page.get_by_role("heading", name="Angebot abschließen")).to_be_visible()
    await expect(page.locator(".bind-confirm")).to_contain_text(insurer)
    await page.get_by_role("button", name=re.compile("Verbindlich abschließen")).click()


async def test_question_offer_release_bind(live_server: Live, browser: Browser, tmp_path: Path) -> None:
    live = live_server
    request = broker_request(live)
    assert request.id is not None
    number = request.number
    async with Journey(browser, tmp_path) as journey:
        journey.step("log in, open the broker's request, assign myself, tender to two insurers")
        backoffice = await journey.page("backoffice")
        await log_in(backoffice, live, BACKOFFICE)
        await open_request(backoffice, live, number)
        await backoffice.get_by_role("button", name="Zuweisen an mich").click()
        await expect(backoffice.locator("#bearbeiter")).to_contain_text("Anna Berger")
        await add_tenders(backoffice, (CHOSEN, OTHER))
        await wait_sent(backoffice, (CHOSEN, OTHER))
        tenders = tenders_of(live, request.id)

        journey.step("the insurer asks; the backoffice page shows it without a reload")
        await backoffice.evaluate(NO_RELOAD_MARK)
        insurer = await journey.page("insurer")
        link = insurer_link(live, tenders[CHOSEN])
        await insurer.goto(link)
        await insurer.get_by_label("Ihre Rückfrage an das Backoffice").fill(QUESTION)
        await insurer.get_by_role("button", name="Rückfrage senden").click()
        await expect(insurer.locator("#nachrichten")).to_contain_text(QUESTION, timeout=SOON)
        await expect(insurer.locator("#status")).to_contain_text("In Bearbeitung", timeout=SOON)
        await expect(tender_row(backoffice, CHOSEN).locator("td.status")).to_contain_text(
            "In Bearbeitung", timeout=SOON
        )
        await expect(backoffice.locator("#nachrichten")).to_contain_text(QUESTION, timeout=SOON)
        assert await backoffice.evaluate(NO_RELOAD_CHECK) == "still the same page"

        journey.step("the backoffice answers in the insurer's thread under Nachrichten")
        messages = backoffice.locator("#nachrichten")
        await messages.locator("label.thread-tab").filter(has_text=CHOSEN).click()
        thread = messages.get_by_role("group", name=re.compile(re.escape(CHOSEN)))
        await thread.get_by_label(f"Nachricht an {CHOSEN}").fill(ANSWER)
        await thread.get_by_role("button", name="Senden").click()
        await expect(backoffice.locator("#nachrichten").get_by_role("group", name=re.compile(re.escape(CHOSEN))))\
            .to_contain_text(ANSWER, timeout=SOON)

        journey.step("the insurer reloads, reads the answer and offers; a second insurer offers too")
        await insurer.reload()
        await expect(insurer.locator("#nachrichten")).to_contain_text(ANSWER)
        await upload_offer(insurer, offer_pdf(tmp_path, "Angebot_Hanseatische.pdf"), "2.450,00",
                           notes="BU-Haftzeit 30 Tage")
        other = await journey.page("other-insurer")
        other_link = insurer_link(live, tenders[OTHER])
        await other.goto(other_link)
        await upload_offer(other, offer_pdf(tmp_path, "Angebot_Nordlicht.pdf"), "1.980,00")

        journey.step("Freigabe of both offers")
        for name in (CHOSEN, OTHER):
            await expect(tender_row(backoffice, name).locator("td.status")).to_contain_text(
                "Angebot erhalten", timeout=SOON
            )
        await backoffice.reload()
        await release(backoffice, CHOSEN, OTHER)
        chosen_offer = active_offer(live, tenders[CHOSEN].id or 0)
        other_offer = active_offer(live, tenders[OTHER].id or 0)
        assert chosen_offer is not None and chosen_offer.released_at is not None
        assert other_offer is not None and other_offer.released_at is not None

        journey.step("the broker compares and binds")
        broker = await journey.page("broker")
        await log_in(broker, live, BROKER)
        await open_request(broker, live, number)
        compare = broker.locator("table.compare")
        await expect(compare).to_contain_text(CHOSEN)
        await expect(compare).to_contain_text(OTHER)
        await expect(compare).to_contain_text("2.450,00")
        await expect(compare).to_contain_text("1.980,00")
        await expect(compare.locator("thead th").filter(has_text=OTHER)).to_contain_text("günstigste Prämie")
        await expect(compare.get_by_role("link", name="Abschließen")).to_have_count(2)
        await bind(broker, CHOSEN)
        await expect(broker.locator("#abschluss")).to_contain_text("Abschluss erfolgt", timeout=SOON)
        await expect(broker.locator("#abschluss")).to_contain_text(CHOSEN)

        with Session(live.run.engine) as db:
            binding = db.exec(select(Binding).where(Binding.request_id == request.id)).one()
            assert binding.offer_id == chosen_offer.id
            bound = db.get(Request, request.id)
            assert bound is not None and bound.status == RequestStatus.BOUND

        journey.step("the Deckungsnote appears and downloads as a PDF with the chat in it")
        download_link = broker.get_by_role("link", name="Deckungsnote herunterladen")
        try:
            await expect(download_link).to_be_visible(timeout=SOON)
        except AssertionError:
            await broker.reload()
            await expect(download_link).to_be_visible(timeout=SOON)
        async with broker.expect_download() as info:
            await download_link.click()
        download = await info.value
        assert download.suggested_filename.lower().endswith(".pdf"), download.suggested_filename
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        data = saved.read_bytes()
        assert data.startswith(b"%PDF-")
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
        flat = " ".join(text.split())
        assert CHOSEN in flat
        assert "Betriebsunterbrechung" in flat, "the cover note lacks the chat transcript"

        journey.step("every tender ended: the other insurer's link explains that and offers nothing")
        ended = tenders_of(live, request.id)
        assert ended[CHOSEN].status == TenderStatus.CLOSED
        assert ended[OTHER].status == TenderStatus.CLOSED
        response = await other.goto(other_link)
        assert response is not None and response.status == 410
        await expect(other.get_by_role("heading", level=1)).to_have_text("Diese Ausschreibung ist beendet.")
        await expect(other.get_by_text("Über diesen Link sind keine Rückfragen, Angebote oder Absagen mehr möglich."))\
            .to_be_visible()
        await expect(other.get_by_role("button")).to_have_count(0)
        await expect(other.locator("form")).to_have_count(0)

        journey.step("the question and the answer are on record")
        with Session(live.run.engine) as db:
            bodies = db.exec(select(Message.body).where(Message.request_id == request.id)
                             .where(col(Message.visible).is_(True))).all()
            assert QUESTION in bodies and ANSWER in bodies
            assert db.exec(select(Offer).where(Offer.id == other_offer.id)).one().released_at is not None

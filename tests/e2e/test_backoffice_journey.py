"""The backoffice workspace, end to end in real Chromium.

One journey through the guide's daily routine: log in, find an unassigned
request by sorting on "Bearbeiter", open it with the folder icon, assign
yourself, tender it to three insurers through the "+ Ausschreibung hinzufügen"
wizard, watch an insurer's answer (through the link in its email) change the
status on the open page without a reload, send a reminder, withdraw one
tender, and change the password from the user menu.

The helpers at the top (:class:`Journey`, the wizard, the insurer link) are
shared with the other journey modules of this folder.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType

from fpdf import FPDF
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from sqlmodel import Session, col, select

from tenderdesk.db.models import Insurer, Offer, Request, Tender, User
from tenderdesk.states import TenderStatus

from .conftest import BACKOFFICE, PASSWORD, Live, log_in

#: Waiting for a workflow (email sent, update projected, live refresh): seconds, not minutes.
SOON = 20_000
#: Marks a page so a later check can prove it was not reloaded in between.
NO_RELOAD_MARK = "window.__journeyMark = 'still the same page'"
NO_RELOAD_CHECK = "window.__journeyMark"


# --------------------------------------------------------------------------- shared helpers


class Journey:
    """The browsers of one journey: one context per actor (backoffice, broker,
    each insurer), so nobody shares cookies.

    :meth:`step` names the part of the journey under way: a failure says which
    step broke, and ``E2E_TIMINGS=1`` prints how long each took. On failure (or
    always, with ``E2E_SCREENSHOTS=1``) every open page is saved as
    ``<tmp_path>/<actor>.png`` for debugging; all contexts are closed
    before the live server stops (open event streams would delay its shutdown)."""

    def __init__(self, browser: Browser, tmp_path: Path) -> None:
        self.browser = browser
        self.tmp_path = tmp_path
        self.pages: dict[str, Page] = {}
        self._contexts: list[BrowserContext] = []
        self._steps: list[tuple[str, float]] = [("start", time.monotonic())]

    def step(self, name: str) -> None:
        self._steps.append((name, time.monotonic()))

    async def page(self, actor: str) -> Page:
        ctx = await self.browser.new_context(locale="de-DE", viewport={"width": 1360, "height": 900},
                                             accept_downloads=True)
        ctx.set_default_timeout(15_000)
        self._contexts.append(ctx)
        page = await ctx.new_page()
        self.pages[actor] = page
        return page

    async def __aenter__(self) -> Journey:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._steps.append(("end", time.monotonic()))
        if exc is not None:
            exc.add_note(f"journey step: {self._steps[-2][0]}")
        if os.environ.get("E2E_TIMINGS"):
            for (name, start), (_, end) in zip(self._steps, self._steps[1:], strict=False):
                print(f"{end - start:6.2f}s  {name}", file=sys.stderr)
        try:
            if exc is not None or os.environ.get("E2E_SCREENSHOTS"):
                for actor, page in self.pages.items():
                    if not page.is_closed():
                        await page.screenshot(path=str(self.tmp_path / f"{actor}.png"), full_page=True)
        finally:
            for ctx in self._contexts:
                await ctx.close()


def offer_pdf(tmp_path: Path, name: str = "Angebot.pdf", title: str = "Angebot") -> Path:
    """A small real PDF (the upload is checked with pypdf, not by its name)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=title)
    path = tmp_path / name
    pdf.output(str(path))
    return path


def user_id(live: Live, email: str) -> int:
    with Session(live.run.engine) as db:
        user = db.exec(select(User).where(User.email == email)).one()
        assert user.id is not None
        return user.id


def request_by_number(live: Live, number: str) -> Request:
    with Session(live.run.engine) as db:
        return db.exec(select(Request).where(Request.number == number)).one()


def tenders_of(live: Live, request_id: int) -> dict[str, Tender]:
    """The request's tenders by insurer name, as the projection has them now."""
    with Session(live.run.engine) as db:
        rows = db.exec(
            select(Tender, Insurer)
            .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
            .where(Tender.request_id == request_id)
        ).all()
        return {insurer.name: tender for tender, insurer in rows}


def active_offer(live: Live, tender_id: int) -> Offer | None:
    with Session(live.run.engine) as db:
        return db.exec(select(Offer).where(Offer.tender_id == tender_id).where(col(Offer.active).is_(True))).first()


def tender_row(page: Page, insurer: str) -> Locator:
    """The row of one insurer in the "Ausschreibungen" table."""
    return page.locator("#tenders tr.tender-row").filter(has_text=insurer)


async def open_request(page: Page, live: Live, number: str) -> None:
    """From the dashboard, the way the guide says: the folder icon of the row."""
    await page.goto(f"{live.base_url}/")
    await page.get_by_role("link", name=f"Anfrage {number} öffnen").click()
    await expect(page.get_by_role("heading", name=f"Anfrage {number}", exact=True)).to_be_visible()


async def add_tenders(page: Page, insurers: Iterable[str], note: str = "") -> None:
    """"+ Ausschreibung hinzufügen": pick the insurers, keep the documents,
    check the emails (optionally add a note to the first), send."""
    names = list(insurers)
    await page.get_by_role("link", name="+ Ausschreibung hinzufügen").click()
    await expect(page.get_by_role("heading", name="1. Gesellschaften wählen")).to_be_visible()
    for name in names:
        await page.get_by_role("checkbox", name=re.compile(re.escape(name))).check()
    await expect(page.get_by_role("heading", name="2. Dokumente")).to_be_visible()
    await page.get_by_role("button", name=re.compile("Weiter: E-Mail prüfen")).click()
    await expect(page.get_by_role("heading", name="3. E-Mails prüfen")).to_be_visible()
    for name in names:
        await expect(page.locator(".mail-preview").filter(has_text=name)).to_have_count(1)
    if note:
        await page.get_by_label(f"Hinweis für {names[0]}").fill(note)
        await page.get_by_role("button", name="Vorschau aktualisieren").click()
        await expect(page.locator(".mail-preview").filter(has_text=names[0]).locator("pre")).to_contain_text(note)
    count = f"{len(names)} Gesellschaft{'en' if len(names) > 1 else ''}"
    await page.get_by_role("button", name=f"Ausschreibung an {count} senden").click()
    await page.wait_for_url(re.compile(r"/requests/\d+(#.*)?$"))


async def wait_sent(page: Page, insurers: Iterable[str]) -> None:
    for name in insurers:
        await expect(tender_row(page, name).locator("td.status")).to_contain_text("Ausgeschrieben", timeout=SOON)


def insurer_link(live: Live, tender: Tender) -> str:
    """The link from the newest email to the tender's contact address."""
    links = live.links_to(tender.contact_email)
    assert links, f"no tender email with a link went to {tender.contact_email}"
    return links[-1]


def valid_until_input(days: int = 60) -> str:
    """A date for ``<input type=date>`` (Playwright fills it in ISO form)."""
    return (date.today() + timedelta(days=days)).isoformat()


async def upload_offer(page: Page, pdf: Path, premium: str, *, valid_days: int = 60, notes: str = "") -> None:
    """On the insurer's link page: "Angebot abgeben" with a PDF."""
    form = page.locator("#angebot form").filter(has=page.get_by_role("button", name="Angebot hochladen"))
    await form.get_by_label("Jahresprämie in EUR (brutto)").fill(premium)
    await form.get_by_label("Angebot gültig bis").fill(valid_until_input(valid_days))
    await form.get_by_label(re.compile("Angebotsdokument")).set_input_files(pdf)
    if notes:
        await form.get_by_label(re.compile("Anmerkungen")).fill(notes)
    await form.get_by_role("button", name="Angebot hochladen").click()
    await expect(page.locator("#status")).to_contain_text("Angebot erhalten", timeout=SOON)


async def tender_action(page: Page, insurer: str, action: str) -> None:
    """Aktionen menu of one tender row: open it, pick ``action``, confirm."""
    row = tender_row(page, insurer)
    await row.locator("summary", has_text="Aktionen").click()
    await row.locator("summary", has_text=action).click()
    await row.get_by_role("button", name=f"Ja, {action}").click()


async def open_user_menu(page: Page) -> None:
    """The "Männchen" icon at the top right."""
    menu = page.locator("details.usermenu")
    if await menu.get_attribute("open") is None:
        await page.get_by_title("Benutzermenü").click()


# --------------------------------------------------------------------------- the journey

INSURERS = ("Rheintal Assekuranz AG", "Nordlicht Versicherung a.G.", "Lindenhof Versicherungen AG")
NEW_PASSWORD = "Neues-Passwort-2026!"


async def test_backoffice_workspace(live_server: Live, browser: Browser, tmp_path: Path) -> None:
    live = live_server
    async with Journey(browser, tmp_path) as journey:
        journey.step("log in")
        page = await journey.page("backoffice")
        await log_in(page, live, BACKOFFICE)
        await expect(page.get_by_role("heading", name="Manuelle Anfragen")).to_be_visible()

        journey.step("sort by Bearbeiter: unassigned first")
        await page.get_by_role("link", name="Bearbeiter", exact=True).click()
        await expect(page.get_by_role("columnheader", name=re.compile("Bearbeiter"))).to_have_attribute(
            "aria-sort", re.compile("ascending|descending")
        )
        rows = page.locator("table.dash-requests tbody tr")
        # (the first column holds the "Zuweisen" checkboxes, the second the folder icon)
        assignees = [text.strip() for text in await rows.locator("td:nth-child(5)").all_inner_texts()]
        unassigned = [a == "nicht zugewiesen" for a in assignees]
        assert any(unassigned) and not all(unassigned), assignees
        assert unassigned == sorted(unassigned, reverse=True), f"unassigned not first: {assignees}"

        journey.step("open the first unassigned request by its folder icon (a hand means Eigenbearbeitung)")
        folder = re.compile(r"^Anfrage (MA-\d{4}-\d{5}) öffnen$")
        row = rows.filter(has_text="nicht zugewiesen").filter(has=page.get_by_role("link", name=folder)).first
        link = row.get_by_role("link", name=folder)
        label = (await link.locator(".visually-hidden").inner_text()).strip()
        match = folder.match(label)
        assert match, label
        number = match.group(1)
        await link.click()
        await expect(page.get_by_role("heading", name=f"Anfrage {number}", exact=True)).to_be_visible()
        request = request_by_number(live, number)
        assert request.assignee_id is None and not request.self_handled

        journey.step("Zuweisen an mich")
        await page.get_by_role("button", name="Zuweisen an mich").click()
        await expect(page.locator("#bearbeiter")).to_contain_text("Anna Berger")
        assert request_by_number(live, number).assignee_id == user_id(live, BACKOFFICE)

        journey.step("tender to three insurers; they turn Ausgeschrieben")
        await add_tenders(page, INSURERS, note="Bitte Vorschäden beachten.")
        await expect(page.locator("#tenders tr.tender-row")).to_have_count(3)
        await wait_sent(page, INSURERS)
        assert request.id is not None
        tenders = tenders_of(live, request.id)
        assert {t.status for t in tenders.values()} == {TenderStatus.SENT}
        assert "Bitte Vorschäden beachten." in tenders[INSURERS[0]].email_note

        journey.step("an insurer offers through its link; this page follows without a reload")
        await page.evaluate(NO_RELOAD_MARK)
        insurer = await journey.page("insurer")
        await insurer.goto(insurer_link(live, tenders[INSURERS[0]]))
        await expect(insurer.get_by_role("heading", name=f"Ausschreibung {number}")).to_be_visible()
        await upload_offer(insurer, offer_pdf(tmp_path), "1.234,56", notes="Selbstbehalt 500 EUR")
        await expect(tender_row(page, INSURERS[0]).locator("td.status")).to_contain_text(
            "Angebot erhalten", timeout=SOON
        )
        await expect(tender_row(page, INSURERS[0]).locator("td.offer")).to_contain_text("1.234,56")
        assert await page.evaluate(NO_RELOAD_CHECK) == "still the same page"
        offer = active_offer(live, tenders[INSURERS[0]].id or 0)
        assert offer is not None and offer.premium_cents == 123456 and offer.document_id is not None

        journey.step("Erinnerung schicken to the second insurer")
        await tender_action(page, INSURERS[1], "Erinnerung schicken")
        await expect(tender_row(page, INSURERS[1]).locator("td.plan")).to_contain_text(
            "1 Erinnerung gesendet", timeout=SOON
        )
        reminded = tenders_of(live, request.id)[INSURERS[1]]
        assert reminded.reminders_sent == 1
        assert len(live.smtp.capture.to(reminded.contact_email)) == 2  # the tender email and the reminder

        journey.step("Anfrage nicht erfolgreich for the third; the others go on")
        await tender_action(page, INSURERS[2], "Anfrage nicht erfolgreich")
        await expect(tender_row(page, INSURERS[2]).locator("td.status")).to_contain_text(
            "Anfrage nicht erfolgreich", timeout=SOON
        )
        now = tenders_of(live, request.id)
        assert now[INSURERS[2]].status == TenderStatus.WITHDRAWN
        assert now[INSURERS[1]].status == TenderStatus.SENT
        assert now[INSURERS[0]].status == TenderStatus.OFFERED

        journey.step("Passwort ändern from the user menu, log out, log in with the new one")
        await open_user_menu(page)
        await page.get_by_role("link", name="Passwort ändern").click()
        await page.get_by_label("Aktuelles Passwort").fill(PASSWORD)
        await page.get_by_label(re.compile("^Neues Passwort")).first.fill(NEW_PASSWORD)
        await page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Passwort ändern").click()
        await expect(page.get_by_role("heading", name="Manuelle Anfragen")).to_be_visible()
        await open_user_menu(page)
        await page.get_by_role("button", name="Abmelden").click()
        await page.wait_for_url(re.compile(r"/login"))
        await page.get_by_label("E-Mail").fill(BACKOFFICE)
        await page.get_by_label("Passwort", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Anmelden").click()
        await expect(page.get_by_role("alert")).to_contain_text("Passwort")
        await log_in(page, live, BACKOFFICE, NEW_PASSWORD)
        await expect(page.get_by_role("heading", name="Manuelle Anfragen")).to_be_visible()

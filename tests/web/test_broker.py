"""The Vermittler's side against a real Temporal dev server and worker (SQLite and
PostgreSQL): compare the released offers, bind one behind a confirmation step,
download the cover note; races, refusals and who may do what."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import Session, select

from tenderdesk.db.models import Binding, Offer, Request, RequestStatus, Tender
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.offers.binding import ALREADY_BOUND, EXPIRED

from ..binding.helpers import binding_result, broker_user, give_offer, sent_tenders, wait_for
from ..conftest import Running, SmtpServer
from .test_end_to_end import token_for
from .test_insurer_link import forms, sample_pdf
from .test_offers_ui import Site, follow, future, messages, open_site, release_via_page, section, tender_row

ALREADY_BOUND_DE, EXPIRED_DE = i18n.t(ALREADY_BOUND, "de"), i18n.t(EXPIRED, "de")


@pytest.fixture
async def broker_site(dev: Running, smtp_server: SmtpServer) -> AsyncIterator[Site]:
    async with open_site(dev) as opened:
        yield opened


async def insurer_uploads_offer(site: Site, smtp: SmtpServer, tender: Tender, premium: str) -> str:
    """The insurer opens its emailed link and uploads an offer PDF; returns the link token."""
    await wait_for(lambda: token_for(smtp, tender.contact_email) is not None, what="tender email")
    token = token_for(smtp, tender.contact_email)
    assert token is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="http://testserver") as insurer:
        page = await insurer.get(f"/t/{token}")
        csrf, action_id = forms(page.text)["offer"]
        uploaded = await insurer.post(
            f"/t/{token}/offer",
            data={"csrf_token": csrf, "action_id": action_id, "premium": premium, "valid_until": future(),
                  "sum_insured": "5.000.000", "notes": "Inklusive Mietsachschäden"},
            files={"file": ("angebot-insurer.pdf", sample_pdf(), "application/pdf")},
        )
        assert uploaded.status_code == 303, uploaded.text
    await wait_for(lambda: tender_row(site, tender.id).status == TenderStatus.OFFERED, what="offer projected")
    return token


def bindings(site: Site) -> list[Binding]:
    with Session(site.run.engine) as s:
        return list(s.exec(select(Binding)).all())


def request_status(site: Site) -> RequestStatus:
    with Session(site.run.engine) as s:
        request = s.get(Request, site.request_id)
        assert request is not None
        return request.status


async def test_broker_compares_binds_and_downloads_the_cover_note(
    broker_site: Site, smtp_server: SmtpServer
) -> None:
    site = broker_site
    chosen, other, waiting = await sent_tenders(site.run, site.world, 3)
    token_chosen = await insurer_uploads_offer(site, smtp_server, chosen, "1.234,50")
    await give_offer(site.run, other, premium_cents=99_000, conditions_note="Ohne Mietsachschäden")
    bo, bo_csrf = await site.login(site.backoffice)
    broker, broker_csrf = await site.login(site.broker)
    chosen_offer = tender_row(site, chosen.id).current_offer_id
    other_offer = tender_row(site, other.id).current_offer_id
    with Session(site.run.engine) as s:
        offers = [o for o in (s.get(Offer, chosen_offer), s.get(Offer, other_offer)) if o is not None]
    await release_via_page(site, bo, bo_csrf, *offers)

    # Side by side: one column per offer, the cheapest marked, documents downloadable.
    compare = section((await broker.get(site.page)).text)
    assert 'class="list compare"' in compare
    assert compare.index("Testversicherung 1 AG") < compare.index("Testversicherung 0 AG")  # cheapest first
    assert "günstigste Prämie" in compare and "Inklusive Mietsachschäden" in compare
    assert "5.000.000,00" in compare and "1.234,50" in compare and "990,00" in compare
    document_link = re.search(r'href="(/requests/\d+/documents/\d+)"', compare).group(1)  # type: ignore[union-attr]
    download = await broker.get(document_link)
    assert download.status_code == 200 and download.content.startswith(b"%PDF")

    # The confirmation step shows the terms once more.
    confirm = await broker.get(f"{site.page}/offers/{chosen_offer}/bind")
    assert confirm.status_code == 200
    assert "Verbindlich abschließen" in confirm.text and "1.234,50" in confirm.text
    assert "Elektro Blitz" in confirm.text and "Inklusive Mietsachschäden" in confirm.text
    assert bindings(site) == []

    bound = await broker.post(f"{site.page}/offers/{chosen_offer}/bind", data={"csrf_token": broker_csrf})
    page = await follow(broker, bound)
    assert "Abschluss erfolgt" in " ".join(messages(page))
    shown = section(page)
    assert "Abschluss erfolgt" in shown and "Abgeschlossen" in shown
    assert "wird erstellt" in shown or "Deckungsnote herunterladen" in shown
    assert request_status(site) == RequestStatus.BOUND

    # A second click (or a second tab) reads the clear German message.
    twice = await broker.post(f"{site.page}/offers/{chosen_offer}/bind", data={"csrf_token": broker_csrf})
    assert twice.status_code == 409 and ALREADY_BOUND_DE in twice.text
    other_choice = await broker.post(f"{site.page}/offers/{other_offer}/bind", data={"csrf_token": broker_csrf})
    assert other_choice.status_code == 409 and ALREADY_BOUND_DE in other_choice.text
    assert len(bindings(site)) == 1

    # BindingWorkflow closes every tender and stores the cover note; the page then links it.
    result = await binding_result(site.run, site.request_id)
    await wait_for(
        lambda: all(tender_row(site, t.id).status == TenderStatus.CLOSED for t in (chosen, other, waiting)),
        what="all tenders closed",
    )
    note_link = f"{site.page}/documents/{result.cover_note_document_id}"
    shown = section((await broker.get(site.page)).text)
    assert f'href="{note_link}"' in shown and "wird erstellt" not in shown
    for who in (broker, bo):
        note = await who.get(note_link)
        assert note.status_code == 200 and note.content.startswith(b"%PDF")
        assert note.headers["content-type"] == "application/pdf"
    stranger, _ = await site.login(site.other_broker)
    assert (await stranger.get(note_link)).status_code == 404
    assert (await stranger.get(site.page)).status_code == 404

    # Everyone sees it bound: no release, no pencil, no extension for the backoffice.
    staff = section((await bo.get(site.page)).text)
    assert "Abschluss erfolgt" in staff and f'href="{note_link}"' in staff
    assert "release-form" not in staff and "/edit" not in staff and "Verlängerung anfragen" not in staff
    assert "MA-TEST-00001" not in (await bo.get("/")).text  # the dashboard lists open requests only

    # The insurers' links are dead now.
    insurer = httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url="http://testserver")
    site.clients.append(insurer)
    for tender in (chosen, other, waiting):
        await wait_for(lambda t=tender: token_for(smtp_server, t.contact_email) is not None,  # type: ignore[misc]
                       what="tender link")
        token = token_for(smtp_server, tender.contact_email)
        assert (await insurer.get(f"/t/{token}")).status_code == 410
    assert (await insurer.get(f"/t/{token_chosen}")).status_code == 410


async def test_two_binds_at_once_make_one_binding(broker_site: Site) -> None:
    site = broker_site
    first, second = await sent_tenders(site.run, site.world, 2)
    a = await give_offer(site.run, first, premium_cents=98_000)
    b = await give_offer(site.run, second, premium_cents=97_000)
    bo, bo_csrf = await site.login(site.backoffice)
    await release_via_page(site, bo, bo_csrf, a, b)
    erika, erika_csrf = await site.login(site.broker)
    colleague, colleague_csrf = await site.login(broker_user(site.run.engine, site.world, tag="2"))

    responses = await asyncio.gather(
        erika.post(f"{site.page}/offers/{a.id}/bind", data={"csrf_token": erika_csrf}),
        colleague.post(f"{site.page}/offers/{b.id}/bind", data={"csrf_token": colleague_csrf}),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [303, 409], [(r.status_code, r.text[:300]) for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert ALREADY_BOUND_DE in loser.text
    [binding] = bindings(site)
    winner = next(r for r in responses if r.status_code == 303)
    assert binding.offer_id == (a.id if winner is responses[0] else b.id)
    await binding_result(site.run, site.request_id)


async def test_binding_refused_for_foreign_unreleased_expired_offers_and_for_backoffice(
    broker_site: Site,
) -> None:
    site = broker_site
    released, unreleased, expiring = await sent_tenders(site.run, site.world, 3)
    ok = await give_offer(site.run, released, premium_cents=98_000)
    hidden = await give_offer(site.run, unreleased, premium_cents=97_000)
    gone = await give_offer(site.run, expiring, premium_cents=96_000, days=2 / 86400)
    bo, bo_csrf = await site.login(site.backoffice)
    await release_via_page(site, bo, bo_csrf, ok, gone)
    await wait_for(lambda: tender_row(site, expiring.id).status == TenderStatus.OFFER_EXPIRED, timeout=20,
                   what="offer expired")
    broker, broker_csrf = await site.login(site.broker)
    stranger, stranger_csrf = await site.login(site.other_broker)

    # Another broker: the request does not exist for him.
    assert (await stranger.get(site.page)).status_code == 404
    assert (await stranger.get(f"{site.page}/offers/{ok.id}/bind")).status_code == 404
    refused = await stranger.post(f"{site.page}/offers/{ok.id}/bind", data={"csrf_token": stranger_csrf})
    assert refused.status_code == 404

    # An unreleased offer does not exist for the broker either.
    page = section((await broker.get(site.page)).text)
    assert "970,00" not in page and f"/offers/{hidden.id}/" not in page
    assert (await broker.get(f"{site.page}/offers/{hidden.id}/bind")).status_code == 404
    refused = await broker.post(f"{site.page}/offers/{hidden.id}/bind", data={"csrf_token": broker_csrf})
    assert refused.status_code == 404

    # An expired one is shown, marked, and refused with the German reason.
    assert "960,00" in page and "abgelaufen" in page and f"/offers/{gone.id}/bind" not in page
    confirm = await broker.get(f"{site.page}/offers/{gone.id}/bind")
    assert confirm.status_code == 409 and EXPIRED_DE in confirm.text and "Verbindlich abschließen" not in confirm.text
    refused = await broker.post(f"{site.page}/offers/{gone.id}/bind", data={"csrf_token": broker_csrf})
    assert refused.status_code == 409 and EXPIRED_DE in refused.text

    # The backoffice cannot bind for the broker (role), and sees no "Abschließen".
    assert (await bo.get(f"{site.page}/offers/{ok.id}/bind")).status_code == 403
    refused = await bo.post(f"{site.page}/offers/{ok.id}/bind", data={"csrf_token": bo_csrf})
    assert refused.status_code == 403
    assert "Abschließen</a>" not in section((await bo.get(site.page)).text)

    assert bindings(site) == [] and request_status(site) == RequestStatus.OPEN
    # The released, valid offer is still bindable by its broker.
    assert f"/offers/{ok.id}/bind" in page


async def test_winner_and_losers_are_told_apart_in_the_page_and_for_ops(
    broker_site: Site, smtp_server: SmtpServer
) -> None:
    """Issue 10, items 2 and 13: both showed "Abgeschlossen"; ops could neither find a
    request by its number in the Temporal UI nor ask for the tenders won."""
    site = broker_site
    chosen, other = await sent_tenders(site.run, site.world, 2)
    won = await give_offer(site.run, chosen, premium_cents=90_000)
    lost = await give_offer(site.run, other, premium_cents=95_000)
    bo, bo_csrf = await site.login(site.backoffice)
    broker, broker_csrf = await site.login(site.broker)
    await release_via_page(site, bo, bo_csrf, won, lost)
    bound = await broker.post(f"{site.page}/offers/{won.id}/bind", data={"csrf_token": broker_csrf})
    assert bound.status_code == 303
    await binding_result(site.run, site.request_id)
    await wait_for(lambda: all(tender_row(site, t.id).status == TenderStatus.CLOSED for t in (chosen, other)),
                   what="tenders closed")

    page = (await bo.get(site.page)).text
    assert "Beauftragt" in page and "Nicht zum Zuge gekommen" in page

    client = site.run.client
    prefix = site.run.settings.workflow_id_prefix

    async def ids(query: str) -> set[str] | None:
        found = {w.id async for w in client.list_workflows(f"{query} AND WorkflowId STARTS_WITH '{prefix}'")}
        return found or None

    number = "MA-TEST-00001"
    assert await eventually_async(lambda: ids(f"RequestNumber = '{number}'")) == {chosen.workflow_id,
                                                                                   other.workflow_id}
    assert await eventually_async(lambda: ids("TenderOutcome = 'won'")) == {chosen.workflow_id}
    assert await eventually_async(lambda: ids("TenderOutcome = 'lost'")) == {other.workflow_id}


async def eventually_async(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not found in time")
        await asyncio.sleep(0.2)

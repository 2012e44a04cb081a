"""The backoffice's "Angebote" section against a real Temporal dev server and worker
(SQLite and PostgreSQL): Freigabe both ways and of several offers at once, the
pencil edit of an expired offer with the one-click extension request, the
early-warning list, invalid input on the edit form, and CSRF on every form.

The helpers and :func:`open_site` are shared with ``test_broker.py``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    Account,
    Document,
    DocumentKind,
    EmailStatus,
    Message,
    Offer,
    SystemEmail,
    Tender,
    User,
    utcnow,
)
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core.forms import new_action_id
from web.core.sessions import cookie_name, start_session
from web.offers.release import RELEASE_EMAIL_KIND
from web.offers.views import extension_action_id
from web.tenders import send_action

from ..binding.helpers import (
    BROKER_EMAIL,
    backoffice,
    broker_user,
    finish_leftovers,
    give_offer,
    sent_tenders,
    set_need_release,
    wait_for,
)
from ..conftest import Running, SmtpServer
from ..factories import World, make_world
from .conftest import BASE_URL, csrf_from
from .test_insurer_link import sample_pdf

FLASH_OR_ERROR = re.compile(r'<p class="flash flash-(\w+)">([^<]*)</p>|<div class="form-errors"[^>]*>(.*?)</div>', re.S)


# ---------------------------------------------------------------- shared helpers


@dataclass
class Site:
    """The real app on the ``dev`` worker, a small world and its logins."""

    run: Running
    world: World
    app: FastAPI
    backoffice: User
    broker: User
    other_broker: User
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def request_id(self) -> int:
        return self.world.request_id

    @property
    def page(self) -> str:
        return f"/requests/{self.world.request_id}"

    async def login(self, user: User) -> tuple[httpx.AsyncClient, str]:
        """A browser with a session of ``user``, and the session's CSRF token."""
        with Session(self.run.engine) as db:
            token, row = start_session(db, self.run.settings, user)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL)
        client.cookies.set(cookie_name(self.run.settings), token)
        self.clients.append(client)
        return client, row.csrf_token


@asynccontextmanager
async def open_site(run: Running) -> AsyncIterator[Site]:
    world = make_world(run.engine)
    app = create_app(run.settings, run.engine, temporal_client_factory=lambda: run.client)
    site = Site(
        run=run, world=world, app=app, backoffice=backoffice(run.engine, world),
        broker=broker_user(run.engine, world), other_broker=broker_user(run.engine, world, other_broker=True),
    )
    try:
        yield site
    finally:
        for client in site.clients:
            await client.aclose()
        await finish_leftovers(run)


@pytest.fixture
async def site(dev: Running, smtp_server: SmtpServer) -> AsyncIterator[Site]:
    async with open_site(dev) as opened:
        yield opened


def section(html: str, anchor: str = 'id="angebote"') -> str:
    """The "Angebote" section of the request page (up to the next section)."""
    assert anchor in html, "section missing"
    return html.split(anchor, 1)[1].split("<section", 1)[0]


def messages(html: str) -> list[str]:
    """Flash messages and form errors shown on a page."""
    found = []
    for _level, flash_text, errors in FLASH_OR_ERROR.findall(html):
        found.append(flash_text or re.sub(r"<[^>]+>", " ", errors))
    return [" ".join(m.split()) for m in found]


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:2000])
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


def offers_of(site: Site) -> list[Offer]:
    with Session(site.run.engine) as s:
        return list(s.exec(select(Offer).where(Offer.request_id == site.request_id).order_by(col(Offer.id))).all())


def tender_row(site: Site, tender_id: int | None) -> Tender:
    with Session(site.run.engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender


def system_emails(site: Site, kind: str) -> list[SystemEmail]:
    with Session(site.run.engine) as s:
        return list(s.exec(select(SystemEmail).where(SystemEmail.kind == kind)).all())


async def release_via_page(site: Site, client: httpx.AsyncClient, csrf: str, *offers: Offer) -> str:
    response = await client.post(
        f"{site.page}/offers/release", data={"csrf_token": csrf, "offer_id": [str(o.id) for o in offers]}
    )
    return await follow(client, response)


async def expire(site: Site, tender: Tender, *, premium_cents: int = 150_000) -> Offer:
    """An offer valid for two seconds; the workflow's validity timer expires it."""
    offer = await give_offer(site.run, tender, premium_cents=premium_cents, days=2 / 86400)
    await wait_for(lambda: tender_row(site, tender.id).status == TenderStatus.OFFER_EXPIRED, timeout=20,
                   what="offer expired")
    return offer


def future(days: int = 90) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%d")


def no_file() -> dict[str, tuple[str, bytes, str]]:
    """What a browser sends for an empty file input."""
    return {"file": ("", b"", "application/octet-stream")}


# ---------------------------------------------------------------- Freigabe


async def test_needs_release_broker_sees_nothing_until_released_then_is_emailed(
    site: Site, smtp_server: SmtpServer
) -> None:
    first, second, waiting = await sent_tenders(site.run, site.world, 3)
    cheap = await give_offer(site.run, first, premium_cents=98_000, sum_insured_cents=300_000_000,
                             conditions_note="Selbstbehalt 500 €")
    dear = await give_offer(site.run, second, premium_cents=121_050)
    bo, bo_csrf = await site.login(site.backoffice)
    broker, _ = await site.login(site.broker)

    before_page = (await broker.get(site.page)).text
    before = section(before_page)
    assert "980,00" not in before and "1.210,50" not in before
    assert "Noch keine Angebote freigegeben" in before and "Abschließen" not in before
    # Issue 10, item 4: until the Freigabe the broker sees a neutral state, nowhere "Angebot erhalten".
    dashboard = (await broker.get("/", params={"q": "MA-TEST"})).text
    for html in (before_page, dashboard):
        assert "In Prüfung" in html and "Angebot erhalten</span>" not in html

    staff = section((await bo.get(site.page)).text)
    assert "Freigeben" in staff and "nicht freigegeben" in staff
    assert f'value="{cheap.id}" form="release-form"' in staff and f'value="{dear.id}" form="release-form"' in staff
    assert "Selbstbehalt 500 €" in staff and "3.000.000,00" in staff
    assert "sofort sichtbar" not in staff

    # Nothing ticked: a German message, 422, nothing released.
    refused = await bo.post(f"{site.page}/offers/release", data={"csrf_token": bo_csrf})
    assert refused.status_code == 422 and "mindestens ein Angebot" in refused.text
    # Several offers at once: one click, one email to the broker.
    page = await release_via_page(site, bo, bo_csrf, cheap, dear)
    assert "2 Angebote wurden freigegeben" in " ".join(messages(page))
    assert all(o.released_at is not None and o.released_by_id == site.backoffice.id for o in offers_of(site))
    assert "Alle aktuellen Angebote sind freigegeben" in section(page)

    [email] = system_emails(site, RELEASE_EMAIL_KIND)
    await wait_for(lambda: bool(smtp_server.capture.to(BROKER_EMAIL)), what="release email delivered")
    [mail] = smtp_server.capture.to(BROKER_EMAIL)
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Testversicherung 0 AG" in body and "Testversicherung 1 AG" in body
    assert f"/requests/{site.request_id}" in body and email.to_addr == BROKER_EMAIL

    after_page = (await broker.get(site.page)).text
    after = section(after_page)
    assert "Angebot erhalten</span>" in after_page and "In Prüfung" not in after_page
    assert "Angebot erhalten</span>" in (await broker.get("/", params={"q": "MA-TEST"})).text
    assert "980,00" in after and "1.210,50" in after and "Selbstbehalt 500 €" in after
    assert after.count("Abschließen</a>") == 2 and "günstigste Prämie" in after
    # The released offers' documents and the still waiting insurer stay as they are.
    assert tender_row(site, waiting.id).status == TenderStatus.SENT

    # Releasing again changes nothing and mails nothing.
    again = await release_via_page(site, bo, bo_csrf, cheap)
    assert "bereits freigegeben" in " ".join(messages(again))
    assert len(system_emails(site, RELEASE_EMAIL_KIND)) == 1


async def test_without_release_offers_are_visible_at_once(site: Site, smtp_server: SmtpServer) -> None:
    set_need_release(site.run.engine, site.world, False)
    [tender] = await sent_tenders(site.run, site.world, 1)
    offer = await give_offer(site.run, tender, premium_cents=77_700)
    bo, bo_csrf = await site.login(site.backoffice)
    broker, _ = await site.login(site.broker)

    staff = section((await bo.get(site.page)).text)
    assert "Angebote sind für den Vermittler sofort sichtbar" in staff
    assert "Freigeben" not in staff and 'form="release-form"' not in staff
    shown = section((await broker.get(site.page)).text)
    assert "777,00" in shown and f"/offers/{offer.id}/bind" in shown

    refused = await bo.post(f"{site.page}/offers/release", data={"csrf_token": bo_csrf, "offer_id": str(offer.id)})
    assert refused.status_code == 409 and "Freigabe ist nicht nötig" in refused.text
    assert offers_of(site)[0].released_at is None

    # The pencil on such an account tells the broker at once (auto release + email).
    edit = await bo.get(f"{site.page}/offers/{offer.id}/edit")
    action_id = re.search(r'name="action_id" value="([0-9a-f]{32})"', edit.text).group(1)  # type: ignore[union-attr]
    saved = await bo.post(
        f"{site.page}/offers/{offer.id}/edit",
        data={"csrf_token": bo_csrf, "action_id": action_id, "premium": "750,00", "valid_until": future()},
        files=no_file(),
    )
    assert "sofort sichtbar" in " ".join(messages(await follow(bo, saved)))
    current = [o for o in offers_of(site) if o.active]
    assert [o.premium_cents for o in current] == [75_000] and current[0].released_at is not None
    [email] = system_emails(site, RELEASE_EMAIL_KIND)
    await wait_for(lambda: bool(smtp_server.capture.to(BROKER_EMAIL)), what="broker email")
    assert email.to_addr == BROKER_EMAIL


# ---------------------------------------------------------------- Stiftsymbol and expired offers


async def test_expired_offer_extension_request_pencil_edit_release_then_bindable(
    site: Site, smtp_server: SmtpServer
) -> None:
    [tender] = await sent_tenders(site.run, site.world, 1)
    bo, bo_csrf = await site.login(site.backoffice)
    broker, broker_csrf = await site.login(site.broker)
    old = await give_offer(site.run, tender, premium_cents=150_000, days=2 / 86400)
    await release_via_page(site, bo, bo_csrf, old)
    await wait_for(lambda: tender_row(site, tender.id).status == TenderStatus.OFFER_EXPIRED, timeout=20,
                   what="offer expired")

    # The broker sees it marked expired and cannot bind it.
    seen = section((await broker.get(site.page)).text)
    assert "abgelaufen" in seen and f"/offers/{old.id}/bind" not in seen
    refused = await broker.post(f"{site.page}/offers/{old.id}/bind", data={"csrf_token": broker_csrf})
    assert refused.status_code == 409 and "abgelaufen und kann nicht abgeschlossen werden" in refused.text

    # Backoffice: marked "abgelaufen", listed on the early warning page, one-click extension request.
    staff = section((await bo.get(site.page)).text)
    assert "abgelaufen" in staff and "Verlängerung anfragen" in staff and f"/offers/{old.id}/edit" in staff
    warning = await bo.get("/angebote/ablaufend")
    assert warning.status_code == 200
    assert "MA-TEST-00001" in section(warning.text, 'id="abgelaufen"')
    asked = await bo.post(f"{site.page}/offers/{old.id}/extension", data={"csrf_token": bo_csrf})
    page = await follow(bo, asked)
    assert "Die Verlängerung wurde bei Testversicherung 0 AG angefragt" in " ".join(messages(page))
    assert "Verlängerung angefragt am" in section(page)
    with Session(site.run.engine) as s:
        message = s.exec(select(Message).where(Message.action_id == extension_action_id(old.id))).one()  # type: ignore[arg-type]
    assert message.visible and "Könnten Sie die Gültigkeit Ihres Angebots verlängern?" in message.body
    assert "MA-TEST-00001" in message.body
    await wait_for(lambda: any(e.status == EmailStatus.SENT for e in system_emails(site, "message")),
                   what="insurer emailed about the message")
    # A second click sends nothing.
    twice = await bo.post(f"{site.page}/offers/{old.id}/extension", data={"csrf_token": bo_csrf})
    assert "bereits angefragt" in " ".join(messages(await follow(bo, twice)))
    with Session(site.run.engine) as s:
        assert len(s.exec(select(Message).where(col(Message.body).contains("verlängern"))).all()) == 1

    # The insurer agreed: the pencil, with a new validity and premium (and no new PDF).
    form = await bo.get(f"{site.page}/offers/{old.id}/edit")
    assert form.status_code == 200 and "Dieses Angebot ist abgelaufen" in form.text
    action_id = re.search(r'name="action_id" value="([0-9a-f]{32})"', form.text).group(1)  # type: ignore[union-attr]
    saved = await bo.post(
        f"{site.page}/offers/{old.id}/edit",
        data={"csrf_token": bo_csrf, "action_id": action_id, "premium": "1.450,00", "sum_insured": "2.000.000",
              "valid_until": future(), "notes": "Verlängert bis Jahresende"},
        files=no_file(),
    )
    page = await follow(bo, saved)
    assert "Bitte geben Sie es wieder frei" in " ".join(messages(page))
    assert tender_row(site, tender.id).status == TenderStatus.OFFERED
    old_row, new = offers_of(site)
    assert not old_row.active and new.active and new.released_at is None
    assert (new.premium_cents, new.sum_insured_cents, new.conditions_note) == (145_000, 200_000_000,
                                                                              "Verlängert bis Jahresende")
    assert new.document_id == old.document_id
    assert f'value="{new.id}" form="release-form"' in section(page)
    # A resubmitted form changes nothing more.
    again = await bo.post(
        f"{site.page}/offers/{old.id}/edit",
        data={"csrf_token": bo_csrf, "action_id": action_id, "premium": "1.450,00", "valid_until": future()},
        files=no_file(),
    )
    assert "bereits gespeichert" in " ".join(messages(await follow(bo, again)))
    assert len(offers_of(site)) == 2

    # Until released again the broker has nothing to bind; then he binds the new offer.
    hidden = section((await broker.get(site.page)).text)
    assert "1.450,00" not in hidden and "/bind" not in hidden
    await release_via_page(site, bo, bo_csrf, new)
    shown = section((await broker.get(site.page)).text)
    assert "1.450,00" in shown and f"/offers/{new.id}/bind" in shown
    bound = await broker.post(f"{site.page}/offers/{new.id}/bind", data={"csrf_token": broker_csrf})
    assert "Abschluss erfolgt" in " ".join(messages(await follow(broker, bound)))


async def test_edit_form_refuses_invalid_input_and_changes_nothing(site: Site) -> None:
    [tender] = await sent_tenders(site.run, site.world, 1)
    offer = await give_offer(site.run, tender, premium_cents=99_000)
    bo, bo_csrf = await site.login(site.backoffice)
    url = f"{site.page}/offers/{offer.id}/edit"
    form = await bo.get(url)
    action_id = re.search(r'name="action_id" value="([0-9a-f]{32})"', form.text).group(1)  # type: ignore[union-attr]
    yesterday = (utcnow() - timedelta(days=1)).strftime("%d.%m.%Y")
    with Session(site.run.engine) as s:
        documents_before = len(s.exec(select(Document)).all())

    cases = [
        ({"premium": "1.000,00", "valid_until": "31.02.2030"}, no_file(), "Gültigkeitsdatum ist ungültig"),
        ({"premium": "1.000,00", "valid_until": yesterday}, no_file(), "darf nicht in der Vergangenheit liegen"),
        ({"premium": "-5,00", "valid_until": future()}, no_file(), "kein gültiger Betrag"),
        ({"premium": "0", "valid_until": future()}, no_file(), "Die Prämie muss größer als 0 sein"),
        ({"premium": "1.000,00", "valid_until": future()},
         {"file": ("angebot.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}, "kein PDF"),
        ({"premium": "", "valid_until": ""}, no_file(), "Jahresprämie"),
    ]
    for fields, files, expected in cases:
        response = await bo.post(url, data={"csrf_token": bo_csrf, "action_id": action_id, **fields}, files=files)
        assert response.status_code == 422, (fields, response.status_code)
        shown = " ".join(messages(response.text))
        assert expected in shown or expected in response.text, (fields, shown)
        assert fields["premium"] in response.text  # the input is kept for correction
    [unchanged] = offers_of(site)
    assert unchanged.id == offer.id and unchanged.active and unchanged.premium_cents == 99_000
    assert tender_row(site, tender.id).current_offer_id == offer.id
    with Session(site.run.engine) as s:
        assert len(s.exec(select(Document)).all()) == documents_before

    # A valid PDF replaces the document; the old one stays in the history.
    saved = await bo.post(
        url, data={"csrf_token": bo_csrf, "action_id": action_id, "premium": "1.000,00", "valid_until": future()},
        files={"file": ("neu.pdf", sample_pdf(), "application/pdf")},
    )
    await follow(bo, saved)
    _, new = offers_of(site)
    with Session(site.run.engine) as s:
        document = s.get(Document, new.document_id)
        assert document is not None and document.kind == DocumentKind.OFFER and document.filename == "neu.pdf"
        assert document.uploaded_by_user_id == site.backoffice.id

    # The superseded offer's pencil now says so (409), and brokers may not edit at all.
    stale = await bo.get(url)
    assert stale.status_code == 409 and "inzwischen geändert" in stale.text
    broker, broker_csrf = await site.login(site.broker)
    assert (await broker.get(f"{site.page}/offers/{new.id}/edit")).status_code == 403
    denied = await broker.post(f"{site.page}/offers/{new.id}/edit",
                               data={"csrf_token": broker_csrf, "action_id": action_id, "premium": "1,00",
                                     "valid_until": future()}, files=no_file())
    assert denied.status_code == 403
    assert len(offers_of(site)) == 2


# ---------------------------------------------------------------- early warning


async def test_expiring_list_and_extension_from_there(site: Site) -> None:
    first, second = await sent_tenders(site.run, site.world, 2)
    soon = await give_offer(site.run, first, premium_cents=88_800, days=3)
    await give_offer(site.run, second, premium_cents=99_900, days=40)
    with Session(site.run.engine) as s:
        assert s.get(Account, site.world.account_id).expiry_warning_days == 7  # type: ignore[union-attr]
    bo, bo_csrf = await site.login(site.backoffice)

    page = await bo.get("/angebote/ablaufend")
    assert page.status_code == 200
    listed = section(page.text, 'id="bald"')
    assert "888,00" in listed and "999,00" not in listed and "noch 3 Tage" in listed
    assert "Elektro Blitz" in listed and "Testversicherung 0 AG" in listed
    assert "Keine abgelaufenen Angebote" in section(page.text, 'id="abgelaufen"')
    # The request page links the list from the section header.
    assert 'href="/angebote/ablaufend"' in section((await bo.get(site.page)).text)

    asked = await bo.post(f"{site.page}/offers/{soon.id}/extension", data={"csrf_token": bo_csrf, "back": "ablaufend"})
    assert asked.status_code == 303 and asked.headers["location"] == "/angebote/ablaufend"
    after = await bo.get("/angebote/ablaufend")
    assert "angefragt" in " ".join(messages(after.text)) and "Verlängerung angefragt am" in after.text
    with Session(site.run.engine) as s:
        message = s.exec(select(Message).where(Message.action_id == extension_action_id(soon.id))).one()  # type: ignore[arg-type]
    assert "ist nur noch bis zum" in message.body

    # Brokers have no such page; another account's backoffice does not see these offers.
    broker, _ = await site.login(site.broker)
    assert (await broker.get("/angebote/ablaufend")).status_code == 403
    foreign = make_world(site.run.engine, tag="X")
    stranger, stranger_csrf = await site.login(backoffice(site.run.engine, foreign))
    assert "888,00" not in (await stranger.get("/angebote/ablaufend")).text
    assert (await stranger.get(f"{site.page}/offers/{soon.id}/edit")).status_code == 404
    refused = await stranger.post(f"{site.page}/offers/release",
                                  data={"csrf_token": stranger_csrf, "offer_id": str(soon.id)})
    assert refused.status_code == 404
    assert all(o.released_at is None for o in offers_of(site))


# ---------------------------------------------------------------- CSRF


async def test_every_offer_form_checks_csrf(site: Site) -> None:
    [tender] = await sent_tenders(site.run, site.world, 1)
    offer = await give_offer(site.run, tender, premium_cents=99_000, days=3)
    bo, bo_csrf = await site.login(site.backoffice)
    broker, broker_csrf = await site.login(site.broker)
    # The pages carry the token in every form.
    staff_page = (await bo.get(site.page)).text
    assert csrf_from(section(staff_page)) == bo_csrf
    edit = (await bo.get(f"{site.page}/offers/{offer.id}/edit")).text
    assert f'name="csrf_token" value="{bo_csrf}"' in edit
    action_id = re.search(r'name="action_id" value="([0-9a-f]{32})"', edit).group(1)  # type: ignore[union-attr]

    for token in ("", "forged-token"):
        release = await bo.post(f"{site.page}/offers/release", data={"csrf_token": token, "offer_id": str(offer.id)})
        assert release.status_code == 403
        extension = await bo.post(f"{site.page}/offers/{offer.id}/extension", data={"csrf_token": token})
        assert extension.status_code == 403
        edited = await bo.post(f"{site.page}/offers/{offer.id}/edit",
                               data={"csrf_token": token, "action_id": action_id, "premium": "1,00",
                                     "valid_until": future()}, files=no_file())
        assert edited.status_code == 403
        # The broker's token does not work for the backoffice and vice versa.
        crossed = await bo.post(f"{site.page}/offers/release", data={"csrf_token": broker_csrf,
                                                                       "offer_id": str(offer.id)})
        assert crossed.status_code == 403

    await release_via_page(site, bo, bo_csrf, offer)
    confirm = (await broker.get(f"{site.page}/offers/{offer.id}/bind")).text
    assert f'name="csrf_token" value="{broker_csrf}"' in confirm
    for token in ("", "forged-token", bo_csrf):
        bound = await broker.post(f"{site.page}/offers/{offer.id}/bind", data={"csrf_token": token})
        assert bound.status_code == 403

    [only] = offers_of(site)
    assert only.premium_cents == 99_000 and only.active
    with Session(site.run.engine) as s:
        assert s.exec(select(Message).where(Message.action_id == extension_action_id(offer.id))).first() is None  # type: ignore[arg-type]
        from tenderdesk.db.models import Binding

        assert s.exec(select(Binding)).first() is None


async def test_a_withdrawn_tenders_offer_leaves_the_release_list_and_the_comparison(site: Site) -> None:
    """Issue 10, item 3: after a withdrawal the offer was still "nicht freigegeben"
    while the footer said all were released."""
    kept_tender, withdrawn_tender = await sent_tenders(site.run, site.world, 2)
    kept = await give_offer(site.run, kept_tender, premium_cents=120_000)
    gone = await give_offer(site.run, withdrawn_tender, premium_cents=90_000)
    bo, bo_csrf = await site.login(site.backoffice)
    before = section((await bo.get(site.page)).text)
    assert f'value="{gone.id}" form="release-form"' in before

    await send_action(site.run.client, tender_row(site, withdrawn_tender.id), "withdraw",
                      Action(action_id=new_action_id(), actor_user_id=site.backoffice.id))
    await wait_for(lambda: not [o for o in offers_of(site) if o.id == gone.id and o.active], what="offer retired")

    after = section((await bo.get(site.page)).text)
    assert f'value="{gone.id}" form="release-form"' not in after and "900,00" not in after
    assert f'value="{kept.id}" form="release-form"' in after
    assert "Alle aktuellen Angebote sind freigegeben" not in after
    page = await release_via_page(site, bo, bo_csrf, kept)
    assert "Alle aktuellen Angebote sind freigegeben" in section(page) and "900,00" not in section(page)

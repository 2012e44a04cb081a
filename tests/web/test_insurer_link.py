"""The insurer's link page over HTTP, against the real app, the Temporal dev server
with the worker, and loopback SMTP (SQLite and PostgreSQL): what it shows,
questions with files, offers (upload, validation, correction until release),
declines, dead links, and that one link never reaches another tender.

Every response under ``/t/`` is checked for ``Referrer-Policy: no-referrer``
and for third-party resources by the client hook of :func:`open_portal`."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from fpdf import FPDF
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Document,
    DocumentKind,
    Message,
    Offer,
    Party,
    Request,
    RequestStatus,
    SystemEmail,
    Tender,
    TenderLink,
    utcnow,
)
from tenderdesk.security.tokens import hash_token, new_token
from tenderdesk.states import TenderStatus
from web.core.forms import end_of_day_utc, today_berlin
from web.offers.release import release_offers

from ..binding.helpers import set_need_release
from ..conftest import Running, SmtpServer
from ..messaging.conftest import assign
from .conftest import make_linked_tender
from .test_messages_ui import (
    MAX_UPLOAD,
    PDF_BYTES,
    Portal,
    eventually,
    insurer_asks,
    one_form,
    open_portal,
    page_forms,
    rows,
    section,
    status_of,
)

ACTION_RE = re.compile(r'action="/t/[^"]+/(\w+)"[^>]*>\s*<input type="hidden" name="csrf_token" '
                       r'value="([^"]+)">\s*<input type="hidden" name="action_id" value="([^"]+)">')
CONTACT = "partner-hilfe@tenderdesk.example"


def sample_pdf(text: str = "Angebot Betriebshaftpflicht") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def forms(html: str) -> dict[str, tuple[str, str]]:
    """form name -> (csrf token, action id); the first form per name (the new offer before a correction)."""
    found: dict[str, tuple[str, str]] = {}
    for name, csrf, action_id in ACTION_RE.findall(html):
        found.setdefault(name, (csrf, action_id))
    return found


def future_date(days: int = 90) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%d.%m.%Y")


def stored_files(portal: Portal) -> set[Path]:
    return {p for p in Path(portal.settings.storage_dir).rglob("*") if p.is_file()}


async def linked(portal: Portal, n: int = 1) -> tuple[list[Tender], list[str], httpx.AsyncClient]:
    tenders = await portal.tenders(n)
    tokens = [await portal.link(t) for t in tenders]
    return tenders, tokens, await portal.anonymous()


async def upload(
    insurer: httpx.AsyncClient, token: str, *, content: bytes | None, filename: str = "angebot.pdf",
    premium: str = "1.234,56", valid_until: str | None = None, mode: str = "new", **extra: str,
) -> httpx.Response:
    page = await insurer.get(f"/t/{token}")
    assert page.status_code == 200, page.text
    form = one_form(page.text, "/offer", mode=mode)
    data = {**form.fields, "premium": premium, "valid_until": valid_until or future_date(), **extra}
    files = {"file": (filename, content, "application/pdf")} if content is not None else None
    return await insurer.post(f"/t/{token}/offer", data=data, files=files)


def dead_tender(portal: Portal, status: TenderStatus, index: int, *, link_expired: bool = False,
                revoked: bool = False) -> str:
    """A tender row in an end state and a link to it, as the projection leaves them
    (the page only reads them; these states need no workflow to be shown)."""
    token = new_token()
    now = utcnow()
    with session_scope(portal.engine) as s:
        tender = Tender(request_id=portal.request_id, insurer_id=portal.cast.world.insurer_ids[index],
                        contact_email=f"tot{index}@test.example", workflow_id=f"dead-{index}-{token[:6]}",
                        status=status, sent_at=now - timedelta(days=20))
        s.add(tender)
        s.flush()
        s.add(TenderLink(tender_id=tender.id, token_hash=hash_token(token),  # type: ignore[arg-type]
                         expires_at=now - timedelta(minutes=1) if link_expired else now + timedelta(days=5),
                         revoked_at=now if revoked else None))
    return token


# ---------------------------------------------------------------- the page
async def test_invalid_tokens_get_a_clear_page(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        anonymous = await portal.anonymous()
        for token in ("x", "A" * 43, "%2e%2e", "a" * 300):
            response = await anonymous.get(f"/t/{token}")
            assert response.status_code == 404, token
            assert "Dieser Link ist ungültig." in response.text and "Traceback" not in response.text
        assert len(portal.link_responses) == 4


async def test_link_page_shows_risk_documents_contact_and_status(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.colleague)
        with session_scope(portal.engine) as s:
            account = s.get(Account, portal.cast.world.account_id)
            assert account is not None
            account.contact_phone = "040 123 456"
            s.add(account)
        [tender], [token], insurer = await linked(portal)

        page = await insurer.get(f"/t/{token}")

        assert page.status_code == 200
        html = page.text
        assert "MA-TEST-00001" in html and "Betriebshaftpflicht" in html and "Elektroinstallateur" in html
        risk = section(html, "risiko")
        assert "Betrieb" in risk and "Mitarbeiter" in risk and "1.200.000 €" in risk
        contact = section(html, "kontakt")
        assert CONTACT in contact and "040 123 456" in contact and "Jonas Kollege" in contact
        assert "Ausgeschrieben" in section(html, "status")
        assert {f.action.rsplit("/", 1)[-1] for f in page_forms(html)} == {"question", "offer", "decline"}
        assert 'href="/static/app.css"' in html and 'name="referrer" content="no-referrer"' in html
        # the first view reaches the workflow (recorded by the projection)
        await eventually(lambda: _row(portal, tender).first_opened_at is not None)


async def test_question_needs_the_link_csrf(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [first, second], [token_a, token_b], insurer = await linked(portal, 2)
        form_b = one_form((await insurer.get(f"/t/{token_b}")).text, "/question")

        response = await insurer.post(f"/t/{token_a}/question", data={**form_b.fields, "body": "Frage"})

        assert response.status_code == 403
        assert rows(portal.engine, Message) == []
        assert status_of(portal.engine, first) == TenderStatus.SENT


async def test_empty_question_is_refused(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        response = await insurer_asks(portal, insurer, token, "   ")
        assert response.status_code == 422
        assert "Bitte geben Sie eine Nachricht ein oder hängen Sie eine Datei an." in response.text
        too_big = await insurer_asks(portal, insurer, token, "Anbei",
                                     ("gross.pdf", b"%PDF-1.4\n" + b"0" * (MAX_UPLOAD + 10), "application/pdf"))
        assert too_big.status_code == 413 and "Die Datei ist zu groß." in too_big.text
        assert 'Anbei</textarea>' in too_big.text  # the text is kept
        assert rows(portal.engine, Message) == [] and rows(portal.engine, Document, col(Document.kind)
                                                           == DocumentKind.ATTACHMENT) == []
        assert status_of(portal.engine, tender) == TenderStatus.SENT


# ---------------------------------------------------------------- offers
async def test_offer_upload_stores_the_pdf_and_the_broker_sees_it_without_release(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        set_need_release(portal.engine, portal.cast.world, False)
        [tender], [token], insurer = await linked(portal)
        pdf = sample_pdf()

        response = await upload(insurer, token, content=pdf, filename="../Angebot Nord.pdf",
                                sum_insured="3.000.000", notes="inkl. Mietsachschäden")

        assert response.status_code == 303, response.text
        assert status_of(portal.engine, tender) == TenderStatus.OFFERED
        [document] = rows(portal.engine, Document, col(Document.kind) == DocumentKind.OFFER)
        assert document.filename == "Angebot Nord.pdf" and document.tender_id == tender.id
        assert (Path(portal.settings.storage_dir) / document.storage_key).read_bytes() == pdf
        [offer] = rows(portal.engine, Offer)
        assert (offer.premium_cents, offer.sum_insured_cents, offer.conditions_note) == (
            123456, 300000000, "inkl. Mietsachschäden")
        # no Freigabe in this account: released at once, the broker is emailed
        assert offer.active and offer.released_at is not None
        [release_mail] = rows(portal.engine, SystemEmail, col(SystemEmail.kind) == "offers_released")
        assert release_mail.to_addr == "erika@makler.example"
        page = await insurer.get(f"/t/{token}")
        offer_html = section(page.text, "angebot")
        assert "1.234,56" in offer_html and "Angebot Nord.pdf" in offer_html
        assert "Angebot korrigieren" not in offer_html and "an den Vermittler weitergegeben" in offer_html
        got = await insurer.get(f"/t/{token}/documents/{document.id}")
        assert got.status_code == 200 and got.content == pdf
        assert not list((Path(portal.settings.storage_dir) / ".incoming").iterdir())


async def test_offer_input_is_validated_and_nothing_changes(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        before = stored_files(portal)
        cases = [
            (dict(content=b"<html>kein pdf</html>"), 422, "Die Datei ist kein PDF."),
            (dict(content=b"%PDF-1.7\nnur der Anfang"), 422, "beschädigt"),
            (dict(content=sample_pdf() + b"%" + b"0" * (MAX_UPLOAD + 1024)), 413, "Die Datei ist zu groß."),
            (dict(content=sample_pdf(), premium=""), 422, "Bitte geben Sie die Jahresprämie an."),
            (dict(content=sample_pdf(), valid_until="01.01.2000"), 422,
             "Das Gültigkeitsdatum darf nicht in der Vergangenheit liegen"),
            (dict(content=sample_pdf(), premium="12,345", sum_insured="viel"), 422,
             "Die Prämie ist kein gültiger Betrag"),
            (dict(content=None), 422, "Bitte laden Sie das Angebot als PDF-Datei hoch."),
        ]
        for kwargs, status_code, text in cases:
            response = await upload(insurer, token, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == status_code, (kwargs, response.status_code)
            assert text in response.text
        kept = await upload(insurer, token, content=b"%PDF-1.7\nkaputt", premium="9.999,00")
        assert 'value="9.999,00"' in kept.text  # the input is kept
        assert rows(portal.engine, Offer) == [] and rows(portal.engine, Document,
                                                         col(Document.kind) == DocumentKind.OFFER) == []
        assert stored_files(portal) == before
        assert status_of(portal.engine, tender) == TenderStatus.SENT


async def test_oversized_chunked_upload_is_cut_off(dev: Running, smtp_server: SmtpServer) -> None:
    """Without Content-Length the body is counted while it streams."""
    async with open_portal(dev, smtp_server) as portal:
        [_], [token], insurer = await linked(portal)
        form = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new")
        boundary = "grenze"
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"{form.fields['csrf_token']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"action_id\"\r\n\r\n"
            f"{form.fields['action_id']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
        ).encode()

        async def body():  # type: ignore[no-untyped-def]
            yield head
            for _ in range(40):  # 40 x 16 KiB = 640 KiB, far above the 200 KiB limit
                yield b"0" * 16384
            yield f"\r\n--{boundary}--\r\n".encode()

        response = await insurer.post(f"/t/{token}/offer", content=body(),
                                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

        assert response.status_code == 413
        assert rows(portal.engine, Document, col(Document.kind) == DocumentKind.OFFER) == []
        assert not list((Path(portal.settings.storage_dir) / ".incoming").glob("*"))


async def test_insurer_corrects_its_offer_until_it_is_released(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        assert (await upload(insurer, token, content=sample_pdf("erste Fassung"))).status_code == 303
        [first] = rows(portal.engine, Offer)
        page = await insurer.get(f"/t/{token}")
        assert "Angebot korrigieren" in page.text
        edit = one_form(page.text, "/offer", mode="edit")
        assert edit.fields["premium"] == "1.234,56"

        # without a new PDF the previous document stays
        corrected = await upload(insurer, token, content=None, mode="edit", premium="1.111,00",
                                 valid_until=future_date(120), notes="SB 250 €")
        assert corrected.status_code == 303, corrected.text
        shown = await insurer.get(corrected.headers["location"])
        assert "Ihr Angebot wurde korrigiert." in shown.text and "1.111,00" in section(shown.text, "angebot")
        with Session(portal.engine) as s:
            offers = s.exec(select(Offer).order_by(col(Offer.id))).all()
            assert [(o.premium_cents, o.active) for o in offers] == [(123456, False), (111100, True)]
            assert offers[1].document_id == first.document_id and offers[1].conditions_note == "SB 250 €"
        assert status_of(portal.engine, tender) == TenderStatus.OFFERED

        # a correction with a new PDF replaces the document
        second_pdf = sample_pdf("zweite Fassung")
        again = await upload(insurer, token, content=second_pdf, mode="edit", premium="1.050,00")
        assert again.status_code == 303
        [current] = rows(portal.engine, Offer, col(Offer.active).is_(True))
        assert current.premium_cents == 105000 and current.document_id != first.document_id

        # released: no more corrections; a forged post is refused and changes nothing
        stale = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="edit")
        await release_offers(engine=portal.engine, client=portal.run.client, settings=portal.settings,
                             offer_ids=[current.id], user=portal.cast.backoffice)  # type: ignore[list-item]
        page = await insurer.get(f"/t/{token}")
        assert "Angebot korrigieren" not in page.text and "an den Vermittler weitergegeben" in page.text
        refused = await insurer.post(f"/t/{token}/offer", data={**stale.fields, "premium": "999,00",
                                                                "valid_until": future_date()})
        assert refused.status_code == 409
        assert "kann hier nicht mehr geändert werden" in refused.text
        [still] = rows(portal.engine, Offer, col(Offer.active).is_(True))
        assert still.id == current.id and still.premium_cents == 105000
        assert len(rows(portal.engine, Offer)) == 3


# ---------------------------------------------------------------- declines and dead links
async def test_decline_ends_the_link(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        form = one_form((await insurer.get(f"/t/{token}")).text, "/decline")
        empty = await insurer.post(f"/t/{token}/decline", data={**form.fields, "reason": "  "})
        assert empty.status_code == 422 and "Bitte geben Sie einen Grund für die Absage an." in empty.text
        assert status_of(portal.engine, tender) == TenderStatus.SENT

        declined = await insurer.post(f"/t/{token}/decline",
                                      data={**form.fields, "reason": "Außerhalb unserer Zeichnungsrichtlinien"})

        assert declined.status_code == 303
        assert status_of(portal.engine, tender) == TenderStatus.DECLINED
        await _assert_dead(portal, insurer, token, "Die Gesellschaft hat abgesagt.")


async def test_withdrawn_link_is_dead(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.backoffice)
        [tender], [token], insurer = await linked(portal)
        backoffice, csrf = await portal.as_user(portal.cast.backoffice)
        page = await backoffice.get(f"/requests/{portal.request_id}")
        action = one_form(page.text, f"/tenders/{tender.id}/actions/withdraw")
        withdrawn = await backoffice.post(action.action, data=action.fields)
        assert withdrawn.status_code == 303
        assert status_of(portal.engine, tender) == TenderStatus.WITHDRAWN
        await _assert_dead(portal, insurer, token, "Die Ausschreibung wurde zurückgezogen.", contact="Bea Backoffice")


async def test_every_other_ending_gives_a_dead_link(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        insurer = await portal.anonymous()
        cases = [
            (dead_tender(portal, TenderStatus.EXPIRED, 0), "Die Antwortfrist ist abgelaufen."),
            (dead_tender(portal, TenderStatus.CLOSED, 1), "Die Anfrage ist abgeschlossen."),
            (dead_tender(portal, TenderStatus.SENT, 2, link_expired=True), "Dieser Link ist abgelaufen."),
        ]
        for token, reason in cases:
            await _assert_dead(portal, insurer, token, reason)
        revoked = dead_tender(portal, TenderStatus.DECLINED, 2, revoked=True)
        await _assert_dead(portal, insurer, revoked, "Die Gesellschaft hat abgesagt.")


async def _assert_dead(portal: Portal, insurer: httpx.AsyncClient, token: str, reason: str,
                       contact: str | None = None) -> None:
    """410 with the reason and whom to contact; no form, and no action is taken."""
    page = await insurer.get(f"/t/{token}")
    assert page.status_code == 410, page.text
    assert reason in page.text and CONTACT in page.text
    assert "keine Rückfragen, Angebote oder Absagen mehr möglich" in page.text
    if contact:
        assert contact in page.text
    assert page_forms(page.text) == []
    with Session(portal.engine) as s:
        link = s.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(token))).one()
        before = (s.get(Tender, link.tender_id).status,  # type: ignore[union-attr]
                  len(s.exec(select(Message)).all()), len(s.exec(select(Offer)).all()))
    for action, data in (("question", {"body": "Noch da?"}), ("decline", {"reason": "Nein"}),
                         ("offer", {"premium": "1.000,00", "valid_until": future_date()})):
        response = await insurer.post(f"/t/{token}/{action}", data={**data, "action_id": "a" * 32})
        assert response.status_code == 410, action
        assert reason in response.text
    for path in ("documents/1", "messages/1/attachment"):
        assert (await insurer.get(f"/t/{token}/{path}")).status_code == 410
    with Session(portal.engine) as s:
        after = (s.get(Tender, link.tender_id).status,  # type: ignore[union-attr]
                 len(s.exec(select(Message)).all()), len(s.exec(select(Offer)).all()))
    assert after == before


# ---------------------------------------------------------------- one link, one tender
async def test_a_link_never_reaches_another_tender(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender_a, tender_b], [token_a, token_b], insurer = await linked(portal, 2)
        asked = await insurer_asks(portal, insurer, token_b, "Frage von B",
                                   ("b-intern.pdf", PDF_BYTES, "application/pdf"))
        assert asked.status_code == 303
        assert (await upload(insurer, token_b, content=sample_pdf("Angebot B"), premium="2.222,00")).status_code == 303
        [message_b] = rows(portal.engine, Message)
        [offer_b] = rows(portal.engine, Offer)
        with Session(portal.engine) as s:
            other_request = s.get(Request, portal.cast.other_request_id)
            assert other_request is not None
            request_doc = Document(request_id=other_request.id, kind=DocumentKind.REQUEST,  # type: ignore[arg-type]
                                   filename="fremd.pdf", content_type="application/pdf", size_bytes=1,
                                   sha256="0" * 64, storage_key="00/fremd", uploaded_by=Party.BROKER)
            s.add(request_doc)
            s.commit()
            s.refresh(request_doc)

        page_a = await insurer.get(f"/t/{token_a}")
        assert "Frage von B" not in page_a.text and "b-intern.pdf" not in page_a.text
        assert "<h3>Ihr Angebot</h3>" not in page_a.text and "2.222,00" not in page_a.text
        for path in (f"messages/{message_b.id}/attachment", f"documents/{offer_b.document_id}",
                     f"documents/{message_b.document_id}", f"documents/{request_doc.id}"):
            response = await insurer.get(f"/t/{token_a}/{path}")
            assert response.status_code == 404, path
        # its own forms act on its own tender only
        assert status_of(portal.engine, tender_a) == TenderStatus.SENT
        assert (await insurer_asks(portal, insurer, token_a, "Frage von A")).status_code == 303
        with Session(portal.engine) as s:
            [own] = s.exec(select(Message).where(Message.body == "Frage von A")).all()
            assert own.thread_id != message_b.thread_id
        assert status_of(portal.engine, tender_a) == TenderStatus.IN_PROGRESS
        assert status_of(portal.engine, tender_b) == TenderStatus.OFFERED
        assert all(r.headers["referrer-policy"] == "no-referrer" for r in portal.link_responses)
        assert len(portal.link_responses) > 10


def _row(portal: Portal, tender: Tender) -> Tender:
    with Session(portal.engine) as s:
        row = s.get(Tender, tender.id)
        assert row is not None
        return row


# ---------------------------------------------------------------- refusals say why (issue 8)
ALERT_RE = re.compile(r'<p class="flash flash-error" role="alert">([^<]+)</p>')


async def test_a_second_offer_from_a_stale_tab_is_refused_with_its_reason(
    dev: Running, smtp_server: SmtpServer
) -> None:
    """Defect 12: the refusal used to be rendered only inside the offer form,
    which a tender that has its offer no longer shows: a 422 without a word."""
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        tab_one = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new")
        tab_two = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new")
        assert tab_one.fields["action_id"] != tab_two.fields["action_id"]

        async def send(form: dict[str, str], premium: str) -> httpx.Response:
            data = {**form, "premium": premium, "valid_until": future_date()}
            return await insurer.post(f"/t/{token}/offer", data=data,
                                      files={"file": ("a.pdf", sample_pdf(premium), "application/pdf")})

        assert (await send(tab_one.fields, "1.000,00")).status_code == 303
        stale = await send(tab_two.fields, "2.000,00")

        assert stale.status_code in (409, 422)
        reasons = ALERT_RE.findall(stale.text)
        assert reasons and all(r.strip() for r in reasons), stale.text[-2000:]
        [offer] = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id)
        assert offer.premium_cents == 100000


async def test_a_bound_request_accepts_nothing_through_its_links(dev: Running, smtp_server: SmtpServer) -> None:
    """Defect 11: in the moment between the binding and the close of its other
    tenders, a link still took an offer ("Das Angebot wurde übermittelt")."""
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        form = one_form((await insurer.get(f"/t/{token}")).text, "/offer", mode="new")
        with session_scope(portal.engine) as s:
            request = s.get(Request, tender.request_id)
            assert request is not None
            request.status = RequestStatus.BOUND
        posted = await insurer.post(
            f"/t/{token}/offer", data={**form.fields, "premium": "1.000,00", "valid_until": future_date()},
            files={"file": ("a.pdf", sample_pdf(), "application/pdf")})
        page = await insurer.get(f"/t/{token}")

        assert posted.status_code == 410 and page.status_code == 410
        assert "übermittelt" not in posted.text
        assert rows(portal.engine, Offer, col(Offer.tender_id) == tender.id) == []


async def test_an_update_without_answer_says_it_is_being_processed(dev: Running, smtp_server: SmtpServer) -> None:
    """Defect 7: the web awaited updates without bound. A workflow that does not
    answer (here: no worker polls its task queue) gets "wird verarbeitet" (202)
    after ``update_timeout_s``; the offer row is kept for when it does answer."""
    dev.settings.update_timeout_s = 1.0
    async with open_portal(dev, smtp_server) as portal:
        with Session(portal.engine) as s:
            request = s.get(Request, portal.request_id)
            assert request is not None
        linked_tender = make_linked_tender(portal.engine, request, insurer_skip=1)
        with Session(portal.engine) as s:
            tender = s.get(Tender, linked_tender.tender_id)
            assert tender is not None
        handle = await dev.client.start_workflow(
            "TenderWorkflow", id=tender.workflow_id, task_queue=f"nobody-polls-{tender.id}")
        try:
            insurer = await portal.anonymous()
            response = await upload(insurer, linked_tender.token, content=sample_pdf())
        finally:
            await handle.terminate()

        assert response.status_code == 202
        assert "wird verarbeitet" in response.text
        [offer] = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id)
        assert not offer.active  # kept, not deleted: the update may still be applied


async def test_an_offer_valid_through_today_is_accepted(dev: Running, smtp_server: SmtpServer) -> None:
    """Issue 10, item 12: a validity is a date, valid through its end."""
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        today = today_berlin(utcnow())
        response = await upload(insurer, token, content=sample_pdf(), valid_until=today.strftime("%d.%m.%Y"))

        assert response.status_code == 303, response.text
        [offer] = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id)
        assert offer.valid_until == end_of_day_utc(today)
        assert status_of(portal.engine, tender) == TenderStatus.OFFERED


async def test_an_insurer_offer_edited_by_backoffice_keeps_its_origin(dev: Running, smtp_server: SmtpServer) -> None:
    """Issue 10, item 6: after a pencil edit an uploaded offer read "vom Backoffice erfasst"."""
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        assert (await upload(insurer, token, content=sample_pdf())).status_code == 303
        [offer] = rows(portal.engine, Offer, col(Offer.tender_id) == tender.id)
        staff, csrf = await portal.as_user(portal.cast.backoffice)
        url = f"/requests/{portal.request_id}/offers/{offer.id}/edit"
        form = one_form((await staff.get(url)).text, "/edit")
        saved = await staff.post(url, data={**form.fields, "premium": "999,00", "valid_until": future_date(30)})
        assert saved.status_code == 303, saved.text[-1500:]

        page = (await staff.get(f"/requests/{portal.request_id}")).text
        assert "von der Gesellschaft, vom Backoffice bearbeitet" in page
        assert "vom Backoffice erfasst" not in page


async def test_uploads_that_are_not_clean_pdfs_are_refused(dev: Running, smtp_server: SmtpServer) -> None:
    """Issue 8, uploads: a non-PDF, a malformed PDF and a PDF/HTML polyglot are
    refused with a reason; a good one is stored under a server name and served
    as an attachment."""
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        good = sample_pdf()
        first_line, rest = good.split(b"\n", 1)
        polyglot = first_line + b"\n%<html><body><script>alert(document.cookie)</script></body></html>\n" + rest
        cases = [
            (b"MZ\x90\x00 a program, not a PDF", "kein PDF"),
            (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without pages", "nicht gelesen"),
            (polyglot, "nicht gelesen"),
        ]
        for content, reason in cases:
            refused = await upload(insurer, token, content=content, filename="<script>.pdf")
            assert refused.status_code == 422, content[:20]
            assert reason in refused.text, (content[:20], ALERT_RE.findall(refused.text))
        assert rows(portal.engine, Offer, col(Offer.tender_id) == tender.id) == []
        assert not list((Path(portal.settings.storage_dir) / ".incoming").glob("*"))

        assert (await upload(insurer, token, content=good, filename="../../etc/Angebot.pdf")).status_code == 303
        [document] = rows(portal.engine, Document, col(Document.kind) == DocumentKind.OFFER)
        assert "Angebot" not in document.storage_key and ".." not in document.storage_key
        served = await insurer.get(f"/t/{token}/documents/{document.id}")
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff"


async def test_tampered_random_and_replayed_links_fail(dev: Running, smtp_server: SmtpServer) -> None:
    """Issue 8, links: a changed character, 200 random tokens and a link used
    again after its tender ended all fail; revocation counts on the next request."""
    import secrets as random_tokens

    async with open_portal(dev, smtp_server) as portal:
        tenders, tokens, insurer = await linked(portal, 2)
        token = tokens[0]
        assert (await insurer.get(f"/t/{token}")).status_code == 200
        flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        codes = [(await insurer.get(f"/t/{flipped}")).status_code]
        codes += [(await insurer.get(f"/t/{random_tokens.token_urlsafe(32)}")).status_code for _ in range(200)]
        assert set(codes) == {404}, set(codes)

        # Revoked in the database: refused on the very next request.
        with session_scope(portal.engine) as s:
            link = s.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(tokens[1]))).one()
            link.revoked_at = utcnow()
        assert (await insurer.get(f"/t/{tokens[1]}")).status_code == 410

        # Replayed after the end: the insurer declined; the same link, page and form are dead.
        decline = one_form((await insurer.get(f"/t/{token}")).text, "/decline")
        assert (await insurer.post(f"/t/{token}/decline",
                                   data={**decline.fields, "reason": "Kein Appetit"})).status_code == 303
        replay = await insurer.post(f"/t/{token}/decline", data={**decline.fields, "reason": "Noch einmal"})
        assert replay.status_code in (303, 410)  # the same form again answers its first result, or ended
        assert (await insurer.get(f"/t/{token}")).status_code == 410
        assert rows(portal.engine, Message, col(Message.body).contains("Noch einmal")) == []

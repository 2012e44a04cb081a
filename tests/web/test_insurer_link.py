"""The insurer's link page: resolution, ended links, question, offer upload, decline."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from fpdf import FPDF
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.contracts import OfferAction
from tenderdesk.db import session_scope
from tenderdesk.models import Document, DocumentKind, Message, Offer, Party, Tender, utcnow
from tenderdesk.settings import Settings
from tenderdesk.states import TenderStatus

from .conftest import MAX_UPLOAD, FakeTemporal, LinkedTender, first_request, make_linked_tender

ACTION_RE = re.compile(r'action="/t/[^"]+/(\w+)"[^>]*>\s*<input type="hidden" name="csrf_token" '
                       r'value="([^"]+)">\s*<input type="hidden" name="action_id" value="([^"]+)">')


def sample_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Angebot Betriebshaftpflicht")
    return bytes(pdf.output())


def forms(html: str) -> dict[str, tuple[str, str]]:
    """form name -> (csrf token, action id)"""
    return {name: (csrf, action_id) for name, csrf, action_id in ACTION_RE.findall(html)}


def future_date() -> str:
    return (utcnow() + timedelta(days=90)).strftime("%d.%m.%Y")


def documents(engine: Engine) -> list[Document]:
    with Session(engine) as s:
        return list(s.exec(select(Document).where(Document.kind == DocumentKind.OFFER)).all())


def stored_files(settings: Settings) -> set[Path]:
    return {p for p in Path(settings.storage_dir).rglob("*") if p.is_file()}


async def open_page(http: httpx.AsyncClient, linked: LinkedTender) -> httpx.Response:
    page = await http.get(f"/t/{linked.token}")
    assert page.status_code == 200, page.text
    return page


async def test_invalid_tokens_get_a_clear_page(http: httpx.AsyncClient) -> None:
    for token in ("x", "A" * 43, "%2e%2e", "a" * 300):
        response = await http.get(f"/t/{token}")
        assert response.status_code == 404, token
        assert "Dieser Link ist ungültig." in response.text
        assert "Traceback" not in response.text
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_link_page_shows_the_request(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)

    page = await open_page(http, linked)

    assert page.headers["referrer-policy"] == "no-referrer"
    assert request.number in page.text and request.trade in page.text
    assert "Ausgeschrieben" in page.text
    for section in request.answers:
        assert section in page.text.replace("&amp;", "&")
    assert set(forms(page.text)) == {"question", "offer", "decline"}
    assert 'href="/static/app.css"' in page.text  # local CSS only
    assert not re.search(r'(src|href)="https?://', page.text)
    # first view: the workflow hears of it, once per tender (deterministic update ID)
    assert fake_temporal.names() == ["link_opened"]
    assert fake_temporal.updates[0][3] == f"link-opened-{linked.tender_id}"
    with Session(web_engine) as s:
        doc = s.exec(select(Document).where(Document.request_id == request.id)
                     .where(Document.kind == DocumentKind.REQUEST)).first()
    if doc:
        download = await http.get(f"/t/{linked.token}/documents/{doc.id}")
        assert download.status_code == 200
        assert download.headers["content-disposition"].startswith("attachment")


async def test_link_opened_only_until_recorded(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    await open_page(http, linked)
    assert fake_temporal.updates == []


async def test_link_page_survives_temporal_errors(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    fake_temporal.fail_with = RuntimeError("boom")
    linked = make_linked_tender(web_engine, first_request(web_engine))
    await open_page(http, linked)


async def test_documents_are_scoped_to_the_tender(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    with Session(web_engine) as s:
        foreign = s.exec(select(Document).where(Document.request_id != request.id)).first()
    assert foreign is not None
    response = await http.get(f"/t/{linked.token}/documents/{foreign.id}")
    assert response.status_code == 404


async def test_ended_links_say_why_and_whom_to_contact(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    cases = [
        (make_linked_tender(web_engine, request, status=TenderStatus.WITHDRAWN),
         "Die Ausschreibung wurde zurückgezogen."),
        (make_linked_tender(web_engine, request, status=TenderStatus.DECLINED, insurer_skip=1),
         "Die Gesellschaft hat abgesagt."),
        (make_linked_tender(web_engine, request, status=TenderStatus.EXPIRED, insurer_skip=2),
         "Die Antwortfrist ist abgelaufen."),
        (make_linked_tender(web_engine, request, expires_in=timedelta(seconds=-1), insurer_skip=3),
         "Dieser Link ist abgelaufen."),
    ]
    for linked, reason in cases:
        response = await http.get(f"/t/{linked.token}")
        assert response.status_code == 410
        assert reason in response.text
        assert "partner-hilfe@tenderdesk.example" in response.text


async def test_question_is_sent(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    csrf, action_id = forms((await open_page(http, linked)).text)["question"]

    response = await http.post(f"/t/{linked.token}/question",
                               data={"csrf_token": csrf, "action_id": action_id,
                                     "body": "Gibt es Vorschäden?"})

    assert response.status_code == 303
    assert fake_temporal.names() == ["ask_question"]
    with Session(web_engine) as s:
        message = s.exec(select(Message).where(Message.action_id == action_id)).one()
    assert message.body == "Gibt es Vorschäden?" and message.author == Party.INSURER
    follow = await http.get(response.headers["location"])
    assert "OK: ask_question" in follow.text


async def test_forms_need_the_link_csrf(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    first = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    second = make_linked_tender(web_engine, first_request(web_engine), opened=True, insurer_skip=1)
    csrf_other, action_id = forms((await open_page(http, second)).text)["question"]

    response = await http.post(f"/t/{first.token}/question",
                               data={"csrf_token": csrf_other, "action_id": action_id, "body": "Frage"})

    assert response.status_code == 403
    assert fake_temporal.updates == []


async def test_decline_requires_a_reason(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    csrf, action_id = forms((await open_page(http, linked)).text)["decline"]

    response = await http.post(f"/t/{linked.token}/decline",
                               data={"csrf_token": csrf, "action_id": action_id, "reason": "   "})

    assert response.status_code == 422
    assert "Bitte geben Sie einen Grund für die Absage an." in response.text
    assert fake_temporal.updates == []
    with Session(web_engine) as s:
        assert s.exec(select(Message)).first() is None
        assert s.get(Tender, linked.tender_id).status == TenderStatus.SENT  # type: ignore[union-attr]


async def test_decline_with_reason(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    csrf, action_id = forms((await open_page(http, linked)).text)["decline"]
    response = await http.post(f"/t/{linked.token}/decline",
                               data={"csrf_token": csrf, "action_id": action_id,
                                     "reason": "Risiko außerhalb unserer Zeichnungsrichtlinien"})
    assert response.status_code == 303
    assert fake_temporal.names() == ["decline"]


async def upload(
    http: httpx.AsyncClient, linked: LinkedTender, *, content: bytes, filename: str = "angebot.pdf",
    premium: str = "1.234,56", valid_until: str | None = None, **extra: str,
) -> httpx.Response:
    csrf, action_id = forms((await open_page(http, linked)).text)["offer"]
    data = {"csrf_token": csrf, "action_id": action_id, "premium": premium,
            "valid_until": valid_until or future_date(), **extra}
    return await http.post(f"/t/{linked.token}/offer", data=data,
                           files={"file": (filename, content, "application/pdf")})


async def test_offer_upload_stores_pdf_and_submits(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    pdf = sample_pdf()

    response = await upload(http, linked, content=pdf, filename="../Angebot Nord.pdf",
                            sum_insured="3.000.000", notes="inkl. Mietsachschäden")

    assert response.status_code == 303, response.text
    [document] = documents(web_engine)
    assert document.tender_id == linked.tender_id and document.uploaded_by == Party.INSURER
    assert document.filename == "Angebot Nord.pdf" and document.size_bytes == len(pdf)
    assert (Path(web_settings.storage_dir) / document.storage_key).read_bytes() == pdf
    with Session(web_engine) as s:
        offer = s.exec(select(Offer)).one()
    assert offer.premium_cents == 123456 and offer.sum_insured_cents == 300000000
    assert offer.document_id == document.id and offer.conditions_note == "inkl. Mietsachschäden"
    [(_, name, action, _)] = fake_temporal.updates
    assert name == "submit_offer" and isinstance(action, OfferAction)
    assert action.offer_id == offer.id and not action.by_backoffice
    assert not list((Path(web_settings.storage_dir) / ".incoming").iterdir())


async def test_non_pdf_is_rejected_and_nothing_stored(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    before = stored_files(web_settings)

    renamed = await upload(http, linked, content=b"<html>kein pdf</html>")
    broken = await upload(http, linked, content=b"%PDF-1.7\nnur der Anfang")

    assert renamed.status_code == 422
    assert "Die Datei ist kein PDF." in renamed.text
    assert broken.status_code == 422
    assert "beschädigt" in broken.text
    assert 'value="1.234,56"' in broken.text  # the input is kept
    assert documents(web_engine) == [] and fake_temporal.updates == []
    assert stored_files(web_settings) == before


async def test_oversized_upload_is_rejected(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    before = stored_files(web_settings)
    big = sample_pdf() + b"%" + b"0" * (MAX_UPLOAD + 100 * 1024)

    response = await upload(http, linked, content=big)

    assert response.status_code == 413
    assert "Die Datei ist zu groß." in response.text
    assert documents(web_engine) == [] and fake_temporal.updates == []
    assert stored_files(web_settings) == before


async def test_oversized_chunked_upload_is_cut_off(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings
) -> None:
    """Without Content-Length the body is counted while it streams."""
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    csrf, action_id = forms((await open_page(http, linked)).text)["offer"]
    boundary = "grenze"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"action_id\"\r\n\r\n{action_id}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()
    sent = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield head
        for _ in range(40):  # 40 x 16 KiB = 640 KiB, far above the 200 KiB limit
            sent += 1
            yield b"0" * 16384
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await http.post(
        f"/t/{linked.token}/offer", content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 413
    assert documents(web_engine) == []
    assert not list((Path(web_settings.storage_dir) / ".incoming").glob("*"))


async def test_offer_fields_are_validated(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    response = await upload(http, linked, content=sample_pdf(), premium="12,345",
                            valid_until="01.01.2000", sum_insured="viel")
    assert response.status_code == 422
    for text in ("Die Prämie ist kein gültiger Betrag", "Das Gültigkeitsdatum muss in der Zukunft liegen.",
                 "Die Versicherungssumme ist kein gültiger Betrag"):
        assert text in response.text
    assert documents(web_engine) == [] and fake_temporal.updates == []


async def test_refused_offer_leaves_nothing_behind(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings, fake_temporal: FakeTemporal
) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True)
    before = stored_files(web_settings)
    fake_temporal.fail_with = RPCError("gone", RPCStatusCode.NOT_FOUND, b"")

    response = await upload(http, linked, content=sample_pdf())

    assert response.status_code == 422
    assert "Die Ausschreibung ist bereits beendet." in response.text
    assert documents(web_engine) == []
    with Session(web_engine) as s:
        assert s.exec(select(Offer)).first() is None
    assert stored_files(web_settings) == before


async def test_forms_hidden_when_not_awaiting(http: httpx.AsyncClient, web_engine: Engine) -> None:
    linked = make_linked_tender(web_engine, first_request(web_engine), opened=True,
                                status=TenderStatus.OFFERED)
    page = await open_page(http, linked)
    assert set(forms(page.text)) == {"question"}
    with session_scope(web_engine) as s:
        tender = s.get(Tender, linked.tender_id)
        tender.status = TenderStatus.QUEUED  # type: ignore[union-attr]
        s.add(tender)
    page = await open_page(http, linked)
    assert forms(page.text) == {}

"""The request page: answers, per-object authorization, assign, tender actions,
adding tenders, system emails, documents and the insurer preview."""

from __future__ import annotations

import html
import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db import session_scope
from tenderdesk.models import (
    Document,
    DocumentKind,
    EmailStatus,
    Insurer,
    Offer,
    Party,
    Recommendation,
    ReferralReason,
    Request,
    SystemEmail,
    Tender,
    utcnow,
)
from tenderdesk.states import TenderStatus
from tenderdesk.storage import store_bytes

from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    OTHER_BROKER_USER,
    SECOND_ACCOUNT_USER,
    FakeTemporal,
    csrf_from,
    first_request,
    logged_in,
    make_linked_tender,
    user_by_email,
)

ACTION_ID_RE = re.compile(r'name="action_id" value="([0-9a-f]{32})"')


async def test_request_page_renders_overview_and_grouped_answers(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    request = first_request(web_engine)

    page = await http.get(f"/requests/{request.id}")

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert request.number in text
    assert "<summary><h2>Detail-Angaben</h2></summary>" in page.text
    assert request.answers, "seed data has answers"
    for section, items in request.answers.items():
        assert f"<h4>{html.escape(section)}</h4>" in page.text
        for question in items:
            assert question in text
    for heading in ("Vermittler", "Versicherungsnehmer", "System Emails", "Dokumente",
                    "+ Ausschreibung hinzufügen"):
        assert heading in text
    with Session(web_engine) as s:
        reasons = s.exec(select(ReferralReason).where(ReferralReason.request_id == request.id)).all()
    if reasons:
        assert "Alle Aussteuerungsgründe" in text
        assert all(r.reason in text for r in reasons)


async def test_answers_are_escaped(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    with session_scope(web_engine) as s:
        row = s.get(Request, request.id)
        row.answers = {"Betrieb": {"<b>Frage</b>": "<script>alert(1)</script>", "Sprinkler": True}}  # type: ignore[union-attr]
        s.add(row)
    await logged_in(http, MAIN_BACKOFFICE)
    page = (await http.get(f"/requests/{request.id}")).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<dd>Ja</dd>" in page


async def test_other_account_gets_404_everywhere(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    with Session(web_engine) as s:
        document = s.exec(select(Document).where(Document.request_id == request.id)).first()
    await logged_in(http, SECOND_ACCOUNT_USER)

    paths = [
        f"/requests/{request.id}",
        f"/requests/{request.id}/tenders/new",
        f"/requests/{request.id}/tenders/{linked.tender_id}/insurer-view",
        "/requests/999999",
    ]
    if document:
        paths.append(f"/requests/{request.id}/documents/{document.id}")
    for path in paths:
        response = await http.get(path)
        assert response.status_code == 404, path
        assert "nicht gefunden" in response.text
    csrf = csrf_from((await http.get("/")).text)
    assign = await http.post(f"/requests/{request.id}/assign", data={"csrf_token": csrf})
    assert assign.status_code == 404


async def test_broker_sees_own_request_reduced_and_not_others(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    broker = user_by_email(web_engine, BROKER_USER)
    other = user_by_email(web_engine, OTHER_BROKER_USER)
    own, foreign = sorted(
        (r for r in _main_requests(web_engine)), key=lambda r: r.id or 0
    )[:2]
    with session_scope(web_engine) as s:
        for request, broker_id in ((own, broker.broker_id), (foreign, other.broker_id)):
            row = s.get(Request, request.id)
            row.broker_id = broker_id  # type: ignore[union-attr,assignment]
            s.add(row)
    linked = make_linked_tender(web_engine, own)
    await logged_in(http, BROKER_USER)

    page = await http.get(f"/requests/{own.id}")
    assert page.status_code == 200
    assert "System Emails" not in page.text and "Zuweisen an mich" not in page.text
    assert "Erinnerung schicken" not in page.text and "insurer-view" not in page.text
    assert (await http.get(f"/requests/{foreign.id}")).status_code == 404
    preview = await http.get(f"/requests/{own.id}/tenders/{linked.tender_id}/insurer-view")
    assert preview.status_code == 403
    csrf = csrf_from(page.text)
    assign = await http.post(f"/requests/{own.id}/assign", data={"csrf_token": csrf})
    assert assign.status_code == 403


def _main_requests(engine: Engine) -> list[Request]:
    account_id = user_by_email(engine, MAIN_BACKOFFICE).account_id
    with Session(engine) as s:
        return list(s.exec(select(Request).where(Request.account_id == account_id)).all())


async def test_assign_to_me(http: httpx.AsyncClient, web_engine: Engine) -> None:
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    request = first_request(web_engine)

    response = await http.post(f"/requests/{request.id}/assign", data={"csrf_token": csrf})

    assert response.status_code == 303
    with Session(web_engine) as s:
        assert s.get(Request, request.id).assignee_id == user_by_email(web_engine, MAIN_BACKOFFICE).id  # type: ignore[union-attr]
    page = await http.get(response.headers["location"])
    assert "Sie sind jetzt Bearbeiter dieser Anfrage." in page.text
    assert "Anna Berger" in page.text


async def test_tender_table_and_actions(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    page = await http.get(f"/requests/{request.id}")
    assert "Ausgeschrieben" in page.text
    for label in ("Erinnerung schicken", "In Bearbeitung", "Anfrage nicht erfolgreich",
                  "Link zur Ausschreibung"):
        assert label in page.text
    assert (
        f"http://temporal-ui.test/namespaces/default/workflows/tender-r{request.id}-i" in page.text
    )
    action_id = ACTION_ID_RE.findall(page.text)[0]
    path = f"/requests/{request.id}/tenders/{linked.tender_id}/actions/remind_now"

    first = await http.post(path, data={"csrf_token": csrf, "action_id": action_id})
    again = await http.post(path, data={"csrf_token": csrf, "action_id": action_id})

    assert first.status_code == again.status_code == 303
    assert [u[1] for u in fake_temporal.updates] == ["remind_now", "remind_now"]
    _, _, action, update_id = fake_temporal.updates[0]
    assert isinstance(action, Action) and update_id == action_id == action.action_id
    assert action.actor_user_id == user_by_email(web_engine, MAIN_BACKOFFICE).id
    shown = await http.get(f"/requests/{request.id}")
    assert "OK: remind_now" in shown.text

    forged = await http.post(path, data={"csrf_token": csrf, "action_id": "nope"})
    assert forged.status_code == 303 and len(fake_temporal.updates) == 2
    unknown = await http.post(
        f"/requests/{request.id}/tenders/{linked.tender_id}/actions/close",
        data={"csrf_token": csrf, "action_id": action_id},
    )
    assert unknown.status_code == 404


async def test_action_refusal_is_shown(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    fake_temporal.fail_with = RPCError("gone", RPCStatusCode.NOT_FOUND, b"")
    await http.post(
        f"/requests/{request.id}/tenders/{linked.tender_id}/actions/withdraw",
        data={"csrf_token": csrf, "action_id": "a" * 32},
    )
    page = await http.get(f"/requests/{request.id}")
    assert "Die Ausschreibung ist bereits beendet." in page.text


async def test_delivery_failure_and_system_emails(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    with session_scope(web_engine) as s:
        tender = s.get(Tender, linked.tender_id)
        tender.delivery_failed = True  # type: ignore[union-attr]
        s.add(tender)
        s.add(SystemEmail(
            idempotency_key="k1", request_id=request.id, tender_id=linked.tender_id,  # type: ignore[arg-type]
            kind="tender", seq=1, to_addr="x@versicherer.example", subject="Ausschreibung <Test>",
            body_text="Hallo\n[persönlicher Link]", message_id_header="<k1@x>",
            status=EmailStatus.FAILED, last_reply="550 5.1.1 mailbox unavailable",
        ))
    await logged_in(http, MAIN_BACKOFFICE)
    page = (await http.get(f"/requests/{request.id}")).text
    assert "Zustellung fehlgeschlagen" in page
    assert "550 5.1.1 mailbox unavailable" in page
    assert "Ausschreibung &lt;Test&gt;" in page and "x@versicherer.example" in page


async def test_offer_summary_and_document_download(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: object
) -> None:
    from tenderdesk.settings import Settings

    assert isinstance(web_settings, Settings)
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request, status=TenderStatus.OFFERED)
    key, sha = store_bytes(web_settings, b"%PDF-1.4 test")
    with session_scope(web_engine) as s:
        doc = Document(
            request_id=request.id, tender_id=linked.tender_id, kind=DocumentKind.OFFER,  # type: ignore[arg-type]
            filename='../../etc/Angebot "Ö"\r\n.pdf', content_type="text/html", size_bytes=13,
            sha256=sha, storage_key=key, uploaded_by=Party.INSURER,
        )
        s.add(doc)
        s.flush()
        offer = Offer(
            tender_id=linked.tender_id, request_id=request.id, action_id="o1",  # type: ignore[arg-type]
            premium_cents=123456, valid_until=utcnow().replace(year=utcnow().year + 1),
            document_id=doc.id, submitted_by=Party.INSURER, active=True,
        )
        s.add(offer)
        s.flush()
        tender = s.get(Tender, linked.tender_id)
        tender.current_offer_id = offer.id  # type: ignore[union-attr]
        s.add(tender)
        doc_id = doc.id
    await logged_in(http, MAIN_BACKOFFICE)

    page = (await http.get(f"/requests/{request.id}")).text
    assert "1.234,56" in page and "Angebot (PDF)" in page

    download = await http.get(f"/requests/{request.id}/documents/{doc_id}")
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4 test"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "/" not in disposition.split("filename*=")[0] and "\r" not in disposition
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "application/octet-stream"  # not text/html

    wrong_request = await http.get(f"/requests/{request.id + 1}/documents/{doc_id}")  # type: ignore[operator]
    assert wrong_request.status_code == 404


async def test_broker_cannot_download_unreleased_offer(http: httpx.AsyncClient, web_engine: Engine) -> None:
    broker = user_by_email(web_engine, BROKER_USER)
    request = first_request(web_engine)
    with session_scope(web_engine) as s:
        row = s.get(Request, request.id)
        row.broker_id = broker.broker_id  # type: ignore[union-attr,assignment]
        s.add(row)
        doc = Document(
            request_id=request.id, kind=DocumentKind.OFFER, filename="a.pdf",  # type: ignore[arg-type]
            content_type="application/pdf", size_bytes=1, sha256="0" * 64,
            storage_key="00/" + "0" * 64, uploaded_by=Party.INSURER,
        )
        s.add(doc)
        s.flush()
        doc_id = doc.id
    await logged_in(http, BROKER_USER)
    assert (await http.get(f"/requests/{request.id}/documents/{doc_id}")).status_code == 404


async def test_add_tenders_picker_groups_and_start(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    request = first_request(web_engine)
    with Session(web_engine) as s:
        starred = set(s.exec(
            select(Recommendation.insurer_id)
            .where(Recommendation.account_id == request.account_id)
            .where(Recommendation.product_id == request.product_id)
        ).all())
        insurers = s.exec(select(Insurer)).all()
        unreachable = next(i for i in insurers if not i.reachable)
    csrf = await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get(f"/requests/{request.id}/tenders/new")
    assert page.status_code == 200
    text = page.text
    assert text.index("Empfohlene Versicherer") < text.index("Weitere Versicherer") < text.index(
        "Nicht relevante Versicherer")
    enabled = {int(x) for x in re.findall(r'name="insurer_id" value="(\d+)"\s*>', text)}
    assert unreachable.id not in enabled
    assert "nicht erreichbar" in text
    recommended_section = text[text.index("Empfohlene Versicherer"):text.index("Weitere Versicherer")]
    for insurer_id in starred:
        if insurer_id in enabled:
            assert f'value="{insurer_id}"' in recommended_section
    target = next(iter(enabled))

    response = await http.post(
        f"/requests/{request.id}/tenders",
        data={"csrf_token": csrf, "insurer_id": [str(target), str(unreachable.id)],
              "email_note": "Bitte bis Monatsende."},
    )

    assert response.status_code == 303
    assert [s[0] for s in fake_temporal.starts] == ["TenderWorkflow"]
    with Session(web_engine) as s:
        tender = s.exec(select(Tender).where(Tender.request_id == request.id)).one()
    assert tender.insurer_id == target and tender.email_note == "Bitte bis Monatsende."
    shown = html.unescape((await http.get(f"/requests/{request.id}")).text)
    assert "1 Ausschreibung(en) gestartet." in shown
    assert f"{unreachable.name} ist derzeit nicht erreichbar." in shown

    again = await http.get(f"/requests/{request.id}/tenders/new")
    assert "bereits ausgeschrieben" in again.text
    assert not re.search(rf'name="insurer_id" value="{target}"\s*>', again.text)


async def test_add_tenders_needs_a_choice(
    http: httpx.AsyncClient, web_engine: Engine, fake_temporal: FakeTemporal
) -> None:
    request = first_request(web_engine)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    response = await http.post(f"/requests/{request.id}/tenders", data={"csrf_token": csrf})
    assert response.status_code == 422
    assert "Bitte wählen Sie mindestens eine Gesellschaft aus." in response.text
    assert fake_temporal.starts == []


async def test_add_tenders_without_temporal(http: httpx.AsyncClient, web_app: object, web_engine: Engine) -> None:
    from fastapi import FastAPI

    from web.temporal import TemporalConnector

    assert isinstance(web_app, FastAPI)

    def unreachable() -> None:
        raise ConnectionRefusedError()

    web_app.state.temporal = TemporalConnector(unreachable)  # type: ignore[arg-type]
    request = first_request(web_engine)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    assert (await http.get(f"/requests/{request.id}")).status_code == 200  # pages need no Temporal
    with Session(web_engine) as s:
        insurer_id = s.exec(select(Insurer.id).where(col(Insurer.reachable).is_(True))).first()
    response = await http.post(
        f"/requests/{request.id}/tenders", data={"csrf_token": csrf, "insurer_id": str(insurer_id)}
    )
    assert response.status_code == 503
    assert "nicht erreichbar" in response.text
    with Session(web_engine) as s:
        assert s.exec(select(Tender)).first() is None


async def test_insurer_preview_is_read_only(http: httpx.AsyncClient, web_engine: Engine,
                                            fake_temporal: FakeTemporal) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get(f"/requests/{request.id}/tenders/{linked.tender_id}/insurer-view")

    assert page.status_code == 200
    assert "Vorschau" in page.text and request.number in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
    assert linked.token not in page.text
    assert fake_temporal.updates == []  # the preview is not a "link opened"


async def test_contact_page(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    page = await http.get("/kontakt")
    assert page.status_code == 200
    assert "partner-hilfe@tenderdesk.example" in page.text

"""The request page: overview, answers, Bearbeiter (assign and reassign, with an
audit event), per-object authorization, the tender table and its actions,
live markers, system emails, documents and the insurer preview."""

from __future__ import annotations

import html
import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Document,
    DocumentKind,
    EmailStatus,
    Offer,
    Party,
    ReferralReason,
    Request,
    SystemEmail,
    Tender,
    User,
    utcnow,
)
from tenderdesk.documents.storage import store_bytes
from tenderdesk.states import TenderStatus

from ..conftest import Running, SmtpServer
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    OTHER_BACKOFFICE,
    OTHER_BROKER_USER,
    SECOND_ACCOUNT_USER,
    accepted_updates,
    csrf_from,
    eventually,
    first_request,
    logged_in,
    make_linked_tender,
    started_tender,
    tender_row,
    user_by_email,
)

ACTION_ID_RE = re.compile(r'name="action_id" value="([0-9a-f]{32})"')
LINK_TOKEN_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")


async def test_request_page_renders_overview_and_grouped_answers(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    request = first_request(web_engine)

    page = await http.get(f"/requests/{request.id}")

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert request.number in text
    assert '<details class="card disclosure" id="detail-angaben">' in page.text
    assert "<summary><h2>Detail-Angaben</h2>" in page.text
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
    assert "&lt;script&gt;alert(1)&lt;/<wbr>script&gt;" in page  # escaped; a slash may wrap
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
    [event] = audit_events(web_engine, request.id)
    assert (event.kind, event.actor, event.detail) == ("assigned", Party.BACKOFFICE, "Anna Berger")
    assert event.actor_user_id == user_by_email(web_engine, MAIN_BACKOFFICE).id


def audit_events(engine: Engine, request_id: int | None) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.request_id == request_id)
                           .where(AuditEvent.kind == "assigned").order_by(col(AuditEvent.id))).all())


async def test_reassign_to_a_colleague(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    colleague = user_by_email(web_engine, OTHER_BACKOFFICE)
    csrf = await logged_in(http, MAIN_BACKOFFICE)

    page = (await http.get(f"/requests/{request.id}")).text
    select_html = page[page.index('name="assignee_id"'):page.index("</select>")]
    with Session(web_engine) as s:
        staff = s.exec(select(User).where(User.account_id == request.account_id)
                       .where(col(User.role).in_(["backoffice", "admin"]))).all()
        brokers = s.exec(select(User).where(User.role == "broker")).all()
    for user in staff:
        assert f'value="{user.id}"' in select_html
    for user in brokers:
        assert f'value="{user.id}"' not in select_html

    response = await http.post(f"/requests/{request.id}/assignee",
                               data={"csrf_token": csrf, "assignee_id": str(colleague.id)})

    assert response.status_code == 303
    with Session(web_engine) as s:
        assert s.get(Request, request.id).assignee_id == colleague.id  # type: ignore[union-attr]
    shown = html.unescape((await http.get(response.headers["location"])).text)
    assert f"{colleague.name} ist jetzt Bearbeiter dieser Anfrage." in shown
    [event] = audit_events(web_engine, request.id)
    assert (event.kind, event.actor, event.detail) == ("assigned", Party.BACKOFFICE, colleague.name)
    again = await http.post(f"/requests/{request.id}/assignee",
                            data={"csrf_token": csrf, "assignee_id": str(colleague.id)})
    assert again.status_code == 303 and len(audit_events(web_engine, request.id)) == 1


async def test_reassign_refuses_anyone_else_and_changes_nothing(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    request = first_request(web_engine)
    colleague = user_by_email(web_engine, OTHER_BACKOFFICE)
    with session_scope(web_engine) as s:
        row = s.get(User, colleague.id)
        row.is_active = False  # type: ignore[union-attr]
        s.add(row)
    foreign_staff = user_by_email(web_engine, SECOND_ACCOUNT_USER)
    broker = user_by_email(web_engine, BROKER_USER)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    before = first_request(web_engine).assignee_id
    for value in (str(colleague.id), str(foreign_staff.id), str(broker.id), "999999", "abc", "", "-1"):
        response = await http.post(f"/requests/{request.id}/assignee",
                                   data={"csrf_token": csrf, "assignee_id": value})
        assert response.status_code == 422, value
        assert "Bitte wählen Sie einen aktiven Backoffice-Mitarbeiter Ihres Accounts" in response.text
    page = (await http.get(f"/requests/{request.id}")).text
    assert f'value="{colleague.id}"' not in page[page.index('name="assignee_id"'):page.index("</select>")]
    assert first_request(web_engine).assignee_id == before
    assert audit_events(web_engine, request.id) == []
    no_csrf = await http.post(f"/requests/{request.id}/assignee", data={"assignee_id": str(colleague.id)})
    assert no_csrf.status_code == 403


async def test_tender_table_and_actions(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    engine = web_dev.engine
    request = first_request(engine)
    tender = await started_tender(web_dev, request)
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    page = await dev_http.get(f"/requests/{request.id}")
    assert "Ausgeschrieben" in page.text
    for label in ("Erinnerung schicken", "In Bearbeitung", "Anfrage nicht erfolgreich",
                  "Link zur Ausschreibung"):
        assert label in page.text
    assert f"http://temporal-ui.test/namespaces/default/workflows/{tender.workflow_id}" in page.text
    action_id = ACTION_ID_RE.findall(page.text)[0]
    path = f"/requests/{request.id}/tenders/{tender.id}/actions/remind_now"

    first = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id})
    again = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id})

    assert first.status_code == again.status_code == 303
    # the double click reached the workflow once: one update under the form's action id
    [update] = await accepted_updates(web_dev, tender.workflow_id)
    assert update.name == "remind_now" and update.update_id == action_id == update.arg["action_id"]
    assert update.arg["actor_user_id"] == user_by_email(engine, MAIN_BACKOFFICE).id
    await eventually(lambda: tender_row(engine, tender.id).reminders_sent == 1)
    with Session(engine) as s:
        reminders = s.exec(select(SystemEmail).where(SystemEmail.tender_id == tender.id)
                           .where(SystemEmail.kind == "reminder")).all()
    assert len(reminders) == 1 and len(smtp_server.capture.to(tender.contact_email)) == 2  # tender + reminder
    shown = html.unescape((await dev_http.get(f"/requests/{request.id}")).text)
    assert "Die Erinnerung wird versendet." in shown

    forged = await dev_http.post(path, data={"csrf_token": csrf, "action_id": "nope"})
    assert forged.status_code == 422 and len(await accepted_updates(web_dev, tender.workflow_id)) == 1
    assert "Das Formular ist veraltet. Bitte laden Sie die Seite neu." in forged.text
    unknown = await dev_http.post(
        f"/requests/{request.id}/tenders/{tender.id}/actions/close",
        data={"csrf_token": csrf, "action_id": action_id},
    )
    assert unknown.status_code == 404


async def test_action_refusal_is_shown(dev_http: httpx.AsyncClient, web_dev: Running) -> None:
    """The workflow ended behind the projection's back (terminated in the
    Temporal UI): Temporal refuses the update, the page says so."""
    request = first_request(web_dev.engine)
    tender = await started_tender(web_dev, request)
    await web_dev.client.get_workflow_handle(tender.workflow_id).terminate("von Hand beendet")
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    response = await dev_http.post(
        f"/requests/{request.id}/tenders/{tender.id}/actions/withdraw",
        data={"csrf_token": csrf, "action_id": "a" * 32},
    )
    assert response.status_code == 303
    page = await dev_http.get(f"/requests/{request.id}")
    assert "Die Ausschreibung ist bereits beendet." in page.text
    assert tender_row(web_dev.engine, tender.id).status == TenderStatus.SENT


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
    from tenderdesk.config import Settings

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


async def test_insurer_preview_is_read_only(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    request = first_request(web_dev.engine)
    tender = await started_tender(web_dev, request)
    [mail] = smtp_server.capture.to(tender.contact_email)
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    [token] = LINK_TOKEN_RE.findall(body.get_content())
    await logged_in(dev_http, MAIN_BACKOFFICE)

    page = await dev_http.get(f"/requests/{request.id}/tenders/{tender.id}/insurer-view")

    assert page.status_code == 200
    assert "Vorschau" in page.text and request.number in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
    assert token not in page.text
    # the preview is not a "link opened": nothing reached the workflow
    assert await accepted_updates(web_dev, tender.workflow_id) == []
    assert tender_row(web_dev.engine, tender.id).first_opened_at is None


async def test_contact_page(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    page = await http.get("/kontakt")
    assert page.status_code == 200
    assert "partner-hilfe@tenderdesk.example" in page.text


async def test_tender_table_columns_plan_menu_and_live_markers(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    from datetime import timedelta

    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    queued = make_linked_tender(web_engine, request, status=TenderStatus.QUEUED, insurer_skip=1)
    now = utcnow()
    with session_scope(web_engine) as s:
        tender = s.get(Tender, linked.tender_id)
        assert tender is not None
        tender.reminders_sent = 1
        tender.next_reminder_at = now + timedelta(days=4)
        tender.deadline_at = now + timedelta(days=9)
        s.add(tender)
        failed = s.get(Tender, queued.tender_id)
        assert failed is not None
        failed.sent_at = None
        failed.delivery_failed = True
        failed.delivery_error = "550 5.7.1 relaying denied"
        s.add(failed)
    await logged_in(http, MAIN_BACKOFFICE)

    response = await http.get(f"/requests/{request.id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    text = html.unescape(page)

    start = text.index('<table class="list tenders">')
    head = text[start:text.index("</thead>", start)]
    for column in ("Gesellschaft", "Versendet", "Kontakt-E-Mail", "Status", "Erinnerungen & Frist",
                   "Angebot", "Workflow", "Aktionen"):
        assert column in head
    row = text[text.index(f'id="tender-{linked.tender_id}"'):]
    row = row[:row.index("</tr>")]
    from tenderdesk.formats import weekday_day, weekday_moment

    assert "1 Erinnerung gesendet" in row
    # "Erinnerung Di 05.05. 09:00 · Frist Fr 15.05.": the real dates, with their weekdays.
    assert f"Erinnerung <span class=\"nowrap\">{weekday_moment(now + timedelta(days=4))}" in row
    assert f"Frist <span class=\"nowrap\">{weekday_day(now + timedelta(days=9))}" in row
    assert "temporal-ui.test/namespaces/default/workflows/" in row
    menu = [label for label in ("Erinnerung schicken", "Angebot hinzufügen", "Anfrage nicht erfolgreich",
                                "In Bearbeitung", "Termine ändern", "Link zur Ausschreibung")]
    positions = [row.index(label) for label in menu]
    assert positions == sorted(positions), "menu in the guide's order"
    failed_row = text[text.index(f'id="tender-{queued.tender_id}"'):]
    failed_row = failed_row[:failed_row.index("</tr>")]
    assert "Bereit ausgeschrieben zu werden" in failed_row and "Zustellung fehlgeschlagen" in failed_row
    assert "550 5.7.1 relaying denied" in failed_row and "Erneut senden" in failed_row
    assert "Termine ändern" not in failed_row and "Angebot hinzufügen" not in failed_row
    # live: the sections the script swaps, and the scope it listens to
    assert re.search(rf'<section class="card" id="tenders" data-live data-live-scope="request" '
                     rf'data-live-id="{request.id}" data-live-marker="[0-9a-f]+">', page)
    assert '<section class="card" id="system-emails" data-live>' in page
    assert '<section class="card" id="dokumente" data-live>' in page
    assert '<script src="/static/live.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/static/request.css">' in page


async def test_system_emails_list_every_email_with_state_and_body(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    with session_scope(web_engine) as s:
        s.add(SystemEmail(
            idempotency_key="ok1", request_id=request.id, tender_id=linked.tender_id,  # type: ignore[arg-type]
            kind="tender", seq=1, to_addr="a@versicherer.example", subject="Ausschreibung A",
            body_text="Sehr geehrte Damen und Herren,\nBitte um Angebot.", message_id_header="<ok1@x>",
            status=EmailStatus.SENT, last_reply="250 OK", sent_at=utcnow(),
        ))
        s.add(SystemEmail(
            idempotency_key="notice", request_id=request.id, kind="notice_broker", seq=1,  # type: ignore[arg-type]
            to_addr="makler@example.com", subject="Neue Nachricht", body_text="Hallo Makler",
            message_id_header="<n@x>", status=EmailStatus.RETRYING, attempts=3,
            last_reply="451 4.3.0 try again later",
        ))
    await logged_in(http, MAIN_BACKOFFICE)
    page = html.unescape((await http.get(f"/requests/{request.id}")).text).replace("<wbr>", "")
    section = page[page.index('id="system-emails"'):page.index('id="dokumente"')]
    for expected in ("a@versicherer.example", "Ausschreibung A", "Bitte um Angebot.", "Versendet",
                     "makler@example.com", "Neue Nachricht", "Hallo Makler", "Wird erneut versucht",
                     "451 4.3.0 try again later", "3 Versuche", "Ausschreibung"):
        assert expected in section, expected
    assert "250 OK" not in section  # a delivered email needs no server reply


async def test_documents_list_every_file_grouped_and_download_safely(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: object
) -> None:
    from tenderdesk.config import Settings

    assert isinstance(web_settings, Settings)
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    broker = user_by_email(web_engine, BROKER_USER)
    key, sha = store_bytes(web_settings, b"%PDF-1.4 deckungsnote")
    ids: dict[DocumentKind, int] = {}
    with session_scope(web_engine) as s:
        row = s.get(Request, request.id)
        row.broker_id = broker.broker_id  # type: ignore[union-attr,assignment]
        s.add(row)
        for kind, name, tender_id in (
            (DocumentKind.ATTACHMENT, "Rückfrage-Anhang.pdf", linked.tender_id),
            (DocumentKind.COVER_NOTE, 'Deckungsnote "final";\x07.pdf', None),
            (DocumentKind.OFFER, "Angebot.pdf", linked.tender_id),
        ):
            doc = Document(request_id=request.id, tender_id=tender_id, kind=kind, filename=name,  # type: ignore[arg-type]
                           content_type="application/pdf", size_bytes=21, sha256=sha, storage_key=key,
                           uploaded_by=Party.SYSTEM)
            s.add(doc)
            s.flush()
            ids[kind] = doc.id  # type: ignore[assignment]
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    page = html.unescape((await http.get(f"/requests/{request.id}")).text)
    section = page[page.index('id="dokumente"'):]
    groups = ["Anfrageunterlagen", "Angebote", "Anhänge aus Nachrichten", "Deckungsnoten"]
    assert [section.index(g) for g in groups] == sorted(section.index(g) for g in groups)
    for doc_id in ids.values():
        assert f"/requests/{request.id}/documents/{doc_id}" in section
    download = await http.get(f"/requests/{request.id}/documents/{ids[DocumentKind.COVER_NOTE]}")
    assert download.status_code == 200 and download.content == b"%PDF-1.4 deckungsnote"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\x07" not in disposition
    assert '"final"' not in disposition and ";." not in disposition
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "application/pdf"
    await http.post("/logout", data={"csrf_token": csrf})

    await logged_in(http, BROKER_USER)
    page = (await http.get(f"/requests/{request.id}")).text
    assert f"/documents/{ids[DocumentKind.COVER_NOTE]}" in page
    assert f"/documents/{ids[DocumentKind.ATTACHMENT]}" not in page
    assert f"/documents/{ids[DocumentKind.OFFER]}" not in page  # not released
    for kind, status in ((DocumentKind.COVER_NOTE, 200), (DocumentKind.ATTACHMENT, 404), (DocumentKind.OFFER, 404)):
        assert (await http.get(f"/requests/{request.id}/documents/{ids[kind]}")).status_code == status


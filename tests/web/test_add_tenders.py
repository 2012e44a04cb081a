""""+ Ausschreibung hinzufügen": the insurer picker (groups, order, icons), the
documents step with uploads, the email preview with a note per insurer, and
sending, including forged forms. What starts (or must not start) a workflow
runs against the real Temporal dev server, worker and SMTP capture: on the
seeded SQLite copy (``dev_http``), the whole wizard on both backends (``dev``)."""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterable

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.service import RPCError, RPCStatusCode

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Party,
    Recommendation,
    ReferralReason,
    Request,
    Tender,
)
from tenderdesk.demo.seed import seed_demo
from tenderdesk.ids import tender_workflow_id
from tenderdesk.states import TenderStatus
from web.app import create_app

from ..conftest import Running, SmtpServer
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    MAX_UPLOAD,
    SECOND_ACCOUNT_USER,
    client_for,
    eventually,
    first_request,
    logged_in,
    make_linked_tender,
    started_tender,
    tenderable_insurer,
    user_by_email,
)
from .test_end_to_end import tender_status
from .test_insurer_link import sample_pdf

CHECKBOX_RE = re.compile(r'name="insurer_id" value="(\d+)"\s*(disabled|checked)?\s*>')
HIDDEN_DOC_RE = re.compile(r'<input type="hidden" name="document_id" value="(\d+)">')


# ------------------------------------------------------------------ helpers


def checkboxes(page: str) -> dict[int, str]:
    """insurer id -> "" (free), "checked" or "disabled"."""
    return {int(i): state for i, state in CHECKBOX_RE.findall(page)}


def sample_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def request_docs(engine: Engine, request_id: int | None) -> list[Document]:
    with Session(engine) as s:
        return list(s.exec(
            select(Document).where(Document.request_id == request_id).order_by(col(Document.id))
        ).all())


def tenders_of(engine: Engine, request_id: int | None) -> list[Tender]:
    with Session(engine) as s:
        return list(s.exec(select(Tender).where(Tender.request_id == request_id).order_by(col(Tender.id))).all())


def insurer_named(engine: Engine, insurer_id: int) -> Insurer:
    with Session(engine) as s:
        insurer = s.get(Insurer, insurer_id)
        assert insurer is not None
        return insurer


async def workflow_run(run: Running, request_id: int | None, insurer_id: int | None) -> str | None:
    """The run ID of the tender workflow for (request, insurer), or None if Temporal never saw one."""
    workflow_id = tender_workflow_id(request_id, insurer_id, run.settings.workflow_id_prefix)  # type: ignore[arg-type]
    try:
        return (await run.client.get_workflow_handle(workflow_id).describe()).run_id
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def form(csrf: str, insurers: Iterable[int | str | None], **extra: object) -> dict[str, object]:
    data: dict[str, object] = {"csrf_token": csrf, "insurer_id": [str(i) for i in insurers]}
    data.update(extra)
    return data


def setup_picker(engine: Engine, request: Request) -> dict[str, int]:
    """Make the groups deterministic: one recommended insurer with a referral
    reason, one other, one unreachable, one without a contact for the product.
    None of them is the insurer ``make_linked_tender(..., insurer_skip=1)`` uses."""
    reserved = tenderable_insurer(engine, request, skip=1).id
    with session_scope(engine) as s:
        for row in s.exec(select(Recommendation).where(Recommendation.account_id == request.account_id)
                          .where(Recommendation.product_id == request.product_id)).all():
            s.delete(row)
        for reason in s.exec(select(ReferralReason).where(ReferralReason.request_id == request.id)).all():
            s.delete(reason)
        with_contact = [i for i in s.exec(
            select(Insurer).join(InsurerContact, col(InsurerContact.insurer_id) == col(Insurer.id))
            .where(InsurerContact.product_id == request.product_id)
            .where(col(Insurer.reachable).is_(True)).order_by(col(Insurer.name))
        ).all() if i.id != reserved]
        starred, other = with_contact[-1], with_contact[0]
        s.add(Recommendation(account_id=request.account_id, product_id=request.product_id,
                             insurer_id=starred.id))  # type: ignore[arg-type]
        s.add(ReferralReason(request_id=request.id, insurer_id=starred.id,  # type: ignore[arg-type]
                             reason="Umsatz über Zeichnungsgrenze <5 Mio>"))
        unreachable = s.exec(select(Insurer).where(col(Insurer.reachable).is_(False))).first()
        contacts = set(s.exec(select(InsurerContact.insurer_id)
                              .where(InsurerContact.product_id == request.product_id)).all())
        no_contact = next(i for i in s.exec(select(Insurer).where(col(Insurer.reachable).is_(True))).all()
                          if i.id not in contacts)
        assert unreachable is not None
        return {"starred": starred.id, "other": other.id, "unreachable": unreachable.id,  # type: ignore[dict-item]
                "no_contact": no_contact.id}  # type: ignore[dict-item]


# ------------------------------------------------------------------ step 1: the picker


async def test_picker_groups_order_icons_and_legend(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    open_tender = make_linked_tender(web_engine, request, insurer_skip=1)
    with Session(web_engine) as s:
        tendered_id = s.get(Tender, open_tender.tender_id).insurer_id  # type: ignore[union-attr]
    await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get(f"/requests/{request.id}/tenders/new")

    assert page.status_code == 200
    text = page.text
    starts = [text.index(h) for h in ("Empfohlene Versicherer", "Weitere Versicherer", "Nicht relevante Versicherer")]
    assert starts == sorted(starts)
    recommended, others, not_relevant = (text[starts[0]:starts[1]], text[starts[1]:starts[2]], text[starts[2]:])
    assert f'value="{ids["starred"]}"' in recommended and f'value="{ids["starred"]}"' not in others
    assert f'value="{ids["other"]}"' in others
    assert f'value="{ids["unreachable"]}"' in not_relevant and f'value="{ids["no_contact"]}"' in not_relevant
    states = checkboxes(text)
    assert states[ids["unreachable"]] == states[ids["no_contact"]] == "disabled"
    assert states[tendered_id] == "disabled" and states[ids["starred"]] == states[ids["other"]] == ""
    # icons: star, already tendered, referral reason as tooltip, contact address, not reachable
    starred_row = recommended[recommended.index(f'value="{ids["starred"]}"'):].split("</li>", 1)[0]
    assert "Vom Account empfohlen" in starred_row and "icon-star" in starred_row
    assert 'title="Umsatz über Zeichnungsgrenze &lt;5 Mio&gt;"' in starred_row
    assert "Aussteuerungsgrund" in starred_row
    with Session(web_engine) as s:
        contact = s.exec(select(InsurerContact).where(InsurerContact.insurer_id == ids["starred"])
                         .where(InsurerContact.product_id == request.product_id)).one()
    assert contact.email in starred_row
    tendered_row = text[text.index(f'value="{tendered_id}"'):].split("</li>", 1)[0]
    assert "bereits ausgeschrieben" in tendered_row and "Ausgeschrieben" in tendered_row
    unreachable_row = not_relevant[not_relevant.index(f'value="{ids["unreachable"]}"'):].split("</li>", 1)[0]
    assert "nicht erreichbar" in unreachable_row
    no_contact_row = not_relevant[not_relevant.index(f'value="{ids["no_contact"]}"'):].split("</li>", 1)[0]
    assert "kein Ansprechpartner für" in no_contact_row
    legend = text[text.index('class="legend"'):text.index("</ul>", text.index('class="legend"'))]
    for item in ("vom Account empfohlen", "bereits ausgeschrieben, nicht erneut wählbar",
                 "Aussteuerungsgrund", "Ansprechpartner", "nicht erreichbar"):
        assert item in legend
    # documents: the request's own papers, ticked by default; an upload field
    docs = [d for d in request_docs(web_engine, request.id) if d.kind == DocumentKind.REQUEST]
    assert docs
    for doc in docs:
        assert re.search(rf'name="document_id" value="{doc.id}"\s*checked', text)
    assert 'type="file" name="files" multiple' in text
    assert 'enctype="multipart/form-data"' in text


async def test_picker_is_staff_only_and_per_account(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    broker = user_by_email(web_engine, BROKER_USER)
    with session_scope(web_engine) as s:
        row = s.get(Request, request.id)
        row.broker_id = broker.broker_id  # type: ignore[union-attr,assignment]
        s.add(row)
    csrf = await logged_in(http, BROKER_USER)
    assert (await http.get(f"/requests/{request.id}/tenders/new")).status_code == 403
    for path in ("tenders/new", "tenders/preview", "tenders"):
        response = await http.post(f"/requests/{request.id}/{path}", data={"csrf_token": csrf})
        assert response.status_code == 403, path
    await http.post("/logout", data={"csrf_token": csrf})
    csrf = await logged_in(http, SECOND_ACCOUNT_USER)
    assert (await http.get(f"/requests/{request.id}/tenders/new")).status_code == 404
    for path in ("tenders/new", "tenders/preview", "tenders"):
        response = await http.post(f"/requests/{request.id}/{path}", data={"csrf_token": csrf})
        assert response.status_code == 404, path
    assert tenders_of(web_engine, request.id) == []


# ------------------------------------------------------------------ step 2: preview


async def test_preview_renders_each_email_and_uploads_documents(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    http, web_engine = dev_http, web_dev.engine
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    existing = [d for d in request_docs(web_engine, request.id) if d.kind == DocumentKind.REQUEST]
    csrf = await logged_in(http, MAIN_BACKOFFICE)

    page = await http.post(
        f"/requests/{request.id}/tenders/preview",
        data=form(csrf, [ids["starred"], ids["other"]], document_id=[])
        | {f"note_{ids['starred']}": "Bitte Vorschäden beachten."},
        files=[("files", ("Schadenliste.pdf", sample_pdf(), "application/pdf")),
               ("files", ("Gebäude & Inhalt.docx", sample_docx(), "application/octet-stream"))],
    )

    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "2 Dokument(e) hochgeladen. Sie werden erst mit dem Senden zu Anfrageunterlagen" in text
    new_docs = [d for d in request_docs(web_engine, request.id) if d.id not in {e.id for e in existing}]
    assert sorted(d.filename for d in new_docs) == ["Gebäude & Inhalt.docx", "Schadenliste.pdf"]
    for doc in new_docs:
        assert doc.kind == DocumentKind.STAGED and doc.uploaded_by == Party.BACKOFFICE
        assert doc.uploaded_by_user_id == user_by_email(web_engine, MAIN_BACKOFFICE).id
    assert {d.content_type for d in new_docs} == {
        "application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    # unticked request documents stay out; the new ones are attached
    assert sorted(int(i) for i in HIDDEN_DOC_RE.findall(page.text)) == sorted(d.id or 0 for d in new_docs)
    starred, other = insurer_named(web_engine, ids["starred"]), insurer_named(web_engine, ids["other"])
    for insurer in (starred, other):
        assert f'id="mail-{insurer.id}"' in page.text
        assert insurer.name in text
    starred_mail = text[text.index(f'id="mail-{starred.id}"'):text.index(f'id="mail-{other.id}"')]
    other_mail = text[text.index(f'id="mail-{other.id}"'):]
    assert f"Ausschreibung {request.number}:" in starred_mail  # the real subject
    assert "Sehr geehrte Damen und Herren" in starred_mail and "[persönlicher Link]" in starred_mail
    assert "Hinweis des Backoffice:\nBitte Vorschäden beachten." in starred_mail
    assert "Hinweis des Backoffice" not in other_mail.split("</textarea>", 1)[1]
    # a preview only: no tender row, no workflow, no email
    assert tenders_of(web_engine, request.id) == []
    for insurer in (starred, other):
        assert await workflow_run(web_dev, request.id, insurer.id) is None
    assert smtp_server.capture.messages == []


async def test_preview_refuses_bad_files_and_stores_nothing(
    http: httpx.AsyncClient, web_engine: Engine, web_settings: Settings
) -> None:
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    before = len(request_docs(web_engine, request.id))
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    cases = [
        (("tool.exe", b"MZ\x90\x00", "application/octet-stream"), 422, "Dieser Dateityp ist nicht erlaubt"),
        (("angebot.pdf", b"<html>not a pdf</html>", "application/pdf"), 422, "keine lesbare PDF-Datei"),
        (("tabelle.xlsx", b"PK\x03\x04broken", "application/octet-stream"), 422, "passt nicht zu seiner Endung"),
        (("leer.docx", b"", "application/octet-stream"), 422, "ist leer"),
        (("gross.pdf", b"%PDF-" + b"0" * (MAX_UPLOAD + 10), "application/pdf"), 413, "zu groß"),
    ]
    for upload, status, message in cases:
        response = await http.post(
            f"/requests/{request.id}/tenders/preview", data=form(csrf, [ids["other"]]),
            files=[("files", ("ok.pdf", sample_pdf(), "application/pdf")), ("files", upload)],
        )
        assert response.status_code == status, (upload[0], response.status_code)
        assert message in html.unescape(response.text), upload[0]
        assert len(request_docs(web_engine, request.id)) == before, upload[0]
    stored = list((web_settings.storage_dir / ".incoming").glob("*")) if (
        web_settings.storage_dir / ".incoming").exists() else []
    assert stored == []  # staged copies are removed


async def test_forged_choices_are_refused_and_change_nothing(
    dev_http: httpx.AsyncClient, web_dev: Running
) -> None:
    http, web_engine = dev_http, web_dev.engine
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    tendered = await started_tender(web_dev, request, insurer_skip=1)
    tendered_run = await workflow_run(web_dev, request.id, tendered.insurer_id)
    with Session(web_engine) as s:
        tendered_insurer = s.get(Insurer, tendered.insurer_id)
        other_request_doc = s.exec(select(Document).where(Document.request_id != request.id)).first()
    assert tendered_insurer is not None and other_request_doc is not None
    unreachable = insurer_named(web_engine, ids["unreachable"])
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    cases = [
        (form(csrf, [ids["other"], tendered_insurer.id]),
         f"{tendered_insurer.name} ist für diese Anfrage bereits ausgeschrieben."),
        (form(csrf, [unreachable.id]), f"{unreachable.name} ist derzeit nicht erreichbar."),
        (form(csrf, [ids["no_contact"]]), "hat keinen Ansprechpartner für"),
        (form(csrf, [999999]), "Die Gesellschaft Nr. 999999 ist unbekannt."),
        (form(csrf, []), "Bitte wählen Sie mindestens eine Gesellschaft aus."),
        (form(csrf, ["abc"]), "Das Formular ist veraltet"),
        (form(csrf, [ids["other"]], documents_chosen="1", document_id=[str(other_request_doc.id)]),
         "Mindestens ein gewähltes Dokument gehört nicht zu dieser Anfrage."),
        (form(csrf, [ids["other"]], documents_chosen="1"), "Bitte wählen Sie mindestens ein Dokument"),
        (form(csrf, [ids["other"]], **{f"note_{ids['other']}": "x" * 2001}), "höchstens 2000 Zeichen"),
    ]
    before_docs = len(request_docs(web_engine, request.id))
    for data, message in cases:
        for path in ("tenders/preview", "tenders"):
            response = await http.post(f"/requests/{request.id}/{path}", data=data)
            assert response.status_code == 422, (path, message, response.status_code)
            assert message in html.unescape(response.text), (path, message)
    # nothing started: the open tender keeps its one run, no other insurer got a workflow
    assert await workflow_run(web_dev, request.id, tendered.insurer_id) == tendered_run
    for insurer_id in (ids["other"], ids["unreachable"], ids["no_contact"], 999999):
        assert await workflow_run(web_dev, request.id, insurer_id) is None
    assert [t.id for t in tenders_of(web_engine, request.id)] == [tendered.id]
    assert len(request_docs(web_engine, request.id)) == before_docs


async def test_back_keeps_the_choices(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    doc = [d for d in request_docs(web_engine, request.id) if d.kind == DocumentKind.REQUEST][0]
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    page = await http.post(
        f"/requests/{request.id}/tenders/new",
        data=form(csrf, [ids["other"]], documents_chosen="1", document_id=[],
                  **{f"note_{ids['other']}": "Mein Hinweis"}),
    )
    assert page.status_code == 200
    assert checkboxes(page.text)[ids["other"]] == "checked"
    assert not re.search(rf'name="document_id" value="{doc.id}"\s*checked', page.text)
    assert f'name="note_{ids["other"]}" value="Mein Hinweis"' in page.text


# ------------------------------------------------------------------ send


async def test_send_stores_notes_and_documents_per_tender(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    http, web_engine = dev_http, web_dev.engine
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    doc = [d for d in request_docs(web_engine, request.id) if d.kind == DocumentKind.REQUEST][0]
    csrf = await logged_in(http, MAIN_BACKOFFICE)

    response = await http.post(
        f"/requests/{request.id}/tenders",
        data=form(csrf, [ids["starred"], ids["other"]], step="preview", documents_chosen="1",
                  document_id=[str(doc.id)],
                  **{f"note_{ids['starred']}": "Nur für Stern", f"note_{ids['other']}": ""}),
    )

    assert response.status_code == 303 and response.headers["location"].endswith("#tenders")
    page = html.unescape((await http.get(response.headers["location"])).text)
    assert "2 Ausschreibung(en) gestartet." in page
    by_insurer = {t.insurer_id: t for t in tenders_of(web_engine, request.id)}
    assert sorted(by_insurer) == sorted([ids["starred"], ids["other"]])
    assert by_insurer[ids["starred"]].email_note == "Nur für Stern"
    assert by_insurer[ids["other"]].email_note == ""
    assert all(t.document_ids == [doc.id] for t in by_insurer.values())
    runs = {}
    for tender in by_insurer.values():
        described = await web_dev.client.get_workflow_handle(tender.workflow_id).describe()
        assert described.workflow_type == "TenderWorkflow" and described.task_queue == web_dev.task_queue
        runs[tender.insurer_id] = described.run_id
    # each started queued, then the worker sent its email
    with Session(web_engine) as s:
        started = s.exec(select(AuditEvent).where(AuditEvent.request_id == request.id)
                         .where(AuditEvent.kind == "tender_started")).all()
    assert sorted((e.tender_id, e.detail) for e in started) == sorted(
        (t.id, TenderStatus.QUEUED.value) for t in by_insurer.values())
    for tender in by_insurer.values():
        await eventually(lambda t=tender: tender_status(web_engine, t.id) == TenderStatus.SENT)  # type: ignore[misc]
    page = html.unescape((await http.get(f"/requests/{request.id}")).text)
    assert page.count(">Ausgeschrieben<") >= 2
    for insurer_id, note in ((ids["starred"], "Nur für Stern"), (ids["other"], None)):
        [message] = smtp_server.capture.to(by_insurer[insurer_id].contact_email)
        assert [part.get_filename() for part in message.iter_attachments()] == [doc.filename]
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        assert ("Nur für Stern" in body.get_content()) == (note is not None)

    again = await http.post(f"/requests/{request.id}/tenders", data=form(csrf, [ids["starred"]]))
    assert again.status_code == 422
    assert "ist für diese Anfrage bereits ausgeschrieben" in html.unescape(again.text)
    assert len(tenders_of(web_engine, request.id)) == 2
    assert await workflow_run(web_dev, request.id, ids["starred"]) == runs[ids["starred"]]


async def test_a_cancelled_upload_goes_nowhere_and_can_be_removed(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    """The walk-through's bug: upload in the wizard, go on to "E-Mail prüfen",
    cancel. The file must not become a request document, must not be ticked in
    the next wizard, and must reach no insurer; it can be removed. A request
    document can be removed until a tender has sent it, then not any more."""
    http, web_engine = dev_http, web_dev.engine
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    preview = await http.post(
        f"/requests/{request.id}/tenders/preview", data=form(csrf, [ids["other"]], document_id=[]),
        files=[("files", ("Falsche Kundendatei.pdf", sample_pdf(), "application/pdf"))],
    )
    assert preview.status_code == 200, preview.text
    [wrong] = [d for d in request_docs(web_engine, request.id) if d.filename == "Falsche Kundendatei.pdf"]
    assert wrong.kind == DocumentKind.STAGED
    # ... cancelled. The next wizard neither lists nor ticks it.
    picker = await http.get(f"/requests/{request.id}/tenders/new")
    assert "Falsche Kundendatei.pdf" not in html.unescape(picker.text)
    page = html.unescape((await http.get(f"/requests/{request.id}")).text)
    assert "Hochgeladen, noch nicht versendet" in page and f"/documents/{wrong.id}/remove" in page

    # A tender with the default documents goes out without it.
    sent = await http.post(f"/requests/{request.id}/tenders", data=form(csrf, [ids["other"]]))
    assert sent.status_code == 303
    [tender] = tenders_of(web_engine, request.id)
    await eventually(lambda: tender_status(web_engine, tender.id) == TenderStatus.SENT)
    [message] = smtp_server.capture.to(tender.contact_email)
    assert "Falsche Kundendatei.pdf" not in [part.get_filename() for part in message.iter_attachments()]

    # Removed, recorded once; a repeated click changes nothing.
    for _ in range(2):
        removed = await http.post(f"/requests/{request.id}/documents/{wrong.id}/remove", data={"csrf_token": csrf})
        assert removed.status_code == 303
    with Session(web_engine) as s:
        assert s.get(Document, wrong.id).kind == DocumentKind.REMOVED  # type: ignore[union-attr]
        events = s.exec(select(AuditEvent).where(AuditEvent.kind == "document_removed")).all()
    assert [e.detail for e in events] == ["Falsche Kundendatei.pdf"]
    page = html.unescape((await http.get(f"/requests/{request.id}")).text)
    assert "Dokument entfernt, bevor es versendet wurde" in page
    assert f'/documents/{wrong.id}"' not in page

    # The request's own documents went out with that tender (it chose none, so all): no removal.
    sent_doc = next(d for d in request_docs(web_engine, request.id) if d.kind == DocumentKind.REQUEST)
    refused = await http.post(f"/requests/{request.id}/documents/{sent_doc.id}/remove", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "bereits mit einer Ausschreibung versendet" in html.unescape(refused.text)
    assert next(d for d in request_docs(web_engine, request.id) if d.id == sent_doc.id).kind == DocumentKind.REQUEST


async def test_a_staged_upload_becomes_a_request_document_when_sent(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    http, web_engine = dev_http, web_dev.engine
    request = first_request(web_engine)
    ids = setup_picker(web_engine, request)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    preview = await http.post(
        f"/requests/{request.id}/tenders/preview", data=form(csrf, [ids["other"]], document_id=[]),
        files=[("files", ("Schadenliste.pdf", sample_pdf(), "application/pdf"))],
    )
    staged_ids = HIDDEN_DOC_RE.findall(preview.text)
    sent = await http.post(f"/requests/{request.id}/tenders", data=form(
        csrf, [ids["other"]], step="preview", documents_chosen="1", document_id=staged_ids))
    assert sent.status_code == 303, sent.text
    [doc] = [d for d in request_docs(web_engine, request.id) if d.filename == "Schadenliste.pdf"]
    assert doc.kind == DocumentKind.REQUEST
    [tender] = tenders_of(web_engine, request.id)
    await eventually(lambda: tender_status(web_engine, tender.id) == TenderStatus.SENT)
    [message] = smtp_server.capture.to(tender.contact_email)
    assert [part.get_filename() for part in message.iter_attachments()] == ["Schadenliste.pdf"]
    refused = await http.post(f"/requests/{request.id}/documents/{doc.id}/remove", data={"csrf_token": csrf})
    assert refused.status_code == 409


async def test_plain_form_without_wizard_still_works(
    dev_http: httpx.AsyncClient, web_dev: Running, smtp_server: SmtpServer
) -> None:
    request = first_request(web_dev.engine)
    target = tenderable_insurer(web_dev.engine, request)
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    response = await dev_http.post(f"/requests/{request.id}/tenders",
                                   data=form(csrf, [target.id], email_note="Bitte bis Monatsende."))
    assert response.status_code == 303
    [tender] = tenders_of(web_dev.engine, request.id)
    assert tender.email_note == "Bitte bis Monatsende." and tender.document_ids == []
    await eventually(lambda: tender_status(web_dev.engine, tender.id) == TenderStatus.SENT)
    [message] = smtp_server.capture.to(tender.contact_email)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Bitte bis Monatsende." in body.get_content()


async def test_send_without_temporal_keeps_the_preview(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """``http`` serves the app whose Temporal is down (its client cannot connect)."""
    request = first_request(web_engine)
    target = tenderable_insurer(web_engine, request)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    response = await http.post(
        f"/requests/{request.id}/tenders",
        data=form(csrf, [target.id], step="preview", **{f"note_{target.id}": "Bleibt erhalten"}),
    )
    assert response.status_code == 503
    assert "nicht erreichbar" in response.text and "Bleibt erhalten" in response.text
    assert tenders_of(web_engine, request.id) == []


# ------------------------------------------------------------------ with Temporal and SMTP


async def test_wizard_end_to_end_attachments_and_notes(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=3)
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    with Session(dev.engine) as s:
        request = s.exec(select(Request).order_by(col(Request.id))).first()
    assert request is not None
    first, second = (tenderable_insurer(dev.engine, request, skip=n) for n in (0, 1))
    assert first.id is not None and second.id is not None
    seeded = [d for d in request_docs(dev.engine, request.id) if d.kind == DocumentKind.REQUEST]
    assert seeded

    async with client_for(app) as http:
        csrf = await logged_in(http, MAIN_BACKOFFICE)
        # step 1 -> 2: untick the seeded documents, upload one new file
        preview = await http.post(
            f"/requests/{request.id}/tenders/preview",
            data=form(csrf, [first.id, second.id], document_id=[]),
            files=[("files", ("Schadenliste 2024.pdf", sample_pdf(), "application/pdf"))],
        )
        assert preview.status_code == 200, preview.text
        chosen = [int(i) for i in HIDDEN_DOC_RE.findall(preview.text)]
        assert len(chosen) == 1 and chosen[0] not in {d.id for d in seeded}
        # step 2 -> send, with a note for each insurer
        sent = await http.post(
            f"/requests/{request.id}/tenders",
            data=form(csrf, [first.id, second.id], step="preview", documents_chosen="1",
                      document_id=[str(i) for i in chosen],
                      **{f"note_{first.id}": "Hinweis nur für die erste Gesellschaft",
                         f"note_{second.id}": "Zweiter Hinweis"}),
        )
        assert sent.status_code == 303, sent.text
        tenders = {t.insurer_id: t for t in tenders_of(dev.engine, request.id)}
        assert tenders[first.id].document_ids == chosen == tenders[second.id].document_ids
        page = await http.get(f"/requests/{request.id}")
        assert 'id="tenders" data-live' in page.text and "/static/live.js" in page.text
        for tender in tenders.values():
            await eventually(lambda t=tender: tender_status(dev.engine, t.id) == TenderStatus.SENT)  # type: ignore[misc]
        page = await http.get(f"/requests/{request.id}")
        assert page.text.count(">Ausgeschrieben<") >= 2
        # the captured emails: exactly the chosen attachment, each insurer its own note
        for insurer, note, foreign in ((first, "Hinweis nur für die erste Gesellschaft", "Zweiter Hinweis"),
                                       (second, "Zweiter Hinweis", "erste Gesellschaft")):
            [message] = smtp_server.capture.to(tenders[insurer.id].contact_email)  # type: ignore[index]
            names = [part.get_filename() for part in message.iter_attachments()]
            assert names == ["Schadenliste 2024.pdf"]
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            content = body.get_content()
            assert note in content and foreign not in content
        # System Emails lists both, with recipients and the redacted body
        assert "System Emails" in page.text
        for tender in tenders.values():
            assert tender.contact_email in page.text
        # the same insurer again, also through a forged form: refused, nothing new
        again = await http.post(f"/requests/{request.id}/tenders", data=form(csrf, [first.id]))
        assert again.status_code == 422
        assert "bereits ausgeschrieben" in html.unescape(again.text)
        assert len(tenders_of(dev.engine, request.id)) == 2

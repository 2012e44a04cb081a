"""Attachments: stored once by content, listed under the request's Dokumente,
shown in the thread, and forwarded by reference."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.models import Document, DocumentKind, Message, Party, SystemEmail
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.messages.service import forward_message, post_message
from web.messages.threads import attachment_visible_to, insurer_thread_id, open_broker_thread, threads_for

from ..conftest import Running, SmtpServer
from ..workflows.helpers import start, wait_status
from .conftest import Cast, accepted_updates, insurer_says, mails_to, pk, stored_files

PDF = b"%PDF-1.4\n% Schadenaufstellung 2021-2025\n"


async def test_same_bytes_twice_are_one_file_and_two_documents(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    common = dict(engine=engine, client=dev.client, settings=settings, thread_id=thread.id, tender=None)
    sent = await post_message(**common, author=Party.BACKOFFICE, user=cast.backoffice, body="",  # type: ignore[arg-type]
                              attachment=("../../Schäden.pdf", PDF, "application/pdf; name=x"),
                              action_id=new_action_id())
    back = await post_message(**common, author=Party.BROKER, user=cast.broker, body="Hier nochmal",  # type: ignore[arg-type]
                              attachment=("schaeden-kopie.pdf", PDF, "Weird Type"), action_id=new_action_id())

    files = stored_files(settings)
    assert len(files) == 1 and files[0].read_bytes() == PDF
    with Session(engine) as s:
        docs = s.exec(select(Document).order_by(col(Document.id))).all()
        assert [(d.filename, d.kind, d.request_id, d.uploaded_by) for d in docs] == [
            ("Schäden.pdf", DocumentKind.ATTACHMENT, cast.request_id, Party.BACKOFFICE),
            ("schaeden-kopie.pdf", DocumentKind.ATTACHMENT, cast.request_id, Party.BROKER),
        ]
        assert docs[0].storage_key == docs[1].storage_key and docs[0].tender_id is None
        assert [d.content_type for d in docs] == ["application/pdf", "application/octet-stream"]
        assert docs[1].uploaded_by_user_id == cast.broker.id
        [view] = threads_for(s, cast.request_id, cast.broker)
        assert [(m.body, m.attachment.filename if m.attachment else None) for m in view.messages] == [
            ("", "Schäden.pdf"), ("Hier nochmal", "schaeden-kopie.pdf"),
        ]
        assert view.messages[0].attachment.size_bytes == len(PDF)  # type: ignore[union-attr]
        assert sent.message.document_id == docs[0].id and back.message.document_id == docs[1].id


async def test_forward_copies_text_and_attachment_reference(
    engine: Engine, settings: Settings, dev: Running, cast: Cast, smtp_server: SmtpServer
) -> None:
    tender, other_tender = await start(dev, cast.world, 2)
    for running in (tender, other_tender):
        await wait_status(dev, running, TenderStatus.SENT)
    with Session(engine) as s:
        doc = Document(request_id=cast.request_id, tender_id=tender.id, kind=DocumentKind.ATTACHMENT,
                       filename="fragen.pdf", content_type="application/pdf", size_bytes=3, sha256="0" * 64,
                       storage_key="00/" + "0" * 64, uploaded_by=Party.INSURER)
        s.add(doc)
        s.commit()
        s.refresh(doc)
    question = insurer_says(engine, tender, "Bitte Vorschäden der letzten 5 Jahre nennen.", document_id=doc.id)
    broker_thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    kw = dict(engine=engine, client=dev.client, settings=settings, message_id=question.id,
              target_thread_id=broker_thread.id, user=cast.backoffice)
    first = await forward_message(**kw)  # type: ignore[arg-type]
    again = await forward_message(**kw)  # type: ignore[arg-type]
    assert first.created and not again.created and again.message.id == first.message.id
    copy = first.message
    assert (copy.body, copy.document_id, copy.forwarded_from_id) == (question.body, doc.id, question.id)
    assert copy.author == Party.BACKOFFICE and copy.author_user_id == cast.backoffice.id and copy.visible
    with Session(engine) as s:
        assert len(s.exec(select(Document)).all()) == 1
        [email] = s.exec(select(SystemEmail).where(SystemEmail.kind == "message_broker")).all()
        assert email.to_addr == "erika@makler.example" and "weitergeleitet" in email.body_text
        assert email.idempotency_key == f"message:{copy.id}"
        [view] = threads_for(s, cast.request_id, cast.broker)
        [shown] = view.messages
        assert shown.forwarded_from == "Testversicherung 0 AG" and shown.attachment is not None
        assert shown.attachment.filename == "fragen.pdf"
        from tenderdesk.db.models import AuditEvent

        [audit] = s.exec(select(AuditEvent).where(AuditEvent.kind == "message_forwarded")).all()
        assert audit.detail == "Testversicherung 0 AG → Vermittler" and audit.actor_user_id == cast.backoffice.id
        assert len(s.exec(select(Message)).all()) == 2
        # Downloads follow the threads: Erika and the asking insurer, nobody else.
        assert attachment_visible_to(s, doc, cast.broker) and attachment_visible_to(s, doc, tender)
        assert attachment_visible_to(s, doc, cast.backoffice)
        assert not attachment_visible_to(s, doc, cast.other_broker)
        assert not attachment_visible_to(s, doc, cast.stranger)
        assert not attachment_visible_to(s, doc, other_tender)

    # Forwarded to another insurer, that insurer may open the file too (by reference, still one Document).
    other_thread = insurer_thread_id(engine, pk(other_tender))
    to_insurer = await forward_message(engine=engine, client=dev.client, settings=settings, message_id=pk(question),
                                       target_thread_id=other_thread, user=cast.backoffice)
    assert to_insurer.message.visible and to_insurer.message.document_id == doc.id
    # Only the target tender's workflow heard of it, through ``notify_insurer``; its insurer got an email.
    assert await accepted_updates(dev, tender.workflow_id) == []
    [update] = await accepted_updates(dev, other_tender.workflow_id)
    assert (update.name, update.update_id) == ("notify_insurer", f"message-{to_insurer.message.id}")
    [broker_mail] = await mails_to(smtp_server, "erika@makler.example", 1)
    assert "weitergeleitet" in str(broker_mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    _, notice = await mails_to(smtp_server, other_tender.contact_email, 2)
    assert str(notice["Subject"]).startswith("Neue Nachricht zur Ausschreibung")
    with Session(engine) as s:
        assert attachment_visible_to(s, doc, other_tender) and len(s.exec(select(Document)).all()) == 1

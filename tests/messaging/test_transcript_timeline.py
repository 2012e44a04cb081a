"""The chat transcript (for the cover note) and the request's audit timeline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import AuditEvent, Document, DocumentKind, EmailStatus, Party, SystemEmail, Tender, utcnow
from web.core.forms import new_action_id
from web.messages.service import forward_message, post_message
from web.messages.threads import open_broker_thread
from web.messages.transcript import transcript, transcript_text
from web.requests.timeline import timeline

from ..conftest import Running
from .conftest import Cast, add_tenders, insurer_says, pk


async def _conversation(engine: Engine, settings: Settings, dev: Running, cast: Cast) -> None:
    """Insurer 1 asks (with a file), insurer 0 asks, the backoffice forwards the
    first question to the broker, the broker answers."""
    t0, t1 = add_tenders(engine, cast, 2)
    with session_scope(engine) as s:
        doc = Document(request_id=cast.request_id, tender_id=t1.id, kind=DocumentKind.ATTACHMENT,
                       filename="umsatz.xlsx", content_type="application/octet-stream", size_bytes=1,
                       sha256="1" * 64, storage_key="11/" + "1" * 64, uploaded_by=Party.INSURER)
        s.add(doc)
    q1 = insurer_says(engine, t1, "Wie hoch ist der Umsatz?", document_id=doc.id)
    insurer_says(engine, t0, "Gibt es Vorschäden?")
    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    await forward_message(engine=engine, client=dev.client, settings=settings,
                          message_id=pk(q1), target_thread_id=pk(thread), user=cast.backoffice)
    await post_message(engine=engine, client=dev.client, settings=settings, thread_id=thread.id,
                       author=Party.BROKER, user=cast.broker, tender=None, body="1,2 Mio. €",
                       action_id=new_action_id())


async def test_transcript_lists_every_thread_in_order(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    await _conversation(engine, settings, dev, cast)
    with Session(engine) as s:
        entries = transcript(s, cast.request_id)
    assert [(e.thread_label, e.author, e.author_name, e.text, e.attachment_filename, e.forwarded_from)
            for e in entries] == [
        ("Testversicherung 1 AG", Party.INSURER, "Testversicherung 1 AG", "Wie hoch ist der Umsatz?",
         "umsatz.xlsx", None),
        ("Testversicherung 0 AG", Party.INSURER, "Testversicherung 0 AG", "Gibt es Vorschäden?", None, None),
        ("Vermittler", Party.BACKOFFICE, "Bea Backoffice", "Wie hoch ist der Umsatz?", "umsatz.xlsx",
         "Testversicherung 1 AG"),
        ("Vermittler", Party.BROKER, "Erika Muster", "1,2 Mio. €", None, None),
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    text = transcript_text(entries)
    assert "Vermittler · Backoffice (Bea Backoffice) · weitergeleitet aus „Testversicherung 1 AG“" in text
    assert "Anhang: umsatz.xlsx" in text and text.index("Gibt es Vorschäden?") < text.index("1,2 Mio. €")
    with Session(engine) as s:
        assert transcript(s, cast.other_request_id) == []


async def test_timeline_merges_audit_events_emails_and_messages(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    await _conversation(engine, settings, dev, cast)
    start = utcnow() - timedelta(days=20)
    with session_scope(engine) as s:
        tender_id = s.exec(select(Tender.id).order_by(col(Tender.id))).first()
        s.add_all([
            AuditEvent(request_id=cast.request_id, tender_id=tender_id, at=start, actor=Party.SYSTEM,
                       kind="tender_started", detail="queued", dedupe_key="t:1"),
            AuditEvent(request_id=cast.request_id, tender_id=tender_id, at=start + timedelta(days=3),
                       actor=Party.SYSTEM, kind="reminder_sent", detail="sent", dedupe_key="t:2"),
            AuditEvent(request_id=cast.request_id, tender_id=tender_id, at=start + timedelta(days=14),
                       actor=Party.SYSTEM, kind="deadline_expired", detail="expired", dedupe_key="t:3"),
            AuditEvent(request_id=cast.request_id, at=start + timedelta(days=15), actor=Party.BACKOFFICE,
                       actor_user_id=cast.colleague.id, kind="something_new", detail="x", dedupe_key="t:4"),
            SystemEmail(idempotency_key="tender:x:reminder:1", request_id=cast.request_id, tender_id=tender_id,
                        kind="reminder", to_addr="i@x.example", subject="Erinnerung: Ausschreibung",
                        body_text="…", message_id_header="<a@b>", status=EmailStatus.SENT,
                        created_at=start + timedelta(days=3), sent_at=start + timedelta(days=3, seconds=1)),
            SystemEmail(idempotency_key="tender:x:message:1", request_id=cast.request_id, tender_id=tender_id,
                        kind="message", to_addr="i@x.example", subject="Neue Nachricht", body_text="…",
                        message_id_header="<c@d>", status=EmailStatus.FAILED, last_reply="550 unknown user",
                        created_at=start + timedelta(days=4)),
        ])
    with Session(engine) as s:
        entries = timeline(s, cast.request_id)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    kinds = [(e.source, e.kind) for e in entries]
    assert kinds[:5] == [("audit", "tender_started"), ("audit", "reminder_sent"), ("email", "reminder"),
                         ("email", "message"), ("audit", "deadline_expired")]
    by_kind = {e.kind: e for e in entries}
    assert by_kind["tender_started"].label == "Ausschreibung gestartet"
    assert by_kind["tender_started"].detail == "Status: Bereit ausgeschrieben zu werden"
    assert by_kind["tender_started"].insurer_name == "Testversicherung 0 AG"
    assert by_kind["reminder_sent"].category == "timer" and by_kind["deadline_expired"].category == "timer"
    assert by_kind["deadline_expired"].label == "Antwortfrist abgelaufen"
    assert by_kind["something_new"].label == "something_new"
    assert by_kind["something_new"].actor_name == "Jonas Kollege"
    failed = by_kind["message"]
    assert failed.email_status == EmailStatus.FAILED and "550 unknown user" in failed.detail
    assert by_kind["reminder"].label == "E-Mail: Erinnerung" and "Versendet" in by_kind["reminder"].detail
    assert by_kind["thread_opened"].label == "Kommunikation mit dem Vermittler eröffnet"
    forwarded = [e for e in entries if e.kind == "message_forwarded"]
    assert [f.detail for f in forwarded] == ["Testversicherung 1 AG → Vermittler"]
    assert forwarded[0].actor_name == "Bea Backoffice"
    # The forwarded copy is told once (by its audit event), the three originals as messages.
    messages = [e for e in entries if e.source == "message"]
    assert [(m.actor, m.actor_name) for m in messages] == [
        (Party.INSURER, "Testversicherung 1 AG"), (Party.INSURER, "Testversicherung 0 AG"),
        (Party.BROKER, "Erika Muster"),
    ]
    assert messages[0].label == "Nachricht (Gesellschaft) im Verlauf „Testversicherung 1 AG“"
    assert messages[0].detail.endswith("· mit Anhang")
    # The broker's notice to the backoffice and the forward's notice to the broker are emails too.
    assert {e.kind for e in entries if e.source == "email"} >= {"message_broker", "message_backoffice"}

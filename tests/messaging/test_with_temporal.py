"""The messaging module against real tender workflows (time-skipping server,
real activities, SQLite, loopback SMTP)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Document,
    DocumentKind,
    EmailStatus,
    Message,
    Party,
    SystemEmail,
    Tender,
    TenderLink,
)
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.insurer.link import resolve_link
from web.messages.common import MessagingError
from web.messages.service import forward_message, post_message
from web.messages.threads import insurer_thread_id, open_broker_thread, threads_for
from web.requests.timeline import timeline
from web.tenders.service import send_action

from ..conftest import Running, SmtpServer
from ..workflows.helpers import result_after, row, snapshot, start, wait_status
from .conftest import assign, mails_to, make_cast

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")
PDF = b"%PDF-1.4\n% Fragenkatalog\n"


async def _settle(ts: Running, tender: Tender, timeout: float = 10) -> None:
    """Wait until the tender workflow has no activity or task in flight: the
    fixture terminates it after the test, and terminating one mid-activity
    stalls time skipping on the shared test server for the tests that follow."""
    handle = ts.client.get_workflow_handle(tender.workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        raw = (await handle.describe()).raw_description
        if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow {tender.workflow_id} did not settle")


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def _ask(ts: Running, tender: Tender, body: str, attachment: tuple[str, bytes, str] | None = None,
               action_id: str | None = None):
    return await post_message(engine=ts.engine, client=ts.client, settings=ts.settings, thread_id=None,
                              author=Party.INSURER, user=None, tender=tender, body=body, attachment=attachment,
                              action_id=action_id or new_action_id())


async def test_insurer_question_moves_tender_in_progress_and_emails_the_assignee(
    ts: Running, smtp_server: SmtpServer
) -> None:
    cast = make_cast(ts.engine)
    assign(ts.engine, cast.request_id, cast.colleague)
    [tender] = await start(ts, cast.world)
    await wait_status(ts, tender, TenderStatus.SENT)
    action_id = new_action_id()
    result = await _ask(ts, tender, "Gibt es Vorschäden?", ("fragen.pdf", PDF, "application/pdf"), action_id)
    assert result.created and result.message.visible and result.info_de == "Ihre Rückfrage wurde übermittelt."
    assert row(ts, tender).status == TenderStatus.IN_PROGRESS
    with Session(ts.engine) as s:
        [doc] = s.exec(select(Document)).all()
        assert (doc.kind, doc.tender_id, doc.uploaded_by, doc.request_id) == (
            DocumentKind.ATTACHMENT, tender.id, Party.INSURER, cast.request_id)
        [event] = s.exec(select(AuditEvent).where(AuditEvent.kind == "question_asked")).all()
        assert event.actor == Party.INSURER
    [notice] = await mails_to(smtp_server, cast.colleague.email, 1)
    assert "MA-TEST-00001" in str(notice["Subject"]) and "Testversicherung 0 AG" in str(notice["Subject"])
    assert f"http://testserver/requests/{cast.request_id}#nachrichten" in _text(notice)
    assert "Hallo Jonas Kollege" in _text(notice) and "(mit Anhang)" in _text(notice)

    again = await _ask(ts, tender, "Gibt es Vorschäden?", ("fragen.pdf", PDF, "application/pdf"), action_id)
    assert not again.created and again.message.id == result.message.id
    await asyncio.sleep(0.3)
    with Session(ts.engine) as s:
        assert len(s.exec(select(Message)).all()) == 1 and len(s.exec(select(Document)).all()) == 1
        [email] = s.exec(select(SystemEmail).where(SystemEmail.kind == "message_backoffice")).all()
        assert email.idempotency_key == f"message:{result.message.id}" and email.status == EmailStatus.SENT
    assert len(smtp_server.capture.to(cast.colleague.email)) == 1
    await _settle(ts, tender)


async def test_backoffice_reply_emails_the_insurer_a_working_fresh_link(ts: Running, smtp_server: SmtpServer) -> None:
    cast = make_cast(ts.engine)
    [tender] = await start(ts, cast.world)
    await wait_status(ts, tender, TenderStatus.SENT)
    thread_id = insurer_thread_id(ts.engine, tender.id)  # type: ignore[arg-type]
    result = await post_message(engine=ts.engine, client=ts.client, settings=ts.settings, thread_id=thread_id,
                                author=Party.BACKOFFICE, user=cast.backoffice, tender=None,
                                body="Bitte beachten Sie den neuen Umsatz.", action_id=new_action_id())
    assert result.message.visible and result.created
    tender_mail, notice = await mails_to(smtp_server, tender.contact_email, 2)
    assert str(notice["Subject"]).startswith("Neue Nachricht zur Ausschreibung")
    [token] = LINK_RE.findall(_text(notice))
    assert token not in _text(tender_mail)
    with Session(ts.engine) as s:
        link = s.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(token))).one()
        email = s.get(SystemEmail, link.system_email_id)
        assert email is not None and email.kind == "message" and email.tender_id == tender.id
        ctx = resolve_link(s, token)
        assert ctx.tender.id == tender.id
        [own] = threads_for(s, cast.request_id, ctx.tender)
        assert [m.body for m in own.messages] == ["Bitte beachten Sie den neuen Umsatz."]
        assert own.messages[0].author_name is None  # staff names stay internal
    await _settle(ts, tender)  # the notice's projection ran: the timeline will show it
    with Session(ts.engine) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.kind == "message_sent")).first() is not None


async def test_reply_to_an_ended_tender_is_refused_and_stores_nothing(ts: Running) -> None:
    cast = make_cast(ts.engine)
    [tender] = await start(ts, cast.world)
    await wait_status(ts, tender, TenderStatus.SENT)
    thread_id = insurer_thread_id(ts.engine, tender.id)  # type: ignore[arg-type]
    await send_action(ts.client, tender, "withdraw", Action(action_id=new_action_id()))
    await wait_status(ts, tender, TenderStatus.WITHDRAWN)
    kw = dict(engine=ts.engine, client=ts.client, settings=ts.settings, thread_id=thread_id,
              author=Party.BACKOFFICE, user=cast.backoffice, tender=None,
              attachment=("a.pdf", PDF, "application/pdf"))
    with pytest.raises(MessagingError, match="Die Ausschreibung ist beendet \\(Anfrage nicht erfolgreich\\)"):
        await post_message(**kw, body="Noch da?", action_id=new_action_id())  # type: ignore[arg-type]
    with pytest.raises(MessagingError, match="beendet"):
        await _ask(ts, tender, "Noch offen?")
    # A stale projection does not help: the workflow (still sending its withdrawal
    # email, or already finished) refuses, and the pending rows go again.
    with session_scope(ts.engine) as s:
        stale = s.get(Tender, tender.id)
        assert stale is not None
        stale.status = TenderStatus.SENT
        s.add(stale)
    with pytest.raises(MessagingError, match="beendet|nicht mehr möglich: Die Ausschreibung wurde zurückgezogen"):
        await post_message(**kw, body="Noch da?", action_id=new_action_id())  # type: ignore[arg-type]
    with Session(ts.engine) as s:
        assert s.exec(select(Message)).all() == [] and s.exec(select(Document)).all() == []


async def test_forwarded_question_reaches_the_broker_and_his_answer_the_backoffice(
    ts: Running, smtp_server: SmtpServer
) -> None:
    cast = make_cast(ts.engine)
    assign(ts.engine, cast.request_id, cast.backoffice)
    [tender] = await start(ts, cast.world)
    await wait_status(ts, tender, TenderStatus.SENT)
    question = await _ask(ts, tender, "Wie viele Mitarbeiter genau?", ("liste.pdf", PDF, "application/pdf"))
    thread = open_broker_thread(ts.engine, cast.request_id, cast.backoffice)
    forwarded = await forward_message(engine=ts.engine, client=ts.client, settings=ts.settings,
                                      message_id=question.message.id,
                                      target_thread_id=thread.id, user=cast.backoffice)  # type: ignore[arg-type]
    copy = forwarded.message
    assert (copy.body, copy.document_id, copy.forwarded_from_id, copy.thread_id) == (
        "Wie viele Mitarbeiter genau?", question.message.document_id, question.message.id, thread.id)
    [to_broker] = await mails_to(smtp_server, "erika@makler.example", 1)
    assert "weitergeleitet" in _text(to_broker) and "(mit Anhang)" in _text(to_broker)
    assert f"http://testserver/requests/{cast.request_id}#nachrichten" in _text(to_broker)

    answer = await post_message(engine=ts.engine, client=ts.client, settings=ts.settings, thread_id=None,
                                request_id=cast.request_id, author=Party.BROKER, user=cast.broker, tender=None,
                                body="Zwölf.", action_id=new_action_id())
    # The assignee heard of the insurer's question and of the broker's answer.
    mails = await mails_to(smtp_server, cast.backoffice.email, 2)
    assert {"Testversicherung 0 AG" in str(m["Subject"]) for m in mails} == {True, False}
    with Session(ts.engine) as s:
        [view] = threads_for(s, cast.request_id, cast.broker)
        assert [(m.body, m.forwarded_from) for m in view.messages] == [
            ("Wie viele Mitarbeiter genau?", "Testversicherung 0 AG"), ("Zwölf.", None)]
        assert view.messages[0].attachment is not None and view.messages[0].attachment.filename == "liste.pdf"
        keys = {e.idempotency_key for e in s.exec(select(SystemEmail))}
        assert {f"message:{question.message.id}", f"message:{copy.id}", f"message:{answer.message.id}"} <= keys
    await _settle(ts, tender)


async def test_timeline_shows_fired_timers_and_sent_emails(ts: Running, smtp_server: SmtpServer) -> None:
    cast = make_cast(ts.engine)
    # Reminder after one hour, deadline after two: both timers fire while we skip time.
    with session_scope(ts.engine) as s:
        from tenderdesk.db.models import Account

        account = s.get(Account, cast.world.account_id)
        assert account is not None
        account.reminder_offsets_s = [3600.0]
        account.response_deadline_s = 7200.0
        s.add(account)
    [tender] = await start(ts, cast.world)
    await wait_status(ts, tender, TenderStatus.SENT)
    # Step by step, as tests/workflows/test_timers.py does: the reminder's email
    # activity finishes before time skips on to the deadline.
    await ts.env.sleep(timedelta(hours=1, minutes=1))
    for _ in range(200):
        if (await snapshot(ts, tender)).reminders_sent == 1:
            break
        await asyncio.sleep(0.05)
    assert (await snapshot(ts, tender)).reminders_sent == 1
    assert await result_after(ts, tender, timedelta(hours=1)) == "expired"
    with Session(ts.engine) as s:
        entries = timeline(s, cast.request_id)
    audit = [(e.kind, e.category) for e in entries if e.source == "audit"]
    assert audit == [("tender_started", "action"), ("tender_sent", "action"), ("reminder_sent", "timer"),
                     ("deadline_expired", "timer")]
    emails = [(e.kind, e.email_status, e.label) for e in entries if e.source == "email"]
    assert emails == [("tender", EmailStatus.SENT, "E-Mail: Ausschreibung"),
                      ("reminder", EmailStatus.SENT, "E-Mail: Erinnerung")]
    expired = next(e for e in entries if e.kind == "deadline_expired")
    assert expired.detail == "Status: Frist abgelaufen" and expired.insurer_name == "Testversicherung 0 AG"
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    with Session(ts.engine) as s:
        kinds = [e.kind for e in s.exec(select(SystemEmail).order_by(col(SystemEmail.id)))]
    assert kinds == ["tender", "reminder"]

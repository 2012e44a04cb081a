"""Threads and who may use them: the broker waits for the backoffice, nobody
sees another broker's or another tender's thread. SQLite and PostgreSQL, with
the real Temporal dev server delivering every notice."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.models import AuditEvent, Message, Party, SystemEmail, Thread, ThreadKind
from tenderdesk.ids import mail_workflow_id
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.forms import new_action_id
from web.messages.common import NOT_OPENED, MessagingError, MessagingNotFound
from web.messages.inbox import mark_read, messages_tab, unread_count
from web.messages.service import forward_message, post_message
from web.messages.threads import open_broker_thread, threads_for

from ..conftest import Running, SmtpServer
from ..workflows.helpers import start, wait_status
from .conftest import Cast, accepted_updates, add_tenders, all_sent, assign, count, insurer_says, mails_to, pk


def _post(engine: Engine, dev: Running, settings: Settings, **kw: Any) -> Any:
    kw.setdefault("thread_id", None)
    kw.setdefault("tender", None)
    kw.setdefault("user", None)
    kw.setdefault("action_id", new_action_id())
    return post_message(engine=engine, client=dev.client, settings=settings, **kw)


async def test_broker_cannot_initiate_until_backoffice_opens(
    engine: Engine, settings: Settings, dev: Running, cast: Cast, smtp_server: SmtpServer
) -> None:
    with pytest.raises(MessagingError, match=i18n.t(NOT_OPENED)):
        await _post(engine, dev, settings, request_id=cast.request_id, author=Party.BROKER, user=cast.broker,
                    body="Gibt es schon Angebote?")
    assert count(engine, Message) == 0
    with Session(engine) as s:
        assert threads_for(s, cast.request_id, cast.broker) == []
    with pytest.raises(MessagingError, match="Backoffice vorbehalten"):
        open_broker_thread(engine, cast.request_id, cast.broker)
    with pytest.raises(MessagingNotFound):
        open_broker_thread(engine, cast.request_id, cast.stranger)

    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    assert open_broker_thread(engine, cast.request_id, cast.colleague).id == thread.id
    with Session(engine) as s:
        opened = s.exec(select(AuditEvent).where(AuditEvent.kind == "thread_opened")).all()
        assert [(e.actor, e.actor_user_id) for e in opened] == [(Party.BACKOFFICE, cast.backoffice.id)]
        [view] = threads_for(s, cast.request_id, cast.broker)
        assert view.kind == ThreadKind.BROKER and view.label == "Vermittler" and view.can_write

    # Now the broker can write; with nobody assigned the account's contact address hears of it.
    first = await _post(engine, dev, settings, request_id=cast.request_id, author=Party.BROKER, user=cast.broker,
                        body="Gibt es schon Angebote?")
    assert first.created and first.message.visible and first.message.thread_id == thread.id
    # The backoffice answers; the broker gets an email with a link to the thread.
    answer = await _post(engine, dev, settings, thread_id=thread.id, author=Party.BACKOFFICE, user=cast.backoffice,
                         body="Zwei Gesellschaften haben angeboten.")
    assign(engine, cast.request_id, cast.colleague)
    again = await _post(engine, dev, settings, request_id=cast.request_id, author=Party.BROKER, user=cast.broker,
                        body="Danke!")
    with Session(engine) as s:
        emails = {e.idempotency_key: e for e in s.exec(select(SystemEmail))}
    to_office = emails[f"message:{first.message.id}"]
    assert to_office.to_addr == "partner-hilfe@tenderdesk.example" and to_office.kind == "message_backoffice"
    to_broker = emails[f"message:{answer.message.id}"]
    assert to_broker.to_addr == "erika@makler.example" and to_broker.kind == "message_broker"
    assert f"http://testserver/requests/{cast.request_id}#nachrichten" in to_broker.body_text
    assert "MA-TEST-00001" in to_broker.subject
    assert emails[f"message:{again.message.id}"].to_addr == cast.colleague.email
    # Each notice was delivered by its own NotificationWorkflow, to the SMTP server.
    await all_sent(engine, 3)
    [office_mail] = await mails_to(smtp_server, "partner-hilfe@tenderdesk.example", 1)
    [broker_mail] = await mails_to(smtp_server, "erika@makler.example", 1)
    [colleague_mail] = await mails_to(smtp_server, cast.colleague.email, 1)
    assert str(broker_mail["Subject"]) == to_broker.subject and str(office_mail["Subject"]) == to_office.subject
    assert "MA-TEST-00001" in str(colleague_mail["Subject"])
    for email in emails.values():
        handle = dev.client.get_workflow_handle(mail_workflow_id(email.id or 0, dev.settings.workflow_id_prefix))
        assert (await handle.describe()).workflow_type == "NotificationWorkflow"


def test_concurrent_openers_make_one_thread(engine: Engine, cast: Cast) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(lambda _: open_broker_thread(engine, cast.request_id, cast.backoffice).id, range(12)))
    assert len(ids) == 1
    with Session(engine) as s:
        assert len(s.exec(select(Thread).where(Thread.kind == ThreadKind.BROKER)).all()) == 1
        assert len(s.exec(select(AuditEvent).where(AuditEvent.kind == "thread_opened")).all()) == 1


async def test_duplicate_action_id_posts_and_notifies_once(
    engine: Engine, settings: Settings, dev: Running, cast: Cast, smtp_server: SmtpServer
) -> None:
    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    action_id = new_action_id()
    kw = dict(thread_id=thread.id, author=Party.BACKOFFICE, user=cast.backoffice, body="Hallo", action_id=action_id,
              attachment=("notiz.txt", b"eins", "text/plain"))
    first = await _post(engine, dev, settings, **kw)
    second = await _post(engine, dev, settings, **kw)
    assert first.created and not second.created and second.message.id == first.message.id
    assert second.info_de == "Die Nachricht wurde bereits gesendet."
    assert count(engine, Message) == 1 and count(engine, SystemEmail) == 1
    with Session(engine) as s:
        from tenderdesk.db.models import Document

        assert len(s.exec(select(Document)).all()) == 1
    # Re-starting delivery of the same row is harmless: one workflow id per email row, one email.
    [email] = await all_sent(engine, 1)
    third = await _post(engine, dev, settings, **kw)
    assert not third.created and third.message.id == first.message.id
    await asyncio.sleep(0.3)
    assert len(await mails_to(smtp_server, "erika@makler.example", 1)) == 1
    handle = dev.client.get_workflow_handle(mail_workflow_id(email.id or 0, dev.settings.workflow_id_prefix))
    assert (await handle.describe()).workflow_type == "NotificationWorkflow"
    # The same action id in another thread is a stale form, not a second message.
    other = open_broker_thread(engine, cast.other_request_id, cast.backoffice)
    with pytest.raises(MessagingError, match="veraltet"):
        await _post(engine, dev, settings, **{**kw, "thread_id": other.id})


async def test_empty_long_or_oversized_messages_store_nothing(
    engine: Engine, settings: Settings, dev: Running, cast: Cast, smtp_server: SmtpServer
) -> None:
    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    base = dict(thread_id=thread.id, author=Party.BACKOFFICE, user=cast.backoffice)
    with pytest.raises(MessagingError, match="Bitte geben Sie eine Nachricht ein"):
        await _post(engine, dev, settings, **base, body="  \n ")
    with pytest.raises(MessagingError, match="zu lang"):
        await _post(engine, dev, settings, **base, body="x" * 5001)
    too_big = b"x" * (settings.max_upload_bytes + 1)
    with pytest.raises(MessagingError, match="zu groß"):
        await _post(engine, dev, settings, **base, body="Anbei", attachment=("gross.pdf", too_big, "application/pdf"))
    with pytest.raises(MessagingError, match="leer"):
        await _post(engine, dev, settings, **base, body="Anbei", attachment=("leer.pdf", b"", "application/pdf"))
    assert count(engine, Message) == 0 and count(engine, SystemEmail) == 0
    await asyncio.sleep(0.3)
    assert smtp_server.capture.messages == []
    from .conftest import stored_files

    assert stored_files(settings) == []


async def test_brokers_and_insurers_see_only_their_own_threads(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    t0, t1 = add_tenders(engine, cast, 2)
    mine = open_broker_thread(engine, cast.request_id, cast.backoffice)
    theirs = open_broker_thread(engine, cast.other_request_id, cast.backoffice)
    await _post(engine, dev, settings, thread_id=mine.id, author=Party.BACKOFFICE, user=cast.backoffice,
                body="Nur für Erika")
    secret = insurer_says(engine, t0, "Frage von Gesellschaft 0")
    insurer_says(engine, t1, "Frage von Gesellschaft 1")

    with Session(engine) as s:
        staff = threads_for(s, cast.request_id, cast.backoffice)
        assert [v.label for v in staff] == ["Vermittler", "Testversicherung 0 AG", "Testversicherung 1 AG"]
        assert [len(v.messages) for v in staff] == [1, 1, 1]
        # Another broker of the same account: nothing of Erika's request.
        assert threads_for(s, cast.request_id, cast.other_broker) == []
        assert [v.id for v in threads_for(s, cast.other_request_id, cast.other_broker)] == [theirs.id]
        # The broker never sees insurer threads, not even of his own request.
        assert [v.id for v in threads_for(s, cast.request_id, cast.broker)] == [mine.id]
        # An insurer sees its own thread only.
        [own] = threads_for(s, cast.request_id, t1)
        assert own.tender_id == t1.id and [m.body for m in own.messages] == ["Frage von Gesellschaft 1"]
        assert threads_for(s, cast.other_request_id, t1) == []
        assert threads_for(s, cast.request_id, cast.stranger) == []
        assert unread_count(s, cast.other_broker) == 0 and unread_count(s, cast.broker) == 1
        assert messages_tab(s, cast.other_broker).rows == []
        assert messages_tab(s, cast.stranger).total == 0

    with pytest.raises(MessagingNotFound):
        await _post(engine, dev, settings, thread_id=mine.id, author=Party.BROKER, user=cast.other_broker, body="Hi")
    with pytest.raises(MessagingNotFound):
        await _post(engine, dev, settings, request_id=cast.request_id, author=Party.BROKER, user=cast.other_broker,
                    body="Hi")
    staff_thread_0 = secret.thread_id
    with pytest.raises(MessagingNotFound):
        await _post(engine, dev, settings, thread_id=staff_thread_0, author=Party.INSURER, tender=t1, body="Hi")
    with pytest.raises(MessagingNotFound):
        await _post(engine, dev, settings, thread_id=staff_thread_0, author=Party.BROKER, user=cast.broker, body="Hi")
    with pytest.raises(MessagingNotFound):
        await _post(engine, dev, settings, thread_id=mine.id, author=Party.BACKOFFICE, user=cast.stranger, body="Hi")
    with pytest.raises(MessagingNotFound):
        mark_read(engine, pk(mine), cast.other_broker)
    with pytest.raises(MessagingNotFound):
        await forward_message(engine=engine, client=dev.client, settings=settings,
                              message_id=pk(secret), target_thread_id=pk(mine), user=cast.stranger)
    with pytest.raises(MessagingError, match="Backoffice vorbehalten"):
        await forward_message(engine=engine, client=dev.client, settings=settings,
                              message_id=pk(secret), target_thread_id=pk(mine), user=cast.broker)
    with Session(engine) as s:
        assert len(s.exec(select(Message).order_by(col(Message.id))).all()) == 3


async def test_backoffice_reply_to_insurer_waits_for_the_workflow(
    engine: Engine, settings: Settings, dev: Running, cast: Cast, smtp_server: SmtpServer
) -> None:
    """The message becomes visible only once the tender workflow accepted
    ``notify_insurer``; a refusal (the workflow is gone) leaves neither the
    message nor its attachment row behind."""
    from tenderdesk.db.models import Document

    [tender] = await start(dev, cast.world)
    await wait_status(dev, tender, TenderStatus.SENT)
    thread_id = insurer_question_thread = insurer_says(engine, tender, "Frage").thread_id
    result = await _post(engine, dev, settings, thread_id=thread_id, author=Party.BACKOFFICE, user=cast.backoffice,
                         body="Antwort", attachment=("antwort.pdf", b"%PDF-1.4 antwort", "application/pdf"))
    assert result.message.visible and not result.message.unprocessed
    [update] = await accepted_updates(dev, tender.workflow_id)
    assert (update.name, update.update_id) == ("notify_insurer", f"message-{result.message.id}")
    assert update.arg["actor_user_id"] == cast.backoffice.id
    tender_mail, notice = await mails_to(smtp_server, tender.contact_email, 2)
    assert str(notice["Subject"]).startswith("Neue Nachricht zur Ausschreibung")
    with Session(engine) as s:
        doc = s.get(Document, result.message.document_id)
        assert doc is not None and doc.tender_id == tender.id and doc.uploaded_by == Party.BACKOFFICE

    # The workflow ends behind the projection's back: Temporal refuses the update.
    await dev.client.get_workflow_handle(tender.workflow_id).terminate("test: workflow gone")
    with pytest.raises(MessagingError, match="bereits beendet"):
        await _post(engine, dev, settings, thread_id=insurer_question_thread, author=Party.BACKOFFICE,
                    user=cast.backoffice, body="Noch eine",
                    attachment=("zwei.pdf", b"%PDF-1.4 zwei", "application/pdf"))
    with Session(engine) as s:
        assert [m.body for m in s.exec(select(Message).order_by(col(Message.id)))] == ["Frage", "Antwort"]
        assert [d.filename for d in s.exec(select(Document))] == ["antwort.pdf"]

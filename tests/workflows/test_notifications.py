"""NotificationWorkflow and the insurer message notice, with real SMTP."""

from __future__ import annotations

import asyncio

from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db.models import EmailStatus, SystemEmail, TenderLink
from tenderdesk.mail.render import RenderedEmail
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.core.notifications import QueuedEmail, queue_email
from web.tenders.service import send_action

from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import start, wait_status


async def _wait_email(run: Running, email_id: int, status: EmailStatus) -> SystemEmail:
    for _ in range(200):
        with Session(run.engine) as s:
            row = s.get(SystemEmail, email_id)
            assert row is not None
            if row.status == status:
                return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"email {email_id} not {status}")


def _queued(request_id: int, to_addr: str, key: str) -> QueuedEmail:
    return QueuedEmail(key=key, kind="message_broker", to_addr=to_addr, request_id=request_id,
                       rendered=RenderedEmail(subject="Neue Nachricht", text="Hallo"))


async def test_queued_email_is_delivered_once_after_a_transient_error(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    smtp_server.capture.script("451 4.7.1 greylisted")
    email = _queued(world.request_id, "erika@makler.example", "msg:1:broker")
    row = await queue_email(client=dev.client, engine=dev.engine, settings=dev.settings, email=email)
    again = await queue_email(client=dev.client, engine=dev.engine, settings=dev.settings, email=email)
    assert again.id == row.id
    assert row.id is not None
    sent = await _wait_email(dev, row.id, EmailStatus.SENT)
    assert sent.attempts == 2
    assert len(smtp_server.capture.to("erika@makler.example")) == 1


async def test_permanent_failure_is_shown_not_retried(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    smtp_server.capture.script("550 5.1.1 mailbox unavailable")
    row = await queue_email(client=dev.client, engine=dev.engine, settings=dev.settings,
                            email=_queued(world.request_id, "nobody@makler.example", "msg:2:broker"))
    assert row.id is not None
    failed = await _wait_email(dev, row.id, EmailStatus.FAILED)
    assert failed.last_reply.startswith("550") and failed.attempts == 1


async def test_insurer_is_notified_with_a_fresh_link(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    [tender] = await start(dev, world)
    await wait_status(dev, tender, TenderStatus.SENT)
    await send_action(dev.client, tender, "notify_insurer", Action(action_id=new_action_id()))
    for _ in range(200):
        if len(smtp_server.capture.messages) == 2:
            break
        await asyncio.sleep(0.05)
    notice = smtp_server.capture.messages[-1]
    assert str(notice["Subject"]).startswith("Neue Nachricht")
    with Session(dev.engine) as s:
        assert len(s.exec(select(TenderLink)).all()) == 2
        kinds = [e.kind for e in s.exec(select(SystemEmail).order_by(col(SystemEmail.id)))]
        assert kinds == ["tender", "message"]

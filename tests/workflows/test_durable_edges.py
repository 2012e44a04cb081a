"""The edges of "durable": reminders that never burst, no insurer mail after the
end, timers that do not wait for a retrying email, one tender email, a cover
order that must arrive, and failures that end instead of retrying for ever.

All on the time-skipping test server with the real activities (SQLite, a real
SMTP server on loopback whose replies the tests script)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import Settings
from tenderdesk.contracts import Action, CloseAction, RescheduleAction, TenderInput, TenderPlan
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import EmailStatus, Party, Request, RequestStatus, SystemEmail, TenderLink
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.tenders.service import OfferTerms, TenderActionError, send_action, submit_offer
from worker import build_worker

from ..activities.test_email import poll
from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import handle, row, snapshot, start, wait_status

DAY = 86400.0
GREYLIST = "451 4.7.1 Greylisted, please try again later"


def emails(run: Running, kind: str | None = None) -> list[SystemEmail]:
    with Session(run.engine) as s:
        query = select(SystemEmail).order_by(col(SystemEmail.id))
        if kind:
            query = query.where(SystemEmail.kind == kind)
        return list(s.exec(query).all())


def subjects(smtp: SmtpServer) -> list[str]:
    return [str(m["Subject"]).split(":")[0] for m in smtp.capture.messages]


async def test_moved_reminder_replaces_the_automatic_ones_it_passed(ts: Running, smtp_server: SmtpServer) -> None:
    """Plan 3 and 7 days; the next reminder moved to day 8 sends one reminder on day 8, not three."""
    world = make_world(ts.engine, reminder_offsets_s=(3 * DAY, 7 * DAY), response_deadline_s=14 * DAY)
    [tender] = await start(ts, world)
    sent = await wait_status(ts, tender, TenderStatus.SENT)
    assert sent.sent_at is not None
    await send_action(ts.client, tender, "reschedule", RescheduleAction(
        action_id=new_action_id(), next_reminder_at=sent.sent_at + timedelta(days=8)))

    await ts.env.sleep(timedelta(days=8, hours=1))
    await poll(lambda: len(smtp_server.capture.messages) == 2)
    await ts.env.sleep(timedelta(days=5))  # up to day 13: no automatic reminder is left
    await asyncio.sleep(0.5)
    assert subjects(smtp_server) == ["Ausschreibung MA-TEST-00001", "Erinnerung"]
    assert (await snapshot(ts, tender)).reminders_sent == 1


async def test_catch_up_after_worker_downtime_sends_one_reminder(
    dev_env: WorkflowEnvironment, engine: Engine, settings: Settings, smtp_server: SmtpServer,
) -> None:
    """The worker is down while both reminder dates pass; back up, it sends one reminder, not two.
    On the dev server in real time (seconds instead of days): the time-skipping
    server does not skip time while no worker polls."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings.temporal_task_queue = settings.workflow_id_prefix = queue
    run = Running(dev_env.client, queue, engine, settings, dev_env)
    world = make_world(engine, reminder_offsets_s=(5.0, 8.0), response_deadline_s=600.0)
    async with build_worker(dev_env.client, engine, settings, task_queue=queue):
        [tender] = await start(run, world)
        await wait_status(run, tender, TenderStatus.SENT)
    await asyncio.sleep(10)  # no worker: both reminder timers fall due unserved
    async with build_worker(dev_env.client, engine, settings, task_queue=queue):
        await poll(lambda: len(smtp_server.capture.messages) >= 2)
        await asyncio.sleep(1.5)
        assert subjects(smtp_server) == ["Ausschreibung MA-TEST-00001", "Erinnerung"]
        assert (await snapshot(run, tender)).reminders_sent == 1
        await handle(run, tender).terminate("test finished")


async def test_withdrawal_cancels_a_greylisted_reminder_and_mints_no_link(
    ts: Running, smtp_server: SmtpServer
) -> None:
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    smtp_server.capture.script_rcpt(*[GREYLIST] * 100)
    await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id()))
    await poll(lambda: [e.status for e in emails(ts, "reminder")] == [EmailStatus.RETRYING])
    links_before = len(_links(ts))

    await send_action(ts.client, tender, "withdraw", Action(action_id=new_action_id()))
    smtp_server.capture.script_rcpt()  # the server would accept now
    await ts.env.sleep(timedelta(hours=2))
    await asyncio.sleep(0.5)

    # The reminder never arrives; the insurer learns of the withdrawal instead.
    assert subjects(smtp_server) == ["Ausschreibung MA-TEST-00001", "Ausschreibung MA-TEST-00001 zurückgezogen"]
    assert [e.status for e in emails(ts, "reminder")] == [EmailStatus.CANCELLED]
    assert len(_links(ts)) == links_before
    assert all(link.revoked_at is not None for link in _links(ts))
    assert await asyncio.wait_for(handle(ts, tender).result(), 10) == TenderStatus.WITHDRAWN.value


def _links(run: Running) -> list[TenderLink]:
    with Session(run.engine) as s:
        return list(s.exec(select(TenderLink)).all())


async def test_deadline_fires_while_a_reminder_keeps_retrying(ts: Running, smtp_server: SmtpServer) -> None:
    """The outbox runs beside the timers: a reminder greylisted for days does not hold back the deadline."""
    world = make_world(ts.engine, reminder_offsets_s=(1 * DAY,), response_deadline_s=2 * DAY)
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    smtp_server.capture.script_rcpt(*[GREYLIST] * 1000)
    for _ in range(26):  # hour by hour past the deadline, so retries run on the worker
        await ts.env.sleep(timedelta(hours=2))
    await poll(lambda: row(ts, tender).status == TenderStatus.EXPIRED)
    assert (await snapshot(ts, tender)).status == TenderStatus.EXPIRED
    assert await asyncio.wait_for(handle(ts, tender).result(), 10) == TenderStatus.EXPIRED.value
    assert [e.status for e in emails(ts, "reminder")] == [EmailStatus.CANCELLED]
    assert subjects(smtp_server) == ["Ausschreibung MA-TEST-00001"]


async def test_resending_a_failed_tender_email_twice_sends_it_once(ts: Running, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script_rcpt("550 5.1.1 User unknown", GREYLIST, GREYLIST, GREYLIST)
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await poll(lambda: row(ts, tender).delivery_failed)

    first = await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id()))
    second = await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id()))
    assert first.code == second.code == "resent"
    for _ in range(6):
        await ts.env.sleep(timedelta(minutes=1))
    await wait_status(ts, tender, TenderStatus.SENT)
    await ts.env.sleep(timedelta(minutes=10))
    await asyncio.sleep(0.3)
    assert subjects(smtp_server) == ["Ausschreibung MA-TEST-00001"]
    assert [(e.seq, e.status) for e in emails(ts, "tender")] == [(1, EmailStatus.FAILED), (2, EmailStatus.SENT)]


async def test_failed_cover_order_keeps_the_tender_open_until_resent(ts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    now = await ts.env.get_current_time()
    await submit_offer(ts.client, ts.engine, tender, OfferTerms(premium_cents=100_000, valid_until=now + timedelta(
        days=30)), by=Party.INSURER)
    smtp_server.capture.script_rcpt("550 5.1.1 User unknown")
    await send_action(ts.client, tender, "close", CloseAction(action_id=new_action_id(), won=True))
    await poll(lambda: row(ts, tender).delivery_failed)
    description = await handle(ts, tender).describe()
    assert description.status is not None and description.status.name == "RUNNING"
    cover = [e for e in emails(ts, "cover_order")]
    assert [e.status for e in cover] == [EmailStatus.FAILED] and "550" in cover[0].last_reply

    result = await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id()))
    assert result.code == "resent"
    assert await asyncio.wait_for(handle(ts, tender).result(), 10) == TenderStatus.CLOSED.value
    assert [e.status for e in emails(ts, "cover_order")] == [EmailStatus.FAILED, EmailStatus.SENT]
    assert subjects(smtp_server)[-1].startswith("Deckungsauftrag")
    assert row(ts, tender).delivery_failed is False


async def test_no_offer_is_accepted_once_the_request_is_bound(ts: Running, smtp_server: SmtpServer) -> None:
    """The binding's ``close`` may still be on its way; the workflow asks first."""
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    with session_scope(ts.engine) as s:
        s.execute(update(Request).where(col(Request.id) == world.request_id).values(status=RequestStatus.BOUND))
    now = await ts.env.get_current_time()
    with pytest.raises(TenderActionError) as refused:
        await submit_offer(ts.client, ts.engine, tender, OfferTerms(premium_cents=1, valid_until=now + timedelta(
            days=30)), by=Party.INSURER)
    assert "abgeschlossen" in str(refused.value)
    assert (await snapshot(ts, tender)).status == TenderStatus.SENT


async def test_a_tender_whose_request_was_bound_while_it_started_closes_itself(
    ts: Running, smtp_server: SmtpServer
) -> None:
    smtp_server.capture.script_rcpt(GREYLIST)
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await poll(lambda: [e.status for e in emails(ts, "tender")] == [EmailStatus.RETRYING])
    with session_scope(ts.engine) as s:
        s.execute(update(Request).where(col(Request.id) == world.request_id).values(status=RequestStatus.BOUND))
    await ts.env.sleep(timedelta(seconds=10))
    assert await asyncio.wait_for(handle(ts, tender).result(), 10) == TenderStatus.CLOSED.value
    assert not smtp_server.capture.messages
    assert [e.status for e in emails(ts, "tender")] == [EmailStatus.CANCELLED]


async def test_a_missing_tender_row_fails_the_workflow_instead_of_retrying_for_ever(ts: Running) -> None:
    handle_ = await ts.client.start_workflow(
        "TenderWorkflow", TenderInput(tender_id=999_999, request_id=1, insurer_id=1, plan=TenderPlan()),
        id=f"{ts.task_queue}-missing", task_queue=ts.task_queue,
    )
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle_.result(), 15)

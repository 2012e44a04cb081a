"""The reconciler: rows whose workflow start was lost get their workflow, once.

Each test loses a start the way production does (the web commits its row, then
Temporal cannot be reached), then lets the reconciler run, through its
Temporal Schedule or its workflow, on the real dev server with SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlmodel import Session, col, select
from temporalio.client import Client

from tenderdesk.db.models import EmailStatus, SystemEmail, Tender
from tenderdesk.mail.render import MailKind, RenderedEmail
from tenderdesk.states import TenderStatus
from web.core.notifications import QueuedEmail, queue_email
from web.offers.binding import bind_offer
from web.tenders.start import start_tenders
from workflows.reconcile import ReconcileResult
from workflows.schedules import ensure_reconcile_schedule

from ..binding.helpers import binding_result, broker_user, give_offer, sent_tenders, set_need_release, wait_for
from ..conftest import Running, SmtpServer, free_port
from ..factories import make_world


async def unreachable() -> Client:
    """A client whose server is gone: every call fails like a Temporal outage."""
    return await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)


async def reconcile(run: Running) -> ReconcileResult:
    run.settings.reconcile_grace_s = 0  # the worker's activities share this Settings object
    result: ReconcileResult = await run.client.execute_workflow(
        "ReconcileWorkflow", id=f"{run.task_queue}-reconcile-{uuid.uuid4().hex[:6]}", task_queue=run.task_queue,
        result_type=ReconcileResult,
    )
    return result


def rows(run: Running) -> list[Tender]:
    with Session(run.engine) as s:
        return list(s.exec(select(Tender).order_by(col(Tender.id))).all())


async def test_a_tender_whose_start_was_lost_is_started_by_the_schedule(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    outcome = await start_tenders(
        client=await unreachable(), engine=dev.engine, task_queue=dev.task_queue, request_id=world.request_id,
        insurer_ids=world.insurer_ids[:1], actor_user_id=world.backoffice_user_id,
        id_prefix=dev.settings.workflow_id_prefix,
    )
    assert not outcome.started and "automatisch gestartet" in outcome.refused[world.insurer_ids[0]]
    [tender] = rows(dev)  # kept: the start may or may not have happened
    assert tender.status == TenderStatus.QUEUED and tender.projection_version == 0

    dev.settings.reconcile_grace_s = 0
    schedule_id = await ensure_reconcile_schedule(
        dev.client, prefix=dev.task_queue, task_queue=dev.task_queue, every=timedelta(hours=1))
    assert schedule_id == await ensure_reconcile_schedule(  # a second worker finds it there
        dev.client, prefix=dev.task_queue, task_queue=dev.task_queue, every=timedelta(hours=1))
    schedule = dev.client.get_schedule_handle(schedule_id)
    try:
        await schedule.trigger()
        await wait_for(lambda: rows(dev)[0].status == TenderStatus.SENT, timeout=30, what="tender sent")
    finally:
        await schedule.delete()
    await wait_for(lambda: len(smtp_server.capture.messages) == 1, what="one tender email")

    again = await reconcile(dev)
    assert again == ReconcileResult()
    await asyncio.sleep(0.5)
    assert len(smtp_server.capture.messages) == 1


async def test_a_binding_whose_workflow_never_started_is_finished(dev: Running, smtp_server: SmtpServer) -> None:
    """The broker is told "werden nachgeholt"; the reconciler keeps that promise:
    every tender closed once, one cover order, one "nicht zum Zuge gekommen"."""
    world = make_world(dev.engine)
    set_need_release(dev.engine, world, False)
    first, second = await sent_tenders(dev, world, 2)
    offer = await give_offer(dev, first)
    await give_offer(dev, second, premium_cents=120_000)
    outcome = await bind_offer(engine=dev.engine, client=await unreachable(), settings=dev.settings,
                               offer_id=offer.id, broker_user=broker_user(dev.engine, world))  # type: ignore[arg-type]
    assert outcome.workflow_started is False
    assert {t.status for t in rows(dev)} == {TenderStatus.OFFERED}

    result = await reconcile(dev)

    assert result.bindings_started == 1
    bound = await binding_result(dev, world.request_id)
    assert bound.cover_note_document_id
    await wait_for(lambda: {t.status for t in rows(dev)} == {TenderStatus.CLOSED}, what="all tenders closed")
    await wait_for(lambda: len(_emails(dev, MailKind.COVER_ORDER)) == 1 and len(
        _emails(dev, MailKind.NOT_SELECTED)) == 1, what="outcome emails")
    await asyncio.sleep(1)
    assert [e.status for e in _emails(dev, MailKind.COVER_ORDER)] == [EmailStatus.SENT]
    assert [e.status for e in _emails(dev, MailKind.NOT_SELECTED)] == [EmailStatus.SENT]
    assert (await reconcile(dev)).bindings_started == 0


async def test_a_pending_notice_is_delivered(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    row = await queue_email(client=await unreachable(), engine=dev.engine, settings=dev.settings, email=QueuedEmail(
        key=f"test:{uuid.uuid4().hex}", kind=MailKind.MESSAGE_BROKER.value, to_addr="erika@makler.example",
        rendered=RenderedEmail(subject="Neue Nachricht", text="Hallo"), request_id=world.request_id,
    ))
    assert row.status == EmailStatus.PENDING

    result = await reconcile(dev)

    assert result.emails_started == 1
    await wait_for(lambda: [e.status for e in _emails(dev, MailKind.MESSAGE_BROKER)] == [EmailStatus.SENT],
                   what="notice sent")
    assert [m["Subject"] for m in smtp_server.capture.messages] == ["Neue Nachricht"]
    assert (await reconcile(dev)).emails_started == 0


def _emails(run: Running, kind: MailKind) -> list[SystemEmail]:
    with Session(run.engine) as s:
        return list(s.exec(select(SystemEmail).where(SystemEmail.kind == kind.value)).all())

"""Timer branches under time skipping: reminders, deadline, offer validity."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db.models import AuditEvent, Party, SystemEmail
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.tenders.service import OfferTerms, send_action, submit_offer

from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import result_after, row, snapshot, start, wait_status

DAY = 86400.0


async def test_reminders_follow_offsets_then_deadline_expires(ts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(ts.engine, reminder_offsets_s=(3 * DAY, 7 * DAY), response_deadline_s=14 * DAY)
    [tender] = await start(ts, world)
    sent = await wait_status(ts, tender, TenderStatus.SENT)
    assert sent.sent_at is not None and sent.deadline_at == sent.sent_at + timedelta(days=14)
    assert sent.next_reminder_at == sent.sent_at + timedelta(days=3)

    await ts.env.sleep(timedelta(days=3, hours=1))
    snap = await snapshot(ts, tender)
    assert snap.reminders_sent == 1
    assert snap.next_reminder_at == sent.sent_at + timedelta(days=7)

    await ts.env.sleep(timedelta(days=4))
    assert (await snapshot(ts, tender)).reminders_sent == 2

    assert await result_after(ts, tender, timedelta(days=7)) == TenderStatus.EXPIRED.value
    db = row(ts, tender)
    assert db.status == TenderStatus.EXPIRED and db.reminders_sent == 2
    kinds = [m["Subject"].split(":")[0] for m in smtp_server.capture.messages]
    assert kinds == ["Ausschreibung MA-TEST-00001", "Erinnerung", "Erinnerung"]
    with Session(ts.engine) as s:
        emails = s.exec(select(SystemEmail).order_by(col(SystemEmail.id))).all()
        assert [(e.kind, e.seq, e.status) for e in emails] == [
            ("tender", 1, "sent"), ("reminder", 1, "sent"), ("reminder", 2, "sent")]
        events = [e.kind for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
        assert events == ["tender_started", "tender_sent", "reminder_sent", "reminder_sent",
                          "deadline_expired"]


async def test_offer_expires_and_edit_extends_it(ts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    now = await ts.env.get_current_time()
    await submit_offer(ts.client, ts.engine, tender,
                       OfferTerms(premium_cents=120_000, valid_until=now + timedelta(days=30)),
                       by=Party.INSURER)
    assert row(ts, tender).status == TenderStatus.OFFERED
    await ts.env.sleep(timedelta(days=31))
    assert (await snapshot(ts, tender)).status == TenderStatus.OFFER_EXPIRED
    assert row(ts, tender).status == TenderStatus.OFFER_EXPIRED

    now = await ts.env.get_current_time()
    result = await submit_offer(ts.client, ts.engine, tender,
                                OfferTerms(premium_cents=125_000, valid_until=now + timedelta(days=10)),
                                by=Party.BACKOFFICE, user_id=world.backoffice_user_id, edit=True)
    assert result.status == TenderStatus.OFFERED
    snap = await snapshot(ts, tender)
    assert snap.next_timer_kind == "offer_validity"
    assert snap.next_timer_at == now + timedelta(days=10)
    await ts.env.sleep(timedelta(days=9))
    assert (await snapshot(ts, tender)).status == TenderStatus.OFFERED
    await ts.env.sleep(timedelta(days=2))
    assert (await snapshot(ts, tender)).status == TenderStatus.OFFER_EXPIRED
    await send_action(ts.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.WITHDRAWN.value

"""Every update branch of TenderWorkflow under time skipping, with real activities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from tenderdesk.contracts import Action, CloseAction, RescheduleAction
from tenderdesk.db.models import AuditEvent, Message, Offer, Party, SystemEmail, TenderLink
from tenderdesk.states import TenderStatus
from web.tenders.service import (
    OfferTerms,
    TenderActionError,
    ask_question,
    decline,
    new_action_id,
    send_action,
    submit_offer,
)

from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import handle, result_after, row, snapshot, start, wait_status

DAY = 86400.0


async def _sent(ts: Running, **world_kw: object):  # type: ignore[no-untyped-def]
    world = make_world(ts.engine, **world_kw)  # type: ignore[arg-type]
    [tender] = await start(ts, world)
    await wait_status(ts, tender, TenderStatus.SENT)
    return world, tender


async def _offer(ts: Running, tender, days: float = 30, **kw: object):  # type: ignore[no-untyped-def]
    now = await ts.env.get_current_time()
    return await submit_offer(
        ts.client, ts.engine, tender,
        OfferTerms(premium_cents=99_000, valid_until=now + timedelta(days=days)),
        by=Party.INSURER, **kw,  # type: ignore[arg-type]
    )


async def test_question_moves_to_in_progress_and_pauses_reminders_until_answered(ts: Running) -> None:
    _, tender = await _sent(ts)
    result = await ask_question(ts.client, ts.engine, tender, body="Gibt es Vorschäden?")
    assert result.status == TenderStatus.IN_PROGRESS and result.changed
    with Session(ts.engine) as s:
        [msg] = s.exec(select(Message)).all()
        assert msg.visible and msg.author == Party.INSURER
    await ts.env.sleep(timedelta(days=3, minutes=1))
    assert (await snapshot(ts, tender)).reminders_sent == 0  # the insurer waits for us
    await send_action(ts.client, tender, "notify_insurer", Action(action_id=new_action_id()))
    await ts.env.sleep(timedelta(days=4))
    assert (await snapshot(ts, tender)).reminders_sent == 1


async def test_backoffice_marks_in_progress_once(ts: Running) -> None:
    world, tender = await _sent(ts)
    action = Action(action_id=new_action_id(), actor_user_id=world.backoffice_user_id)
    first = await send_action(ts.client, tender, "mark_in_progress", action)
    again = await send_action(ts.client, tender, "mark_in_progress", action)
    # Temporal dedupes by update ID and hands the duplicate the first answer
    assert first == again and again.status == TenderStatus.IN_PROGRESS
    with Session(ts.engine) as s:
        kinds = [e.kind for e in s.exec(select(AuditEvent))]
        assert kinds.count("marked_in_progress") == 1
        marked = s.exec(select(AuditEvent).where(AuditEvent.kind == "marked_in_progress")).one()
        assert marked.actor == Party.BACKOFFICE and marked.actor_user_id == world.backoffice_user_id


async def test_duplicate_offer_is_recorded_once_and_second_offer_rejected(ts: Running) -> None:
    _, tender = await _sent(ts)
    action_id = new_action_id()
    first = await _offer(ts, tender, action_id=action_id)
    dup = await _offer(ts, tender, action_id=action_id)
    assert first == dup and first.changed
    with pytest.raises(TenderActionError, match="bereits ein Angebot"):
        await _offer(ts, tender)
    with Session(ts.engine) as s:
        offers = s.exec(select(Offer)).all()
        assert len(offers) == 1 and offers[0].active
    assert row(ts, tender).current_offer_id == offers[0].id


async def test_decline_ends_tender_revokes_link_and_stops_timers(ts: Running, smtp_server: SmtpServer) -> None:
    _, tender = await _sent(ts)
    with pytest.raises(TenderActionError, match="Grund"):
        await decline(ts.client, ts.engine, tender, reason="  ")
    await decline(ts.client, ts.engine, tender, reason="Risiko außerhalb der Zeichnungsrichtlinien")
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.DECLINED.value
    db = row(ts, tender)
    assert db.status == TenderStatus.DECLINED and db.ended_at is not None and db.next_timer_at is None
    with Session(ts.engine) as s:
        links = s.exec(select(TenderLink)).all()
        assert links and all(link.revoked_at is not None for link in links)
    await ts.env.sleep(timedelta(days=30))
    assert len(smtp_server.capture.messages) == 1  # no reminder after the end
    with pytest.raises(TenderActionError):
        await _offer(ts, tender)
    with Session(ts.engine) as s:
        assert s.exec(select(Offer)).all() == []


async def test_withdraw_from_each_open_state(ts: Running) -> None:
    _, tender = await _sent(ts)
    await ask_question(ts.client, ts.engine, tender, body="Frage")
    result = await send_action(ts.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert result.status == TenderStatus.WITHDRAWN
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.WITHDRAWN.value
    with pytest.raises(TenderActionError, match="beendet|nicht mehr möglich"):
        await ask_question(ts.client, ts.engine, tender, body="Noch eine Frage")
    with Session(ts.engine) as s:
        assert [m.body for m in s.exec(select(Message))] == ["Frage"]


async def test_withdrawal_tells_the_insurer_once_and_voids_its_offer(ts: Running, smtp_server: SmtpServer) -> None:
    world, tender = await _sent(ts)
    await _offer(ts, tender)
    action = Action(action_id=new_action_id(), actor_user_id=world.backoffice_user_id)
    await send_action(ts.client, tender, "withdraw", action)
    await send_action(ts.client, tender, "withdraw", action)  # a repeated click
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.WITHDRAWN.value
    withdrawn = [m for m in smtp_server.capture.messages if "zurückgezogen" in str(m["Subject"])]
    assert len(withdrawn) == 1 and withdrawn[0]["To"] == tender.contact_email
    body = withdrawn[0].get_content()
    assert "990,00\xa0€" in body and "gegenstandslos" in body and "http" not in body
    with Session(ts.engine) as s:
        assert [e.kind for e in s.exec(select(AuditEvent).where(col(AuditEvent.kind).like("withdrawn%")))] == [
            "withdrawn", "withdrawn_sent"]


async def test_withdrawing_a_tender_never_sent_emails_nobody(ts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(ts.engine)
    smtp_server.capture.script_rcpt("550 5.1.1 User unknown")
    [tender] = await start(ts, world)
    await ts.env.sleep(timedelta(minutes=5))
    assert row(ts, tender).status == TenderStatus.QUEUED  # delivery failed, the insurer never heard of it
    await send_action(ts.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert await result_after(ts, tender, timedelta(hours=1)) == TenderStatus.WITHDRAWN.value
    assert not any("zurückgezogen" in str(m["Subject"]) for m in smtp_server.capture.messages)


async def test_offer_after_close_is_rejected_and_nothing_fires(ts: Running, smtp_server: SmtpServer) -> None:
    _, tender = await _sent(ts)
    await _offer(ts, tender, days=5)
    result = await send_action(ts.client, tender, "close", CloseAction(action_id=new_action_id(), won=True))
    assert result.status == TenderStatus.CLOSED
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.CLOSED.value
    subjects = [str(m["Subject"]) for m in smtp_server.capture.messages]
    assert subjects[-1].startswith("Deckungsauftrag")
    with pytest.raises(TenderActionError):
        await submit_offer(
            ts.client, ts.engine, tender,
            OfferTerms(premium_cents=1, valid_until=await ts.env.get_current_time() + timedelta(days=9)),
            by=Party.INSURER, edit=True,
        )
    await ts.env.sleep(timedelta(days=10))
    assert row(ts, tender).status == TenderStatus.CLOSED  # the validity timer never fired
    with Session(ts.engine) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.kind == "offer_expired")).all() == []


async def test_losing_tender_is_told_it_was_not_selected(ts: Running, smtp_server: SmtpServer) -> None:
    _, tender = await _sent(ts)
    await send_action(ts.client, tender, "close", CloseAction(action_id=new_action_id(), won=False))
    assert await result_after(ts, tender, timedelta(0)) == TenderStatus.CLOSED.value
    assert "nicht zum Zuge gekommen" in str(smtp_server.capture.messages[-1]["Subject"])


async def test_manual_reminder_counts_and_keeps_plan(ts: Running, smtp_server: SmtpServer) -> None:
    _, tender = await _sent(ts)
    before = await snapshot(ts, tender)
    result = await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id()))
    assert result.code == "reminder_sent"
    for _ in range(100):
        if (await snapshot(ts, tender)).reminders_sent == 1:
            break
        await ts.env.sleep(timedelta(seconds=0.05))
    after = await snapshot(ts, tender)
    assert after.reminders_sent == 1 and after.next_reminder_at == before.next_reminder_at
    assert [str(m["Subject"]).split(":")[0] for m in smtp_server.capture.messages][-1] == "Erinnerung"
    with Session(ts.engine) as s:
        assert len(s.exec(select(SystemEmail).where(SystemEmail.kind == "reminder")).all()) == 1


async def test_reschedule_moves_deadline_and_next_reminder(ts: Running) -> None:
    _, tender = await _sent(ts, reminder_offsets_s=(3 * DAY,), response_deadline_s=14 * DAY)
    now = await ts.env.get_current_time()
    with pytest.raises(TenderActionError, match="Zukunft"):
        await send_action(ts.client, tender, "reschedule",
                          RescheduleAction(action_id=new_action_id(), deadline_at=now - timedelta(days=1)))
    await send_action(ts.client, tender, "reschedule", RescheduleAction(
        action_id=new_action_id(), deadline_at=now + timedelta(days=20),
        next_reminder_at=now + timedelta(days=1)))
    db = row(ts, tender)
    assert db.next_timer_kind == "reminder" and db.next_reminder_at is not None
    await ts.env.sleep(timedelta(days=1, minutes=1))
    snap = await snapshot(ts, tender)
    assert snap.reminders_sent == 1
    # the automatic plan continues after the moved reminder (3 days after sending)
    assert snap.next_reminder_at is not None and snap.next_reminder_at > now
    await ts.env.sleep(timedelta(days=15))
    # day 16: the original 14-day deadline has passed, the moved one has not
    assert (await snapshot(ts, tender)).status == TenderStatus.SENT
    assert await result_after(ts, tender, timedelta(days=5)) == TenderStatus.EXPIRED.value
    ended = row(ts, tender).ended_at
    assert ended is not None


async def test_link_opened_is_recorded_once(ts: Running) -> None:
    _, tender = await _sent(ts)
    for _ in range(2):
        await send_action(ts.client, tender, "link_opened", Action(action_id=new_action_id()))
    assert row(ts, tender).first_opened_at is not None
    with Session(ts.engine) as s:
        opened = s.exec(select(AuditEvent).where(col(AuditEvent.kind) == "link_opened")).all()
        assert len(opened) == 1 and opened[0].actor == Party.INSURER
    assert (await handle(ts, tender).describe()).status is not None

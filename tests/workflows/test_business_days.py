"""Business-day timing under time skipping, with the real local activity:
reminders at 09:00 German time on business days of the policyholder's
Bundesland, the deadline at the end of a business day, and no reminders while
the insurer's question waits for the backoffice's answer."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from tenderdesk.contracts import Action
from tenderdesk.db.models import SystemEmail
from tenderdesk.formats import BERLIN
from tenderdesk.states import TenderStatus
from tenderdesk.workdays import tender_dates
from web.tenders.service import ask_question, new_action_id, send_action

from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import row, snapshot, start, wait_status

DAY = 86400.0


def _reminders(run: Running) -> int:
    with Session(run.engine) as s:
        return len(s.exec(select(SystemEmail).where(SystemEmail.kind == "reminder")).all())


async def test_reminders_and_deadline_count_business_days(ts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(ts.engine, reminder_offsets_s=(3 * DAY, 7 * DAY), response_deadline_s=14 * DAY,
                       business_days=True, state="BY")
    [tender] = await start(ts, world)
    sent = await wait_status(ts, tender, TenderStatus.SENT)
    assert sent.sent_at is not None
    expected = tender_dates(sent.sent_at, [3 * DAY, 7 * DAY], 14 * DAY, "BY")
    assert sent.next_reminder_at == expected.reminders[0] and sent.deadline_at == expected.deadline_at
    local = sent.next_reminder_at.astimezone(BERLIN)
    assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5
    assert row(ts, tender).next_reminder_at == expected.reminders[0]  # the table shows the real date

    # Just before the first reminder nothing went out; just after, exactly one.
    await ts.env.sleep(expected.reminders[0] - sent.sent_at - timedelta(minutes=1))
    assert _reminders(ts) == 0
    await ts.env.sleep(timedelta(minutes=2))
    for _ in range(50):
        if (await snapshot(ts, tender)).reminders_sent == 1:
            break
        await ts.env.sleep(timedelta(seconds=1))
    snap = await snapshot(ts, tender)
    assert snap.reminders_sent == 1 and snap.next_reminder_at == expected.reminders[1]


async def test_reminders_pause_while_the_insurers_question_waits_for_us(
    ts: Running, smtp_server: SmtpServer
) -> None:
    world = make_world(ts.engine, reminder_offsets_s=(3 * DAY, 7 * DAY), response_deadline_s=30 * DAY)
    [tender] = await start(ts, world)
    sent = await wait_status(ts, tender, TenderStatus.SENT)
    await ask_question(ts.client, ts.engine, tender, body="Gibt es Vorschäden?")
    paused = await snapshot(ts, tender)
    assert paused.reminders_paused and paused.next_reminder_at is None
    assert row(ts, tender).reminders_paused

    await ts.env.sleep(timedelta(days=5))  # the first reminder's date passes while we owe the answer
    assert (await snapshot(ts, tender)).reminders_sent == 0

    # The backoffice answers in the insurer's thread (the web sends this update with its message).
    await send_action(ts.client, tender, "notify_insurer", Action(action_id=new_action_id()))
    resumed = await snapshot(ts, tender)
    assert not resumed.reminders_paused and resumed.reminders_sent == 0
    assert sent.sent_at is not None and resumed.next_reminder_at == sent.sent_at + timedelta(days=7)
    await ts.env.sleep(timedelta(days=2, hours=1))
    assert (await snapshot(ts, tender)).reminders_sent == 1

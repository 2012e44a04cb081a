"""History budget (issue 8): one tender with 200 questions, 30 reminders and an
offer edited 10 times stays far below Temporal's limits (51,200 events and
50 MB per history), with its state intact. Real dev server and worker, so each
action runs its projection and each reminder its SMTP delivery."""

from __future__ import annotations

from datetime import timedelta

from tenderdesk.contracts import Action
from tenderdesk.db.models import Party, utcnow
from tenderdesk.states import TenderStatus
from web.tenders.service import OfferTerms, ask_question, send_action, submit_offer

from ..conftest import Running, SmtpServer, eventually
from ..factories import make_world
from ..workflows.helpers import handle, snapshot, start, wait_status

QUESTIONS = 200
REMINDERS = 30
EDITS = 10
EVENT_LIMIT = 51_200
SIZE_LIMIT = 50 * 1024 * 1024


async def test_a_busy_tender_stays_far_under_the_history_limits(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine, tag="budget")
    [tender] = await start(dev, world)
    await wait_status(dev, tender, TenderStatus.SENT, timeout=20)
    for n in range(QUESTIONS):
        await ask_question(dev.client, dev.engine, tender, body=f"Rückfrage {n}")
    for n in range(REMINDERS):
        await send_action(dev.client, tender, "remind_now", Action(action_id=f"budget-remind-{n}"))
    for n in range(EDITS):
        terms = OfferTerms(premium_cents=100_000 + n, valid_until=utcnow() + timedelta(days=60))
        await submit_offer(dev.client, dev.engine, tender, terms, by=Party.INSURER, edit=n > 0)
    await eventually(lambda: len(smtp_server.capture.to(tender.contact_email)) >= 1 + REMINDERS or None, timeout=60)

    history = await handle(dev, tender).fetch_history()
    events = len(history.events)
    size = sum(event.ByteSize() for event in history.events)
    state = await snapshot(dev, tender)
    print(f"\nhistory budget: {QUESTIONS} questions, {REMINDERS} reminders, {EDITS} offer edits -> "
          f"{events} events ({events / EVENT_LIMIT:.1%} of {EVENT_LIMIT}), {size / 1024:.0f} KiB "
          f"({size / SIZE_LIMIT:.2%} of 50 MB)")
    assert events < EVENT_LIMIT / 5 and size < SIZE_LIMIT / 50
    assert state.status == TenderStatus.OFFERED and state.reminders_sent == REMINDERS
    assert state.offer_id is not None


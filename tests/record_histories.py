"""Re-record the TenderWorkflow histories that ``tests/test_replay.py`` replays.

Running tenders live for weeks, so every deployed version of ``TenderWorkflow``
must replay the histories its predecessors wrote. The files in
``tests/histories/`` are those predecessors' witnesses: record them once with
the code that is in production, commit them, and keep them when the workflow
changes. Re-record only on purpose (a new scenario, or after every old run
has finished), since re-recording with new code proves nothing about old runs.

Each scenario runs on the time-skipping test server with the real activities
(a throwaway SQLite database and a loopback SMTP server), so the histories are
the ones production writes, reminders and deadlines included.

Usage, from the repository root::

    .venv/bin/python -m tests.record_histories               # every scenario
    .venv/bin/python -m tests.record_histories declined      # only some
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import Settings
from tenderdesk.contracts import Action, CloseAction, RescheduleAction
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.db.models import Party, Tender
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.tenders.service import OfferTerms, ask_question, decline, send_action, submit_offer
from worker import build_worker

from .conftest import BIN, Running, SmtpCapture, SmtpServer, free_port, register_search_attributes
from .factories import make_world
from .workflows.helpers import handle, result_after, snapshot, start, wait_status

HISTORIES = Path(__file__).resolve().parent / "histories"
DAY = timedelta(days=1)

Scenario = Callable[[Running, SmtpServer], Awaitable[Tender]]


# ----------------------------------------------------------------- scenarios
async def _sent(run: Running) -> Tender:
    world = make_world(run.engine, reminder_offsets_s=(3 * 86400.0, 7 * 86400.0),
                       response_deadline_s=14 * 86400.0)
    [tender] = await start(run, world)
    await wait_status(run, tender, TenderStatus.SENT)
    return tender


async def _offer(run: Running, tender: Tender, days: int, *, edit: bool = False) -> None:
    now = await run.env.get_current_time()
    await submit_offer(run.client, run.engine, tender,
                       OfferTerms(premium_cents=120_000, valid_until=now + days * DAY),
                       by=Party.BACKOFFICE if edit else Party.INSURER, edit=edit)


async def reminders_then_expired(run: Running, smtp: SmtpServer) -> Tender:
    """Both automatic reminders, then the response deadline ends the tender."""
    tender = await _sent(run)
    await run.env.sleep(3 * DAY + timedelta(hours=1))
    await run.env.sleep(4 * DAY)
    assert await result_after(run, tender, 7 * DAY) == TenderStatus.EXPIRED
    return tender


async def offered_then_offer_expired_then_edited(run: Running, smtp: SmtpServer) -> Tender:
    """Offer validity timer fires; an edit restarts it; closing sends "not selected"."""
    tender = await _sent(run)
    await _offer(run, tender, 30)
    await run.env.sleep(31 * DAY)
    assert (await snapshot(run, tender)).status == TenderStatus.OFFER_EXPIRED
    await _offer(run, tender, 10, edit=True)
    await send_action(run.client, tender, "close", CloseAction(action_id=new_action_id()))
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.CLOSED
    return tender


async def declined(run: Running, smtp: SmtpServer) -> Tender:
    """Link opened, a question (in progress), then the insurer declines."""
    tender = await _sent(run)
    await send_action(run.client, tender, "link_opened", Action(action_id=new_action_id()))
    await ask_question(run.client, run.engine, tender, body="Gibt es Vorschäden?")
    await decline(run.client, run.engine, tender, reason="Kein Zeichnungsinteresse.")
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.DECLINED
    return tender


async def withdrawn(run: Running, smtp: SmtpServer) -> Tender:
    """Backoffice marks in progress, reschedules, reminds by hand, then withdraws."""
    tender = await _sent(run)
    await send_action(run.client, tender, "mark_in_progress", Action(action_id=new_action_id()))
    now = await run.env.get_current_time()
    await send_action(run.client, tender, "reschedule", RescheduleAction(
        action_id=new_action_id(), deadline_at=now + 20 * DAY, next_reminder_at=now + DAY))
    await send_action(run.client, tender, "remind_now", Action(action_id=new_action_id()))
    await run.env.sleep(DAY + timedelta(hours=1))
    assert (await snapshot(run, tender)).reminders_sent == 2
    await send_action(run.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.WITHDRAWN
    return tender


async def closed_won(run: Running, smtp: SmtpServer) -> Tender:
    """An offer is chosen: closing as won sends the cover order."""
    tender = await _sent(run)
    await _offer(run, tender, 30)
    await send_action(run.client, tender, "close", CloseAction(action_id=new_action_id(), won=True))
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.CLOSED
    return tender


async def delivery_failed_then_resent(run: Running, smtp: SmtpServer) -> Tender:
    """550 for the tender email, "erneut versenden" (remind_now) sends seq 2."""
    smtp.capture.script("550 5.1.1 Mailbox unavailable")
    world = make_world(run.engine)
    [tender] = await start(run, world)
    for _ in range(200):
        if (await snapshot(run, tender)).delivery_failed:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the 550 never reached the workflow")
    await send_action(run.client, tender, "remind_now", Action(action_id=new_action_id()))
    await wait_status(run, tender, TenderStatus.SENT)
    await send_action(run.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.WITHDRAWN
    return tender


async def business_days_question_answered_withdrawn(run: Running, smtp: SmtpServer) -> Tender:
    """Patches business-days-1 and withdrawn-mail-1: dates from the tender_dates
    local activity, reminders paused by a question until the backoffice answers,
    an offer, then a withdrawal that emails the insurer."""
    world = make_world(run.engine, reminder_offsets_s=(3 * 86400.0, 7 * 86400.0), response_deadline_s=30 * 86400.0,
                       business_days=True, state="HH")
    [tender] = await start(run, world)
    await wait_status(run, tender, TenderStatus.SENT)
    await ask_question(run.client, run.engine, tender, body="Gibt es Vorschäden?")
    await run.env.sleep(5 * DAY)
    await send_action(run.client, tender, "notify_insurer", Action(action_id=new_action_id()))
    await run.env.sleep(12 * DAY)
    await _offer(run, tender, 30)
    await send_action(run.client, tender, "withdraw", Action(action_id=new_action_id()))
    assert await result_after(run, tender, timedelta(0)) == TenderStatus.WITHDRAWN
    return tender


SCENARIOS: dict[str, Scenario] = {
    fn.__name__: fn
    for fn in (reminders_then_expired, offered_then_offer_expired_then_edited, declined,
               withdrawn, closed_won, delivery_failed_then_resent, business_days_question_answered_withdrawn)
}


# ------------------------------------------------------------------ running
async def record(name: str, env: WorkflowEnvironment, smtp: SmtpServer, tmp: Path) -> WorkflowHistory:
    """Run one scenario on a fresh database and worker; return the workflow's history."""
    db_url = f"sqlite:///{tmp / f'{name}.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    task_queue = f"record-{name}"
    settings = Settings(
        database_url=db_url, smtp_host=smtp.host, smtp_port=smtp.port,
        storage_dir=tmp / "documents", base_url="http://testserver", secret_key="record",
        temporal_task_queue=task_queue, workflow_id_prefix=task_queue,
        _env_file=None,  # type: ignore[call-arg]
    )
    smtp.capture.reset()
    try:
        async with build_worker(env.client, engine, settings, task_queue=task_queue):
            run = Running(env.client, task_queue, engine, settings, env)
            tender = await SCENARIOS[name](run, smtp)
            return await handle(run, tender).fetch_history()
    finally:
        engine.dispose()


def write(history: WorkflowHistory, path: Path) -> None:
    """One event per line: small, and a re-recording shows up as a readable diff."""
    events = history.to_json_dict()["events"]
    lines = ",\n".join(json.dumps(event, separators=(",", ":")) for event in events)
    path.write_text('{"events":[\n' + lines + "\n]}\n", encoding="utf-8")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.record_histories", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[[], *SCENARIOS], metavar="scenario",
                        help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--out", type=Path, default=HISTORIES)
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(SCENARIOS)
    args.out.mkdir(parents=True, exist_ok=True)

    capture = SmtpCapture()
    smtp = SmtpServer("127.0.0.1", free_port(), capture)
    controller = Controller(capture, hostname=smtp.host, port=smtp.port)
    controller.start()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), port=free_port())
    try:
        await register_search_attributes(env.client)
        with tempfile.TemporaryDirectory(prefix="tenderdesk-record-") as tmp:
            for name in names:
                history = await record(name, env, smtp, Path(tmp))
                path = args.out / f"{name}.json"
                write(history, path)
                print(f"{path}: {len(history.events)} events, {path.stat().st_size} bytes")
    finally:
        await env.shutdown()
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

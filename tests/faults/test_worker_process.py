"""The worker as a real process under faults (issue 8, "Fault tests with figures").

- kill -9 at random moments while tenders fan out, restarted each time:
  every tender reaches "sent"; an email may go out twice only inside the window
  between SMTP's final reply and the row being marked, and then with the same
  Message-ID;
- SIGTERM start/stop cycles: exit code 0 every time, no "Fatal Python error",
  and the tenders started around each stop are all sent afterwards.

Counts are scaled to the CI budget (RELIABILITY.md gives the figures and the
larger runs of ``benchmarks/faults.py``)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from sqlmodel import Session, col, func, select
from temporalio.testing import WorkflowEnvironment

from tenderdesk.db.models import Tender
from tenderdesk.states import TenderStatus
from web.tenders.start import start_tenders

from ..conftest import SmtpServer, eventually
from ..factories import World, make_world
from .conftest import FaultStack

ROUNDS = 4
INSURERS = 6
CYCLES = 10


async def fan_out(dev_env: WorkflowEnvironment, stack: FaultStack, world: World) -> None:
    outcome = await start_tenders(
        client=dev_env.client, engine=stack.engine, task_queue=stack.task_queue, request_id=world.request_id,
        insurer_ids=world.insurer_ids, actor_user_id=None, id_prefix=stack.settings.workflow_id_prefix,
    )
    assert len(outcome.started) == len(world.insurer_ids), outcome.refused


def sent(stack: FaultStack, worlds: list[World]) -> int:
    with Session(stack.engine) as s:
        return int(s.exec(select(func.count()).select_from(Tender)
                          .where(col(Tender.request_id).in_([w.request_id for w in worlds]))
                          .where(col(Tender.status) == TenderStatus.SENT)).one())


def tender_mails(smtp: SmtpServer, tag: str) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of every tender email of worlds tagged ``tag``."""
    return [(str(m["To"]), str(m["Message-ID"])) for m in smtp.capture.messages
            if f"{tag}" in str(m["To"]) and "Ausschreibung" in str(m["Subject"])]


async def test_worker_killed_during_fan_outs_loses_no_tender(
    dev_env: WorkflowEnvironment, stack: FaultStack, smtp_server: SmtpServer
) -> None:
    rng = random.Random(8)
    tag = f"kill{stack.task_queue[-6:]}"
    stack.worker.start()
    worlds = []
    for n in range(ROUNDS):
        world = make_world(stack.engine, insurers=INSURERS, tag=f"{tag}r{n}")
        worlds.append(world)
        await fan_out(dev_env, stack, world)
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        stack.worker.kill9()
        stack.worker.start()
    total = ROUNDS * INSURERS
    await eventually(lambda: sent(stack, worlds) == total or None, timeout=90)

    mails = tender_mails(smtp_server, tag)
    per_recipient = Counter(to for to, _ in mails)
    ids_per_recipient = {to: {mid for t, mid in mails if t == to} for to in per_recipient}
    duplicates = sum(n - 1 for n in per_recipient.values())
    print(f"\nworker kill -9: {ROUNDS} kills during {ROUNDS} fan-outs of {INSURERS}; {total} tenders, "
          f"{sent(stack, worlds)} sent, {len(mails)} tender emails, {duplicates} duplicates")
    assert len(per_recipient) == total  # every tender's email arrived
    assert all(len(ids) == 1 for ids in ids_per_recipient.values())  # a duplicate carries the same Message-ID


async def test_sigterm_cycles_exit_cleanly_and_lose_no_activity(
    dev_env: WorkflowEnvironment, stack: FaultStack, smtp_server: SmtpServer
) -> None:
    tag = f"term{stack.task_queue[-6:]}"
    worlds = []
    codes = []
    for n in range(CYCLES):
        stack.worker.start()
        world = make_world(stack.engine, insurers=2, tag=f"{tag}c{n}")
        worlds.append(world)
        await fan_out(dev_env, stack, world)
        codes.append(await asyncio.to_thread(stack.worker.terminate))
    stack.worker.start()
    await eventually(lambda: sent(stack, worlds) == 2 * CYCLES or None, timeout=90)
    output = stack.worker.output()
    print(f"\nSIGTERM: {CYCLES} cycles, exit codes {Counter(codes)}, "
          f"{sent(stack, worlds)}/{2 * CYCLES} tenders sent afterwards")
    assert codes == [0] * CYCLES
    assert "Fatal Python error" not in output and "Traceback" not in output

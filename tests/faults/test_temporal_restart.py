"""Temporal dev server restart mid-run (issue 8): a server of this test's own on
its database file, stopped while tenders wait on their reminder timers and
started again on the same file and port. While it is down the web answers
"vorübergehend nicht erreichbar", never a 500; afterwards every workflow
resumes and the reminders that fell due meanwhile go out within a minute."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tenderdesk.db.models import User
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core.sessions import cookie_name, start_session

from ..conftest import BIN, DEV_SERVER_TUNING, SEARCH_ATTRIBUTES, Running, SmtpServer, eventually, free_port
from ..factories import make_world
from ..web.test_messages_ui import one_form
from ..workflows.helpers import snapshot, start
from .conftest import FaultStack, fault_stack
from .test_worker_process import sent

TENDERS = 4
REMINDER_AFTER_S = 8.0


async def dev_server(port: int, db_file: Path) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), search_attributes=SEARCH_ATTRIBUTES, ip="127.0.0.1",
        port=port, ui=False, dev_server_log_level="error", dev_server_database_filename=str(db_file),
        dev_server_extra_args=DEV_SERVER_TUNING,
    )


@pytest.fixture
async def own_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path, list[WorkflowEnvironment]]]:
    port, db_file = free_port(), tmp_path / "temporal.db"
    envs = [await dev_server(port, db_file)]
    try:
        yield port, db_file, envs
    finally:
        for env in envs:
            await env.shutdown()


async def test_a_temporal_restart_loses_nothing_and_due_timers_fire(
    own_server: tuple[int, Path, list[WorkflowEnvironment]], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    port, db_file, envs = own_server
    address = f"127.0.0.1:{port}"
    for stack in fault_stack(address, tmp_path, smtp_server):
        await run_restart(stack, envs, port, db_file, address, smtp_server)


async def run_restart(stack: FaultStack, envs: list[WorkflowEnvironment], port: int, db_file: Path, address: str,
                      smtp: SmtpServer) -> None:
    stack.worker.start()
    world = make_world(stack.engine, insurers=TENDERS, tag=f"restart{port}", reminder_offsets_s=(REMINDER_AFTER_S,))
    client = await Client.connect(address)
    run = Running(client, stack.task_queue, stack.engine, stack.settings, envs[0])
    tenders = await start(run, world, TENDERS)
    await eventually(lambda: sent(stack, [world]) == TENDERS or None, timeout=30)

    app = create_app(stack.settings, stack.engine, temporal_client_factory=lambda: client)
    with Session(stack.engine) as s:
        user = s.get(User, world.backoffice_user_id)
        assert user is not None
        token, _ = start_session(s, stack.settings, user)
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    web.cookies.set(cookie_name(stack.settings), token)
    page = (await web.get(f"/requests/{world.request_id}")).text

    await envs.pop().shutdown()
    down_at = time.monotonic()
    answers = []
    for tender in tenders[:2]:
        form = one_form(page, f"/tenders/{tender.id}/actions/mark_in_progress")
        answers.append(await web.post(form.action, data=form.fields, follow_redirects=True))
    listed = await web.get("/")
    await asyncio.sleep(max(0.0, REMINDER_AFTER_S + 2 - (time.monotonic() - down_at)))
    envs.append(await dev_server(port, db_file))
    back_at = time.monotonic()

    def reminded() -> bool:
        return all(len(smtp.capture.to(t.contact_email)) >= 2 for t in tenders)

    await eventually(lambda: reminded() or None, timeout=60)
    late = time.monotonic() - back_at
    print(f"\nTemporal restart: down {back_at - down_at:.1f} s with {TENDERS} tenders on timers; "
          f"all {TENDERS} due reminders sent {late:.1f} s after the restart; web answers while down: "
          f"{[a.status_code for a in answers]}, dashboard {listed.status_code}")
    assert all(a.status_code != 500 and "vorübergehend nicht erreichbar" in a.text for a in answers)
    assert listed.status_code == 200
    assert late < 60
    for tender in tenders:  # every workflow answers again, with its state
        state = await snapshot(run, tender)
        assert state.status in (TenderStatus.SENT, TenderStatus.IN_PROGRESS) and state.reminders_sent == 1
    await web.aclose()

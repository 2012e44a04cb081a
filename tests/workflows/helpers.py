"""Helpers for driving tender workflows in tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select
from temporalio.client import WorkflowHandle

from tenderdesk.contracts import TenderSnapshot
from tenderdesk.db.models import Tender
from tenderdesk.states import TenderStatus
from web.tenders.start import start_tenders

from ..conftest import Running
from ..factories import World


async def start(run: Running, world: World, n: int = 1) -> list[Tender]:
    outcome = await start_tenders(
        client=run.client, engine=run.engine, task_queue=run.task_queue,
        request_id=world.request_id, insurer_ids=world.insurer_ids[:n],
        actor_user_id=world.backoffice_user_id, id_prefix=run.settings.workflow_id_prefix,
    )
    assert not outcome.refused, outcome.refused
    return outcome.started


def handle(run: Running, tender: Tender) -> WorkflowHandle[Any, Any]:
    return run.client.get_workflow_handle(tender.workflow_id)


async def snapshot(run: Running, tender: Tender) -> TenderSnapshot:
    return await handle(run, tender).query("snapshot", result_type=TenderSnapshot)


async def wait_status(run: Running, tender: Tender, status: TenderStatus, timeout: float = 10) -> TenderSnapshot:
    """Poll the query (no time skipping happens while we poll)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        snap = await snapshot(run, tender)
        if snap.status == status:
            return snap
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"status {snap.status}, expected {status}")
        await asyncio.sleep(0.05)


def row(run: Running, tender: Tender) -> Tender:
    with Session(run.engine) as s:
        t = s.exec(select(Tender).where(Tender.id == tender.id)).one()
        return t


async def result_after(run: Running, tender: Tender, skip: timedelta) -> str:
    """Skip ``skip`` of virtual time, then read the (finished) workflow's result.

    The V1 test server's automatic skipping inside ``result()`` does not advance
    here, so tests skip explicitly; that also pins down *when* things happen."""
    await run.env.sleep(skip)
    return str(await asyncio.wait_for(handle(run, tender).result(), timeout=10))

"""SMTP down (issue 8): tenders started while the mail server refuses
connections lose nothing, and the backlog goes out shortly after it returns
(scaled: 10 s down here; the retry backoff is 2, 4, 8, 16 … s, so a longer
outage waits at most one backoff step longer). 451 and 550 are covered by
tests/activities/test_email.py and tests/workflows/test_durable_edges.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import Settings

from ..conftest import Running, SmtpCapture, _running, eventually, free_port
from ..factories import make_world
from ..workflows.helpers import start
from .test_worker_process import sent

TENDERS = 5
DOWN_S = 10.0


@pytest.fixture
async def late_smtp(dev_env: WorkflowEnvironment, sqlite_engine: Engine, sqlite_settings: Settings,
                    tmp_path: Path) -> AsyncIterator[tuple[Running, int]]:
    port = free_port()
    sqlite_settings.smtp_port = port  # nothing listens there yet
    async for running in _running(dev_env, sqlite_engine, sqlite_settings):
        yield running, port


async def test_mail_server_down_loses_nothing_and_the_backlog_goes_out(late_smtp: tuple[Running, int]) -> None:
    run, port = late_smtp
    world = make_world(run.engine, insurers=TENDERS, tag="outage")
    down_at = time.monotonic()
    await start(run, world, TENDERS)
    await asyncio.sleep(DOWN_S)
    assert sent(run, [world]) == 0  # type: ignore[arg-type]
    capture = SmtpCapture()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    back_at = time.monotonic()
    try:
        await eventually(lambda: sent(run, [world]) == TENDERS or None, timeout=60)  # type: ignore[arg-type]
        after = time.monotonic() - back_at
        print(f"\nSMTP outage: down {back_at - down_at:.0f} s with {TENDERS} tender emails queued; "
              f"all delivered {after:.1f} s after it returned; {len(capture.messages)} emails")
        assert len(capture.messages) == TENDERS
        assert len({m["Message-ID"] for m in capture.messages}) == TENDERS
    finally:
        controller.stop()

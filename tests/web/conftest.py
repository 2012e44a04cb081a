"""Fixtures for the web layer: the real app on a seeded SQLite copy, over HTTP.

The demo data (``tenderdesk.demo.seed.seed_demo``) is created once per test session
in a template database and copied per test, because seeding renders PDFs.

``http`` serves the app with Temporal down (a client factory that connects to
a closed loopback port): lists, detail pages and form validation read and
write the database only. ``dev_http`` serves the same seeded copy with the
session's real Temporal dev server and a worker running the real activities
(loopback SMTP included), for tests that check what an action really did:
the projected status, audit events, emails and the workflow's history.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate, session_scope
from tenderdesk.db.models import (
    Account,
    Insurer,
    InsurerContact,
    Request,
    Tender,
    TenderLink,
    User,
    utcnow,
)
from tenderdesk.demo.seed import seed_demo
from tenderdesk.security.tokens import hash_token, new_token
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core.temporal import TemporalClientFactory
from web.tenders.start import start_tenders

from ..conftest import Running, SmtpServer, _running
from ..conftest import eventually as eventually  # re-exported for the web tests

T = TypeVar("T")

BASE_URL = "http://testserver"
#: Small, so the oversized-upload tests need no big bodies.
MAX_UPLOAD = 200 * 1024
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORDS = {"backoffice": "Elbe-Demo-2026!", "broker": "Elbe-Demo-2026!", "admin": "Elbe-Admin-2026!"}
MAIN_BACKOFFICE = "anna.berger@tenderdesk.example"
OTHER_BACKOFFICE = "jonas.keller@tenderdesk.example"
SECOND_ACCOUNT_USER = "lena.gruber@tenderdesk.example"
BROKER_USER = "thomas.meier@example.com"
OTHER_BROKER_USER = "sabine.wolff@example.com"


# ----------------------------------------------------------------- database
@dataclass
class Template:
    db_file: Path
    storage_dir: Path


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    root = tmp_path_factory.mktemp("web-template")
    settings = Settings(
        database_url=f"sqlite:///{root / 'template.db'}",
        storage_dir=root / "documents",
        _env_file=None,  # type: ignore[call-arg]
    )
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_demo(engine, settings, requests=8)
    engine.dispose()  # closes the WAL, so the file alone is the whole database
    return Template(root / "template.db", root / "documents")


@pytest.fixture
def web_settings(seeded_template: Template, tmp_path: Path) -> Settings:
    db_file = tmp_path / "web.db"
    shutil.copyfile(seeded_template.db_file, db_file)
    shutil.copytree(seeded_template.storage_dir, tmp_path / "documents")
    return Settings(
        database_url=f"sqlite:///{db_file}",
        storage_dir=tmp_path / "documents",
        base_url=BASE_URL,
        secret_key="test-secret",
        max_upload_bytes=MAX_UPLOAD,
        temporal_ui_url="http://temporal-ui.test",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def web_engine(web_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(web_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def closed_temporal_address() -> Iterator[str]:
    """A loopback port that refuses connections for the whole session: bound,
    never listening, so no other process can take it over."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def no_temporal(closed_temporal_address: str) -> TemporalClientFactory:
    """The real client factory of a web process whose Temporal is down."""

    async def connect() -> Client:
        return await Client.connect(closed_temporal_address)

    return connect


@pytest.fixture
def web_app(web_settings: Settings, web_engine: Engine, no_temporal: TemporalClientFactory) -> FastAPI:
    return create_app(web_settings, web_engine, temporal_client_factory=no_temporal)


@pytest.fixture
async def http(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(web_app) as client:
        yield client


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


# ----------------------------------------------------------------- real Temporal
@pytest.fixture
async def web_dev(
    dev_env: WorkflowEnvironment, web_settings: Settings, web_engine: Engine, smtp_server: SmtpServer
) -> AsyncIterator[Running]:
    """A worker with the real activities on the dev server, on the seeded SQLite
    copy. SQLite only: these tests check the web layer's use of Temporal; both
    backends are covered by the ``dev`` tests (end to end, messages, offers)."""
    web_settings.smtp_host = smtp_server.host
    web_settings.smtp_port = smtp_server.port
    async for running in _running(dev_env, web_engine, web_settings):
        yield running


@pytest.fixture
def dev_app(web_dev: Running) -> FastAPI:
    return create_app(web_dev.settings, web_dev.engine, temporal_client_factory=lambda: web_dev.client)


@pytest.fixture
async def dev_http(dev_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(dev_app) as client:
        yield client


def tender_row(engine: Engine, tender_id: int | None) -> Tender:
    with Session(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender


async def started_tender(
    run: Running, request: Request, *, insurer_skip: int = 0, status: TenderStatus = TenderStatus.SENT
) -> Tender:
    """A tender started the way the web starts it (``web.tenders.start.start_tenders``),
    once the worker has projected ``status`` (by default: the email went out)."""
    insurer = tenderable_insurer(run.engine, request, skip=insurer_skip)
    outcome = await start_tenders(
        client=run.client, engine=run.engine, task_queue=run.task_queue,
        request_id=request.id,  # type: ignore[arg-type]
        insurer_ids=[insurer.id],  # type: ignore[list-item]
        actor_user_id=user_by_email(run.engine, MAIN_BACKOFFICE).id,
        id_prefix=run.settings.workflow_id_prefix,
    )
    assert not outcome.refused, outcome.refused
    [tender] = outcome.started

    def projected() -> Tender | None:
        row = tender_row(run.engine, tender.id)
        return row if row.status == status else None

    return await eventually(projected)


@dataclass
class AcceptedUpdate:
    """One update the workflow accepted, as its history records it."""

    name: str
    update_id: str
    arg: dict[str, Any]


async def accepted_updates(run: Running, workflow_id: str) -> list[AcceptedUpdate]:
    """Every update the workflow accepted, oldest first. Temporal records the
    name, the update ID and the argument, so this is exactly what the web sent."""
    history = await run.client.get_workflow_handle(workflow_id).fetch_history()
    found = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            [payload] = request.input.args.payloads
            found.append(AcceptedUpdate(request.input.name, request.meta.update_id, json.loads(payload.data)))
    return found


# ----------------------------------------------------------------- helpers
def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str | None = None) -> httpx.Response:
    page = await client.get("/login")
    role = "admin" if email.startswith("admin@") else "backoffice"
    return await client.post(
        "/login",
        data={
            "email": email,
            "password": password if password is not None else PASSWORDS[role],
            "csrf_token": csrf_from(page.text),
            "next": "/",
        },
    )


async def logged_in(client: httpx.AsyncClient, email: str) -> str:
    """Log in and return the session's CSRF token (from the dashboard's logout form)."""
    response = await login(client, email)
    assert response.status_code == 303, response.text
    page = await client.get("/")
    assert page.status_code == 200
    return csrf_from(page.text)


def user_by_email(engine: Engine, email: str) -> User:
    with Session(engine) as s:
        return s.exec(select(User).where(User.email == email)).one()


def account_requests(engine: Engine, account_id: int) -> list[Request]:
    with Session(engine) as s:
        return list(s.exec(select(Request).where(Request.account_id == account_id)).all())


def main_account_id(engine: Engine) -> int:
    return user_by_email(engine, MAIN_BACKOFFICE).account_id


def first_request(engine: Engine, account_id: int | None = None) -> Request:
    account_id = account_id or main_account_id(engine)
    return sorted(account_requests(engine, account_id), key=lambda r: r.id or 0)[0]


def tenderable_insurer(engine: Engine, request: Request, *, skip: int = 0) -> Insurer:
    """A reachable insurer with a contact for the request's product."""
    with Session(engine) as s:
        rows = s.exec(
            select(Insurer)
            .join(InsurerContact, InsurerContact.insurer_id == Insurer.id)  # type: ignore[arg-type]
            .where(InsurerContact.product_id == request.product_id)
            .where(Insurer.reachable == True)  # noqa: E712
            .order_by(Insurer.id)  # type: ignore[arg-type]
        ).all()
        return rows[skip]


@dataclass
class LinkedTender:
    tender_id: int
    request_id: int
    token: str


def make_linked_tender(
    engine: Engine,
    request: Request,
    *,
    status: TenderStatus = TenderStatus.SENT,
    insurer_skip: int = 0,
    expires_in: timedelta = timedelta(days=30),
    revoked: bool = False,
    opened: bool = False,
) -> LinkedTender:
    """A tender row and its link as the worker would have projected them."""
    insurer = tenderable_insurer(engine, request, skip=insurer_skip)
    token = new_token()
    now = utcnow()
    with session_scope(engine) as s:
        contact = s.exec(
            select(InsurerContact)
            .where(InsurerContact.insurer_id == insurer.id)
            .where(InsurerContact.product_id == request.product_id)
        ).one()
        tender = Tender(
            request_id=request.id,  # type: ignore[arg-type]
            insurer_id=insurer.id,  # type: ignore[arg-type]
            contact_email=contact.email,
            workflow_id=f"tender-r{request.id}-i{insurer.id}",
            status=status,
            sent_at=now - timedelta(days=1),
            deadline_at=now + timedelta(days=13),
            first_opened_at=now if opened else None,
        )
        s.add(tender)
        s.flush()
        s.add(
            TenderLink(
                tender_id=tender.id,  # type: ignore[arg-type]
                token_hash=hash_token(token),
                expires_at=now + expires_in,
                revoked_at=now if revoked else None,
            )
        )
        s.flush()
        assert tender.id is not None
        return LinkedTender(tender.id, request.id, token)  # type: ignore[arg-type]


def account_of(engine: Engine, account_id: int) -> Account:
    with Session(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        return account


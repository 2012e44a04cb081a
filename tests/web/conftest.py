"""Fixtures for the web layer: the real app on a seeded SQLite copy, over HTTP.

The demo data (``tenderdesk.seed.seed_demo``) is created once per test session
in a template database and copied per test, because seeding hashes seven
passwords with Argon2 and renders PDFs. Tests that do not need a Temporal
server get :class:`FakeTemporal`, which records the starts and updates the web
layer sends; the end-to-end tests use the root ``dev`` fixture instead.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from tenderdesk.contracts import ActionResult
from tenderdesk.db import make_engine, migrate, session_scope
from tenderdesk.models import (
    Account,
    Insurer,
    InsurerContact,
    Request,
    Tender,
    TenderLink,
    User,
    utcnow,
)
from tenderdesk.seed import seed_demo
from tenderdesk.settings import Settings
from tenderdesk.states import TenderStatus
from tenderdesk.tokens import hash_token, new_token
from web.app import create_app

BASE_URL = "http://testserver"
#: Small, so the oversized-upload tests need no big bodies.
MAX_UPLOAD = 200 * 1024
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORDS = {"backoffice": "demo1234!", "broker": "demo1234!", "admin": "admin1234!"}
MAIN_BACKOFFICE = "anna.berger@tenderdesk.example"
OTHER_BACKOFFICE = "jonas.keller@tenderdesk.example"
SECOND_ACCOUNT_USER = "lena.gruber@tenderdesk.example"
BROKER_USER = "thomas.meier@example.com"
OTHER_BROKER_USER = "sabine.wolff@example.com"


# ----------------------------------------------------------------- fake Temporal
@dataclass
class FakeTemporal:
    """Stands in for ``temporalio.client.Client``: records what the web sends."""

    updates: list[tuple[str, str, Any, str]] = field(default_factory=list)
    starts: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)
    fail_with: Exception | None = None
    status: TenderStatus = TenderStatus.SENT
    _seen: set[str] = field(default_factory=set)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    async def start_workflow(self, workflow: str, arg: Any, **kwargs: Any) -> None:
        self.starts.append((workflow, arg, kwargs))

    def names(self) -> list[str]:
        return [update for _, update, _, _ in self.updates]


@dataclass
class FakeHandle:
    client: FakeTemporal
    workflow_id: str

    async def execute_update(
        self, update: str, arg: Any, *, id: str, result_type: Any = None
    ) -> ActionResult:
        self.client.updates.append((self.workflow_id, update, arg, id))
        if self.client.fail_with is not None:
            raise self.client.fail_with
        first = id not in self.client._seen
        self.client._seen.add(id)
        return ActionResult(status=self.client.status, changed=first, message_de=f"OK: {update}")


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


@pytest.fixture
def fake_temporal() -> FakeTemporal:
    return FakeTemporal()


@pytest.fixture
def web_app(web_settings: Settings, web_engine: Engine, fake_temporal: FakeTemporal) -> FastAPI:
    client = cast(Client, fake_temporal)  # duck-typed: only what web/ calls
    return create_app(web_settings, web_engine, temporal_client_factory=lambda: client)


@pytest.fixture
async def http(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(web_app) as client:
        yield client


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


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


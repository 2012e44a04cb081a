"""Fixtures for the messaging module: a cast of users around one request, and
helpers to read what the real Temporal server and SMTP server received.

Tests that notify anyone run on ``dev`` (the real dev server with a worker
running the real activities, on SQLite and PostgreSQL): a notice is a real
NotificationWorkflow and a real email on the loopback SMTP server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Broker,
    EmailStatus,
    Message,
    Party,
    Policyholder,
    Request,
    Role,
    SystemEmail,
    Tender,
    User,
)
from tenderdesk.states import TenderStatus
from web.messages.threads import insurer_thread_id

from ..conftest import Running, SmtpServer
from ..factories import World, make_world


@dataclass
class Cast:
    """One request (``request_id``) of broker Erika, seen by everyone who matters."""

    world: World
    backoffice: User
    colleague: User
    broker: User
    #: Another broker of the same account, with a request of his own.
    other_broker: User
    other_request_id: int
    #: Backoffice of another account.
    stranger: User

    @property
    def request_id(self) -> int:
        return self.world.request_id


def make_cast(engine: Engine, tag: str = "") -> Cast:
    world = make_world(engine, tag=tag)
    with session_scope(engine) as s:
        request = s.get(Request, world.request_id)
        assert request is not None
        backoffice = s.get(User, world.backoffice_user_id)
        assert backoffice is not None
        colleague = User(account_id=world.account_id, email=f"jonas{tag}@test.example", name="Jonas Kollege",
                         role=Role.BACKOFFICE, password_hash="x")
        broker = User(account_id=world.account_id, email=f"erika.login{tag}@makler.example", name="Erika Muster",
                      role=Role.BROKER, broker_id=request.broker_id, password_hash="x")
        other = Broker(account_id=world.account_id, name="Otto Anders", company="Anders Assekuranz",
                       email=f"otto{tag}@anders.example")
        s.add_all([colleague, broker, other])
        s.flush()
        other_broker = User(account_id=world.account_id, email=f"otto.login{tag}@anders.example", name="Otto Anders",
                            role=Role.BROKER, broker_id=other.id, password_hash="x")
        holder = Policyholder(account_id=world.account_id, name="Bäckerei Korn")
        s.add_all([other_broker, holder])
        s.flush()
        other_request = Request(
            number=f"MA-TEST{tag}-00002", account_id=world.account_id, broker_id=other.id,  # type: ignore[arg-type]
            policyholder_id=holder.id, product_id=world.product_id, trade="Bäckerei",  # type: ignore[arg-type]
        )
        foreign = Account(name=f"Fremdpool{tag}")
        s.add_all([other_request, foreign])
        s.flush()
        stranger = User(account_id=foreign.id, email=f"fremd{tag}@fremd.example", name="Fremde Person",  # type: ignore[arg-type]
                        role=Role.BACKOFFICE, password_hash="x")
        s.add(stranger)
        s.flush()
        return Cast(world, backoffice, colleague, broker, other_broker, other_request.id, stranger)  # type: ignore[arg-type]


@pytest.fixture
def cast(engine: Engine) -> Cast:
    return make_cast(engine)


def add_tenders(engine: Engine, cast: Cast, n: int = 2, status: TenderStatus = TenderStatus.SENT) -> list[Tender]:
    """Tender rows as the projection would have them, each with its insurer thread,
    but no workflow behind them: for tests whose tenders never reach Temporal
    (reading threads, read state, refusals). Anything sent to a tender needs
    a real one (``tests.workflows.helpers.start``)."""
    tenders = []
    with session_scope(engine) as s:
        for insurer_id in cast.world.insurer_ids[:n]:
            tender = Tender(request_id=cast.request_id, insurer_id=insurer_id, contact_email=f"i{insurer_id}@x.example",
                            workflow_id=f"unstarted-{cast.request_id}-{insurer_id}", status=status)
            s.add(tender)
            s.flush()
            tenders.append(tender)
    for tender in tenders:
        insurer_thread_id(engine, tender.id)  # type: ignore[arg-type]
    return tenders


def insurer_says(engine: Engine, tender: Tender, body: str, document_id: int | None = None) -> Message:
    """An insurer question as the workflow's projection leaves it: visible, unprocessed."""
    thread_id = insurer_thread_id(engine, tender.id)  # type: ignore[arg-type]
    with session_scope(engine) as s:
        message = Message(thread_id=thread_id, request_id=tender.request_id, action_id=f"q-{body}-{thread_id}",
                          author=Party.INSURER, body=body, visible=True, document_id=document_id)
        s.add(message)
        s.flush()
        return message


def assign(engine: Engine, request_id: int, user: User | None) -> None:
    with session_scope(engine) as s:
        request = s.get(Request, request_id)
        assert request is not None
        request.assignee_id = user.id if user else None
        s.add(request)


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.storage_dir)
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts]


class _HasId(Protocol):
    id: int | None


def pk(row: _HasId) -> int:
    """The primary key of a flushed row (typed as int)."""
    assert row.id is not None
    return row.id


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return len(s.exec(select(model)).all())


async def mails_to(smtp: SmtpServer, address: str, n: int, timeout: float = 15) -> list[EmailMessage]:
    """Wait until ``n`` emails to ``address`` reached the SMTP server (delivery is a workflow)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        mails = smtp.capture.to(address)
        if len(mails) >= n:
            return mails
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(mails)} emails to {address}, expected {n}")
        await asyncio.sleep(0.05)


async def all_sent(engine: Engine, n: int, timeout: float = 15) -> list[SystemEmail]:
    """Wait until there are ``n`` System Email rows and every one is delivered."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with Session(engine) as s:
            rows = list(s.exec(select(SystemEmail).order_by(col(SystemEmail.id))).all())
        if len(rows) == n and all(r.status == EmailStatus.SENT for r in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"emails {[(r.kind, r.status) for r in rows]}, expected {n} sent")
        await asyncio.sleep(0.05)


@dataclass
class AcceptedUpdate:
    """One update a tender workflow accepted, as its history records it."""

    name: str
    update_id: str
    arg: dict[str, Any]


async def accepted_updates(run: Running, workflow_id: str) -> list[AcceptedUpdate]:
    """Every update the workflow accepted, oldest first: Temporal records the
    name, the update ID and the argument, so this is exactly what was sent."""
    history = await run.client.get_workflow_handle(workflow_id).fetch_history()
    found = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            [payload] = request.input.args.payloads
            found.append(AcceptedUpdate(request.input.name, request.meta.update_id, json.loads(payload.data)))
    return found

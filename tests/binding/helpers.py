"""Helpers for release and binding tests: users, offers, waiting for emails and workflows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.service import RPCError, RPCStatusCode

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Binding,
    Broker,
    EmailStatus,
    Offer,
    Party,
    Request,
    Role,
    SystemEmail,
    Tender,
    User,
    utcnow,
)
from tenderdesk.ids import binding_workflow_id, mail_workflow_id
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.tenders.service import OfferTerms, submit_offer
from workflows.binding import BindingResult

from ..conftest import Running
from ..factories import World
from ..workflows.helpers import start, wait_status

BROKER_EMAIL = "erika@makler.example"


def user(engine: Engine, user_id: int) -> User:
    with Session(engine) as s:
        found = s.get(User, user_id)
        assert found is not None
        return found


def backoffice(engine: Engine, world: World) -> User:
    return user(engine, world.backoffice_user_id)


def broker_user(engine: Engine, world: World, *, other_broker: bool = False, tag: str = "") -> User:
    """A login for the request's broker, or for another broker of the same account."""
    with session_scope(engine) as s:
        request = s.get(Request, world.request_id)
        assert request is not None
        broker_id = request.broker_id
        if other_broker:
            other = Broker(account_id=world.account_id, name="Otto Anders", company="Anders Makler KG",
                           email=f"otto{tag}@anders.example")
            s.add(other)
            s.flush()
            broker_id = other.id  # type: ignore[assignment]
        login = User(account_id=world.account_id, email=f"broker{tag}{'-other' if other_broker else ''}@test.example",
                     name="Otto Anders" if other_broker else "Erika Muster", role=Role.BROKER,
                     broker_id=broker_id, password_hash="x")
        s.add(login)
        s.flush()
        return login


def set_need_release(engine: Engine, world: World, need: bool) -> None:
    from tenderdesk.db.models import Account

    with session_scope(engine) as s:
        account = s.get(Account, world.account_id)
        assert account is not None
        account.offers_need_release = need
        s.add(account)


def offer_row(engine: Engine, offer_id: int) -> Offer:
    with Session(engine) as s:
        found = s.get(Offer, offer_id)
        assert found is not None
        return found


def request_row(engine: Engine, request_id: int) -> Request:
    with Session(engine) as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found


async def sent_tenders(run: Running, world: World, n: int) -> list[Tender]:
    tenders = await start(run, world, n)
    for tender in tenders:
        await wait_status(run, tender, TenderStatus.SENT)
    return tenders


async def now(run: Running) -> datetime:
    """Workflow time: on the time-skipping server it runs ahead of the wall clock."""
    with contextlib.suppress(Exception):
        return await run.env.get_current_time()
    return utcnow()


async def give_offer(
    run: Running, tender: Tender, *, premium_cents: int = 99_000, days: float = 30, edit: bool = False,
    by: Party = Party.INSURER, user_id: int | None = None, sum_insured_cents: int | None = None,
    conditions_note: str = "",
) -> Offer:
    """Submit (or edit) an offer through the workflow and return its row."""
    action_id = new_action_id()
    terms = OfferTerms(premium_cents=premium_cents, valid_until=await now(run) + timedelta(days=days),
                       sum_insured_cents=sum_insured_cents, conditions_note=conditions_note)
    await submit_offer(run.client, run.engine, tender, terms, by=by, user_id=user_id, action_id=action_id, edit=edit)
    with Session(run.engine) as s:
        offer = s.exec(select(Offer).where(Offer.action_id == action_id)).one()
        assert offer.active
        return offer


async def wait_for(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.05)


def emails(engine: Engine, kind: str | None = None) -> list[SystemEmail]:
    with Session(engine) as s:
        query = select(SystemEmail).order_by(col(SystemEmail.id))
        if kind is not None:
            query = query.where(SystemEmail.kind == kind)
        return list(s.exec(query).all())


async def wait_email_sent(engine: Engine, email_id: int) -> SystemEmail:
    def sent() -> bool:
        with Session(engine) as s:
            row = s.get(SystemEmail, email_id)
            return row is not None and row.status == EmailStatus.SENT

    await wait_for(sent, what=f"email {email_id} sent")
    with Session(engine) as s:
        row = s.get(SystemEmail, email_id)
        assert row is not None
        return row


async def binding_result(run: Running, request_id: int, timeout: float = 30.0) -> BindingResult:
    handle = run.client.get_workflow_handle(
        binding_workflow_id(request_id, run.settings.workflow_id_prefix), result_type=BindingResult
    )
    result: BindingResult = await asyncio.wait_for(handle.result(), timeout=timeout)
    return result


async def finish_leftovers(run: Running) -> None:
    """Leave no binding or mail workflow behind on the shared servers: like the
    tender cleanup in the top conftest, an open workflow without its worker
    stalls time skipping for the next test. Terminating one with an activity in
    flight stalls the time-skipping server too, so running ones are first given
    a few seconds to finish (the worker is still up when this runs)."""
    with Session(run.engine) as s:
        request_ids = set(s.exec(select(Binding.request_id)).all())
        email_ids = set(s.exec(select(SystemEmail.id).where(col(SystemEmail.tender_id).is_(None))).all())
    prefix = run.settings.workflow_id_prefix
    workflow_ids = [binding_workflow_id(r, prefix) for r in request_ids]
    workflow_ids += [mail_workflow_id(i, prefix) for i in email_ids if i is not None]
    for workflow_id in workflow_ids:
        handle = run.client.get_workflow_handle(workflow_id)
        try:
            await asyncio.wait_for(handle.result(), timeout=10)
        except RPCError:
            continue  # never started (e.g. a binding email delivered by the binding workflow)
        except Exception:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


async def no_binding_workflow(run: Running, request_id: int) -> None:
    """Temporal never heard of a binding workflow for the request: a refusal
    stopped before anything was started."""
    handle = run.client.get_workflow_handle(binding_workflow_id(request_id, run.settings.workflow_id_prefix))
    with pytest.raises(RPCError) as err:
        await handle.describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


def direct_offer(
    engine: Engine, world: World, index: int, *, status: TenderStatus = TenderStatus.OFFERED,
    released: bool = True, days: float = 30, premium_cents: int = 100_000,
) -> Offer:
    """Tender and offer rows as the projection would leave them, without a tender
    workflow: for the checks that refuse before anything reaches Temporal, and
    for bindings whose follow-up finds no tender left to close."""
    with session_scope(engine) as s:
        tender = Tender(request_id=world.request_id, insurer_id=world.insurer_ids[index],
                        contact_email=f"direct{index}@test.example",
                        workflow_id=f"direct-r{world.request_id}-i{world.insurer_ids[index]}", status=status)
        s.add(tender)
        s.flush()
        offer = Offer(tender_id=tender.id, request_id=world.request_id, action_id=new_action_id(),  # type: ignore[arg-type]
                      premium_cents=premium_cents, valid_until=utcnow() + timedelta(days=days),
                      submitted_by=Party.INSURER, active=True, released_at=utcnow() if released else None)
        s.add(offer)
        s.flush()
        tender.current_offer_id = offer.id
        s.add(tender)
        return offer

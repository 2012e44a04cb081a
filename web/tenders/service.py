"""Tender service for the web layer: start tender workflows and send them actions.

The web never changes a tender's status itself. It writes the texts and files
an action refers to (question, decline reason, offer document) as not-yet-
visible rows, then sends the workflow an update whose ``action_id`` names
them. The workflow's projection makes them visible once accepted; a rejected
action deletes them again, so bad input changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from tenderdesk.contracts import (
    Action,
    ActionResult,
    DeclineAction,
    OfferAction,
    QuestionAction,
    RescheduleAction,
    TenderInput,
    TenderPlan,
)
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Document,
    Insurer,
    InsurerContact,
    Message,
    Offer,
    Party,
    Product,
    Request,
    RequestStatus,
    Tender,
    Thread,
    ThreadKind,
)
from tenderdesk.ids import tender_workflow_id
from tenderdesk.states import TERMINAL, TenderStatus
from web.core import i18n
from web.core.forms import new_action_id
from workflows import INSURER_ID, REQUEST_ID, TENDER_STATUS

log = logging.getLogger(__name__)


STALE_FORM = i18n.N_("error.action_id")


class TenderActionError(i18n.Refusal):
    """An action was refused; ``str(err)`` is the reason in the reader's language."""


@dataclass
class StartOutcome:
    started: list[Tender]
    refused: dict[int, str]  # insurer_id -> reason, worded


def plan_for(account: Account) -> TenderPlan:
    return TenderPlan(
        reminder_offsets_s=list(account.reminder_offsets_s),
        response_deadline_s=account.response_deadline_s,
        offer_validity_s=account.offer_validity_s,
    )


def open_tender_insurers(session: Session, request_id: int) -> set[int]:
    rows = session.exec(
        select(Tender.insurer_id)
        .where(Tender.request_id == request_id)
        .where(col(Tender.status).not_in(list(TERMINAL)))
    ).all()
    return set(rows)


@dataclass
class _Planned:
    """A Tender row written before its workflow starts, and what the start needs."""

    tender: Tender
    insurer_name: str
    summary: str


async def start_tenders(
    *,
    client: Client,
    engine: Engine,
    task_queue: str,
    request_id: int,
    insurer_ids: Sequence[int],
    actor_user_id: int | None,
    email_note: str = "",
    id_prefix: str = "tender",
    email_notes: Mapping[int, str] | None = None,
    document_ids: Sequence[int] | None = None,
) -> StartOutcome:
    """Create one Tender row and one TenderWorkflow per insurer.

    Refuses (per insurer, with a reason naming it) what cannot be tendered: an
    insurer without a contact for the product, one that is not reachable, or
    one with an open tender for this request. Temporal's ID conflict policy
    makes the last check hold across every web process.

    ``email_notes`` gives each insurer its own note (the wizard's editable
    email); insurers missing from it get ``email_note``. ``document_ids`` are
    the documents the tender email attaches; ``None`` keeps the default (all
    request documents). The database work runs in a thread, so a slow database
    does not stall the event loop that serves every other page.
    """
    planned, refused, plan = await asyncio.to_thread(
        _plan_tenders, engine, request_id, insurer_ids, actor_user_id, email_note, id_prefix,
        email_notes, document_ids,
    )
    results = await asyncio.gather(
        *(_start_one(client, task_queue, p.tender, p.insurer_name, p.summary, plan) for p in planned)
    )
    started: list[Tender] = []
    for p, refusal in zip(planned, results, strict=True):
        if refusal is None:
            started.append(p.tender)
        else:
            await asyncio.to_thread(_delete, engine, p.tender)
            refused[p.tender.insurer_id] = refusal
    return StartOutcome(started=started, refused=refused)


def _plan_tenders(
    engine: Engine,
    request_id: int,
    insurer_ids: Sequence[int],
    actor_user_id: int | None,
    email_note: str,
    id_prefix: str,
    email_notes: Mapping[int, str] | None,
    document_ids: Sequence[int] | None,
) -> tuple[list[_Planned], dict[int, str], TenderPlan]:
    """Check every insurer and write the Tender rows of those that may be tendered."""
    refused: dict[int, str] = {}
    planned: list[_Planned] = []
    with session_scope(engine) as session:
        request = session.get(Request, request_id)
        if request is None:
            raise TenderActionError("error.request_not_found")
        if request.status != RequestStatus.OPEN:
            raise TenderActionError("tenders.error.request_closed")
        account = session.get(Account, request.account_id)
        product = session.get(Product, request.product_id)
        assert account is not None and product is not None
        chosen_documents = _checked_documents(session, request_id, document_ids)
        already = open_tender_insurers(session, request_id)
        for insurer_id in dict.fromkeys(insurer_ids):
            insurer = session.get(Insurer, insurer_id)
            contact = session.exec(
                select(InsurerContact)
                .where(InsurerContact.insurer_id == insurer_id)
                .where(InsurerContact.product_id == request.product_id)
            ).first()
            refusal = tender_refusal(insurer_id, insurer, contact, product.name, insurer_id in already)
            if refusal is not None:
                refused[insurer_id] = refusal
            else:
                assert insurer is not None and contact is not None
                note = email_notes.get(insurer_id, email_note) if email_notes is not None else email_note
                tender = Tender(
                    request_id=request_id,
                    insurer_id=insurer_id,
                    contact_email=contact.email,
                    workflow_id=tender_workflow_id(request_id, insurer_id, id_prefix),
                    email_note=note,
                    document_ids=list(chosen_documents) if chosen_documents is not None else [],
                    created_by_id=actor_user_id,
                )
                session.add(tender)
                summary = f"Anfrage {request.number} · {insurer.name} · {product.name}"
                planned.append(_Planned(tender=tender, insurer_name=insurer.name, summary=summary))
        session.flush()
        plan = plan_for(account)
    return planned, refused, plan


def tender_refusal(
    insurer_id: int, insurer: Insurer | None, contact: InsurerContact | None, product_name: str,
    already_open: bool,
) -> str | None:
    """Why this insurer cannot be tendered for the request (a sentence naming
    it), or ``None``. The wizard shows the same sentences for forged picks."""
    if insurer is None:
        return i18n.t("tenders.refusal.unknown", id=insurer_id)
    if already_open:
        return i18n.t("tenders.refusal.already", insurer=insurer.name)
    if not insurer.reachable:
        return i18n.t("tenders.refusal.unreachable", insurer=insurer.name)
    if contact is None:
        return i18n.t("tenders.refusal.no_contact", insurer=insurer.name, product=product_name)
    return None


def _checked_documents(
    session: Session, request_id: int, document_ids: Sequence[int] | None
) -> list[int] | None:
    """The chosen documents, refused unless every one belongs to this request."""
    if document_ids is None:
        return None
    wanted = list(dict.fromkeys(document_ids))
    found = set(
        session.exec(
            select(Document.id)
            .where(Document.request_id == request_id)
            .where(col(Document.id).in_(wanted))
        ).all()
    ) if wanted else set()
    if len(found) != len(wanted):
        raise TenderActionError("add_tenders.documents.foreign")
    return wanted


async def _start_one(
    client: Client, task_queue: str, tender: Tender, insurer_name: str, summary: str, plan: TenderPlan
) -> str | None:
    """Start one workflow; return a German refusal naming the insurer, or None."""
    assert tender.id is not None
    try:
        await client.start_workflow(
            "TenderWorkflow",
            TenderInput(tender_id=tender.id, request_id=tender.request_id, insurer_id=tender.insurer_id, plan=plan),
            id=tender.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(REQUEST_ID, str(tender.request_id)),
                    SearchAttributePair(INSURER_ID, str(tender.insurer_id)),
                    SearchAttributePair(TENDER_STATUS, TenderStatus.QUEUED.value),
                ]
            ),
            static_summary=summary,
            static_details=(
                f"Ausschreibung #{tender.id} der Anfrage {tender.request_id} an Gesellschaft {tender.insurer_id}"
            ),
        )
    except WorkflowAlreadyStartedError:
        return i18n.t("tenders.refusal.running", insurer=insurer_name)
    except (RPCError, RuntimeError):  # RuntimeError: a lazy client that cannot connect
        log.exception("could not start tender workflow %s", tender.workflow_id)
        return i18n.t("tenders.refusal.not_started", insurer=insurer_name)
    return None


def _delete(engine: Engine, row: Any) -> None:
    with session_scope(engine) as session:
        obj = session.get(type(row), row.id)
        if obj is not None:
            session.delete(obj)


async def send_action(client: Client, tender: Tender, update: str, action: Action) -> ActionResult:
    """Execute one workflow update; refusals become :class:`TenderActionError`."""
    handle = client.get_workflow_handle(tender.workflow_id)
    try:
        return await handle.execute_update(update, action, id=action.action_id, result_type=ActionResult)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "TransitionRejected":
            details = cause.details[0] if cause.details else {}
            raise TenderActionError(i18n.refusal_text(cause.message, details)) from None
        log.exception("update %s on %s failed", update, tender.workflow_id)
        raise TenderActionError("tenders.error.failed") from None
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise TenderActionError("tenders.error.ended") from None
        log.exception("update %s on %s: Temporal unreachable", update, tender.workflow_id)
        raise TenderActionError("tenders.error.unavailable") from None


async def reschedule(
    client: Client, tender: Tender, *, deadline_at: datetime | None, next_reminder_at: datetime | None,
    user_id: int | None, action_id: str | None = None,
) -> ActionResult:
    """"Termine ändern": move the response deadline and/or the next reminder.
    The workflow re-arms its timers; it refuses times in the past, a reminder
    not before the deadline, and tenders no longer awaiting the insurer."""
    if deadline_at is None and next_reminder_at is None:
        raise TenderActionError("tender_actions.schedule.nothing")
    action = RescheduleAction(
        action_id=action_id or new_action_id(), actor_user_id=user_id,
        deadline_at=deadline_at, next_reminder_at=next_reminder_at,
    )
    return await send_action(client, tender, "reschedule", action)


def insurer_thread(session: Session, tender: Tender) -> Thread:
    thread = session.exec(
        select(Thread)
        .where(Thread.request_id == tender.request_id)
        .where(Thread.kind == ThreadKind.INSURER)
        .where(Thread.tender_id == tender.id)
    ).first()
    if thread is None:
        thread = Thread(request_id=tender.request_id, kind=ThreadKind.INSURER, tender_id=tender.id)
        session.add(thread)
        session.flush()
    return thread


def _pending_message(
    engine: Engine, tender: Tender, body: str, author: Party, user_id: int | None,
    action_id: str, document_id: int | None = None,
) -> int:
    with session_scope(engine) as session:
        thread = insurer_thread(session, tender)
        message = Message(
            thread_id=thread.id,  # type: ignore[arg-type]
            request_id=tender.request_id,
            action_id=action_id,
            author=author,
            author_user_id=user_id,
            body=body,
            document_id=document_id,
        )
        session.add(message)
        session.flush()
        assert message.id is not None
        return message.id


async def _with_pending(engine: Engine, row_type: type, row_id: int, send: Any) -> ActionResult:
    """Send an action; on refusal delete the pending row, so nothing changed."""
    try:
        result: ActionResult = await send
    except TenderActionError:
        await asyncio.to_thread(_delete_if_pending, engine, row_type, row_id)
        raise
    return result


def _delete_if_pending(engine: Engine, row_type: type, row_id: int) -> None:
    with session_scope(engine) as session:
        row = session.get(row_type, row_id)
        if row is not None and not getattr(row, "visible", getattr(row, "active", False)):
            session.delete(row)


async def ask_question(
    client: Client, engine: Engine, tender: Tender, *, body: str,
    author: Party = Party.INSURER, user_id: int | None = None, action_id: str | None = None,
    document_id: int | None = None,
) -> ActionResult:
    body = body.strip()
    if not body and document_id is None:
        raise TenderActionError("question.empty")
    action_id = action_id or new_action_id()
    message_id = await asyncio.to_thread(
        _message_for, engine, tender, body, author, user_id, action_id, document_id
    )
    return await _with_pending(
        engine, Message, message_id,
        send_action(client, tender, "ask_question",
                    QuestionAction(action_id=action_id, actor_user_id=user_id, message_id=message_id)),
    )


async def decline(
    client: Client, engine: Engine, tender: Tender, *, reason: str,
    user_id: int | None = None, action_id: str | None = None,
) -> ActionResult:
    reason = reason.strip()
    if not reason:
        raise TenderActionError("decline.empty")
    action_id = action_id or new_action_id()
    message_id = await asyncio.to_thread(
        _message_for, engine, tender, f"Absage: {reason}", Party.INSURER, user_id, action_id
    )
    return await _with_pending(
        engine, Message, message_id,
        send_action(client, tender, "decline",
                    DeclineAction(action_id=action_id, actor_user_id=user_id, message_id=message_id)),
    )


@dataclass
class OfferTerms:
    premium_cents: int
    valid_until: datetime
    sum_insured_cents: int | None = None
    conditions_note: str = ""
    document_id: int | None = None


async def submit_offer(
    client: Client, engine: Engine, tender: Tender, terms: OfferTerms, *,
    by: Party, user_id: int | None = None, action_id: str | None = None, edit: bool = False,
) -> ActionResult:
    """A new offer (or an edit: a new row that supersedes the active one)."""
    if terms.premium_cents <= 0:
        raise TenderActionError("offer.premium_positive")
    action_id = action_id or new_action_id()
    offer_id = await asyncio.to_thread(_pending_offer, engine, tender, terms, by, user_id, action_id)
    assert offer_id is not None
    action = OfferAction(
        action_id=action_id, actor_user_id=user_id, offer_id=offer_id,
        valid_until=terms.valid_until, by_backoffice=by == Party.BACKOFFICE,
    )
    return await _with_pending(
        engine, Offer, offer_id,
        send_action(client, tender, "edit_offer" if edit else "submit_offer", action),
    )


def _pending_offer(
    engine: Engine, tender: Tender, terms: OfferTerms, by: Party, user_id: int | None, action_id: str
) -> int | None:
    """The not-yet-active Offer row of this action (written once, reused on a repeat)."""
    with session_scope(engine) as session:
        offer = session.exec(select(Offer).where(Offer.action_id == action_id)).first()
        if offer is not None and offer.tender_id != tender.id:
            # action ids are per form; one from another tender is a forged or stale form
            raise TenderActionError(STALE_FORM)
        if offer is None:
            offer = Offer(
                tender_id=tender.id,  # type: ignore[arg-type]
                request_id=tender.request_id,
                action_id=action_id,
                premium_cents=terms.premium_cents,
                sum_insured_cents=terms.sum_insured_cents,
                valid_until=terms.valid_until,
                conditions_note=terms.conditions_note,
                document_id=terms.document_id,
                submitted_by=by,
                submitted_by_user_id=user_id,
            )
            session.add(offer)
            session.flush()
        return offer.id


def _message_for(
    engine: Engine, tender: Tender, body: str, author: Party, user_id: int | None,
    action_id: str, document_id: int | None = None,
) -> int:
    """The pending message of this action: the one a repeat wrote already, or a new one."""
    return _existing_message(engine, tender, action_id) or _pending_message(
        engine, tender, body, author, user_id, action_id, document_id
    )


def _existing_message(engine: Engine, tender: Tender, action_id: str) -> int | None:
    """The message a repeat of this action wrote already, in this tender's thread only."""
    with Session(engine) as session:
        row = session.exec(
            select(Message.id, Thread.tender_id)
            .join(Thread, col(Thread.id) == col(Message.thread_id))
            .where(Message.action_id == action_id)
        ).first()
    if row is None:
        return None
    if row[1] != tender.id:
        raise TenderActionError(STALE_FORM)
    return row[0]

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
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tenderdesk.contracts import (
    Action,
    ActionResult,
    DeclineAction,
    OfferAction,
    QuestionAction,
    RescheduleAction,
)
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Message,
    Offer,
    Party,
    Tender,
    Thread,
    ThreadKind,
)
from web.core import i18n
from web.core.errors import ActionRefused
from web.core.forms import new_action_id
from web.core.metrics import UPDATE_LATENCY

log = logging.getLogger(__name__)


STALE_FORM = i18n.N_("error.action_id")


class TenderActionError(ActionRefused):
    """The tender workflow (or a rule in front of it) refused the action."""


class UpdatePending(TenderActionError):
    """The workflow did not answer within :data:`UPDATE_TIMEOUT_S`.

    Nothing is known to have failed: the update keeps its ID, so it is applied
    at most once, and sending the same form again picks up its result. The
    pending rows it refers to are therefore kept, not deleted."""

    status_code = 202

    def __init__(self, key: str = "tenders.update_pending", **params: object) -> None:
        super().__init__(key, **params)


#: How long a web request waits for a tender update before it answers
#: "wird verarbeitet"; set from ``Settings.update_timeout_s`` by the app.
UPDATE_TIMEOUT_S = 20.0


def set_update_timeout(seconds: float) -> None:
    global UPDATE_TIMEOUT_S
    UPDATE_TIMEOUT_S = seconds


def refusal_status(err: ActionRefused, default: int) -> int:
    """The answer's status for a refusal shown at a form: 202 while still pending."""
    return 202 if isinstance(err, UpdatePending) else default


async def send_action(client: Client, tender: Tender, update: str, action: Action) -> ActionResult:
    """Execute one workflow update; refusals become :class:`TenderActionError`,
    and no answer within :data:`UPDATE_TIMEOUT_S` :class:`UpdatePending`.
    Its duration goes to ``tenderdesk_workflow_update_duration_seconds``."""
    started = time.perf_counter()
    outcome = "error"
    try:
        result = await _send_action(client, tender, update, action)
        outcome = "ok"
        return result
    except UpdatePending:
        outcome = "pending"
        raise
    except TenderActionError:
        outcome = "refused"
        raise
    finally:
        UPDATE_LATENCY.labels(update, outcome).observe(time.perf_counter() - started)


async def _send_action(client: Client, tender: Tender, update: str, action: Action) -> ActionResult:
    handle = client.get_workflow_handle(tender.workflow_id)
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_S):
            return await handle.execute_update(update, action, id=action.action_id, result_type=ActionResult)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # Our bound, or the server's own long-poll limit: not answered yet.
        log.warning("update %s on %s: no answer within %.0f s", update, tender.workflow_id, UPDATE_TIMEOUT_S)
        raise UpdatePending() from None
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
    except UpdatePending:
        raise  # it may still be applied: the row must stay for the projection
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
    deductible_cents: int | None = None
    commission_bp: int | None = None
    cover_modules: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)


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
    """The not-yet-active Offer row of this action (written once, reused on a repeat).

    The same form posted twice at the same moment: both look, both insert, the
    unique ``action_id`` lets one win, and the other reads the winner's row."""
    try:
        return _pending_offer_once(engine, tender, terms, by, user_id, action_id)
    except IntegrityError:
        return _pending_offer_once(engine, tender, terms, by, user_id, action_id)


def _pending_offer_once(
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
                deductible_cents=terms.deductible_cents,
                commission_bp=terms.commission_bp,
                cover_modules=terms.cover_modules,
                exclusions=terms.exclusions,
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
    """The pending message of this action: the one a repeat wrote already, or a
    new one (of two at the same moment, the unique ``action_id`` keeps one)."""
    try:
        return _existing_message(engine, tender, action_id) or _pending_message(
            engine, tender, body, author, user_id, action_id, document_id
        )
    except IntegrityError:
        existing = _existing_message(engine, tender, action_id)
        if existing is None:  # the thread, not the message, collided: write it now
            return _pending_message(engine, tender, body, author, user_id, action_id, document_id)
        return existing


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

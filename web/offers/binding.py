"""Abschluss (binding): the broker compares the offers he may see and binds one.

The decision is one database transaction: insert the ``Binding`` row (its
unique ``request_id`` lets exactly one binding per request win, however many
clicks or brokers race) and move the request to ``bound``. The loser's insert
fails with an ``IntegrityError`` and gets "Für diese Anfrage wurde bereits ein
Angebot abgeschlossen." Only after that commit does :func:`bind_offer` start
``BindingWorkflow``, which durably closes every tender (cover order to the
chosen insurer, "nicht zum Zuge gekommen" to the others), writes the cover note
and emails the broker. The workflow ID derives from the request, and the
workflow's steps from the binding, so starting it again is harmless:
:func:`resume_binding` does that if Temporal was unreachable at bind time.

For the broker's comparison page, :func:`offer_choices` lists the visible
offers with what the page needs to mark expired ones and to disable the
"Abschließen" button, using the same checks :func:`bind_offer` applies.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    AuditEvent,
    Binding,
    Document,
    Insurer,
    Offer,
    Party,
    Request,
    RequestStatus,
    Role,
    Tender,
    User,
    utcnow,
)
from tenderdesk.ids import binding_workflow_id
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.access import broker_sees_offer
from web.offers.release import offers_visible_to_broker
from workflows.starts import start_binding

log = logging.getLogger(__name__)

ALREADY_BOUND = i18n.N_("binding.error.already_bound")
EXPIRED = i18n.N_("binding.error.expired")
NOT_ALLOWED = i18n.N_("binding.error.not_allowed")
NOT_FOUND = i18n.N_("offers.offer.not_found")


class BindingError(i18n.Refusal):
    """A binding was refused; ``str(err)`` is the reason in the broker's language."""


class BindingNotAllowed(BindingError):
    """Not this broker's request (another broker, another account, or not a broker).
    Pages may answer 404 instead, as :mod:`web.core.access` does for foreign objects."""


class AlreadyBound(BindingError):
    """Another binding of the request won (second click, second broker)."""


@dataclass
class BindOutcome:
    binding_id: int
    request_id: int
    offer_id: int
    tender_id: int
    workflow_id: str
    #: False if Temporal was unreachable: the binding stands, call :func:`resume_binding` later.
    workflow_started: bool

    @property
    def message(self) -> str:
        return i18n.t("binding.done.started") if self.workflow_started else i18n.t("binding.done.later")


@dataclass
class OfferChoice:
    """One offer on the broker's comparison page."""

    offer: Offer
    tender: Tender
    insurer: Insurer
    document: Document | None
    expired: bool
    #: Why "Abschließen" is not possible (``str()`` words it), or None if it is.
    refusal: BindingError | None
    #: This is the offer the request was bound with.
    bound: bool = False

    @property
    def can_bind(self) -> bool:
        return self.refusal is None


# ------------------------------------------------------------------ checks
def broker_owns(user: User, request: Request) -> bool:
    """Only the request's own broker, in the request's account, may bind."""
    return (
        user.role == Role.BROKER
        and user.is_active
        and user.broker_id is not None
        and user.account_id == request.account_id
        and request.broker_id == user.broker_id
    )


def is_expired(tender: Tender, offer: Offer, now: datetime) -> bool:
    """Expired per the workflow's projection, or past its validity while the
    timer has not been projected yet (e.g. no worker running)."""
    valid_until = offer.valid_until
    return tender.status == TenderStatus.OFFER_EXPIRED or (valid_until is not None and valid_until <= now)


def binding_refusal(
    account: Account, request: Request, tender: Tender, offer: Offer, now: datetime
) -> BindingError | None:
    """Why this offer cannot be bound now, or None. Ownership is checked separately."""
    if request.status == RequestStatus.BOUND:
        return AlreadyBound(ALREADY_BOUND)
    if request.status != RequestStatus.OPEN:
        return BindingError("binding.error.closed")
    if offer.request_id != request.id or offer.tender_id != tender.id:
        return BindingError(NOT_FOUND)
    if not offer.active:
        return BindingError("binding.error.superseded")
    if not broker_sees_offer(account, offer):
        return BindingError("binding.error.not_released")
    if is_expired(tender, offer, now):
        return BindingError(EXPIRED)
    if tender.status != TenderStatus.OFFERED:
        return BindingError("binding.error.status", status=i18n.tender_status_label(tender.status))
    return None


def offer_choices(session: Session, request_id: int, *, now: datetime | None = None) -> list[OfferChoice]:
    """The offers the broker may see, cheapest first, each marked expired,
    bindable or not (the same checks as :func:`bind_offer`) and bound."""
    request = session.get(Request, request_id)
    if request is None:
        return []
    account = session.get(Account, request.account_id)
    assert account is not None
    now = now or utcnow()
    bound_offer_id = session.exec(select(Binding.offer_id).where(Binding.request_id == request_id)).first()
    choices = []
    for offer in offers_visible_to_broker(session, request_id):
        tender = session.get(Tender, offer.tender_id)
        assert tender is not None
        insurer = session.get(Insurer, tender.insurer_id)
        assert insurer is not None
        document = session.get(Document, offer.document_id) if offer.document_id else None
        choices.append(
            OfferChoice(
                offer=offer, tender=tender, insurer=insurer, document=document,
                expired=is_expired(tender, offer, now),
                refusal=binding_refusal(account, request, tender, offer, now),
                bound=offer.id == bound_offer_id,
            )
        )
    return choices


# ------------------------------------------------------------------- bind
async def bind_offer(
    *, engine: Engine, client: Client, settings: Settings, offer_id: int, broker_user: User
) -> BindOutcome:
    """Bind one offer for its request, then start the durable follow-up.

    Raises :class:`BindingNotAllowed` if the user is not the request's broker,
    :class:`AlreadyBound` if the request has a binding already (also when two
    calls race), and :class:`BindingError` for everything else that makes the
    offer not bindable (not released, superseded, expired, tender ended).
    """
    binding = await asyncio.to_thread(_decide, engine, offer_id, broker_user)
    assert binding.id is not None
    started = await start_binding_workflow(
        client=client, settings=settings, binding_id=binding.id, request_id=binding.request_id
    )
    return BindOutcome(
        binding_id=binding.id,
        request_id=binding.request_id,
        offer_id=binding.offer_id,
        tender_id=binding.tender_id,
        workflow_id=binding_workflow_id(binding.request_id, settings.workflow_id_prefix),
        workflow_started=started,
    )


def _decide(engine: Engine, offer_id: int, user: User) -> Binding:
    now = utcnow()
    with Session(engine) as session:
        offer = session.get(Offer, offer_id)
        if offer is None:
            raise BindingNotAllowed(NOT_FOUND)
        request = session.get(Request, offer.request_id)
        tender = session.get(Tender, offer.tender_id)
        assert request is not None and tender is not None
        if not broker_owns(user, request):
            raise BindingNotAllowed(NOT_ALLOWED)
        account = session.get(Account, request.account_id)
        assert account is not None
        refusal = binding_refusal(account, request, tender, offer, now)
        if refusal is not None:
            raise refusal
    try:
        with session_scope(engine) as session:
            # The insert comes first: the unique request_id decides every race.
            binding = Binding(
                request_id=request.id,  # type: ignore[arg-type]
                offer_id=offer_id,
                tender_id=tender.id,  # type: ignore[arg-type]
                bound_by_id=user.id,  # type: ignore[arg-type]
                created_at=now,
            )
            session.add(binding)
            session.flush()
            moved = session.execute(
                update(Request)
                .where(col(Request.id) == request.id)
                .where(col(Request.status) == RequestStatus.OPEN)
                .values(status=RequestStatus.BOUND, bound_at=now, updated_at=now)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise BindingError("binding.error.closed")
            session.add(
                AuditEvent(
                    request_id=request.id,  # type: ignore[arg-type]
                    tender_id=tender.id,
                    at=now,
                    actor=Party.BROKER,
                    actor_user_id=user.id,
                    kind="bound",
                    detail=f"Angebot #{offer_id}",
                    dedupe_key=f"binding:{binding.id}:bound",
                )
            )
    except IntegrityError:
        with Session(engine) as session:
            exists = session.exec(select(Binding.id).where(Binding.request_id == request.id)).first()
        if exists is None:
            raise
        raise AlreadyBound(ALREADY_BOUND) from None
    log.info("request %s bound: offer %s by user %s (binding %s)", request.id, offer_id, user.id, binding.id)
    return binding


async def start_binding_workflow(*, client: Client, settings: Settings, binding_id: int, request_id: int) -> bool:
    """Start (or find running/finished) the request's BindingWorkflow. Returns
    False only if Temporal is unreachable; the binding row is committed anyway
    and the reconciler starts the workflow once Temporal answers."""
    try:
        await start_binding(client, task_queue=settings.temporal_task_queue, prefix=settings.workflow_id_prefix,
                            binding_id=binding_id, request_id=request_id)
    except (RPCError, RuntimeError):  # RuntimeError: a lazy client that cannot connect
        log.exception("could not start binding workflow for request %s", request_id)
        return False
    return True


async def resume_binding(*, engine: Engine, client: Client, settings: Settings, request_id: int) -> bool:
    """Start the follow-up of an existing binding again (after Temporal was
    down at bind time). Safe to call any time; False if there is no binding or
    Temporal is still unreachable."""
    with Session(engine) as session:
        binding = session.exec(select(Binding).where(Binding.request_id == request_id)).first()
    if binding is None or binding.id is None:
        return False
    return await start_binding_workflow(
        client=client, settings=settings, binding_id=binding.id, request_id=request_id
    )


__all__ = [
    "ALREADY_BOUND", "EXPIRED", "NOT_ALLOWED", "AlreadyBound", "BindOutcome", "BindingError",
    "BindingNotAllowed", "OfferChoice", "bind_offer", "binding_refusal", "broker_owns", "is_expired",
    "offer_choices", "resume_binding", "start_binding_workflow",
]

"""Projection: the workflow's state, written to the database for list pages.

Writes are guarded by ``projection_version`` so a retried or late activity can
never move a row backwards, and each transition records exactly one audit event
(``dedupe_key``), so the request's timeline survives Temporal's retention.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import true, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tenderdesk.contracts import INSURER_EMAIL_KINDS, ProjectionInput
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    EmailStatus,
    Message,
    Offer,
    Party,
    Request,
    RequestStatus,
    SystemEmail,
    Tender,
    TenderLink,
    utcnow,
)
from tenderdesk.states import TenderStatus, is_terminal

log = logging.getLogger(__name__)

#: Which party caused an event when no user is named.
_INSURER_EVENTS = {"link_opened", "question_asked", "offer_submitted", "declined"}


class ProjectionActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="request_is_open")
    async def request_is_open(self, request_id: int) -> bool:
        """Asked (as a local activity) before a tender accepts an insurer's action:
        once the request is bound, none of its tenders accepts anything."""
        return await asyncio.to_thread(self._request_is_open, request_id)

    def _request_is_open(self, request_id: int) -> bool:
        with session_scope(self._engine) as session:
            request = session.get(Request, request_id)
            return request is not None and request.status == RequestStatus.OPEN

    @activity.defn(name="project_tender")
    async def project_tender(self, inp: ProjectionInput) -> None:
        await asyncio.to_thread(self.apply, inp)

    def apply(self, inp: ProjectionInput) -> None:
        """Idempotent: the same input applied twice leaves the same rows."""
        self._write(inp, rebuild=False)

    def rebuild(self, inp: ProjectionInput) -> None:
        """``tenderdesk reindex``: write the workflow's snapshot whatever version
        the row claims, and add nothing to the timeline. Raises LookupError for a
        tender without a row."""
        self._write(inp, rebuild=True)

    def _write(self, inp: ProjectionInput, *, rebuild: bool) -> None:
        snap = inp.snapshot
        now = utcnow()
        with session_scope(self._engine) as session:
            tender = session.get(Tender, snap.tender_id)
            if tender is None:
                if rebuild:
                    raise LookupError(f"tender {snap.tender_id} has no row")
                # Retrying cannot bring the row back; a retried projection would hold the
                # workflow's update lock for ever and freeze every later update of the tender.
                raise ApplicationError(f"tender {snap.tender_id} missing", type="TenderMissing", non_retryable=True)
            offer_id = snap.offer_id
            if offer_id is not None and offer_id != tender.current_offer_id:
                offer = session.get(Offer, offer_id)
                if offer is None or offer.tender_id != tender.id:
                    log.warning("tender %s: ignoring offer %s of another tender", tender.id, offer_id)
                    offer_id = tender.current_offer_id
            session.execute(
                update(Tender)
                .where(col(Tender.id) == snap.tender_id)
                .where(col(Tender.projection_version) < snap.version if not rebuild else true())
                .values(
                    status=snap.status,
                    projection_version=snap.version,
                    sent_at=snap.sent_at,
                    first_opened_at=snap.first_opened_at,
                    ended_at=snap.ended_at,
                    reminders_sent=snap.reminders_sent,
                    deadline_at=snap.deadline_at,
                    next_reminder_at=snap.next_reminder_at,
                    reminders_paused=snap.reminders_paused,
                    next_timer_at=snap.next_timer_at,
                    next_timer_kind=snap.next_timer_kind.value if snap.next_timer_kind else None,
                    delivery_failed=snap.delivery_failed,
                    current_offer_id=offer_id,
                    updated_at=now,
                )
            )
            if inp.event == "delivery_failed" and inp.system_email_id is not None:
                email = session.get(SystemEmail, inp.system_email_id)
                tender.delivery_error = email.last_reply if email else ""
                session.add(tender)
            elif not snap.delivery_failed and tender.delivery_error:
                tender.delivery_error = ""
                session.add(tender)
            if inp.message_id is not None:
                message = session.get(Message, inp.message_id)
                if message is not None and message.visible is False:
                    message.visible = True
                    session.add(message)
            if inp.offer_id is not None:
                self._activate_offer(session, tender.id, inp.offer_id)  # type: ignore[arg-type]
            if is_terminal(snap.status):
                self._revoke_links(session, snap.tender_id, snap.ended_at or now)
                self._cancel_unsent_insurer_mail(session, snap.tender_id)
            if snap.status == TenderStatus.WITHDRAWN:
                self._retire_offers(session, snap.tender_id)
            if not rebuild:
                self._audit(session, tender, inp)
        log.info("tender %s projected v%s: %s", snap.tender_id, snap.version, snap.status.value)

    @staticmethod
    def _activate_offer(session: Session, tender_id: int, offer_id: int) -> None:
        offer = session.get(Offer, offer_id)
        if offer is None or offer.tender_id != tender_id or offer.active:
            return
        for older in session.exec(
            select(Offer).where(Offer.tender_id == tender_id, col(Offer.active).is_(True))
        ):
            older.active = False
            older.superseded_by_id = offer_id
            session.add(older)
        offer.active = True
        session.add(offer)

    @staticmethod
    def _retire_offers(session: Session, tender_id: int) -> None:
        """A withdrawn tender's offer leaves the comparison and the release list
        (it stays on record, as the tender's row and in the timeline)."""
        session.execute(
            update(Offer).where(col(Offer.tender_id) == tender_id).where(col(Offer.active).is_(True))
            .values(active=False)
        )

    @staticmethod
    def _revoke_links(session: Session, tender_id: int, at: datetime) -> None:
        session.execute(
            update(TenderLink)
            .where(col(TenderLink.tender_id) == tender_id)
            .where(col(TenderLink.revoked_at).is_(None))
            .values(revoked_at=at)
        )

    @staticmethod
    def _cancel_unsent_insurer_mail(session: Session, tender_id: int) -> None:
        """The tender ended: its tender email, reminders and notices that have not
        gone out never will (the email activity refuses them), so say so."""
        session.execute(
            update(SystemEmail)
            .where(col(SystemEmail.tender_id) == tender_id)
            .where(col(SystemEmail.kind).in_([kind.value for kind in INSURER_EMAIL_KINDS]))
            .where(col(SystemEmail.status).in_([EmailStatus.PENDING, EmailStatus.RETRYING]))
            .values(status=EmailStatus.CANCELLED)
        )

    @staticmethod
    def _audit(session: Session, tender: Tender, inp: ProjectionInput) -> None:
        key = f"tender:{tender.id}:v{inp.snapshot.version}"
        if session.exec(select(AuditEvent.id).where(AuditEvent.dedupe_key == key)).first():
            return
        if inp.actor_user_id is not None:
            actor = Party.BACKOFFICE
        elif inp.event in _INSURER_EVENTS:
            actor = Party.INSURER
        else:
            actor = Party.SYSTEM
        session.add(
            AuditEvent(
                request_id=tender.request_id,
                tender_id=tender.id,
                actor=actor,
                actor_user_id=inp.actor_user_id,
                kind=inp.event,
                detail=inp.snapshot.status.value,
                dedupe_key=key,
            )
        )

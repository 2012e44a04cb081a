"""Activities of ``BindingWorkflow``: close the tenders, write the cover note, tell the broker.

All three are keyed by the binding id and safe to retry:

- ``close_tenders_for_binding`` sends ``close`` updates whose ``action_id``
  (also the Temporal update ID) derives from the binding and the tender, so a
  retried attempt gets the first answer; tenders that already ended are
  skipped. It needs a Temporal client, which the worker hands to the class.
- ``create_cover_note`` stores the PDF once: the document id is written to the
  binding with ``WHERE cover_note_document_id IS NULL``, so two overlapping
  attempts cannot leave two cover notes.
- ``record_binding_email`` writes one System Email row per binding (rendered
  by :mod:`tenderdesk.mail`); the workflow then delivers it with
  ``deliver_system_email`` from :mod:`activities.email`, like every other email.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tenderdesk.config import Settings
from tenderdesk.contracts import ActionResult, CloseAction
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Binding,
    Document,
    DocumentKind,
    Insurer,
    Offer,
    Party,
    Request,
    Tender,
)
from tenderdesk.documents.cover_note import load_cover_note, render_cover_note_pdf
from tenderdesk.documents.storage import store_bytes
from tenderdesk.mail import outbox
from tenderdesk.mail.context import request_context
from tenderdesk.mail.render import MailKind, render_email
from tenderdesk.states import TERMINAL, TenderStatus
from workflows.binding import BindingInput, CloseTendersResult

log = logging.getLogger(__name__)

BROKER_EMAIL_KIND = MailKind.BOUND_BROKER.value


def close_action_id(binding_id: int, tender_id: int) -> str:
    """Stable per binding and tender: a retried close is the same Temporal update."""
    return f"binding-{binding_id}-close-t{tender_id}"


async def close_tender_for_binding(client: Client, *, binding_id: int, tender_id: int, workflow_id: str,
                                   won: bool) -> bool:
    """Send one tender its ``close``; True if closed (now or by an earlier
    attempt), False if it had ended otherwise. The update ID derives from the
    binding, so the binding workflow and the reconciler never close twice."""
    action = CloseAction(action_id=close_action_id(binding_id, tender_id), won=won)
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.execute_update("close", action, id=action.action_id, result_type=ActionResult)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "TransitionRejected":
            log.info("tender %s already ended, not closed", tender_id)
            return False
        raise
    except RPCError as err:
        # The workflow has completed (declined, expired, withdrawn, or closed by an earlier attempt).
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            log.info("tender %s workflow already completed", tender_id)
            return False
        raise
    return True


@dataclass
class _Target:
    tender_id: int
    workflow_id: str
    won: bool


class _CoverNoteExists(Exception):
    """Another attempt stored the cover note first; roll ours back."""


class BindingActivities:
    def __init__(self, engine: Engine, settings: Settings, client: Client | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._client = client

    # ------------------------------------------------------------ tenders
    @activity.defn(name="close_tenders_for_binding")
    async def close_tenders(self, inp: BindingInput) -> CloseTendersResult:
        """Close every running tender of the request; the bound one as won."""
        if self._client is None:
            raise ApplicationError("worker has no Temporal client for closing tenders", type="NoClient")
        targets = await asyncio.to_thread(self._targets, inp)
        outcomes = await asyncio.gather(
            *(self._close_one(inp.binding_id, target) for target in targets), return_exceptions=True
        )
        failed = [t.tender_id for t, o in zip(targets, outcomes, strict=True) if isinstance(o, BaseException)]
        for target, outcome in zip(targets, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("binding %s: closing tender %s failed: %r", inp.binding_id, target.tender_id, outcome)
        if failed:
            # Retried with backoff; the tenders closed this time are skipped next time.
            raise ApplicationError(f"{len(failed)} tender(s) not closed yet: {failed}", type="CloseFailed")
        return await asyncio.to_thread(self._close_summary, inp.request_id)

    def _targets(self, inp: BindingInput) -> list[_Target]:
        with session_scope(self._engine) as session:
            binding = session.get(Binding, inp.binding_id)
            if binding is None:
                raise ApplicationError(f"binding {inp.binding_id} not found", non_retryable=True)
            tenders = session.exec(
                select(Tender)
                .where(Tender.request_id == binding.request_id)
                .where(col(Tender.status).not_in(list(TERMINAL)))
                .order_by(col(Tender.id))
            ).all()
            return [
                _Target(tender_id=t.id, workflow_id=t.workflow_id, won=t.id == binding.tender_id)  # type: ignore[arg-type]
                for t in tenders
            ]

    async def _close_one(self, binding_id: int, target: _Target) -> bool:
        assert self._client is not None
        return await close_tender_for_binding(
            self._client, binding_id=binding_id, tender_id=target.tender_id, workflow_id=target.workflow_id,
            won=target.won,
        )

    def _close_summary(self, request_id: int) -> CloseTendersResult:
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(Tender.id, Tender.status).where(Tender.request_id == request_id).order_by(col(Tender.id))
            ).all()
        return CloseTendersResult(
            closed_tender_ids=[tid for tid, status in rows if status == TenderStatus.CLOSED],  # type: ignore[misc]
            skipped_tender_ids=[tid for tid, status in rows if status != TenderStatus.CLOSED],  # type: ignore[misc]
        )

    # --------------------------------------------------------- cover note
    @activity.defn(name="create_cover_note")
    async def create_cover_note(self, inp: BindingInput) -> int:
        """Render and store the cover note once; returns its document id."""
        return await asyncio.to_thread(self._cover_note, inp.binding_id)

    def _cover_note(self, binding_id: int) -> int:
        with session_scope(self._engine) as session:
            binding = session.get(Binding, binding_id)
            if binding is None:
                raise ApplicationError(f"binding {binding_id} not found", non_retryable=True)
            if binding.cover_note_document_id is not None:
                return binding.cover_note_document_id
            note = load_cover_note(session, binding_id)
        pdf = render_cover_note_pdf(note)
        storage_key, sha256 = store_bytes(self._settings, pdf)
        try:
            with session_scope(self._engine) as session:
                document = Document(
                    request_id=binding.request_id,
                    # Not tied to the tender: the note holds every insurer's chat,
                    # which the winning insurer must not see on its link page.
                    tender_id=None,
                    kind=DocumentKind.COVER_NOTE,
                    filename=note.filename,
                    content_type="application/pdf",
                    size_bytes=len(pdf),
                    sha256=sha256,
                    storage_key=storage_key,
                    uploaded_by=Party.SYSTEM,
                )
                session.add(document)
                session.flush()
                claimed = session.execute(
                    update(Binding)
                    .where(col(Binding.id) == binding_id)
                    .where(col(Binding.cover_note_document_id).is_(None))
                    .values(cover_note_document_id=document.id)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    raise _CoverNoteExists
                session.add(
                    AuditEvent(
                        request_id=binding.request_id,
                        tender_id=binding.tender_id,
                        actor=Party.SYSTEM,
                        kind="cover_note_created",
                        detail=f"{note.filename} ({note.message_count} Nachrichten)",
                        dedupe_key=f"binding:{binding_id}:cover_note",
                    )
                )
                assert document.id is not None
                log.info("binding %s: cover note stored as document %s", binding_id, document.id)
                return document.id
        except _CoverNoteExists:
            with session_scope(self._engine) as session:
                again = session.get(Binding, binding_id)
                assert again is not None and again.cover_note_document_id is not None
                return again.cover_note_document_id

    # --------------------------------------------------------------- email
    @activity.defn(name="record_binding_email")
    async def record_binding_email(self, inp: BindingInput) -> int:
        """Write (once) the broker's confirmation as a System Email row; returns its id."""
        return await asyncio.to_thread(self._binding_email, inp.binding_id)

    def _binding_email(self, binding_id: int) -> int:
        key = f"binding:{binding_id}:broker"
        with session_scope(self._engine) as session:
            existing = outbox.find(session, key)
            if existing is not None:
                return existing.id  # type: ignore[return-value]
            binding = session.get(Binding, binding_id)
            if binding is None:
                raise ApplicationError(f"binding {binding_id} not found", non_retryable=True)
            parties = request_context(session, binding.request_id)
            request: Request = parties["request"]
            offer = session.get(Offer, binding.offer_id)
            tender = session.get(Tender, binding.tender_id)
            assert offer is not None and tender is not None
            insurer = session.get(Insurer, tender.insurer_id)
            assert insurer is not None
            rendered = render_email(MailKind.BOUND_BROKER, {
                **parties,
                "subject": {"number": request.number, "product": parties["product"].name},
                "insurer": insurer,
                "offer": offer,
                "link": f"{self._settings.base_url.rstrip('/')}/requests/{request.id}",
                "has_cover_note": binding.cover_note_document_id is not None,
            })
            row = outbox.record(
                session, key=key, kind=BROKER_EMAIL_KIND, to_addr=parties["broker"].email, subject=rendered.subject,
                body=rendered.text, mail_from=self._settings.mail_from, request_id=request.id,
                attachment_document_id=binding.cover_note_document_id,
            )
            assert row.id is not None
            return row.id


__all__ = ["BROKER_EMAIL_KIND", "BindingActivities", "close_action_id"]

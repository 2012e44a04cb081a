"""The reconciler's activity: find rows whose workflow start was lost, and start it.

Run by ``ReconcileWorkflow`` on a Temporal Schedule. Every start uses the
row's deterministic workflow ID and a conflict policy that finds a running
workflow, so a row whose start did happen (an ambiguous RPC error) is left
alone. Rows younger than ``reconcile_grace_s`` are skipped: their web request
may still be starting them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from activities.binding import close_tender_for_binding
from tenderdesk.config import Settings
from tenderdesk.contracts import TenderPlan
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Binding,
    EmailStatus,
    Policyholder,
    Request,
    RequestStatus,
    SystemEmail,
    Tender,
    utcnow,
)
from tenderdesk.mail.render import MailKind
from tenderdesk.states import TERMINAL, TenderStatus
from workflows.reconcile import ReconcileResult
from workflows.starts import plan_for, start_binding, start_notification, start_tender, tender_summary

log = logging.getLogger(__name__)

#: System Email kinds delivered by their own NotificationWorkflow (the others
#: belong to a tender's or a binding's workflow, which the checks above cover).
NOTIFICATION_KINDS = (
    MailKind.MESSAGE_BACKOFFICE.value, MailKind.MESSAGE_BROKER.value, MailKind.OFFERS_RELEASED.value,
    MailKind.PASSWORD_RESET.value,
)
#: Per run and kind; the next run (a minute later) takes the rest.
BATCH = 200


@dataclass
class _TenderStart:
    tender_id: int
    request_id: int
    insurer_id: int
    workflow_id: str
    request_number: str
    plan: TenderPlan


@dataclass
class _Close:
    binding_id: int
    tender_id: int
    workflow_id: str
    won: bool


class ReconcileActivities:
    def __init__(self, engine: Engine, settings: Settings, client: Client) -> None:
        self._engine = engine
        self._settings = settings
        self._client = client

    @activity.defn(name="reconcile")
    async def reconcile(self) -> ReconcileResult:
        cutoff = utcnow() - timedelta(seconds=self._settings.reconcile_grace_s)
        tenders, bindings, closes, emails = await asyncio.to_thread(self._find, cutoff)
        result = ReconcileResult()
        s = self._settings
        for t in tenders:
            if await self._try(f"tender {t.tender_id}", start_tender(
                self._client, task_queue=s.temporal_task_queue, workflow_id=t.workflow_id,
                tender_id=t.tender_id, request_id=t.request_id, insurer_id=t.insurer_id,
                plan=t.plan, summary=tender_summary(t.request_number, t.insurer_id),
                reuse_running=True, request_number=t.request_number,
            )):
                result.tenders_started += 1
        for binding_id, request_id in bindings:
            if await self._try(f"binding {binding_id}", start_binding(
                self._client, task_queue=s.temporal_task_queue, prefix=s.workflow_id_prefix,
                binding_id=binding_id, request_id=request_id,
            )):
                result.bindings_started += 1
        for c in closes:
            if await self._try(f"close tender {c.tender_id}", close_tender_for_binding(
                self._client, binding_id=c.binding_id, tender_id=c.tender_id, workflow_id=c.workflow_id, won=c.won,
            )):
                result.tenders_closed += 1
        for email_id, kind in emails:
            if await self._try(f"email {email_id}", start_notification(
                self._client, task_queue=s.temporal_task_queue, prefix=s.workflow_id_prefix,
                system_email_id=email_id, summary=f"E-Mail #{email_id} ({kind}), nachgeholt",
            )):
                result.emails_started += 1
        if result != ReconcileResult():
            log.warning("reconciled: %s", result)
        return result

    @staticmethod
    async def _try(what: str, start: object) -> bool:
        """One start; a failure is logged and left for the next run, not retried here."""
        try:
            await start  # type: ignore[misc]
        except RPCError as err:
            log.warning("reconcile: %s not started (%s)", what, err.status)
            return False
        return True

    def _find(
        self, cutoff: datetime,
    ) -> tuple[list[_TenderStart], list[tuple[int, int]], list[_Close], list[tuple[int, str]]]:
        with session_scope(self._engine) as session:
            never_started = session.exec(
                select(Tender, Request.number, Account, Policyholder.state)
                .join(Request, col(Request.id) == col(Tender.request_id))
                .join(Account, col(Account.id) == col(Request.account_id))
                .join(Policyholder, col(Policyholder.id) == col(Request.policyholder_id))
                .where(col(Tender.status) == TenderStatus.QUEUED)
                .where(col(Tender.projection_version) == 0)
                .where(col(Tender.created_at) < cutoff)
                .where(col(Request.status) == RequestStatus.OPEN)
                .order_by(col(Tender.id))
                .limit(BATCH)
            ).all()
            tenders = [
                _TenderStart(tender_id=t.id, request_id=t.request_id, insurer_id=t.insurer_id,  # type: ignore[arg-type]
                             workflow_id=t.workflow_id, request_number=number, plan=plan_for(account, state))
                for t, number, account, state in never_started
            ]
            unfinished = session.exec(
                select(Binding.id, Binding.request_id)
                .where(col(Binding.cover_note_document_id).is_(None))
                .where(col(Binding.created_at) < cutoff)
                .order_by(col(Binding.id))
                .limit(BATCH)
            ).all()
            still_open = session.exec(
                select(Tender.id, Tender.workflow_id, Binding.id, Binding.tender_id)
                .join(Binding, col(Binding.request_id) == col(Tender.request_id))
                .where(col(Tender.status).not_in(list(TERMINAL)))
                .where(col(Binding.created_at) < cutoff)
                .order_by(col(Tender.id))
                .limit(BATCH)
            ).all()
            closes = [
                _Close(binding_id=b_id, tender_id=t_id, workflow_id=wf, won=t_id == won_id)  # type: ignore[arg-type]
                for t_id, wf, b_id, won_id in still_open
            ]
            pending = session.exec(
                select(SystemEmail.id, SystemEmail.kind)
                .where(col(SystemEmail.status) == EmailStatus.PENDING)
                .where(col(SystemEmail.attempts) == 0)
                .where(col(SystemEmail.kind).in_(NOTIFICATION_KINDS))
                .where(col(SystemEmail.created_at) < cutoff)
                .order_by(col(SystemEmail.id))
                .limit(BATCH)
            ).all()
        return tenders, [(b, r) for b, r in unfinished], closes, [(e, k) for e, k in pending]  # type: ignore[misc]


__all__ = ["NOTIFICATION_KINDS", "ReconcileActivities"]

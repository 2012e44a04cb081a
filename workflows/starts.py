"""How each workflow is started: its deterministic ID, its options and its search attributes.

The web starts workflows right after it commits the rows they work on; the
reconciler (:mod:`workflows.reconcile`) starts the same workflows again for
rows whose start was lost (Temporal unreachable, a web process killed between
commit and start, an ambiguous RPC error). Both go through these functions,
so a late start is the same start: same ID, and a conflict policy that finds
the running workflow instead of starting a second one.

Only client calls live here; this module is imported by the web and the
activities, never by workflow code.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Protocol

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from tenderdesk.contracts import NotificationInput, TenderInput, TenderPlan
from tenderdesk.ids import binding_workflow_id, mail_workflow_id
from tenderdesk.states import TenderStatus
from workflows import INSURER_ID, REQUEST_ID, REQUEST_NUMBER, TENDER_STATUS
from workflows.binding import BindingInput


class TimingRules(Protocol):
    """An account's timing columns (``tenderdesk.db.models.Account``)."""

    reminder_offsets_s: list[float]
    response_deadline_s: float
    offer_validity_s: float
    business_days: bool


def plan_for(account: TimingRules, state: str = "") -> TenderPlan:
    """The account's timing rules as the tender copies them at its start;
    ``state`` is the policyholder's Bundesland, whose holidays count."""
    return TenderPlan(
        reminder_offsets_s=list(account.reminder_offsets_s),
        response_deadline_s=account.response_deadline_s,
        offer_validity_s=account.offer_validity_s,
        business_days=account.business_days,
        state=state,
    )


def tender_summary(request_number: str, insurer_id: int) -> str:
    """What the Temporal UI lists for a tender: numbers only, no names (they are
    kept out of Temporal like every other personal or business detail)."""
    return f"Anfrage {request_number} · Gesellschaft #{insurer_id}"


async def start_tender(
    client: Client,
    *,
    task_queue: str,
    workflow_id: str,
    tender_id: int,
    request_id: int,
    insurer_id: int,
    plan: TenderPlan,
    summary: str,
    reuse_running: bool = False,
    request_number: str = "",
) -> None:
    """Start one TenderWorkflow. The web starts with ``reuse_running=False``: a
    running workflow of the same (request, insurer) means a second tender, and
    raises :class:`WorkflowAlreadyStartedError`. The reconciler passes ``True``:
    a running one is the one it meant to start."""
    await client.start_workflow(
        "TenderWorkflow",
        TenderInput(tender_id=tender_id, request_id=request_id, insurer_id=insurer_id, plan=plan),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING if reuse_running else WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(REQUEST_ID, str(request_id)),
                SearchAttributePair(INSURER_ID, str(insurer_id)),
                SearchAttributePair(TENDER_STATUS, TenderStatus.QUEUED.value),
                *([SearchAttributePair(REQUEST_NUMBER, request_number)] if request_number else []),
            ]
        ),
        static_summary=summary,
        static_details=f"Ausschreibung #{tender_id} der Anfrage {request_id} an Gesellschaft {insurer_id}",
    )


async def start_binding(client: Client, *, task_queue: str, prefix: str, binding_id: int, request_id: int) -> None:
    """Start (or find running) the request's BindingWorkflow; a completed run is
    never repeated, a failed or terminated one may be."""
    with suppress(WorkflowAlreadyStartedError):  # completed before: nothing left to do
        await client.start_workflow(
            "BindingWorkflow",
            BindingInput(binding_id=binding_id, request_id=request_id),
            id=binding_workflow_id(request_id, prefix),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes([SearchAttributePair(REQUEST_ID, str(request_id))]),
            static_summary=f"Abschluss #{binding_id} der Anfrage {request_id}",
        )


async def start_notification(
    client: Client, *, task_queue: str, prefix: str, system_email_id: int, summary: str
) -> None:
    """Start (or find running) the delivery of one System Email row; a row is
    delivered by one workflow only."""
    with suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "NotificationWorkflow",
            NotificationInput(system_email_id=system_email_id),
            id=mail_workflow_id(system_email_id, prefix),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=summary,
        )


__all__ = ["start_binding", "start_notification", "start_tender"]

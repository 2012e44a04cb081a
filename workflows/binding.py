"""BindingWorkflow: what has to happen after a broker bound an offer ("Abschluss").

The web layer decides the binding itself in one database transaction (the
unique ``Binding.request_id`` makes it exactly one per request) and then starts
this workflow, one per request (:func:`tenderdesk.ids.binding_workflow_id`). Everything
after that must happen even if a web process, worker or SMTP server dies half
way, so it is durable here:

1. close every tender of the request that is still running: the chosen one
   with ``won=True`` (its workflow emails the cover order to the insurer), all
   others with ``won=False`` (their workflows email "nicht zum Zuge gekommen");
2. render the cover note PDF (offer terms + the whole chat history) and store
   it as a ``COVER_NOTE`` document of the request;
3. tell the broker that the binding is done (a System Email row, delivered by
   the same SMTP activity as every other notification).

Each step is an idempotent activity keyed by the binding id, so retries and a
restarted workflow repeat nothing. Payloads carry only IDs, like every other
workflow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from tenderdesk.contracts import EmailResult, NotificationInput
    from workflows.policies import DB_RETRY, EMAIL_RETRY


@dataclass
class BindingInput:
    """The binding row written by the web layer; the workflow needs nothing else."""

    binding_id: int
    request_id: int


@dataclass
class CloseTendersResult:
    closed_tender_ids: list[int] = field(default_factory=list)
    #: Tenders that had already ended (declined, expired, withdrawn, finished workflow).
    skipped_tender_ids: list[int] = field(default_factory=list)


@dataclass
class BindingResult:
    closed_tender_ids: list[int]
    cover_note_document_id: int
    broker_email_id: int
    broker_notified: bool


#: Closing talks to Temporal and the database; both come back, so keep trying
#: (with backoff) rather than leave tenders running after a binding.
CLOSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)


@workflow.defn
class BindingWorkflow:
    @workflow.run
    async def run(self, inp: BindingInput) -> BindingResult:
        workflow.set_current_details(f"Abschluss #{inp.binding_id}: Ausschreibungen werden beendet")
        closed: CloseTendersResult = await workflow.execute_activity(
            "close_tenders_for_binding",
            inp,
            result_type=CloseTendersResult,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=CLOSE_RETRY,
            summary="close tenders",
        )
        workflow.set_current_details(f"Abschluss #{inp.binding_id}: Deckungsnote wird erstellt")
        document_id: int = await workflow.execute_activity(
            "create_cover_note",
            inp,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=DB_RETRY,
            summary="cover note",
        )
        email_id: int = await workflow.execute_activity(
            "record_binding_email",
            inp,
            result_type=int,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
            summary="broker email",
        )
        workflow.set_current_details(f"Abschluss #{inp.binding_id}: Vermittler wird benachrichtigt")
        try:
            sent: EmailResult = await workflow.execute_activity(
                "deliver_system_email",
                NotificationInput(system_email_id=email_id, max_attempts=EMAIL_RETRY.maximum_attempts),
                result_type=EmailResult,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=EMAIL_RETRY,
                summary="deliver broker email",
            )
            notified = sent.delivered
        except ActivityError:
            # The row is marked failed and shown under System Emails; the binding stands.
            notified = False
        workflow.set_current_details(f"Abschluss #{inp.binding_id}: erledigt")
        return BindingResult(
            closed_tender_ids=closed.closed_tender_ids,
            cover_note_document_id=document_id,
            broker_email_id=email_id,
            broker_notified=notified,
        )


__all__ = ["BindingInput", "BindingResult", "BindingWorkflow", "CloseTendersResult"]

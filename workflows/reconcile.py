"""ReconcileWorkflow: start what a lost start left behind, run by a Temporal Schedule.

The web commits a row first and starts its workflow second. When the second
step fails (Temporal unreachable, an ambiguous RPC error, a web process killed
in between) the row is there and its workflow is not: a tender that never goes
out, a binding whose tenders keep reminding insurers, a notice that stays
"pending". A Temporal Schedule (:func:`workflows.schedules.ensure_reconcile_schedule`,
not cron) runs this workflow every minute; its one activity finds such rows
and starts their workflows with the same deterministic IDs, so a workflow
that did start is found, not doubled. It also closes tenders that started
while their request was being bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.policies import DB_RETRY


@dataclass
class ReconcileResult:
    tenders_started: int = 0
    bindings_started: int = 0
    tenders_closed: int = 0
    emails_started: int = 0


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self) -> ReconcileResult:
        result: ReconcileResult = await workflow.execute_activity(
            "reconcile",
            result_type=ReconcileResult,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=DB_RETRY,
            summary="start what is missing",
        )
        return result


__all__ = ["ReconcileResult", "ReconcileWorkflow"]

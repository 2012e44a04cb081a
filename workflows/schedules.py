"""The Temporal Schedules of the product; periodic work is never a cron job."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)


def reconcile_schedule_id(prefix: str) -> str:
    return f"{prefix}-reconcile"


async def ensure_reconcile_schedule(client: Client, *, prefix: str, task_queue: str, every: timedelta) -> str:
    """Create the reconciler's schedule once; every worker calls this at start,
    and all but the first find it there. Returns the schedule ID."""
    schedule_id = reconcile_schedule_id(prefix)
    with suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "ReconcileWorkflow", id=f"{prefix}-reconcile-run", task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                # A slow run is not overtaken by the next one.
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    return schedule_id


__all__ = ["ensure_reconcile_schedule", "reconcile_schedule_id"]

"""The tender's dates in German business days, as a (local) activity.

Workflow code must replay the same way for ever; a holiday table changes with
each ``holidays`` release. So the workflow asks this activity once, when the
tender went out, and its history keeps the answer."""

from __future__ import annotations

from temporalio import activity

from tenderdesk.contracts import DatesInput, DatesResult
from tenderdesk.workdays import tender_dates


@activity.defn(name="tender_dates")
async def tender_dates_activity(inp: DatesInput) -> DatesResult:
    dates = tender_dates(inp.sent_at, inp.plan.reminder_offsets_s, inp.plan.response_deadline_s, inp.plan.state)
    return DatesResult(reminders=dates.reminders, deadline_at=dates.deadline_at)


__all__ = ["tender_dates_activity"]

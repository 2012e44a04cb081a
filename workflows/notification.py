"""NotificationWorkflow: deliver one System Email durably.

Emails that are not part of a tender's life (message notices to the broker or
backoffice, release notices, the password reset) are written by the web layer
as a System Email row and handed to this workflow, so SMTP hiccups are retried
with backoff by Temporal instead of being lost with a web request. One workflow
per row (:func:`tenderdesk.ids.mail_workflow_id`), so a row is never delivered
by two workflows.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from tenderdesk.contracts import EmailResult, NotificationInput
    from workflows.policies import EMAIL_RETRY


@workflow.defn
class NotificationWorkflow:
    @workflow.run
    async def run(self, inp: NotificationInput) -> bool:
        try:
            result: EmailResult = await workflow.execute_activity(
                "deliver_system_email",
                NotificationInput(inp.system_email_id, max_attempts=EMAIL_RETRY.maximum_attempts),
                result_type=EmailResult,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=EMAIL_RETRY,
            )
        except ActivityError:
            return False
        return result.delivered

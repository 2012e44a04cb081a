"""The tender's emails: queued by the workflow, sent one at a time beside its timers.

Sending runs in its own workflow task (coroutine), so a greylisted reminder
that retries for hours never holds back the response deadline or the offer's
validity. When the tender ends, the insurer's own kinds (tender email,
reminder, message notice) that are queued are dropped and one in flight is
cancelled: nothing of the tender's own goes out after its end. The outcome
emails (cover order, "nicht zum Zuge gekommen", "zurückgezogen") are sent
after the end by design.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from tenderdesk.contracts import INSURER_EMAIL_KINDS, EmailInput, EmailKind, EmailResult
    from workflows.policies import EMAIL_RETRY

INSURER_KINDS = INSURER_EMAIL_KINDS

#: One SMTP exchange takes seconds; a worker that dies mid-send is noticed by the
#: missing heartbeat, not after the whole start-to-close timeout.
SEND_TIMEOUT = timedelta(minutes=2)
HEARTBEAT_TIMEOUT = timedelta(seconds=15)


@dataclass
class Delivery:
    """How one send ended; ``refused`` says why the activity did not send at all."""

    kind: EmailKind
    delivered: bool
    email_id: int | None
    refused: str = ""


class Outbox:
    def __init__(self, tender_id: int) -> None:
        self._tender_id = tender_id
        self.queue: list[EmailKind] = []
        self.seq: dict[EmailKind, int] = {}
        self._in_flight: tuple[EmailKind, asyncio.Task[EmailResult]] | None = None

    def add(self, kind: EmailKind) -> None:
        self.queue.append(kind)

    def pending(self, kind: EmailKind) -> bool:
        """Queued or being sent: a second one of the same kind would reach the insurer twice."""
        return kind in self.queue or (self._in_flight is not None and self._in_flight[0] == kind)

    def drop_insurer_mail(self) -> None:
        """The tender ended: forget its queued insurer emails and cancel the one in flight."""
        self.queue = [kind for kind in self.queue if kind not in INSURER_KINDS]
        if self._in_flight is not None and self._in_flight[0] in INSURER_KINDS:
            self._in_flight[1].cancel()

    def next_seq(self, kind: EmailKind) -> int:
        seq = self.seq.get(kind, 0) + 1
        self.seq[kind] = seq
        return seq

    async def next(self) -> EmailKind:
        await workflow.wait_condition(lambda: bool(self.queue))
        return self.queue.pop(0)

    async def send(self, kind: EmailKind) -> Delivery | None:
        """Send one email (with its retries); ``None`` if it was cancelled because the tender ended."""
        seq = self.next_seq(kind)
        handle = workflow.start_activity(
            "send_email",
            EmailInput(tender_id=self._tender_id, kind=kind, seq=seq, max_attempts=EMAIL_RETRY.maximum_attempts),
            result_type=EmailResult,
            start_to_close_timeout=SEND_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=EMAIL_RETRY,
            summary=f"{kind.value} #{seq}",
        )
        self._in_flight = (kind, handle)
        try:
            result = await handle
        except (ActivityError, asyncio.CancelledError) as err:
            if is_cancelled_exception(err):
                return None
            return Delivery(kind=kind, delivered=False, email_id=None)
        finally:
            self._in_flight = None
        return Delivery(kind=kind, delivered=result.delivered, email_id=result.system_email_id,
                        refused=result.refused)


__all__ = ["INSURER_KINDS", "Delivery", "Outbox"]

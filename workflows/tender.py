"""TenderWorkflow: one durable workflow per (request, insurer).

It owns the tender's state and every timer in it: automatic reminders, the
response deadline and the offer's validity. Callers change it only through
updates; each has a validator so an illegal move is rejected with a reason
code (``TransitionRejected``) before it reaches history, and each carries an ``action_id`` so a
duplicate delivery returns the first answer and changes nothing.

Side effects (email, database) run as activities. Update handlers hold one lock
while they change state and write the projection, so the caller's next page
load already shows the change, and timers never interleave with an update.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from tenderdesk.contracts import (
        Action,
        ActionResult,
        CloseAction,
        DatesInput,
        DatesResult,
        DeclineAction,
        EmailInput,
        EmailKind,
        EmailResult,
        OfferAction,
        ProjectionInput,
        QuestionAction,
        RescheduleAction,
        TenderInput,
        TenderSnapshot,
        TimerKind,
    )
    from tenderdesk.states import (
        AWAITING_INSURER,
        TenderStatus,
        TransitionError,
        check_transition,
        is_terminal,
    )
    from workflows import DELIVERY_FAILED_ON, TENDER_OUTCOME, TENDER_STATUS
    from workflows import tender_rules as rules
    from workflows.policies import DB_RETRY, EMAIL_RETRY
    from workflows.tender_outbox import Delivery, Outbox

S = TenderStatus

#: Tenders started before this patch keep the old run loop (emails inline in
#: front of the timers) so their histories replay; new ones send beside the
#: timers, cancel insurer mail at the end, skip passed reminders and ask
#: whether the request is still open before they accept an insurer's action.
EDGES_PATCH = "durable-edges-1"
#: Closing upserts the TenderOutcome search attribute (won or lost).
OUTCOME_PATCH = "outcome-1"
#: Withdrawing a tender the insurer knows of tells the insurer (a short email).
WITHDRAWN_MAIL_PATCH = "withdrawn-mail-1"
#: Reminders and the deadline in German business days (dates from the
#: ``tender_dates`` local activity), and no reminders while the insurer's
#: question waits for our answer.
BUSINESS_DAYS_PATCH = "business-days-1"
#: A failed delivery sets the DeliveryFailedOn search attribute.
DELIVERY_ATTRIBUTE_PATCH = "delivery-failed-attribute-1"
#: The projection runs as a local activity: one marker event instead of three
#: activity events and a workflow task round trip per state change (issue 9).
LOCAL_PROJECTION_PATCH = "local-projection-1"
#: Duplicate updates are answered from this map; Temporal itself deduplicates
#: update IDs within a run, so only the most recent ones need keeping.
MAX_REMEMBERED_ACTIONS = 256


def _fmt(at: datetime | None) -> str:
    return at.strftime("%d.%m.%Y %H:%M UTC") if at else "—"


def _rejection(err: TransitionError) -> ApplicationError:
    """A refused update as the caller sees it: the reason code as message and
    its parameters (status and action codes) as details, worded by the web."""
    return ApplicationError(err.code, err.params, type="TransitionRejected", non_retryable=True)


@workflow.defn
class TenderWorkflow:
    @workflow.init
    def __init__(self, inp: TenderInput) -> None:
        self._inp = inp
        self._v2 = workflow.patched(EDGES_PATCH)
        self._local_projection = workflow.patched(LOCAL_PROJECTION_PATCH)
        self._status = S.QUEUED
        self._version = 0
        self._results: OrderedDict[str, ActionResult] = OrderedDict()
        self._lock = asyncio.Lock()
        self._mail = Outbox(inp.tender_id)
        self._sent_at: datetime | None = None
        self._first_opened_at: datetime | None = None
        self._ended_at: datetime | None = None
        self._reminders_sent = 0
        self._next_auto_reminder = 0
        self._reminder_override: datetime | None = None
        self._deadline_at: datetime | None = None
        self._offer_id: int | None = None
        self._offer_valid_until: datetime | None = None
        self._delivery_failed = False
        #: Won: the cover order must reach the insurer (or be resent by a person) before the run ends.
        self._cover_order_owed = False
        self._timers_changed = False
        self._seen_version = 0
        #: The mail loop is sending or recording an email (the run may not end under it).
        self._mail_busy = False
        #: Automatic reminder times in business days (None: sent_at + offsets).
        self._reminder_times: list[datetime] | None = None
        #: The insurer asked; reminders wait until the backoffice answers.
        self._question_open = False

    # ------------------------------------------------------------------ run
    @workflow.run
    async def run(self, inp: TenderInput) -> str:
        if not self._v2:
            return await self._run_inline_mail()
        async with self._lock:
            await self._project("tender_started")
        self._mail.add(EmailKind.TENDER)
        mailer = asyncio.create_task(self._mail_loop())
        while not is_terminal(self._status):
            timer = self._next_timer()
            self._timers_changed = False
            self._seen_version = self._version  # any projected change (the tender went out) may move the timers
            timeout = None if timer is None else timer[0] - workflow.now()
            if timer is not None and timeout is not None and timeout <= timedelta(0):
                await self._fire(timer)
                continue
            try:
                await workflow.wait_condition(
                    lambda: self._timers_changed or self._version != self._seen_version or is_terminal(self._status),
                    timeout=timeout,
                    timeout_summary=timer[1].value if timer else None,
                )
            except TimeoutError:
                await self._fire(timer)  # type: ignore[arg-type]
        # Ended: the outcome emails still go out, and a won tender waits for its cover order.
        await workflow.wait_condition(
            lambda: not self._mail.queue and not self._mail_busy and not self._cover_order_owed
        )
        mailer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status.value

    async def _mail_loop(self) -> None:
        while True:
            kind = await self._mail.next()
            self._mail_busy = True
            try:
                delivery = await self._mail.send(kind)
                if delivery is not None:
                    async with self._lock:
                        await self._after_delivery(delivery)
            finally:
                self._mail_busy = False

    async def _run_inline_mail(self) -> str:
        """The run loop of tenders started before :data:`EDGES_PATCH` (replay only)."""
        async with self._lock:
            await self._project("tender_started")
        self._mail.add(EmailKind.TENDER)
        while True:
            await self._drain_inline()
            if is_terminal(self._status) and not self._mail.queue:
                break
            timer = self._next_timer()
            self._timers_changed = False
            timeout = None if timer is None else timer[0] - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                await self._fire(timer)  # type: ignore[arg-type]
                continue
            try:
                await workflow.wait_condition(
                    lambda: bool(self._mail.queue) or self._timers_changed or is_terminal(self._status),
                    timeout=timeout,
                    timeout_summary=timer[1].value if timer else None,
                )
            except TimeoutError:
                await self._fire(timer)  # type: ignore[arg-type]
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status.value

    # ------------------------------------------------------------- queries
    @workflow.query
    def snapshot(self) -> TenderSnapshot:
        timer = self._next_timer()
        return TenderSnapshot(
            tender_id=self._inp.tender_id,
            status=self._status,
            version=self._version,
            sent_at=self._sent_at,
            first_opened_at=self._first_opened_at,
            ended_at=self._ended_at,
            reminders_sent=self._reminders_sent,
            deadline_at=self._deadline_at,
            next_reminder_at=self._next_reminder_at(),
            next_timer_at=timer[0] if timer else None,
            next_timer_kind=timer[1] if timer else None,
            offer_id=self._offer_id,
            offer_valid_until=self._offer_valid_until,
            delivery_failed=self._delivery_failed,
            reminders_paused=self._question_open and self._status in AWAITING_INSURER,
        )

    # ------------------------------------------------------------- updates
    @workflow.update
    async def link_opened(self, action: Action) -> ActionResult:
        async def apply() -> str:
            if self._first_opened_at is None:
                self._first_opened_at = workflow.now()
                await self._project("link_opened", action)
            return "link_opened"

        return await self._handle(action, apply)

    @link_opened.validator
    def _v_link_opened(self, action: Action) -> None:
        self._require_not_ended(action, "open_link")

    @workflow.update
    async def ask_question(self, action: QuestionAction) -> ActionResult:
        async def apply() -> str:
            rules.question(self._status)
            await self._require_request_open()
            if self._status in AWAITING_INSURER:
                self._status = S.IN_PROGRESS
            if workflow.patched(BUSINESS_DAYS_PATCH):
                # No reminder while the insurer waits for us.
                self._question_open = True
                self._timers_changed = True
            await self._project("question_asked", action, message_id=action.message_id)
            return "question_sent"

        return await self._handle(action, apply)

    @ask_question.validator
    def _v_ask_question(self, action: QuestionAction) -> None:
        self._validate(action, lambda: rules.question(self._status))

    @workflow.update
    async def mark_in_progress(self, action: Action) -> ActionResult:
        async def apply() -> str:
            rules.mark_in_progress(self._status)
            self._status = S.IN_PROGRESS
            await self._project("marked_in_progress", action)
            return "marked_in_progress"

        return await self._handle(action, apply)

    @mark_in_progress.validator
    def _v_mark_in_progress(self, action: Action) -> None:
        self._validate(action, lambda: rules.mark_in_progress(self._status))

    @workflow.update
    async def submit_offer(self, action: OfferAction) -> ActionResult:
        async def apply() -> str:
            rules.offer(self._status, action.valid_until, workflow.now())
            await self._require_request_open()
            self._accept_offer(action)
            event = "offer_added" if action.by_backoffice else "offer_submitted"
            await self._project(event, action, offer_id=action.offer_id)
            return "offer_submitted"

        return await self._handle(action, apply)

    @submit_offer.validator
    def _v_submit_offer(self, action: OfferAction) -> None:
        self._validate(action, lambda: rules.offer(self._status, action.valid_until, workflow.now()))

    @workflow.update
    async def edit_offer(self, action: OfferAction) -> ActionResult:
        async def apply() -> str:
            rules.edit_offer(self._status, action.valid_until, workflow.now())
            await self._require_request_open()
            self._accept_offer(action)
            await self._project("offer_edited", action, offer_id=action.offer_id)
            return "offer_edited"

        return await self._handle(action, apply)

    @edit_offer.validator
    def _v_edit_offer(self, action: OfferAction) -> None:
        self._validate(action, lambda: rules.edit_offer(self._status, action.valid_until, workflow.now()))

    @workflow.update
    async def decline(self, action: DeclineAction) -> ActionResult:
        async def apply() -> str:
            check_transition(self._status, S.DECLINED, "decline")
            await self._require_request_open()
            self._end(S.DECLINED)
            await self._project("declined", action, message_id=action.message_id)
            return "declined"

        return await self._handle(action, apply)

    @decline.validator
    def _v_decline(self, action: DeclineAction) -> None:
        self._validate(action, lambda: check_transition(self._status, S.DECLINED, "decline"))

    @workflow.update
    async def withdraw(self, action: Action) -> ActionResult:
        async def apply() -> str:
            check_transition(self._status, S.WITHDRAWN, "withdraw")
            insurer_knows = self._status != S.QUEUED
            self._end(S.WITHDRAWN)
            if insurer_knows and workflow.patched(WITHDRAWN_MAIL_PATCH):
                # The insurer may be working on it, or holds an offer that is now void.
                self._mail.add(EmailKind.WITHDRAWN)
            await self._project("withdrawn", action)
            return "withdrawn"

        return await self._handle(action, apply)

    @withdraw.validator
    def _v_withdraw(self, action: Action) -> None:
        self._validate(action, lambda: check_transition(self._status, S.WITHDRAWN, "withdraw"))

    @workflow.update
    async def remind_now(self, action: Action) -> ActionResult:
        async def apply() -> str:
            rules.remind(self._status, self._delivery_failed, self._cover_order_owed)
            if not self._v2:
                self._mail.add(EmailKind.TENDER if self._status == S.QUEUED else EmailKind.REMINDER)
                return "resent" if self._status == S.QUEUED else "reminder_sent"
            # A resend while the first one is still queued or retrying would reach the insurer twice.
            if self._status == S.CLOSED:
                return self._resend(EmailKind.COVER_ORDER)
            if self._status == S.QUEUED:
                return self._resend(EmailKind.TENDER)
            self._mail.add(EmailKind.REMINDER)
            return "reminder_sent"

        return await self._handle(action, apply)

    @remind_now.validator
    def _v_remind_now(self, action: Action) -> None:
        self._validate(action, lambda: rules.remind(self._status, self._delivery_failed, self._cover_order_owed))

    def _resend(self, kind: EmailKind) -> str:
        if not self._mail.pending(kind):
            self._mail.add(kind)
        return "resent"

    @workflow.update
    async def notify_insurer(self, action: Action) -> ActionResult:
        """Backoffice wrote in the insurer's thread: email the insurer a fresh link."""

        async def apply() -> str:
            rules.notify(self._status)
            self._mail.add(EmailKind.MESSAGE)
            if self._question_open:
                # Answered: reminders resume with the next one still ahead;
                # those that fell due during the pause are not sent.
                self._question_open = False
                self._skip_passed_reminders()
                self._timers_changed = True
            return "insurer_notified"

        return await self._handle(action, apply)

    @notify_insurer.validator
    def _v_notify_insurer(self, action: Action) -> None:
        self._validate(action, lambda: rules.notify(self._status))

    @workflow.update
    async def reschedule(self, action: RescheduleAction) -> ActionResult:
        async def apply() -> str:
            rules.reschedule(self._status, self._deadline_at, action, workflow.now())
            if action.deadline_at is not None:
                self._deadline_at = action.deadline_at
            if action.next_reminder_at is not None:
                self._reminder_override = action.next_reminder_at
            self._timers_changed = True
            await self._project("rescheduled", action)
            return "rescheduled"

        return await self._handle(action, apply)

    @reschedule.validator
    def _v_reschedule(self, action: RescheduleAction) -> None:
        self._validate(action, lambda: rules.reschedule(self._status, self._deadline_at, action, workflow.now()))

    @workflow.update
    async def close(self, action: CloseAction) -> ActionResult:
        async def apply() -> str:
            check_transition(self._status, S.CLOSED, "close")
            was_offering = self._status != S.QUEUED
            self._end(S.CLOSED)
            if workflow.patched(OUTCOME_PATCH):
                # Ops ask "every tender we won with insurer Y": TenderStatus says only "closed".
                workflow.upsert_search_attributes([TENDER_OUTCOME.value_set("won" if action.won else "lost")])
            if action.won:
                self._mail.add(EmailKind.COVER_ORDER)
                self._cover_order_owed = self._v2
            elif was_offering:
                self._mail.add(EmailKind.NOT_SELECTED)
            await self._project("closed_won" if action.won else "closed", action)
            return "closed"

        return await self._handle(action, apply)

    @close.validator
    def _v_close(self, action: CloseAction) -> None:
        self._validate(action, lambda: check_transition(self._status, S.CLOSED, "close"))

    # ------------------------------------------------------- rule checks
    def _validate(self, action: Action, check: object) -> None:
        """Validators run before the update reaches history; a duplicate passes
        (its handler returns the first answer), anything else must pass ``check``."""
        if action.action_id in self._results:
            return
        try:
            check()  # type: ignore[operator]
        except TransitionError as err:
            raise _rejection(err) from None

    def _require_not_ended(self, action: Action, what: str) -> None:
        def check() -> None:
            if is_terminal(self._status):
                check_transition(self._status, self._status, what)

        self._validate(action, check)

    # ------------------------------------------------------------ helpers
    async def _handle(self, action: Action, apply: object) -> ActionResult:
        """Run one update exactly once per ``action_id`` under the state lock."""
        async with self._lock:
            if action.action_id in self._results:
                first = self._results[action.action_id]
                return ActionResult(status=self._status, changed=False, code=first.code)
            try:
                code = await apply()  # type: ignore[operator]
            except TransitionError as err:
                raise _rejection(err) from None
            result = ActionResult(status=self._status, changed=True, code=code)
            self._results[action.action_id] = result
            if self._v2 and len(self._results) > MAX_REMEMBERED_ACTIONS:
                self._results.popitem(last=False)
            return result

    def _accept_offer(self, action: OfferAction) -> None:
        self._status = S.OFFERED
        self._offer_id = action.offer_id
        self._offer_valid_until = action.valid_until or (
            workflow.now() + timedelta(seconds=self._inp.plan.offer_validity_s)
        )
        self._timers_changed = True

    def _end(self, status: TenderStatus) -> None:
        self._status = status
        self._ended_at = workflow.now()
        self._timers_changed = True
        if self._v2:
            self._mail.drop_insurer_mail()

    async def _require_request_open(self) -> None:
        """Once the request is bound, no tender of it accepts an insurer's action,
        even in the moment before the binding's ``close`` reaches this workflow."""
        if not self._v2:
            return
        is_open: bool = await workflow.execute_local_activity(
            "request_is_open", self._inp.request_id, result_type=bool,
            start_to_close_timeout=timedelta(seconds=10), retry_policy=DB_RETRY,
        )
        if not is_open:
            raise TransitionError("request_bound")

    def _auto_reminder_at(self, index: int) -> datetime | None:
        """The ``index``-th automatic reminder: a business-day date if the plan
        counts business days, else ``sent_at`` plus its offset."""
        offsets = self._inp.plan.reminder_offsets_s
        if self._sent_at is None or index >= len(offsets):
            return None
        if self._reminder_times is not None:
            return self._reminder_times[index]
        return self._sent_at + timedelta(seconds=offsets[index])

    def _next_reminder_at(self) -> datetime | None:
        if self._status not in AWAITING_INSURER or self._sent_at is None or self._question_open:
            return None
        if self._reminder_override is not None:
            at = self._reminder_override
        else:
            auto = self._auto_reminder_at(self._next_auto_reminder)
            if auto is None:
                return None
            at = auto
        if self._deadline_at is not None and at >= self._deadline_at:
            return None
        return at

    def _next_timer(self) -> tuple[datetime, TimerKind] | None:
        if self._status in AWAITING_INSURER:
            reminder = self._next_reminder_at()
            if reminder is not None:
                return reminder, TimerKind.REMINDER
            if self._deadline_at is not None:
                return self._deadline_at, TimerKind.DEADLINE
        if self._status == S.OFFERED and self._offer_valid_until is not None:
            return self._offer_valid_until, TimerKind.OFFER_VALIDITY
        return None

    async def _fire(self, timer: tuple[datetime, TimerKind]) -> None:
        """A timer ran out. Re-check under the lock: an update may have moved it."""
        async with self._lock:
            current = self._next_timer()
            if current is None or current[1] != timer[1] or current[0] > workflow.now():
                return
            kind = timer[1]
            if kind == TimerKind.REMINDER:
                if self._reminder_override is not None:
                    self._reminder_override = None
                else:
                    self._next_auto_reminder += 1
                if not self._v2:
                    self._mail.add(EmailKind.REMINDER)
                    return
                # A moved reminder replaces the automatic ones it passed, and a
                # catch-up (after downtime) sends one reminder, not one per missed date.
                self._skip_passed_reminders()
                if not self._mail.pending(EmailKind.REMINDER):
                    self._mail.add(EmailKind.REMINDER)
            elif kind == TimerKind.DEADLINE:
                self._end(S.EXPIRED)
                await self._project("deadline_expired")
            elif kind == TimerKind.OFFER_VALIDITY:
                self._status = S.OFFER_EXPIRED
                await self._project("offer_expired")

    def _skip_passed_reminders(self) -> None:
        while (at := self._auto_reminder_at(self._next_auto_reminder)) is not None and at <= workflow.now():
            self._next_auto_reminder += 1

    async def _after_delivery(self, delivery: Delivery) -> None:
        if delivery.refused:
            # The activity would not send: the tender ended meanwhile (nothing to
            # record), or its request was bound while it was starting: close it.
            if delivery.refused == "request_closed" and not is_terminal(self._status):
                self._end(S.CLOSED)
                await self._project("closed")
            return
        await self._after_email(delivery.kind, delivery.delivered, delivery.email_id)
        if delivery.delivered and delivery.kind == EmailKind.COVER_ORDER:
            self._cover_order_owed = False

    async def _drain_inline(self) -> None:
        while self._mail.queue:
            kind = self._mail.queue.pop(0)
            seq = self._mail.next_seq(kind)
            try:
                result: EmailResult = await workflow.execute_activity(
                    "send_email",
                    EmailInput(
                        tender_id=self._inp.tender_id, kind=kind, seq=seq,
                        max_attempts=EMAIL_RETRY.maximum_attempts,
                    ),
                    result_type=EmailResult,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=EMAIL_RETRY,
                    summary=f"{kind.value} #{seq}",
                )
                delivered, email_id = result.delivered, result.system_email_id
            except ActivityError:
                delivered, email_id = False, None
            async with self._lock:
                await self._after_email(kind, delivered, email_id)

    async def _after_email(self, kind: EmailKind, delivered: bool, email_id: int | None) -> None:
        if not delivered:
            self._delivery_failed = True
            if workflow.patched(DELIVERY_ATTRIBUTE_PATCH):
                workflow.upsert_search_attributes(
                    [DELIVERY_FAILED_ON.value_set(workflow.now().date().isoformat())]
                )
            await self._project("delivery_failed", system_email_id=email_id)
            return
        self._delivery_failed = False
        if kind == EmailKind.TENDER and self._status == S.QUEUED:
            self._status = S.SENT
            self._sent_at = workflow.now()
            self._deadline_at = self._sent_at + timedelta(seconds=self._inp.plan.response_deadline_s)
            if self._inp.plan.business_days and workflow.patched(BUSINESS_DAYS_PATCH):
                dates: DatesResult = await workflow.execute_local_activity(
                    "tender_dates", DatesInput(sent_at=self._sent_at, plan=self._inp.plan), result_type=DatesResult,
                    start_to_close_timeout=timedelta(seconds=10), retry_policy=DB_RETRY,
                )
                self._reminder_times, self._deadline_at = dates.reminders, dates.deadline_at
            await self._project("tender_sent", system_email_id=email_id)
        elif kind == EmailKind.REMINDER:
            self._reminders_sent += 1
            await self._project("reminder_sent", system_email_id=email_id)
        else:
            await self._project(f"{kind.value}_sent", system_email_id=email_id)

    async def _project(
        self,
        event: str,
        action: Action | None = None,
        *,
        message_id: int | None = None,
        offer_id: int | None = None,
        system_email_id: int | None = None,
    ) -> None:
        """Write the new state to the database and to Temporal visibility."""
        self._version += 1
        snap = self.snapshot()
        workflow.upsert_search_attributes([TENDER_STATUS.value_set(self._status.value)])
        next_line = (
            f"nächster Termin: {snap.next_timer_kind.value} am {_fmt(snap.next_timer_at)}"
            if snap.next_timer_kind
            else "kein Termin offen"
        )
        workflow.set_current_details(
            f"**Status:** {self._status.value}\n\n"
            f"**Erinnerungen:** {self._reminders_sent}\n\n"
            f"**Frist:** {_fmt(self._deadline_at)}\n\n**{next_line}**"
        )
        projection = ProjectionInput(
            snapshot=snap,
            event=event,
            actor_user_id=action.actor_user_id if action else None,
            action_id=action.action_id if action else None,
            message_id=message_id,
            offer_id=offer_id,
            system_email_id=system_email_id,
        )
        if self._local_projection:
            await workflow.execute_local_activity(
                "project_tender", projection, start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY,
                summary=event,
            )
            return
        await workflow.execute_activity(
            "project_tender", projection, start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY,
            summary=event,
        )

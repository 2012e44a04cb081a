"""The tender's rules beyond the state table: when a question, an offer, a
reminder or a new date is allowed. Pure functions of the workflow's state, so
the validators and the handlers apply the same rule (a handler checks again,
because the state may have moved since its validator ran)."""

from __future__ import annotations

from datetime import datetime

from tenderdesk.contracts import RescheduleAction
from tenderdesk.states import AWAITING_INSURER, TenderStatus, TransitionError, check_transition, is_terminal

S = TenderStatus


def question(status: TenderStatus) -> None:
    if status == S.QUEUED or is_terminal(status):
        check_transition(status, S.IN_PROGRESS, "question")


def mark_in_progress(status: TenderStatus) -> None:
    if status != S.IN_PROGRESS:
        check_transition(status, S.IN_PROGRESS, "mark_in_progress")


def notify(status: TenderStatus) -> None:
    if is_terminal(status):
        # Says the tender has ended, why, and since when (as a question does).
        check_transition(status, S.IN_PROGRESS, "notify")
    if status == S.QUEUED:
        raise TransitionError("not_allowed", action="notify", status=status.value)


def validity(valid_until: datetime | None, now: datetime) -> None:
    if valid_until is not None and valid_until <= now:
        raise TransitionError("validity_past")


def offer(status: TenderStatus, valid_until: datetime | None, now: datetime) -> None:
    if status in (S.OFFERED, S.OFFER_EXPIRED):
        raise TransitionError("offer_exists")
    check_transition(status, S.OFFERED, "submit_offer")
    validity(valid_until, now)


def edit_offer(status: TenderStatus, valid_until: datetime | None, now: datetime) -> None:
    if status not in (S.OFFERED, S.OFFER_EXPIRED):
        raise TransitionError("edit_not_allowed", status=status.value)
    validity(valid_until, now)


def remind(status: TenderStatus, delivery_failed: bool, cover_order_owed: bool = False) -> None:
    """"Erinnerung schicken": while the insurer owes an answer, or to resend a
    failed tender email or a failed cover order (Deckungsauftrag)."""
    if status == S.QUEUED and delivery_failed:
        return
    if status == S.CLOSED and cover_order_owed and delivery_failed:
        return
    if status not in AWAITING_INSURER:
        raise TransitionError("not_allowed", action="remind", status=status.value)


def reschedule(status: TenderStatus, deadline_at: datetime | None, action: RescheduleAction, now: datetime) -> None:
    if status not in AWAITING_INSURER:
        raise TransitionError("reschedule_not_allowed", status=status.value)
    deadline = action.deadline_at or deadline_at
    for at in (action.deadline_at, action.next_reminder_at):
        if at is not None and at <= now:
            raise TransitionError("date_past")
    if action.next_reminder_at and deadline and action.next_reminder_at >= deadline:
        raise TransitionError("reminder_after_deadline")

"""The tender state machine, in one place.

``TenderWorkflow`` asks :func:`check_transition` before every change, and
``ARCHITECTURE.md`` draws the same table. Status labels live in the web's
catalogues (``status.<value>``). Pure and deterministic, so it is safe
inside the workflow sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum


class TenderStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    IN_PROGRESS = "in_progress"
    OFFERED = "offered"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    OFFER_EXPIRED = "offer_expired"
    CLOSED = "closed"


S = TenderStatus

#: Allowed moves. A status absent from the keys is terminal: the workflow ends.
TRANSITIONS: dict[TenderStatus, frozenset[TenderStatus]] = {
    S.QUEUED: frozenset({S.SENT, S.WITHDRAWN, S.CLOSED}),
    S.SENT: frozenset({S.IN_PROGRESS, S.OFFERED, S.DECLINED, S.WITHDRAWN, S.EXPIRED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.OFFERED, S.DECLINED, S.WITHDRAWN, S.EXPIRED, S.CLOSED}),
    S.OFFERED: frozenset({S.OFFERED, S.OFFER_EXPIRED, S.WITHDRAWN, S.CLOSED}),
    S.OFFER_EXPIRED: frozenset({S.OFFERED, S.WITHDRAWN, S.CLOSED}),
}

TERMINAL: frozenset[TenderStatus] = frozenset(set(TenderStatus) - set(TRANSITIONS))

#: States in which the insurer still owes an answer: reminders and the deadline run.
AWAITING_INSURER: frozenset[TenderStatus] = frozenset({S.SENT, S.IN_PROGRESS})

#: "Open" for the dashboard rule "no open tenders": the insurer may still answer.
OPEN: frozenset[TenderStatus] = frozenset({S.QUEUED, S.SENT, S.IN_PROGRESS})


class TransitionError(ValueError):
    """An illegal move, as a code with parameters (status and action codes,
    never sentences): the web turns it into a sentence in the reader's language
    (``workflow.<code>`` in the catalogues)."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def is_terminal(status: TenderStatus) -> bool:
    return status in TERMINAL


#: Without a reminder plan, a tender counts as overdue after this long unanswered.
OVERDUE_WITHOUT_PLAN_S = 3 * 86400.0


def overdue_cutoff(now: datetime, reminder_offsets_s: Sequence[float]) -> datetime:
    """An unanswered tender sent at or before this is "überfällig": its first
    automatic reminder was due (the account's rule for "the insurer should have
    answered"). Queries compare ``sent_at`` with it; :func:`is_overdue` too."""
    return now - timedelta(seconds=min(reminder_offsets_s, default=OVERDUE_WITHOUT_PLAN_S))


def is_overdue(status: TenderStatus, sent_at: datetime | None, reminder_offsets_s: Sequence[float],
               now: datetime) -> bool:
    """Still waiting for the insurer and past :func:`overdue_cutoff`: what
    "Alle überfälligen erinnern" reminds."""
    return status in AWAITING_INSURER and sent_at is not None and sent_at <= overdue_cutoff(now, reminder_offsets_s)


def check_transition(current: TenderStatus, target: TenderStatus, action: str) -> None:
    """Raise :class:`TransitionError` unless ``current -> target`` is allowed;
    ``action`` names the attempted move (``decline``, ``close``, ...)."""
    if target in TRANSITIONS.get(current, frozenset()):
        return
    raise TransitionError("ended" if is_terminal(current) else "not_allowed", action=action, status=current.value)

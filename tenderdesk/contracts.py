"""Payloads exchanged between web, workflow and activities.

Every workflow, update and activity takes exactly one dataclass, so fields can
be added later without breaking running workflows. Payloads carry only IDs,
statuses, times and amounts: free text (questions, decline reasons), names,
addresses and link tokens stay in the database and travel by reference,
because Temporal shows payloads in plain text in its Web UI.

Deliberately without ``from __future__ import annotations``: the payload
converter reads these classes' type hints for every payload it decodes, and
string annotations made it compile about 112 ``ForwardRef``s per tender.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tenderdesk.states import TenderStatus


class EmailKind(StrEnum):
    TENDER = "tender"
    REMINDER = "reminder"
    NOT_SELECTED = "not_selected"
    COVER_ORDER = "cover_order"
    MESSAGE = "message"
    WITHDRAWN = "withdrawn"


#: The emails of a running tender; none of them may reach the insurer after its end.
INSURER_EMAIL_KINDS = frozenset({EmailKind.TENDER, EmailKind.REMINDER, EmailKind.MESSAGE})


class TimerKind(StrEnum):
    REMINDER = "reminder"
    DEADLINE = "deadline"
    OFFER_VALIDITY = "offer_validity"


@dataclass
class TenderPlan:
    """The account's timing rules, copied at start so later edits of the account
    do not change tenders already running. Durations in seconds."""

    reminder_offsets_s: list[float] = field(default_factory=lambda: [3 * 86400.0, 7 * 86400.0])
    response_deadline_s: float = 14 * 86400.0
    offer_validity_s: float = 60 * 86400.0
    #: Whole-day offsets count German business days of ``state`` (the
    #: policyholder's Bundesland, e.g. "HH"); dates come from an activity.
    business_days: bool = False
    state: str = ""


@dataclass
class DatesInput:
    """What ``tender_dates`` needs: when the tender went out and the plan."""

    sent_at: datetime
    plan: TenderPlan


@dataclass
class DatesResult:
    reminders: list[datetime]
    deadline_at: datetime


@dataclass
class TenderInput:
    tender_id: int
    request_id: int
    insurer_id: int
    plan: TenderPlan = field(default_factory=TenderPlan)


@dataclass
class Action:
    """Base of every update. ``action_id`` is the idempotency key (and the
    Temporal update ID): delivering the same action twice changes nothing."""

    action_id: str
    actor_user_id: int | None = None


@dataclass
class QuestionAction(Action):
    message_id: int | None = None


@dataclass
class DeclineAction(Action):
    message_id: int | None = None


@dataclass
class OfferAction(Action):
    """A new or edited offer. The Offer row (premium, document, notes) is written
    by the web layer first; the workflow needs only its id and validity."""

    offer_id: int = 0
    valid_until: datetime | None = None
    by_backoffice: bool = False


@dataclass
class RescheduleAction(Action):
    deadline_at: datetime | None = None
    next_reminder_at: datetime | None = None


@dataclass
class CloseAction(Action):
    """The request was bound. ``won`` tells whether this tender's offer was chosen."""

    won: bool = False


@dataclass
class ActionResult:
    """The answer to an update. ``code`` says what happened (``offer_submitted``);
    the web words it in the reader's language (``workflow.done.<code>``)."""

    status: TenderStatus
    changed: bool
    code: str


@dataclass
class TenderSnapshot:
    """What the query returns and the projection writes."""

    tender_id: int
    status: TenderStatus
    version: int
    sent_at: datetime | None = None
    first_opened_at: datetime | None = None
    ended_at: datetime | None = None
    reminders_sent: int = 0
    deadline_at: datetime | None = None
    next_reminder_at: datetime | None = None
    next_timer_at: datetime | None = None
    next_timer_kind: TimerKind | None = None
    offer_id: int | None = None
    offer_valid_until: datetime | None = None
    delivery_failed: bool = False
    #: The insurer asked and waits for our answer: no reminders meanwhile.
    reminders_paused: bool = False


@dataclass
class ProjectionInput:
    """One transition for the database: the new snapshot plus what caused it."""

    snapshot: TenderSnapshot
    event: str
    actor_user_id: int | None = None
    action_id: str | None = None
    message_id: int | None = None
    offer_id: int | None = None
    system_email_id: int | None = None


@dataclass
class EmailInput:
    """Key of one email: tender + kind + sequence. Retries reuse the key."""

    tender_id: int
    kind: EmailKind
    seq: int
    #: The retry policy's attempt limit: the last attempt records "failed" instead of raising.
    max_attempts: int = 0


@dataclass
class EmailResult:
    #: None when nothing was recorded (the email was refused before it had a row).
    system_email_id: int | None
    delivered: bool
    reply: str = ""
    #: Not sent at all, and why: ``tender_ended`` (the insurer's own kinds after
    #: the tender's end) or ``request_closed`` (the request was bound meanwhile).
    refused: str = ""


@dataclass
class NotificationInput:
    """A System Email row the web layer wrote; the workflow only delivers it."""

    system_email_id: int
    max_attempts: int = 0

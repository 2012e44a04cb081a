"""The tender state machine, in one place.

``TenderWorkflow`` asks :func:`check_transition` before every change, the web
layer uses the labels, and ``ARCHITECTURE.md`` draws the same table. Pure and
deterministic, so it is safe inside the workflow sandbox.
"""

from __future__ import annotations

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

LABELS_DE: dict[TenderStatus, str] = {
    S.QUEUED: "Bereit ausgeschrieben zu werden",
    S.SENT: "Ausgeschrieben",
    S.IN_PROGRESS: "In Bearbeitung",
    S.OFFERED: "Angebot erhalten",
    S.DECLINED: "Absage zur Anfrage",
    S.WITHDRAWN: "Anfrage nicht erfolgreich",
    S.EXPIRED: "Frist abgelaufen",
    S.OFFER_EXPIRED: "Angebot abgelaufen",
    S.CLOSED: "Abgeschlossen",
}

LABELS_EN: dict[TenderStatus, str] = {
    S.QUEUED: "Ready to be tendered",
    S.SENT: "Tendered",
    S.IN_PROGRESS: "In progress",
    S.OFFERED: "Offer received",
    S.DECLINED: "Declined",
    S.WITHDRAWN: "Unsuccessful (withdrawn)",
    S.EXPIRED: "Deadline passed",
    S.OFFER_EXPIRED: "Offer expired",
    S.CLOSED: "Closed",
}

_WHY_TERMINAL_DE: dict[TenderStatus, str] = {
    S.DECLINED: "Die Gesellschaft hat abgesagt.",
    S.WITHDRAWN: "Die Ausschreibung wurde zurückgezogen.",
    S.EXPIRED: "Die Antwortfrist ist abgelaufen.",
    S.CLOSED: "Die Anfrage ist abgeschlossen.",
}


class TransitionError(ValueError):
    """An illegal move; ``str(err)`` is a German sentence for the caller."""


def is_terminal(status: TenderStatus) -> bool:
    return status in TERMINAL


def why_ended_de(status: TenderStatus) -> str:
    return _WHY_TERMINAL_DE.get(status, "")


def check_transition(current: TenderStatus, target: TenderStatus, action_de: str) -> None:
    """Raise :class:`TransitionError` with a reason unless ``current -> target`` is allowed."""
    if target in TRANSITIONS.get(current, frozenset()):
        return
    if is_terminal(current):
        raise TransitionError(
            f"{action_de} ist nicht mehr möglich: {why_ended_de(current)} "
            f"(Status: {LABELS_DE[current]})"
        )
    raise TransitionError(
        f"{action_de} ist im Status „{LABELS_DE[current]}“ nicht möglich."
    )

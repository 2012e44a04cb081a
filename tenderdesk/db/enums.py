"""The fixed vocabularies of the tables (roles, parties, kinds, statuses).

Apart from the tables so a module that only needs a name (a template filter,
a label) does not read the whole schema; :mod:`tenderdesk.db.models` imports
them, so ``from tenderdesk.db.models import Role`` keeps working."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    BACKOFFICE = "backoffice"
    BROKER = "broker"
    ADMIN = "admin"


class RequestStatus(StrEnum):
    OPEN = "open"
    BOUND = "bound"
    CLOSED = "closed"


class ThreadKind(StrEnum):
    INSURER = "insurer"
    BROKER = "broker"


class Party(StrEnum):
    """Who did something: a logged-in user's side, the insurer via its link, or the system."""

    BACKOFFICE = "backoffice"
    BROKER = "broker"
    INSURER = "insurer"
    SYSTEM = "system"


class DocumentKind(StrEnum):
    REQUEST = "request"
    OFFER = "offer"
    ATTACHMENT = "attachment"
    COVER_NOTE = "cover_note"
    #: Uploaded in "+ Ausschreibung hinzufügen" but not sent yet: it becomes a
    #: request document only with the tender that sends it, so a cancelled
    #: wizard leaves nothing that a later tender would send.
    STAGED = "staged"
    #: Removed by the backoffice before it went out; kept for the timeline.
    REMOVED = "removed"


class EmailStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    #: Never sent: the tender had ended (or its request was bound) before it could go out.
    CANCELLED = "cancelled"

"""SQLModel tables: every entity the backoffice guide names.

The database is the read side: list pages read it, activities keep tender rows
current (projection), and it holds every text and file so that nothing personal
has to travel through Temporal payloads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tenderdesk.db.enums import DocumentKind, EmailStatus, Party, RequestStatus, Role, ThreadKind
from tenderdesk.db.types import UTCDateTime
from tenderdesk.states import TenderStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Account(SQLModel, table=True):
    """A broker pool's backoffice and its settings (durations in seconds)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    offers_need_release: bool = True
    reminder_offsets_s: list[float] = Field(
        default_factory=lambda: [3 * 86400.0, 7 * 86400.0], sa_column=Column(JSON, nullable=False)
    )
    response_deadline_s: float = 14 * 86400.0
    offer_validity_s: float = 60 * 86400.0
    expiry_warning_days: int = 7
    #: Whole-day reminder and deadline offsets count German business days
    #: (no weekends, no public holidays of the policyholder's Bundesland).
    business_days: bool = True
    contact_email: str = "partner-hilfe@tenderdesk.example"
    contact_phone: str = ""


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    email: str = Field(unique=True, index=True)
    name: str
    role: Role
    broker_id: int | None = Field(default=None, foreign_key="broker.id")
    password_hash: str
    locale: str = "de"
    is_active: bool = True
    password_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """Server-side session; the cookie holds a random id, the table its hash."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """Failed logins, counted per account (email) and per client address so that
    throttling holds across every web process."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True)
    address: str = Field(index=True)
    at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """A "Passwort vergessen" link: random, single-use, short-lived, stored hashed."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    #: Set by the email activity when it sends the link; no token, no working link.
    token_hash: str | None = Field(default=None, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    system_email_id: int | None = Field(default=None, foreign_key="systememail.id", unique=True, index=True)


class Broker(SQLModel, table=True):
    """Vermittler: the intermediary who owns the client relationship."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str
    company: str
    email: str
    phone: str = ""
    city: str = ""


class Policyholder(SQLModel, table=True):
    """Versicherungsnehmer: the business to be insured."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str
    legal_form: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    #: Bundesland (ISO 3166-2:DE without "DE-", e.g. "HH"): whose public holidays count.
    state: str = ""
    founded_year: int | None = None
    employees: int | None = None
    annual_revenue_eur: int | None = None


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str


class Insurer(SQLModel, table=True):
    """Gesellschaft. ``reachable`` is false while the insurer takes no tenders."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    short_name: str
    reachable: bool = True


class InsurerContact(SQLModel, table=True):
    """The tender address of an insurer for one product. ``locale`` is the
    language of the link pages (and emails) this contact gets: "de" or "en"."""

    __table_args__ = (UniqueConstraint("insurer_id", "product_id"),)

    id: int | None = Field(default=None, primary_key=True)
    insurer_id: int = Field(foreign_key="insurer.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    name: str = ""
    email: str
    locale: str = "de"


class Recommendation(SQLModel, table=True):
    """The account's starred insurers per product, listed first in the picker."""

    __table_args__ = (UniqueConstraint("account_id", "product_id", "insurer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    product_id: int = Field(foreign_key="product.id")
    insurer_id: int = Field(foreign_key="insurer.id")


class Request(SQLModel, table=True):
    """Anfrage: one client need that automatic quoting could not place."""

    __table_args__ = (
        Index("ix_request_account_status_created", "account_id", "status", "created_at"),
        # dashboard: Bearbeiter sort/filter, and the live-update change marker
        Index("ix_request_account_status_assignee", "account_id", "status", "assignee_id"),
        Index("ix_request_account_status_updated", "account_id", "status", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    account_id: int = Field(foreign_key="account.id")
    broker_id: int = Field(foreign_key="broker.id", index=True)
    policyholder_id: int = Field(foreign_key="policyholder.id")
    product_id: int = Field(foreign_key="product.id")
    trade: str
    status: RequestStatus = RequestStatus.OPEN
    assignee_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    self_handled: bool = False
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    bound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReferralReason(SQLModel, table=True):
    """Aussteuerungsgrund: why one insurer's automatic quoting referred the risk."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    insurer_id: int = Field(foreign_key="insurer.id")
    reason: str


class Tender(SQLModel, table=True):
    """Ausschreibung: the request sent to one insurer. The row is a projection of
    its ``TenderWorkflow``; only activities write the status fields."""

    __table_args__ = (Index("ix_tender_request_status", "request_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    insurer_id: int = Field(foreign_key="insurer.id", index=True)
    contact_email: str
    workflow_id: str = Field(index=True)
    email_note: str = ""
    #: Documents chosen for the tender email; empty means all request documents.
    document_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    status: TenderStatus = TenderStatus.QUEUED
    projection_version: int = 0
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminders_sent: int = 0
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_reminder_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The insurer's question waits for our answer: reminders are paused.
    reminders_paused: bool = False
    next_timer_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_timer_kind: str | None = None
    delivery_failed: bool = False
    delivery_error: str = ""
    current_offer_id: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TenderLink(SQLModel, table=True):
    """A signed insurer link. Only the SHA-256 of the token is stored."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    token_hash: str = Field(unique=True, index=True)
    system_email_id: int | None = Field(default=None, foreign_key="systememail.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Document(SQLModel, table=True):
    """Every file of a request, stored once under ``storage_key`` (content hash)."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    tender_id: int | None = Field(default=None, foreign_key="tender.id")
    kind: DocumentKind
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    storage_key: str
    uploaded_by: Party
    uploaded_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Offer(SQLModel, table=True):
    """Angebot. ``active`` is set by the workflow's projection once accepted;
    an edit creates a new row and supersedes the old one, so history stays."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    action_id: str = Field(unique=True)
    premium_cents: int
    sum_insured_cents: int | None = None
    valid_until: datetime = Field(sa_type=UTCDateTime)
    conditions_note: str = ""
    #: Structured terms, compared row by row: Selbstbeteiligung per claim,
    #: Courtage in basis points (1250 = 12,5 %), the sum insured per cover
    #: module (``[{"name": "Betriebshaftpflicht", "sum_insured_cents": 500000000}]``)
    #: and the main exclusions, one text each.
    deductible_cents: int | None = None
    commission_bp: int | None = None
    cover_modules: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    exclusions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    document_id: int | None = Field(default=None, foreign_key="document.id")
    submitted_by: Party
    submitted_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    active: bool = False
    superseded_by_id: int | None = None
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    released_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Thread(SQLModel, table=True):
    """One chat per request and party: each tendered insurer, and the broker.
    The broker thread exists only once backoffice opened it."""

    __table_args__ = (UniqueConstraint("request_id", "kind", "tender_id"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    kind: ThreadKind
    tender_id: int | None = Field(default=None, foreign_key="tender.id")
    opened_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """A chat message. Written first as not ``visible``; the workflow's projection
    makes it visible once the action was accepted (or the web layer, for
    messages that need no workflow)."""

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="thread.id", index=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    action_id: str = Field(unique=True)
    author: Party
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    body: str
    document_id: int | None = Field(default=None, foreign_key="document.id")
    forwarded_from_id: int | None = None
    visible: bool = False
    unprocessed: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MessageRead(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    read_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SystemEmail(SQLModel, table=True):
    """Every email the system sent, keyed by tender + kind + sequence so that a
    retried activity records exactly one row and never sends twice. The stored
    body has the insurer link redacted: tokens are never stored in clear."""

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True)
    #: None for emails outside any request (the password reset).
    request_id: int | None = Field(default=None, foreign_key="request.id", index=True)
    tender_id: int | None = Field(default=None, foreign_key="tender.id", index=True)
    kind: str
    seq: int = 0
    to_addr: str
    subject: str
    body_text: str
    message_id_header: str
    #: A stored document that goes with the email as an attachment (the
    #: Deckungsnote to the broker); read from storage at each delivery attempt.
    attachment_document_id: int | None = None
    status: EmailStatus = EmailStatus.PENDING
    attempts: int = 0
    last_reply: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Binding(SQLModel, table=True):
    """Abschluss: one per request (unique), so two clicks make one binding."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    offer_id: int = Field(foreign_key="offer.id")
    tender_id: int = Field(foreign_key="tender.id")
    bound_by_id: int = Field(foreign_key="user.id")
    cover_note_document_id: int | None = Field(default=None, foreign_key="document.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A key of the JSON API (``/api/v1``), per account. Only the SHA-256 of
    the key is stored; ``prefix`` (its first characters) names it in lists.
    ``scopes``: ``read`` (GET) and ``write`` (POST). Actions taken with a key
    are recorded as its creator's."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str
    prefix: str
    key_hash: str = Field(unique=True, index=True)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    created_by_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The answer to an API POST, kept under the caller's ``Idempotency-Key``:
    the same key with the same body gets the same answer again, and nothing
    happens twice; the same key with another body is refused."""

    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="apikey.id", index=True)
    key: str
    request_hash: str
    status_code: int
    body: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """The request's timeline: who did what and when, which timers fired, which
    emails went out. Written by activities, so it outlives Temporal's retention."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    tender_id: int | None = Field(default=None, foreign_key="tender.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: Party
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    kind: str
    detail: str = ""
    dedupe_key: str | None = Field(default=None, unique=True)


__all__ = [
    "ApiKey", "IdempotencyRecord",
    "Account", "AuditEvent", "Binding", "Broker", "Document", "DocumentKind", "EmailStatus",
    "Insurer", "InsurerContact", "LoginAttempt", "Message", "MessageRead", "Offer", "Party",
    "PasswordReset", "Policyholder",
    "Product", "Recommendation", "ReferralReason", "Request", "RequestStatus", "Role",
    "SystemEmail", "Tender", "TenderLink", "Thread", "ThreadKind", "User", "UserSession",
    "utcnow",
]

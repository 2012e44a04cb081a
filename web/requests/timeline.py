"""The request's audit timeline: one list of everything that happened to it.

Three sources, merged and sorted by time:

- ``AuditEvent`` rows: what the tender workflows did (written by
  :mod:`activities.projection`, one per transition: who acted, which timers
  fired) and what the messaging module did (thread opened, message forwarded,
  message processed; :mod:`web.messages.service`);
- ``SystemEmail`` rows: every email that went out for the request, with its
  delivery state (sent, retrying, failed with the server's reply);
- visible ``Message`` rows: who wrote in which thread.

It is read from the database only (Temporal's history expires; these rows do
not), so it renders while Temporal is down. A forwarded message appears once,
through its ``message_forwarded`` AuditEvent. An insurer's question appears
twice on purpose: as the tender event ("Rückfrage der Gesellschaft", which moved
the tender to "In Bearbeitung") and as the message with its text; likewise a
workflow email as the event ("Erinnerung versendet") and as the email with its
delivery state. The timeline names staff,
insurers and email addresses: it is for the backoffice; the caller authorises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from tenderdesk.db.models import (
    AuditEvent,
    EmailStatus,
    Insurer,
    Message,
    Party,
    SystemEmail,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.states import TenderStatus
from web.core.i18n import N_, email_status_label, party_label, t, tender_status_label

Source = Literal["audit", "email", "message"]
#: For icons: ``timer`` = the workflow acted on its own (reminders, deadlines, validity).
Category = Literal["action", "timer", "email", "message"]

#: Label keys of the AuditEvent kinds (``audit.<kind>``). Tender kinds come from the workflow
#: (``TenderWorkflow._project``; ``{email kind}_sent`` after an email), the rest
#: from the messaging module. Unknown kinds are shown as they are.
AUDIT_LABELS = (
    N_("audit.tender_started"),
    N_("audit.tender_sent"),
    N_("audit.delivery_failed"),
    N_("audit.link_opened"),
    N_("audit.question_asked"),
    N_("audit.marked_in_progress"),
    N_("audit.offer_submitted"),
    N_("audit.offer_added"),
    N_("audit.offer_edited"),
    N_("audit.declined"),
    N_("audit.withdrawn"),
    N_("audit.rescheduled"),
    N_("audit.contact_changed"),
    N_("audit.deadline_expired"),
    N_("audit.offer_expired"),
    N_("audit.closed"),
    N_("audit.closed_won"),
    N_("audit.reminder_sent"),
    N_("audit.message_sent"),
    N_("audit.not_selected_sent"),
    N_("audit.withdrawn_sent"),
    N_("audit.cover_order_sent"),
    N_("audit.thread_opened"),
    N_("audit.message_forwarded"),
    N_("audit.message_processed"),
    N_("audit.assigned"),
    N_("audit.offers_released"),
    N_("audit.bound"),
    N_("audit.cover_note_created"),
    N_("audit.document_removed"),
)

#: Kinds the workflow writes when a timer ran out rather than on someone's action.
#: (A reminder can also be sent by hand; its AuditEvent cannot tell, so it counts here.)
TIMER_KINDS = frozenset({"reminder_sent", "deadline_expired", "offer_expired"})

EMAIL_KIND_LABELS = (
    N_("email_kind.tender"),
    N_("email_kind.reminder"),
    N_("email_kind.message"),
    N_("email_kind.not_selected"),
    N_("email_kind.withdrawn"),
    N_("email_kind.cover_order"),
    N_("email_kind.message_backoffice"),
    N_("email_kind.message_broker"),
    N_("email_kind.offers_released"),
    N_("email_kind.bound_broker"),
)

_SOURCE_ORDER: dict[Source, int] = {"audit": 0, "message": 1, "email": 2}
_STATUS_VALUES = {s.value for s in TenderStatus}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: Source
    category: Category
    #: The AuditEvent kind, the SystemEmail kind, or ``"message_posted"``.
    kind: str
    #: Headline in the reader's language, e.g. "Erinnerung versendet".
    label: str
    #: Detail line (status reached, recipient and subject, message excerpt).
    detail: str
    actor: Party
    #: The acting user's name, or the insurer's name for insurer actions.
    actor_name: str | None
    tender_id: int | None
    insurer_name: str | None
    #: Delivery state, for email entries only.
    email_status: EmailStatus | None = None
    #: Id of the row it was built from (AuditEvent, SystemEmail or Message).
    ref_id: int = 0


def _label(prefix: str, kind: str) -> str:
    text = t(f"{prefix}.{kind}")
    return kind if text == f"{prefix}.{kind}" else text


def audit_label(kind: str) -> str:
    """The label of an AuditEvent kind; the raw kind if unknown."""
    return _label("audit", kind)


def email_kind_label(kind: str) -> str:
    """The label of a SystemEmail kind; the raw kind if unknown."""
    return _label("email_kind", kind)


def _audit_detail(detail: str) -> str:
    """Projection events carry the tender status they reached."""
    if detail in _STATUS_VALUES:
        return t("timeline.status", status=tender_status_label(TenderStatus(detail)))
    return detail


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def timeline(session: Session, request_id: int) -> list[TimelineEntry]:
    """Everything that happened to the request and its tenders, oldest first.

    Four queries plus two small lookups (user and insurer names), whatever the length.
    """
    insurers = {
        tender_id: name
        for tender_id, name in session.exec(
            select(Tender.id, Insurer.name)
            .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
            .where(Tender.request_id == request_id)
        ).all()
        if tender_id is not None
    }
    events = session.exec(select(AuditEvent).where(AuditEvent.request_id == request_id)).all()
    emails = session.exec(select(SystemEmail).where(SystemEmail.request_id == request_id)).all()
    messages = session.exec(
        select(Message, Thread)
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .where(Message.request_id == request_id)
        .where(col(Message.visible).is_(True))
        .where(col(Message.forwarded_from_id).is_(None))
    ).all()
    user_ids = {e.actor_user_id for e in events} | {m.author_user_id for m, _ in messages}
    wanted = {i for i in user_ids if i is not None}
    names: dict[int, str] = {}
    if wanted:
        names = {
            uid: name
            for uid, name in session.exec(select(User.id, User.name).where(col(User.id).in_(wanted))).all()
            if uid is not None
        }

    entries: list[TimelineEntry] = []
    for e in events:
        insurer = insurers.get(e.tender_id) if e.tender_id else None
        actor_name = names.get(e.actor_user_id) if e.actor_user_id else None
        if actor_name is None and e.actor == Party.INSURER:
            actor_name = insurer
        entries.append(
            TimelineEntry(
                at=e.at,
                source="audit",
                category="timer" if e.kind in TIMER_KINDS else "action",
                kind=e.kind,
                label=audit_label(e.kind),
                detail=_audit_detail(e.detail),
                actor=e.actor,
                actor_name=actor_name,
                tender_id=e.tender_id,
                insurer_name=insurer,
                ref_id=e.id or 0,
            )
        )
    for mail in emails:
        kind_label = email_kind_label(mail.kind)
        status = email_status_label(mail.status)
        detail = t("timeline.email_detail", to=mail.to_addr, subject=mail.subject, status=status)
        if mail.status in (EmailStatus.FAILED, EmailStatus.RETRYING) and mail.last_reply:
            detail += f" ({mail.last_reply})"
        entries.append(
            TimelineEntry(
                at=mail.sent_at or mail.created_at,
                source="email",
                category="email",
                kind=mail.kind,
                label=t("timeline.email", kind=kind_label),
                detail=detail,
                actor=Party.SYSTEM,
                actor_name=None,
                tender_id=mail.tender_id,
                insurer_name=insurers.get(mail.tender_id) if mail.tender_id else None,
                email_status=mail.status,
                ref_id=mail.id or 0,
            )
        )
    for message, thread in messages:
        insurer = insurers.get(thread.tender_id) if thread.tender_id else None
        broker = thread.kind == ThreadKind.BROKER
        where = party_label(Party.BROKER) if broker else (insurer or party_label(Party.INSURER))
        author = party_label(message.author)
        actor_name = insurer if message.author == Party.INSURER else names.get(message.author_user_id or 0)
        text = _excerpt(message.body) if message.body else t("timeline.only_attachment")
        entries.append(
            TimelineEntry(
                at=message.created_at,
                source="message",
                category="message",
                kind="message_posted",
                label=t("timeline.message", author=author, where=where),
                detail=text + (t("timeline.with_attachment") if message.document_id and message.body else ""),
                actor=message.author,
                actor_name=actor_name,
                tender_id=thread.tender_id,
                insurer_name=insurer,
                ref_id=message.id or 0,
            )
        )
    entries.sort(key=lambda x: (x.at, _SOURCE_ORDER[x.source], x.ref_id))
    return entries


__all__ = ["AUDIT_LABELS", "EMAIL_KIND_LABELS", "TIMER_KINDS", "TimelineEntry", "audit_label", "email_kind_label",
           "timeline"]

"""System Email rows: one per key, written before delivery and reused by every retry.

The row is the record a person sees ("System-E-Mails", the timeline) and the
idempotency guard of the email activity: once ``sent`` it is never sent again,
once ``failed`` (a 5xx) its key is done too.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import EmailStatus, SystemEmail, utcnow
from tenderdesk.mail.message_ids import message_id

#: A row in one of these states is never delivered again.
DONE = (EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.CANCELLED)


def find(session: Session, key: str) -> SystemEmail | None:
    return session.exec(select(SystemEmail).where(SystemEmail.idempotency_key == key)).first()


def record(
    session: Session,
    *,
    key: str,
    kind: str,
    to_addr: str,
    subject: str,
    body: str,
    mail_from: str,
    request_id: int | None,
    tender_id: int | None = None,
    seq: int = 0,
    attachment_document_id: int | None = None,
) -> SystemEmail:
    """The row of ``key``, created on first use; the stored body never holds a token."""
    row = find(session, key)
    if row is None:
        row = SystemEmail(
            idempotency_key=key,
            request_id=request_id,
            tender_id=tender_id,
            kind=kind,
            seq=seq,
            to_addr=to_addr,
            subject=subject,
            body_text=body,
            message_id_header=message_id(key, mail_from),
            attachment_document_id=attachment_document_id,
        )
        session.add(row)
        session.flush()
    return row


def is_done(row: SystemEmail | None) -> bool:
    return row is not None and row.status in DONE


def mark(engine: Engine, email_id: int, status: EmailStatus, reply: str) -> None:
    """Record a delivery outcome (the server's reply, cut to the column's use)."""
    with session_scope(engine) as session:
        row = session.get(SystemEmail, email_id)
        if row is None:
            raise LookupError(f"system email {email_id} missing")
        row.status = status
        row.last_reply = reply[:1000]
        if status == EmailStatus.SENT:
            row.sent_at = utcnow()
        session.add(row)


__all__ = ["DONE", "find", "is_done", "mark", "record"]

"""The email activity: every email the system sends leaves through here, exactly once per key.

Two entry points, one path (render in :mod:`tenderdesk.mail.render`, record in
:mod:`tenderdesk.mail.outbox`, send with :func:`tenderdesk.mail.smtp.send`):

- ``send_email``: a tender email (tender, reminder, message notice, outcome)
  to the insurer, keyed tender + kind + sequence. Each carries a fresh link
  token (256 bits); only its hash is stored, and the stored body has the link
  replaced by a placeholder.
- ``deliver_system_email``: a System Email row written earlier (notices to
  broker or backoffice, release notices, the binding confirmation, the
  password reset, whose link is minted here for the same reason).

Nothing of a tender's own (tender email, reminder, message notice) leaves
after the tender ended or its request was bound: ``send_email`` checks that
in the same transaction that would mint the link, and answers ``refused``
instead (no row, no link). While it works it heartbeats, so a cancellation
from the workflow (the tender ended) stops an SMTP exchange in flight, and a
worker that dies mid-send is noticed within the heartbeat timeout.

The row is created on the first attempt and reused by every retry; once it is
``sent`` a retry returns at once. The Message-ID derives from the key. SMTP
4xx and connection errors raise, and Temporal retries them with backoff; 5xx
is final: the row is ``failed`` with the server's reply. No address or reply
text goes into the activity's result or error, because those are visible in
Temporal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tenderdesk.config import Settings
from tenderdesk.contracts import INSURER_EMAIL_KINDS, EmailInput, EmailKind, EmailResult, NotificationInput
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import EmailStatus, Request, RequestStatus, SystemEmail, Tender, TenderLink, utcnow
from tenderdesk.mail import outbox, smtp
from tenderdesk.mail.password_reset import mint_password_reset
from tenderdesk.mail.render import MailKind, RenderedEmail, render_email
from tenderdesk.mail.reply_address import reply_address
from tenderdesk.mail.tender import (
    LINK_LIFETIME,
    LINK_PLACEHOLDER,
    LINKED,
    insurer_link,
    stored_attachments,
    tender_attachments,
    tender_context,
)
from tenderdesk.security.tokens import hash_token, new_token
from tenderdesk.states import is_terminal

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Well inside the workflow's heartbeat timeout (15 s).
HEARTBEAT_EVERY_S = 3.0


async def heartbeating(work: Awaitable[T]) -> T:
    """Await ``work`` while telling Temporal every few seconds that this attempt
    is alive. The heartbeat is also how a cancellation reaches the activity: it
    arrives as ``CancelledError`` here and stops ``work``."""
    if not activity.in_activity():
        return await work
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()


@dataclass
class Prepared:
    email_id: int | None
    already_sent: bool
    email: smtp.Outgoing | None = None
    #: Why this email must not go out at all (see :class:`EmailResult`).
    refused: str = ""


def _outgoing(row: SystemEmail, rendered: RenderedEmail, settings: Settings,
              attachments: list[smtp.Attachment] | None = None) -> smtp.Outgoing:
    """The email as it leaves. An insurer's email names its tender's reply
    address, so an answer by email lands in the tender's thread."""
    created = row.created_at
    assert created is not None
    to_insurer = row.tender_id is not None and row.kind in {k.value for k in INSURER_EMAIL_KINDS}
    return smtp.Outgoing(
        to_addr=row.to_addr, subject=rendered.subject, text=rendered.text, html=rendered.html,
        message_id=row.message_id_header, date=created, attachments=attachments or [],
        reply_to=reply_address(settings.secret_key, settings.reply_domain, row.tender_id)  # type: ignore[arg-type]
        if to_insurer else None,
    )


class EmailActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="send_email")
    async def send_email(self, inp: EmailInput) -> EmailResult:
        """A tender email to the insurer, with a fresh personal link."""
        return await heartbeating(self._send_tender_email(inp))

    async def _send_tender_email(self, inp: EmailInput) -> EmailResult:
        prepared = await asyncio.to_thread(self.prepare, inp)
        if prepared.refused:
            log.info("tender %s: %s email not sent (%s)", inp.tender_id, inp.kind.value, prepared.refused)
            return EmailResult(system_email_id=prepared.email_id, delivered=False, refused=prepared.refused)
        return await self._send(prepared, inp.max_attempts)

    @activity.defn(name="deliver_system_email")
    async def deliver_system_email(self, inp: NotificationInput) -> EmailResult:
        """An email already recorded as a System Email row. Same idempotency: one row, sent once."""
        return await heartbeating(self._send_stored(inp))

    async def _send_stored(self, inp: NotificationInput) -> EmailResult:
        return await self._send(await asyncio.to_thread(self._prepare_stored, inp.system_email_id), inp.max_attempts)

    async def _send(self, prepared: Prepared, max_attempts: int) -> EmailResult:
        email_id = prepared.email_id
        assert email_id is not None
        if prepared.already_sent or prepared.email is None:
            return EmailResult(system_email_id=email_id, delivered=prepared.already_sent)
        outcome = await smtp.send(self._settings, prepared.email)
        if outcome.delivery == smtp.Delivery.SENT:
            await self._mark(email_id, EmailStatus.SENT, outcome.reply)
            log.info("email %s sent", email_id)
            return EmailResult(system_email_id=email_id, delivered=True)
        if outcome.delivery == smtp.Delivery.PERMANENT:
            await self._mark(email_id, EmailStatus.FAILED, outcome.reply)
            log.warning("email %s rejected permanently (%s)", email_id, outcome.reply[:3])
            return EmailResult(system_email_id=email_id, delivered=False)
        return await self._retry_or_give_up(email_id, outcome, max_attempts)

    async def _mark(self, email_id: int, status: EmailStatus, reply: str) -> None:
        try:
            await asyncio.to_thread(outbox.mark, self._engine, email_id, status, reply)
        except LookupError:
            # Retrying cannot bring a deleted row back; fail this email for good.
            raise ApplicationError(
                f"System email {email_id} missing", type="EmailMissing", non_retryable=True
            ) from None

    async def _retry_or_give_up(self, email_id: int, outcome: smtp.SmtpOutcome, max_attempts: int) -> EmailResult:
        """Raise so Temporal retries with backoff; on the last allowed attempt
        mark the row failed instead, so a person sees it (never "retrying" forever)."""
        info = activity.info() if activity.in_activity() else None
        limit = max_attempts or (info.retry_policy.maximum_attempts if info and info.retry_policy else 0)
        if info is not None and limit and info.attempt >= limit:
            await self._mark(email_id, EmailStatus.FAILED, outcome.reply)
            log.warning("email %s failed after %s attempts", email_id, info.attempt)
            return EmailResult(system_email_id=email_id, delivered=False)
        await self._mark(email_id, EmailStatus.RETRYING, outcome.reply)
        log.info("email %s not sent yet: %s", email_id, outcome.error)
        # A fresh error without a cause chain: the SMTP exception would carry the address into Temporal.
        raise ApplicationError(outcome.error, type=outcome.error_type) from None

    # ------------------------------------------------------------ database
    def _prepare_stored(self, email_id: int) -> Prepared:
        with session_scope(self._engine) as session:
            row = session.get(SystemEmail, email_id)
            if row is None:
                raise ApplicationError(f"System email {email_id} not found", type="EmailMissing", non_retryable=True)
            if outbox.is_done(row):
                return Prepared(email_id=email_id, already_sent=row.status == EmailStatus.SENT)
            row.attempts += 1
            session.add(row)
            if row.kind == MailKind.PASSWORD_RESET:
                rendered = mint_password_reset(session, row, self._settings)
            else:
                rendered = RenderedEmail(subject=row.subject, text=row.body_text)
            attachments = stored_attachments(session, self._settings, row.attachment_document_id)
            email = _outgoing(row, rendered, self._settings, attachments)
            return Prepared(email_id=email_id, already_sent=False, email=email)

    @staticmethod
    def _refusal(session: Session, tender: Tender, kind: EmailKind) -> str:
        """Why an insurer email of this tender must not go out now, or ``""``."""
        if kind not in INSURER_EMAIL_KINDS:
            return ""
        if is_terminal(tender.status):
            return "tender_ended"
        request = session.get(Request, tender.request_id)
        if request is None or request.status != RequestStatus.OPEN:
            return "request_closed"
        return ""

    def prepare(self, inp: EmailInput) -> Prepared:
        """Get or create the System Email row and build the message to send."""
        key = f"tender:{inp.tender_id}:{inp.kind.value}:{inp.seq}"
        with session_scope(self._engine) as session:
            row = outbox.find(session, key)
            if row is not None and row.status == EmailStatus.CANCELLED:
                return Prepared(email_id=row.id, already_sent=False, refused="tender_ended")
            if outbox.is_done(row):
                # FAILED: a 5xx is final for this key; a new try uses a new sequence.
                return Prepared(email_id=row.id, already_sent=row.status == EmailStatus.SENT)  # type: ignore[union-attr,arg-type]
            tender = session.get(Tender, inp.tender_id)
            if tender is None:
                raise ApplicationError(f"Tender {inp.tender_id} not found", type="TenderMissing", non_retryable=True)
            refused = self._refusal(session, tender, inp.kind)
            if refused:
                if row is not None:
                    row.status = EmailStatus.CANCELLED
                    session.add(row)
                return Prepared(email_id=row.id if row else None, already_sent=False, refused=refused)
            context = tender_context(session, tender, inp.kind)
            token = new_token() if inp.kind in LINKED else None
            locale = context["locale"]
            sent = render_email(
                inp.kind, {**context, "link": insurer_link(self._settings, token) if token else ""}, locale=locale
            )
            stored = render_email(inp.kind, {**context, "link": LINK_PLACEHOLDER if token else ""}, locale=locale)
            row = outbox.record(
                session, key=key, kind=inp.kind.value, to_addr=tender.contact_email, subject=sent.subject,
                body=stored.text, mail_from=self._settings.mail_from, request_id=tender.request_id,
                tender_id=tender.id, seq=inp.seq,
            )
            row.attempts += 1
            session.add(row)
            if token:
                session.add(TenderLink(
                    tender_id=tender.id,  # type: ignore[arg-type]
                    token_hash=hash_token(token),
                    system_email_id=row.id,
                    expires_at=utcnow() + LINK_LIFETIME,
                ))
            attachments = tender_attachments(session, self._settings, tender) if inp.kind == EmailKind.TENDER else []
            email = _outgoing(row, sent, self._settings, attachments)
            return Prepared(email_id=row.id, already_sent=False, email=email)  # type: ignore[arg-type]


__all__ = ["EmailActivities"]

"""The email activity: render, record and send one email, exactly once per key.

Key = tender + kind + sequence. The System Email row is created on the first
attempt and reused by every retry, so there is always exactly one record; once
it is ``sent`` a retry returns at once without sending again. The Message-ID
derives from the key, so even the rare resend after a lost acknowledgement is
recognisable as the same message.

Each insurer email carries a fresh link token (256 bits). Only its hash is
stored; the stored body has the link replaced by a placeholder.

SMTP replies: 4xx and connection errors raise, and Temporal retries them with
backoff; 5xx is final: the row is ``failed`` with the server's reply and the
workflow shows "Zustellung fehlgeschlagen". No address or reply text goes into
the activity's result or error, because those are visible in Temporal.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tenderdesk.config import ROOT, Settings
from tenderdesk.contracts import EmailInput, EmailKind, EmailResult, NotificationInput
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Broker,
    Document,
    DocumentKind,
    EmailStatus,
    Insurer,
    Offer,
    Policyholder,
    Product,
    Request,
    SystemEmail,
    Tender,
    TenderLink,
    as_utc,
    utcnow,
)
from tenderdesk.documents.storage import open_path
from tenderdesk.security.tokens import hash_token, new_token

log = logging.getLogger(__name__)

LINK_PLACEHOLDER = "[persönlicher Link – aus Sicherheitsgründen nicht gespeichert]"
LINK_LIFETIME = timedelta(days=365)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

SUBJECTS: dict[EmailKind, str] = {
    EmailKind.TENDER: "Ausschreibung {number}: {product} – {trade}",
    EmailKind.REMINDER: "Erinnerung: Ausschreibung {number}: {product} – {trade}",
    EmailKind.NOT_SELECTED: "Ausschreibung {number}: nicht zum Zuge gekommen",
    EmailKind.COVER_ORDER: "Deckungsauftrag zur Ausschreibung {number}: {product}",
    EmailKind.MESSAGE: "Neue Nachricht zur Ausschreibung {number}: {product}",
}
#: Kinds whose email carries the insurer's link.
LINKED = {EmailKind.TENDER, EmailKind.REMINDER, EmailKind.MESSAGE}


def template_env(root: Path = ROOT / "templates") -> Environment:
    """Autoescape for HTML always; text templates are not escaped."""
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class Prepared:
    email_id: int
    already_sent: bool
    message: EmailMessage | None = None


class EmailActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._env = template_env()

    @activity.defn(name="send_email")
    async def send_email(self, inp: EmailInput) -> EmailResult:
        """A tender email (tender, reminder, message notice, outcome) to the insurer."""
        prepared = await asyncio.to_thread(self.prepare, inp)
        if prepared.already_sent or prepared.message is None:
            return EmailResult(system_email_id=prepared.email_id, delivered=prepared.already_sent)
        return await self._deliver(prepared.message, prepared.email_id, inp.max_attempts)

    @activity.defn(name="deliver_system_email")
    async def deliver_system_email(self, inp: NotificationInput) -> EmailResult:
        """An email the web layer already wrote as a System Email row (notifications
        to broker or backoffice, release notices). Same idempotency: one row, sent once."""
        prepared = await asyncio.to_thread(self._prepare_stored, inp.system_email_id)
        if prepared.already_sent or prepared.message is None:
            return EmailResult(system_email_id=prepared.email_id, delivered=prepared.already_sent)
        return await self._deliver(prepared.message, prepared.email_id, inp.max_attempts)

    async def _deliver(self, message: EmailMessage, email_id: int, max_attempts: int = 0) -> EmailResult:
        """Hand one message to SMTP and record the outcome on its System Email row."""
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as err:
            reply = f"{err.code} {err.message}"
            if 500 <= err.code < 600:
                await asyncio.to_thread(self._mark, email_id, EmailStatus.FAILED, reply)
                log.warning("email %s rejected permanently (%s)", email_id, err.code)
                return EmailResult(system_email_id=email_id, delivered=False)
            return await self._retry_or_give_up(
                email_id, reply, f"SMTP {err.code}: vorübergehender Fehler", "SmtpTransient", max_attempts
            )
        except (aiosmtplib.SMTPException, OSError) as err:
            reply = f"Verbindungsfehler: {type(err).__name__}"
            return await self._retry_or_give_up(email_id, reply, reply, "SmtpUnavailable", max_attempts)
        await asyncio.to_thread(self._mark, email_id, EmailStatus.SENT, "250 OK")
        log.info("email %s sent", email_id)
        return EmailResult(system_email_id=email_id, delivered=True)

    async def _retry_or_give_up(
        self, email_id: int, reply: str, error: str, kind: str, max_attempts: int
    ) -> EmailResult:
        """Raise so Temporal retries with backoff; on the last allowed attempt
        mark the row failed instead, so a person sees it (never "retrying" forever)."""
        info = activity.info() if activity.in_activity() else None
        limit = max_attempts or (info.retry_policy.maximum_attempts if info and info.retry_policy else 0)
        if info is not None and limit and info.attempt >= limit:
            await asyncio.to_thread(self._mark, email_id, EmailStatus.FAILED, reply)
            log.warning("email %s failed after %s attempts", email_id, info.attempt)
            return EmailResult(system_email_id=email_id, delivered=False)
        await asyncio.to_thread(self._mark, email_id, EmailStatus.RETRYING, reply)
        raise ApplicationError(error, type=kind)

    def _prepare_stored(self, email_id: int) -> Prepared:
        with session_scope(self._engine) as session:
            row = session.get(SystemEmail, email_id)
            if row is None:
                raise ApplicationError(f"System email {email_id} not found", non_retryable=True)
            if row.status in (EmailStatus.SENT, EmailStatus.FAILED):
                return Prepared(email_id=email_id, already_sent=row.status == EmailStatus.SENT)
            row.attempts += 1
            session.add(row)
            msg = EmailMessage()
            msg["From"] = self._settings.mail_from
            msg["To"] = row.to_addr
            msg["Subject"] = row.subject
            msg["Message-ID"] = row.message_id_header
            msg["Date"] = format_datetime(as_utc(row.created_at))  # type: ignore[arg-type]
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(row.body_text)
            return Prepared(email_id=email_id, already_sent=False, message=msg)

    # ------------------------------------------------------------ database
    def _mark(self, email_id: int, status: EmailStatus, reply: str) -> None:
        with session_scope(self._engine) as session:
            row = session.get(SystemEmail, email_id)
            assert row is not None
            row.status = status
            row.last_reply = reply[:1000]
            if status == EmailStatus.SENT:
                row.sent_at = utcnow()
            session.add(row)

    def prepare(self, inp: EmailInput) -> Prepared:
        """Get or create the System Email row and build the message to send."""
        key = f"tender:{inp.tender_id}:{inp.kind.value}:{inp.seq}"
        with session_scope(self._engine) as session:
            row = session.exec(select(SystemEmail).where(SystemEmail.idempotency_key == key)).first()
            if row is not None and row.status in (EmailStatus.SENT, EmailStatus.FAILED):
                # FAILED: a 5xx is final for this key; a new try uses a new sequence.
                return Prepared(email_id=row.id, already_sent=row.status == EmailStatus.SENT)  # type: ignore[arg-type]
            tender = session.get(Tender, inp.tender_id)
            if tender is None:
                raise ApplicationError(f"Tender {inp.tender_id} not found", non_retryable=True)
            ctx = self._context(session, tender, inp.kind)
            token = new_token() if inp.kind in LINKED else None
            link = f"{self._settings.base_url.rstrip('/')}/t/{token}" if token else ""
            subject = SUBJECTS[inp.kind].format_map(ctx["subject"])  # type: ignore[arg-type]
            text_sent = self._render(inp.kind, "txt", ctx, link)
            html_sent = self._render(inp.kind, "html", ctx, link)
            text_stored = self._render(inp.kind, "txt", ctx, LINK_PLACEHOLDER if token else "")
            domain = parseaddr(self._settings.mail_from)[1].rpartition("@")[2] or "tenderdesk.local"
            msgid = f"<{key.replace(':', '.')}@{domain}>"
            if row is None:
                row = SystemEmail(
                    idempotency_key=key,
                    request_id=tender.request_id,
                    tender_id=tender.id,
                    kind=inp.kind.value,
                    seq=inp.seq,
                    to_addr=tender.contact_email,
                    subject=subject,
                    body_text=text_stored,
                    message_id_header=msgid,
                )
            row.attempts += 1
            session.add(row)
            session.flush()
            if token:
                session.add(
                    TenderLink(
                        tender_id=tender.id,  # type: ignore[arg-type]
                        token_hash=hash_token(token),
                        system_email_id=row.id,
                        expires_at=utcnow() + LINK_LIFETIME,
                    )
                )
            msg = EmailMessage()
            msg["From"] = self._settings.mail_from
            msg["To"] = tender.contact_email
            msg["Subject"] = subject
            msg["Message-ID"] = msgid
            msg["Date"] = format_datetime(as_utc(row.created_at))  # type: ignore[arg-type]
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(text_sent)
            msg.add_alternative(html_sent, subtype="html")
            if inp.kind == EmailKind.TENDER:
                self._attach(session, msg, tender)
            return Prepared(email_id=row.id, already_sent=False, message=msg)  # type: ignore[arg-type]

    def _context(self, session: Session, tender: Tender, kind: EmailKind) -> dict[str, object]:
        request = session.get(Request, tender.request_id)
        assert request is not None
        account = session.get(Account, request.account_id)
        product = session.get(Product, request.product_id)
        policyholder = session.get(Policyholder, request.policyholder_id)
        broker = session.get(Broker, request.broker_id)
        insurer = session.get(Insurer, tender.insurer_id)
        assert account and product and policyholder and broker and insurer
        offer = session.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
        respond_by = as_utc(tender.deadline_at) or utcnow() + timedelta(
            seconds=account.response_deadline_s
        )
        return {
            "subject": {"number": request.number, "product": product.name, "trade": request.trade},
            "request": request,
            "account": account,
            "product": product,
            "policyholder": policyholder,
            "broker": broker,
            "insurer": insurer,
            "tender": tender,
            "offer": offer,
            "respond_by": respond_by.strftime("%d.%m.%Y"),
            "note": tender.email_note,
            "kind": kind.value,
        }

    def _render(self, kind: EmailKind, ext: str, ctx: dict[str, object], link: str) -> str:
        return self._env.get_template(f"email/{kind.value}.{ext}").render(**ctx, link=link)

    def _attach(self, session: Session, msg: EmailMessage, tender: Tender) -> None:
        """Attach the documents chosen for this tender (default: the request's own),
        up to a total size; the insurer finds every document on its link page too."""
        query = select(Document).where(Document.request_id == tender.request_id)
        if tender.document_ids:
            query = query.where(col(Document.id).in_(tender.document_ids))
        else:
            query = query.where(col(Document.kind) == DocumentKind.REQUEST)
        docs = session.exec(query.order_by(col(Document.id))).all()
        total = 0
        for doc in docs:
            if total + doc.size_bytes > MAX_ATTACHMENT_BYTES:
                continue
            path = open_path(self._settings, doc.storage_key)
            if not path.exists():
                continue
            maintype, _, subtype = doc.content_type.partition("/")
            msg.add_attachment(
                path.read_bytes(), maintype=maintype, subtype=subtype or "octet-stream",
                filename=doc.filename,
            )
            total += doc.size_bytes


__all__ = ["LINK_PLACEHOLDER", "EmailActivities", "template_env"]

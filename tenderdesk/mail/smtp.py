"""The one SMTP function: build the MIME message and hand it to the server.

The reply is classified, not raised: 250 is sent; 5xx is permanent (the
address or content is refused, a retry changes nothing); 4xx and connection
errors are transient and worth retrying later. The caller (the email
activity) records the outcome and lets Temporal do the retrying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum

import aiosmtplib

from tenderdesk.config import Settings
from tenderdesk.logs import redact


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """One email as it leaves: ``message_id`` from :mod:`tenderdesk.mail.message_ids`."""

    to_addr: str
    subject: str
    text: str
    message_id: str
    date: datetime
    html: str | None = None
    attachments: Sequence[Attachment] = ()
    #: Where an answer goes: the tender's reply address for insurer emails.
    reply_to: str | None = None


class Delivery(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SmtpOutcome:
    delivery: Delivery
    #: The server's reply (or the connection error), for the System Email row only.
    reply: str
    #: For a transient failure: the code and the reply with addresses removed, and
    #: a type; safe to show in Temporal as the activity error.
    error: str = ""
    error_type: str = ""


#: How a message goes on the wire. Python's header folder mangles a long
#: subject with non-ASCII words ("Cyberversicherung  –Online-Händler", a stray
#: encoded word); headers are allowed 998 characters, so ours are not folded
#: at all and every mail client shows the subject exactly as rendered.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


def wire_bytes(mail_from: str, email: Outgoing) -> bytes:
    """The message as sent: CRLF line ends, headers unfolded (see :data:`WIRE_POLICY`)."""
    return mime_message(mail_from, email).as_bytes(policy=WIRE_POLICY)


def mime_message(mail_from: str, email: Outgoing) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = email.to_addr
    msg["Subject"] = email.subject
    msg["Message-ID"] = email.message_id
    msg["Date"] = format_datetime(email.date)
    msg["Auto-Submitted"] = "auto-generated"
    if email.reply_to:
        msg["Reply-To"] = email.reply_to
    msg.set_content(email.text)
    if email.html is not None:
        msg.add_alternative(email.html, subtype="html")
    for item in email.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype or "octet-stream", filename=item.filename)
    return msg


def _classify(code: int, reply: str) -> SmtpOutcome:
    """Any 5xx, at any stage (MAIL FROM, RCPT TO, DATA), is final: one attempt.
    The Temporal-visible error carries the code and the reply without addresses."""
    if 500 <= code < 600:
        return SmtpOutcome(Delivery.PERMANENT, reply)
    return SmtpOutcome(
        Delivery.TRANSIENT, reply, f"SMTP {redact(reply)[:200]}", "SmtpTransient",
    )


async def send(settings: Settings, email: Outgoing) -> SmtpOutcome:
    """Deliver once and say how it went; never raises for an SMTP or network failure."""
    try:
        await aiosmtplib.send(
            wire_bytes(settings.mail_from, email),
            sender=parseaddr(settings.mail_from)[1],
            recipients=[email.to_addr],
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as err:
        # One recipient per email: its refusal is the server's answer to RCPT TO.
        refused = err.recipients[0] if err.recipients else None
        if refused is None:
            return SmtpOutcome(Delivery.TRANSIENT, "RCPT refused", "SMTP RCPT refused", "SmtpTransient")
        return _classify(refused.code, f"{refused.code} {refused.message}")
    except aiosmtplib.SMTPResponseException as err:
        return _classify(err.code, f"{err.code} {err.message}")
    except (aiosmtplib.SMTPException, OSError) as err:
        reply = f"Verbindungsfehler: {type(err).__name__}"
        return SmtpOutcome(Delivery.TRANSIENT, reply, reply, "SmtpUnavailable")
    return SmtpOutcome(Delivery.SENT, "250 OK")


async def probe(settings: Settings, timeout: float = 3.0) -> str:
    """Connect, greet and leave (the readiness check); ``""`` if the server answers,
    else what went wrong, without the server's address."""
    client = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, timeout=timeout,
                             start_tls=settings.smtp_starttls)
    try:
        await client.connect()
        code, _ = await client.noop()
        await client.quit()
    except aiosmtplib.SMTPResponseException as err:
        return f"SMTP {err.code}"
    except (aiosmtplib.SMTPException, OSError) as err:
        return type(err).__name__
    return "" if code == 250 else f"SMTP {code}"


__all__ = ["Attachment", "Delivery", "Outgoing", "SmtpOutcome", "mime_message", "probe", "send"]

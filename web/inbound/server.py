"""The inbound SMTP endpoint: insurers' email replies into their tender's thread.

It accepts mail only for our per-tender reply addresses
(:mod:`tenderdesk.mail.reply_address`): an unknown, malformed or forged
address is refused at RCPT (550), so its sender gets a bounce and nothing is
taken in silently. An accepted email is answered 250 only after it is in the
thread (or, the tender still running, accepted by its workflow). If that
cannot happen now (Temporal or the database unreachable) the answer is 451
and the sender's server delivers again later, the usual SMTP way of losing
nothing. A redelivered email (same Message-ID) changes nothing.

The text goes in without the quoted email below it; each PDF becomes a
document of the tender (the first with the text, more as messages of their
own), from which the backoffice can record an offer with one click
(„Als Angebot erfassen“).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from temporalio.client import Client

from tenderdesk.config import Settings
from tenderdesk.db.models import Tender
from tenderdesk.mail.reply_address import tender_of
from web.core import i18n
from web.inbound.parse import ReplyMail, parse_reply
from web.messages import MessagingError, post_insurer_email

log = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 Nachricht übernommen / message accepted"
UNKNOWN = "550 5.1.1 Unbekannte Empfängeradresse / unknown recipient"
LATER = "451 4.3.0 Bitte später erneut senden / please try again later"


class InboundHandler:
    """aiosmtpd handler; ``client`` is the Temporal client of this process."""

    def __init__(self, engine: Engine, settings: Settings, client: Client) -> None:
        self.engine, self.settings, self.client = engine, settings, client

    def _tender(self, tender_id: int) -> Tender | None:
        with DbSession(self.engine, expire_on_commit=False) as db:
            return db.get(Tender, tender_id)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        tender_id = tender_of(self.settings.secret_key, self.settings.reply_domain, address)
        if tender_id is None or await asyncio.to_thread(self._tender, tender_id) is None:
            log.info("inbound: recipient refused")
            return UNKNOWN
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode("utf-8", "replace")
        try:
            reply = parse_reply(raw)
            for address in envelope.rcpt_tos:
                tender_id = tender_of(self.settings.secret_key, self.settings.reply_domain, address)
                tender = await asyncio.to_thread(self._tender, tender_id) if tender_id else None
                if tender is not None:
                    await self.deliver(tender, reply)
        except MessagingError as err:
            log.warning("inbound: reply kept back, sender will retry: %s", err)
            return LATER
        except Exception:
            log.exception("inbound: reply kept back, sender will retry")
            return LATER
        return ACCEPTED

    async def deliver(self, tender: Tender, reply: ReplyMail) -> None:
        """The text with the first PDF, then one message per further PDF."""
        limit = self.settings.max_upload_bytes
        pdfs = [p for p in reply.pdfs if len(p[1]) <= limit]
        notes = [i18n.t("inbound.file_too_large", file=name) for name, data in reply.pdfs if len(data) > limit]
        notes += [i18n.t("inbound.file_not_taken", file=name) for name in reply.other_files]
        text = "\n\n".join([reply.text, *notes]).strip() or i18n.t("inbound.empty")
        parts: list[tuple[str, Any]] = [(text, pdfs[0] if pdfs else None)]
        parts += [("", pdf) for pdf in pdfs[1:]]
        for index, (body, pdf) in enumerate(parts):
            action_id = hashlib.sha256(f"{reply.fingerprint}:{tender.id}:{index}".encode()).hexdigest()[:32]
            attachment = (pdf[0], pdf[1], "application/pdf") if pdf else None
            await post_insurer_email(engine=self.engine, client=self.client, settings=self.settings, tender=tender,
                                     body=body, attachment=attachment, action_id=action_id)
        log.info("inbound: reply for tender %s in its thread (%d PDF)", tender.id, len(pdfs))


async def serve(engine: Engine, settings: Settings, client: Client, *, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` on the running loop (where ``client`` lives)."""
    handler = InboundHandler(engine, settings, client)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=settings.inbound_max_bytes, enable_SMTPUTF8=True,
                     hostname=settings.reply_domain, ident="Tenderdesk inbound"),
        host=host, port=port)


__all__ = ["ACCEPTED", "LATER", "UNKNOWN", "InboundHandler", "serve"]

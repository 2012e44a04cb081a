"""Email replies into the thread, on real parts: the tender email names its
reply address, a reply sent by SMTP to the inbound endpoint lands in the
tender's thread (text without the quote, PDFs as documents), a redelivery
changes nothing, forged and unknown addresses are refused at RCPT, a reply to
an ended tender is kept, and an emailed PDF becomes an offer with one click.
The recipient matrix and a property test of the parser are at the end."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Document, DocumentKind, Message, Offer, Tender
from tenderdesk.mail.reply_address import reply_address, tender_of
from tenderdesk.states import TenderStatus
from web.inbound.parse import parse_reply
from web.inbound.server import serve

from ..conftest import Running, SmtpServer, free_port
from .conftest import csrf_from
from .test_insurer_link import future_date, sample_pdf
from .test_messages_ui import Portal, mails_to, open_portal

QUESTION = "Guten Tag,\nist die Photovoltaikanlage auf dem Dach mitversichert?\nGruß, Frau Schulz"


@contextlib.asynccontextmanager
async def inbound(portal: Portal) -> AsyncIterator[int]:
    port = free_port()
    server = await serve(portal.engine, portal.settings, portal.run.client, host="127.0.0.1", port=port)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def reply(to: str, text: str, *, pdfs: tuple[tuple[str, bytes], ...] = (), other: tuple[str, ...] = (),
          message_id: str = "<antwort-1@versicherer.example>") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "schulz@versicherer.example"
    mail["To"] = to
    mail["Subject"] = "AW: Ausschreibung"
    mail["Message-ID"] = message_id
    mail.set_content(f"{text}\n\nAm 03.12.2026 um 10:00 schrieb Backoffice:\n> Sehr geehrte Damen und Herren,\n> alt")
    for name, data in pdfs:
        mail.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    for name in other:
        mail.add_attachment(b"PK\x03\x04 docx", maintype="application", subtype="octet-stream", filename=name)
    return mail


async def send(port: int, mail: EmailMessage, to: str) -> None:
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=port, recipients=[to], sender="schulz@versicherer.example")


def thread_messages(portal: Portal, tender: Tender) -> list[Message]:
    with Session(portal.engine) as db:
        return list(db.exec(select(Message).where(Message.request_id == tender.request_id)
                            .where(col(Message.visible).is_(True)).order_by(col(Message.id))).all())


async def test_a_reply_by_email_lands_in_the_thread_once(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal, inbound(portal) as port:
        [tender] = await portal.tenders(1)
        [mail] = await mails_to(smtp_server, tender.contact_email, 1)
        address = reply_address(portal.settings.secret_key, portal.settings.reply_domain, tender.id)  # type: ignore[arg-type]
        assert mail["Reply-To"] == address and str(tender.id) in address
        assert tender.contact_email not in address

        answer = reply(address, QUESTION, pdfs=(("Angebot Schulz.pdf", sample_pdf("Angebot 2.345 EUR")),),
                       other=("Bedingungen.docx",))
        await send(port, answer, address)
        await send(port, answer, address)  # the same email delivered again

        [message] = thread_messages(portal, tender)
        assert message.body.startswith(QUESTION)
        assert "schrieb Backoffice" not in message.body and "> alt" not in message.body
        assert "Bedingungen.docx" in message.body  # named, not silently dropped
        assert message.author.value == "insurer" and message.document_id is not None
        with Session(portal.engine) as db:
            document = db.get(Document, message.document_id)
            assert document is not None and document.kind == DocumentKind.ATTACHMENT
            assert document.tender_id == tender.id and document.content_type == "application/pdf"
            assert db.get(Tender, tender.id).status == TenderStatus.IN_PROGRESS  # a question, as from the link

        # „Als Angebot erfassen“: the emailed PDF becomes the offer's document.
        staff, _ = await portal.as_user(portal.cast.backoffice)
        page = await staff.get(f"/requests/{tender.request_id}")
        link = f"/requests/{tender.request_id}/tenders/{tender.id}/offer?dokument={document.id}"
        assert link.replace("&", "&amp;") in page.text
        form = await staff.get(link)
        assert form.status_code == 200 and "Angebot Schulz.pdf" in form.text and 'name="file"' not in form.text
        action_id = re.search(r'name="action_id" value="([0-9a-f]{32})"', form.text).group(1)  # type: ignore[union-attr]
        done = await staff.post(f"/requests/{tender.request_id}/tenders/{tender.id}/offer", data={
            "csrf_token": csrf_from(form.text), "action_id": action_id, "premium": "2.345,00",
            "valid_until": future_date(), "from_document": str(document.id)})
        assert done.status_code == 303, done.text[:500]
        with Session(portal.engine) as db:
            [offer] = db.exec(select(Offer).where(Offer.tender_id == tender.id)).all()
            assert offer.document_id == document.id and offer.premium_cents == 234_500 and offer.active
        # Another tender's document cannot be used this way.
        assert (await staff.get(f"/requests/{tender.request_id}/tenders/{tender.id}/offer?dokument=999999")
                ).status_code == 404


async def test_a_reply_to_an_ended_tender_is_kept(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal, inbound(portal) as port:
        [tender] = await portal.tenders(1)
        with session_scope(portal.engine) as db:
            row = db.get(Tender, tender.id)
            assert row is not None
            row.status = TenderStatus.WITHDRAWN  # as the projection leaves a withdrawn tender
            db.add(row)
        address = reply_address(portal.settings.secret_key, portal.settings.reply_domain, tender.id)  # type: ignore[arg-type]
        await send(port, reply(address, "Wir hätten doch gern angeboten.", message_id="<spaet@x.example>"), address)
        [message] = thread_messages(portal, tender)
        assert message.body.startswith("Wir hätten doch gern angeboten.") and message.unprocessed


@pytest.mark.parametrize("case", ["forged", "unknown_tender", "other_domain", "no_plus", "garbage"])
async def test_unknown_or_forged_recipients_are_refused(dev: Running, smtp_server: SmtpServer, case: str) -> None:
    """The inbound rows of the authorization matrix: only a signed address of
    an existing tender is taken; everything else is refused at RCPT (550), so
    nothing is accepted and silently dropped."""
    async with open_portal(dev, smtp_server) as portal, inbound(portal) as port:
        [tender] = await portal.tenders(1)
        good = reply_address(portal.settings.secret_key, portal.settings.reply_domain, tender.id)  # type: ignore[arg-type]
        local, domain = good.split("@")
        to = {
            "forged": reply_address("another-secret", portal.settings.reply_domain, tender.id),  # type: ignore[arg-type]
            "unknown_tender": reply_address(portal.settings.secret_key, portal.settings.reply_domain, 999999),
            "other_domain": f"{local}@evil.example",
            "no_plus": f"antwort@{domain}",
            "garbage": f"antwort+tabc.nichtsigniert@{domain}",
        }[case]
        with pytest.raises((aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused,
                            aiosmtplib.SMTPResponseException)) as refused:
            await send(port, reply(to, "Hallo"), to)
        assert "550" in str(refused.value) or "501" in str(refused.value) or "553" in str(refused.value)
        assert thread_messages(portal, tender) == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=2000))
def test_any_bytes_parse_without_crashing(raw: bytes) -> None:
    """Fuzzing the parser: whatever arrives, it yields text (maybe empty) or a clear error."""
    parsed = parse_reply(raw)
    assert isinstance(parsed.text, str) and len(parsed.fingerprint) == 64


@settings(max_examples=300, deadline=None, derandomize=True)
@given(address=st.text(max_size=80), tender_id=st.integers(min_value=1, max_value=10**9))
def test_only_signed_addresses_name_a_tender(address: str, tender_id: int) -> None:
    """Fuzzing the address check: random text never names a tender; a signed one
    names exactly its own, and not under another key or domain."""
    assert tender_of("k", "antwort.example", address) is None or address.startswith("antwort+t")
    signed = reply_address("k", "antwort.example", tender_id)
    assert tender_of("k", "antwort.example", signed) == tender_id
    assert tender_of("k2", "antwort.example", signed) is None
    assert tender_of("k", "other.example", signed) is None

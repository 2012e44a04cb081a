"""The ``send_email`` activity against a real SMTP server, on SQLite and PostgreSQL.

The activity promises exactly one System Email row and at most one delivered
mail per key (tender + kind + sequence), a Message-ID derived from that key, a
link token that exists only in the sent mail (the database keeps its hash and a
placeholder), and a clear split of SMTP replies: 4xx and connection errors are
retried by Temporal, 5xx is final. These tests pin each promise down with the
loopback aiosmtpd server, whose ``capture.script`` decides the next replies.

The last two tests drive the same paths through ``TenderWorkflow`` on the
time-skipping server, because what the backoffice sees (status, "Zustellung
fehlgeschlagen", resend) is the workflow's reaction to the activity's result.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from fpdf import FPDF
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from tenderdesk.config import Settings
from tenderdesk.contracts import Action, EmailInput, EmailKind, EmailResult
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    EmailStatus,
    InsurerContact,
    Party,
    Request,
    SystemEmail,
    Tender,
    TenderLink,
)
from tenderdesk.documents.storage import store_bytes
from tenderdesk.logs import RedactingFilter
from tenderdesk.mail.tender import LINK_PLACEHOLDER
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus
from web.core.forms import new_action_id
from web.tenders.service import send_action

from ..conftest import Running, SmtpServer, free_port
from ..factories import World, make_world
from ..workflows.helpers import row, snapshot, start, wait_status

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")
REQUEST_NUMBER = "MA-TEST-00001"


# ------------------------------------------------------------------ helpers
@dataclass
class Case:
    """One tender row (no workflow) and the activity bound to the test's DB and SMTP."""

    world: World
    tender: Tender
    acts: EmailActivities
    engine: Engine
    settings: Settings

    def key(self, kind: EmailKind = EmailKind.TENDER, seq: int = 1) -> EmailInput:
        assert self.tender.id is not None
        return EmailInput(tender_id=self.tender.id, kind=kind, seq=seq)

    async def send(self, inp: EmailInput | None = None) -> EmailResult:
        """Run the activity in an activity context, as a worker would."""
        return await ActivityEnvironment().run(self.acts.send_email, inp or self.key())

    def emails(self) -> list[SystemEmail]:
        with Session(self.engine) as s:
            return list(s.exec(select(SystemEmail).order_by(col(SystemEmail.id))).all())

    def links(self) -> list[TenderLink]:
        with Session(self.engine) as s:
            return list(s.exec(select(TenderLink).order_by(col(TenderLink.id))).all())


def make_tender(engine: Engine, world: World, *, email_note: str = "") -> Tender:
    """A Tender row as ``start_tenders`` would write it, without starting a workflow:
    the activity only reads the row, so no Temporal server is needed here."""
    with session_scope(engine) as s:
        contact = s.exec(
            select(InsurerContact).where(InsurerContact.insurer_id == world.insurer_ids[0])
        ).one()
        tender = Tender(
            request_id=world.request_id,
            insurer_id=world.insurer_ids[0],
            contact_email=contact.email,
            workflow_id=f"activity-test-r{world.request_id}",
            email_note=email_note,
            created_by_id=world.backoffice_user_id,
        )
        s.add(tender)
        s.flush()
        return tender


def small_pdf(text: str) -> bytes:
    """A real one-page PDF, so the attachment is what an insurer would receive."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def add_request_document(engine: Engine, settings: Settings, world: World, data: bytes) -> None:
    key, sha = store_bytes(settings, data)
    with session_scope(engine) as s:
        s.add(Document(
            request_id=world.request_id, kind=DocumentKind.REQUEST, filename="Fragebogen.pdf",
            content_type="application/pdf", size_bytes=len(data), sha256=sha, storage_key=key,
            uploaded_by=Party.BACKOFFICE, uploaded_by_user_id=world.backoffice_user_id,
        ))


def part(msg: EmailMessage, subtype: str) -> str:
    body = msg.get_body(preferencelist=(subtype,))
    assert body is not None, f"no text/{subtype} part"
    content: Any = body.get_content()
    assert isinstance(content, str)
    return content


@pytest.fixture
def case(engine: Engine, settings: Settings) -> Case:
    world = make_world(engine)
    return Case(world, make_tender(engine, world), EmailActivities(engine, settings), engine, settings)


# --------------------------------------------------------- activity: 250
async def test_sent_email_has_link_attachment_and_a_redacted_record(
    case: Case, smtp_server: SmtpServer
) -> None:
    pdf = small_pdf("Fragebogen Betriebshaftpflicht")
    add_request_document(case.engine, case.settings, case.world, pdf)

    result = await case.send()

    [email] = case.emails()
    assert result == EmailResult(system_email_id=email.id or 0, delivered=True)
    assert email.status == EmailStatus.SENT and email.last_reply == "250 OK"
    assert email.sent_at is not None and email.attempts == 1
    assert (email.kind, email.seq, email.to_addr) == ("tender", 1, case.tender.contact_email)
    # The Message-ID is derived from the key, so a resend is recognisable as the same mail.
    assert email.message_id_header == f"<tender.{case.tender.id}.tender.1@tenderdesk.example>"

    [msg] = smtp_server.capture.messages
    assert msg["Message-ID"] == email.message_id_header
    assert msg["To"] == case.tender.contact_email
    assert msg["Subject"] == email.subject == (
        f"Ausschreibung {REQUEST_NUMBER}: Betriebshaftpflicht – Elektroinstallateur"
    )
    assert msg["Auto-Submitted"] == "auto-generated"

    text, html = part(msg, "plain"), part(msg, "html")
    [token] = LINK_RE.findall(text)
    assert f'href="http://testserver/t/{token}"' in html
    [link] = case.links()
    assert link.token_hash == hash_token(token) and link.system_email_id == email.id
    assert link.revoked_at is None

    # The stored copy is the sent text with the link replaced: no token at rest.
    assert token not in email.body_text and "/t/" not in email.body_text
    assert LINK_PLACEHOLDER in email.body_text
    sent = text.replace("\r\n", "\n").replace(f"http://testserver/t/{token}", LINK_PLACEHOLDER)
    assert email.body_text.strip() == sent.strip()

    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "Fragebogen.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


async def test_same_key_twice_sends_once(case: Case, smtp_server: SmtpServer) -> None:
    """A retried activity (lost acknowledgement) must not mail the insurer again."""
    first = await case.send()
    second = await case.send()

    assert first == second and first.delivered
    assert len(smtp_server.capture.messages) == 1
    [email] = case.emails()
    assert email.status == EmailStatus.SENT and email.attempts == 1
    assert len(case.links()) == 1


async def test_other_sequence_is_another_email(case: Case, smtp_server: SmtpServer) -> None:
    """Only the same key is deduplicated: reminder #1 and #2 are two mails, two links."""
    await case.send(case.key(EmailKind.REMINDER, 1))
    await case.send(case.key(EmailKind.REMINDER, 2))

    assert [(e.kind, e.seq, e.status) for e in case.emails()] == [
        ("reminder", 1, "sent"), ("reminder", 2, "sent")]
    ids = [m["Message-ID"] for m in smtp_server.capture.messages]
    assert len(set(ids)) == 2
    tokens = [LINK_RE.findall(part(m, "plain"))[0] for m in smtp_server.capture.messages]
    assert {link.token_hash for link in case.links()} == {hash_token(t) for t in tokens}
    # Reminders carry no attachments (the documents stay on the link page).
    assert all(not list(m.iter_attachments()) for m in smtp_server.capture.messages)


# ------------------------------------------------------ activity: 4xx/5xx
async def test_451_is_retried_then_sent_once(case: Case, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script("451 4.3.0 Try again later", "250 OK")

    with pytest.raises(ApplicationError) as info:
        await case.send()
    assert info.value.non_retryable is False and info.value.type == "SmtpTransient"
    # Activity errors are visible in Temporal: no address or reply text in them.
    assert case.tender.contact_email not in str(info.value)
    [email] = case.emails()
    assert email.status == EmailStatus.RETRYING
    assert email.last_reply == "451 4.3.0 Try again later"
    assert not smtp_server.capture.messages

    result = await case.send()

    assert result.delivered
    [email] = case.emails()
    assert email.status == EmailStatus.SENT and email.attempts == 2
    [msg] = smtp_server.capture.messages
    assert msg["Message-ID"] == email.message_id_header
    # The delivered link is the one whose hash is stored for this email.
    [token] = LINK_RE.findall(part(msg, "plain"))
    assert hash_token(token) in {link.token_hash for link in case.links()}


async def test_550_is_final_and_not_retried(case: Case, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script("550 5.1.1 Mailbox unavailable")

    result = await case.send()

    [email] = case.emails()
    assert result == EmailResult(system_email_id=email.id or 0, delivered=False)
    assert email.status == EmailStatus.FAILED
    assert email.last_reply == "550 5.1.1 Mailbox unavailable"
    assert email.sent_at is None
    assert not smtp_server.capture.messages


async def test_550_then_same_key_again_does_not_send(case: Case, smtp_server: SmtpServer) -> None:
    """A 5xx is final for its key: a retry of the same activity must neither send
    nor report the mail as delivered (the workflow would then mark the tender sent)."""
    smtp_server.capture.script("550 5.1.1 Mailbox unavailable")
    await case.send()

    again = await case.send()

    assert not smtp_server.capture.messages
    [email] = case.emails()
    assert email.status == EmailStatus.FAILED and email.attempts == 1
    # a retry after a 5xx must not turn an undelivered tender into "Ausgeschrieben"
    assert again.delivered is False


async def test_connection_refused_is_retryable(case: Case, smtp_server: SmtpServer) -> None:
    closed = case.settings.model_copy(update={"smtp_port": free_port()})
    acts = EmailActivities(case.engine, closed)

    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(acts.send_email, case.key())

    assert info.value.non_retryable is False and info.value.type == "SmtpUnavailable"
    [email] = case.emails()
    assert email.status == EmailStatus.RETRYING
    assert email.last_reply.startswith("Verbindungsfehler: ")
    assert not smtp_server.capture.messages


async def test_html_part_is_autoescaped(engine: Engine, settings: Settings, smtp_server: SmtpServer) -> None:
    """Trade and note are typed by people; in the HTML part they must stay text."""
    world = make_world(engine)
    with session_scope(engine) as s:
        request = s.get(Request, world.request_id)
        assert request is not None
        request.trade = "Dachdecker <script>alert('trade')</script>"
        s.add(request)
    tender = make_tender(engine, world, email_note="Bitte <script>alert('note')</script> & prüfen")
    acts = EmailActivities(engine, settings)
    assert tender.id is not None

    await ActivityEnvironment().run(
        acts.send_email, EmailInput(tender_id=tender.id, kind=EmailKind.TENDER, seq=1))

    [msg] = smtp_server.capture.messages
    html = part(msg, "html")
    assert "<script>" not in html
    assert "Dachdecker &lt;script&gt;alert(&#39;trade&#39;)&lt;/script&gt;" in html
    assert "Bitte &lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt; &amp; prüfen" in html
    # The text part is not HTML, so it keeps the characters as typed.
    assert "Bitte <script>alert('note')</script> & prüfen" in part(msg, "plain")


# ---------------------------------------------------- through the workflow
async def poll(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true; activities finish shortly after updates return."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


def tender_emails(engine: Engine) -> list[tuple[str, int, str, str]]:
    with Session(engine) as s:
        rows = s.exec(select(SystemEmail).order_by(col(SystemEmail.id))).all()
        return [(e.kind, e.seq, e.status.value, e.last_reply) for e in rows]


async def test_550_marks_delivery_failed_and_remind_now_resends(
    ts: Running, smtp_server: SmtpServer
) -> None:
    smtp_server.capture.script("550 5.1.1 Mailbox unavailable")
    world = make_world(ts.engine)
    [tender] = await start(ts, world)

    async def failed() -> bool:
        return (await snapshot(ts, tender)).delivery_failed

    await poll(failed)
    await poll(lambda: row(ts, tender).delivery_failed)
    db = row(ts, tender)
    assert db.status == TenderStatus.QUEUED and db.sent_at is None
    assert tender_emails(ts.engine) == [("tender", 1, "failed", "550 5.1.1 Mailbox unavailable")]
    assert not smtp_server.capture.messages

    result = await send_action(ts.client, tender, "remind_now", Action(action_id=new_action_id(),
                               actor_user_id=world.backoffice_user_id))

    assert result.changed and result.code == "resent"
    await wait_status(ts, tender, TenderStatus.SENT)
    await poll(lambda: row(ts, tender).status == TenderStatus.SENT)
    db = row(ts, tender)
    assert db.delivery_failed is False and db.sent_at is not None
    assert tender_emails(ts.engine) == [
        ("tender", 1, "failed", "550 5.1.1 Mailbox unavailable"), ("tender", 2, "sent", "250 OK")]
    [msg] = smtp_server.capture.messages
    assert msg["Message-ID"] == f"<tender.{tender.id}.tender.2@tenderdesk.example>"


async def test_451_once_then_sent_with_one_record(ts: Running, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script("451 4.3.0 Try again later", "250 OK")
    world = make_world(ts.engine)
    [tender] = await start(ts, world)

    await poll(lambda: tender_emails(ts.engine) == [
        ("tender", 1, "retrying", "451 4.3.0 Try again later")])
    # The retry waits out EMAIL_RETRY's first backoff (2 s) in virtual time.
    await ts.env.sleep(timedelta(seconds=5))
    await wait_status(ts, tender, TenderStatus.SENT)

    assert tender_emails(ts.engine) == [("tender", 1, "sent", "250 OK")]
    assert len(smtp_server.capture.messages) == 1
    await poll(lambda: row(ts, tender).status == TenderStatus.SENT)
    assert row(ts, tender).delivery_failed is False


async def test_retries_exhausted_marks_the_email_failed(ts: Running, smtp_server: SmtpServer) -> None:
    """EMAIL_RETRY gives up after about a day of 4xx; then the email "counts as
    failed and is shown to a person" (workflows/tender.py) — on the tender and on
    the System Email row the backoffice reads."""
    smtp_server.capture.script(*["451 4.3.0 Try again later"] * 61)
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await poll(lambda: len(tender_emails(ts.engine)) == 1)
    for _ in range(40):  # hour by hour, so every retry attempt runs on the worker
        await ts.env.sleep(timedelta(hours=1))

    async def failed() -> bool:
        return (await snapshot(ts, tender)).delivery_failed

    await poll(failed)
    db = row(ts, tender)
    assert db.status == TenderStatus.QUEUED and db.delivery_failed
    assert db.delivery_error == "451 4.3.0 Try again later"
    assert not smtp_server.capture.messages
    # once Temporal gives up, the row says failed (with the reply), never "retrying" forever
    assert tender_emails(ts.engine) == [("tender", 1, "failed", "451 4.3.0 Try again later")]


# ------------------------------------------------------ hard bounces, privacy
async def test_550_at_rcpt_is_one_attempt_with_the_servers_reply(case: Case, smtp_server: SmtpServer) -> None:
    """"User unknown" comes at RCPT TO, not at DATA; it is as final as any 5xx."""
    smtp_server.capture.script_rcpt(f"550 5.1.1 <{case.tender.contact_email}>: Recipient address rejected")

    result = await case.send()

    [email] = case.emails()
    assert result.delivered is False and email.status == EmailStatus.FAILED and email.attempts == 1
    assert email.last_reply.startswith("550 5.1.1") and "Recipient address rejected" in email.last_reply
    assert smtp_server.capture.rcpt_count == 1 and not smtp_server.capture.messages


async def test_451_at_rcpt_is_retried_without_the_address_in_error_or_log(
    case: Case, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture,
) -> None:
    address = case.tender.contact_email
    smtp_server.capture.script_rcpt(f"451 4.7.1 <{address}>: greylisted")

    with caplog.at_level(logging.DEBUG), pytest.raises(ApplicationError) as info:
        await case.send()

    error = info.value
    assert error.type == "SmtpTransient" and not error.non_retryable
    assert error.message.startswith("SMTP 451") and "greylisted" in error.message
    assert address not in str(error) and error.__cause__ is None and error.__suppress_context__
    [email] = case.emails()
    assert email.status == EmailStatus.RETRYING
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test SMTP server
    assert ours and address not in "\n".join(r.getMessage() for r in ours)


def test_log_redaction_covers_addresses_tokens_and_tracebacks() -> None:
    try:
        raise ValueError("SMTPRecipientRefused(451, '<makler@firma.de> later')")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "send to %s via /t/%s", (
            "makler@firma.de", "abcDEF123_-xyz"), sys.exc_info())
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "makler@firma.de" not in text and "abcDEF123_-xyz" not in text
    assert "[address]" in text and "/t/[redacted]" in text


async def test_insurer_mail_of_an_ended_tender_is_refused_without_a_link(case: Case, smtp_server: SmtpServer) -> None:
    with Session(case.engine) as s:
        tender = s.get(Tender, case.tender.id)
        assert tender is not None
        tender.status = TenderStatus.WITHDRAWN
        s.add(tender)
        s.commit()

    result = await case.send(case.key(EmailKind.REMINDER))

    assert result.delivered is False and result.refused == "tender_ended"
    assert not case.emails() and not case.links() and not smtp_server.capture.messages

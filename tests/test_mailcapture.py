"""The capture SMTP server stores real SMTP deliveries and reads them back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from tenderdesk.dev import mailcapture
from tenderdesk.dev.mailcapture import MailCapture


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[MailCapture]:
    server = MailCapture(tmp_path / "mail", host="127.0.0.1", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_mail(to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Tenderdesk Backoffice <backoffice@tenderdesk.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


async def send(
    capture: MailCapture, msg: EmailMessage, recipients: list[str] | None = None
) -> None:
    await aiosmtplib.send(
        msg, hostname=capture.host, port=capture.port, timeout=10, recipients=recipients
    )


async def test_sent_mail_is_stored_and_read_back(capture: MailCapture) -> None:
    msg = make_mail("angebote@versicherer.example", "Ausschreibung A-1", "Grüße aus Köln\n")
    msg.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="anfrage.pdf"
    )
    await send(capture, msg)

    messages = mailcapture.read_messages(capture.maildir)
    assert len(messages) == 1
    got = messages[0]
    assert got["Subject"] == "Ausschreibung A-1"
    assert got["To"] == "angebote@versicherer.example"
    assert mailcapture.text_body(got).strip() == "Grüße aus Köln"
    assert [p.get_filename() for p in got.iter_attachments()] == ["anfrage.pdf"]
    assert got[mailcapture.CAPTURED_AT]
    assert got[mailcapture.ENVELOPE_FROM] == "backoffice@tenderdesk.example"
    # A Maildir: one file per message under new/.
    assert len(list((capture.maildir / "new").iterdir())) == 1


async def test_newest_first_and_envelope_recipients(capture: MailCapture) -> None:
    for n in range(3):
        await send(capture, make_mail("a@example.org", f"Mail {n}", f"body {n}"))
    await send(
        capture,
        make_mail("a@example.org", "Mit Bcc", "x"),
        recipients=["a@example.org", "hidden@example.org"],
    )

    messages = mailcapture.read_messages(capture.maildir)
    assert [m["Subject"] for m in messages] == ["Mit Bcc", "Mail 2", "Mail 1", "Mail 0"]
    assert mailcapture.recipients(messages[0]) == ["a@example.org", "hidden@example.org"]
    assert mailcapture.recipients(messages[1]) == ["a@example.org"]


async def test_wait_for_message_and_clear(capture: MailCapture) -> None:
    async def send_later() -> None:
        await asyncio.sleep(0.3)
        await send(capture, make_mail("b@example.org", "Erinnerung", "bitte antworten"))

    sender = asyncio.create_task(send_later())
    found = await asyncio.to_thread(
        mailcapture.wait_for_message,
        lambda m: m["Subject"] == "Erinnerung",
        capture.maildir,
        5.0,
    )
    await sender
    assert mailcapture.text_body(found).strip() == "bitte antworten"

    with pytest.raises(TimeoutError):
        mailcapture.wait_for_message(lambda m: False, capture.maildir, timeout=0.2)

    mailcapture.clear(capture.maildir)
    assert mailcapture.read_messages(capture.maildir) == []


def test_missing_maildir_reads_as_empty(tmp_path: Path) -> None:
    assert mailcapture.read_messages(tmp_path / "nothing-here") == []


def test_stop_releases_the_port(tmp_path: Path) -> None:
    port = free_port()
    with (
        MailCapture(tmp_path / "mail", port=port),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass

"""A local SMTP server that keeps every mail in a Maildir instead of sending it.

The embedded dev stack and the tests point ``SMTP_HOST``/``SMTP_PORT`` here, so
tender emails, reminders and cover orders can be read (``tenderdesk mails``) and
asserted on (:func:`read_messages`, :func:`wait_for_message`) without a real
mail server and without ever reaching an insurer by accident.

Run it alone with ``python -m tenderdesk.dev.mailcapture --port 8025 --maildir var/mail``.
"""

from __future__ import annotations

import argparse
import mailbox
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tenderdesk.config import VAR_DIR

DEFAULT_MAILDIR = VAR_DIR / "mail"

#: Header added on capture. Its fixed-width UTC timestamp sorts as text, which
#: gives a stable "newest first" even for mails sent within the same second.
CAPTURED_AT = "X-Captured-At"
#: The SMTP envelope, which may differ from To/Cc (for example Bcc recipients).
ENVELOPE_FROM = "X-Envelope-From"
ENVELOPE_TO = "X-Envelope-To"

_PARSER = BytesParser(policy=policy.default)


def open_maildir(path: Path) -> mailbox.Maildir:
    """The Maildir at ``path``, creating it and its ``tmp/new/cur`` folders if needed.

    ``mailbox.Maildir(create=True)`` only creates the subfolders when the root
    itself is missing, so an existing empty folder would fail on the first mail.
    """
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, create=False)


def _captured_at_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _MaildirHandler:
    """aiosmtpd handler: accept any sender and recipient, store the raw message."""

    def __init__(self, maildir: Path) -> None:
        self._maildir = maildir
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        prefix = (
            f"{CAPTURED_AT}: {_captured_at_now()}\r\n"
            f"{ENVELOPE_FROM}: {envelope.mail_from or ''}\r\n"
            f"{ENVELOPE_TO}: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        # Store with plain newlines so the files are pleasant to open in an editor.
        data = (prefix + raw).replace(b"\r\n", b"\n")
        with self._lock:
            open_maildir(self._maildir).add(data)
        return "250 Message captured"


class MailCapture:
    """The capture server on ``host:port``; :meth:`start` returns once it accepts mail.

    aiosmtpd runs the server on its own thread and event loop, so this works the
    same from synchronous code (the CLI) and from async tests.
    """

    def __init__(
        self,
        maildir: Path | str = DEFAULT_MAILDIR,
        host: str = "127.0.0.1",
        port: int = 8025,
    ) -> None:
        self.maildir = Path(maildir)
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        open_maildir(self.maildir)
        controller = Controller(
            _MaildirHandler(self.maildir),
            hostname=self.host,
            port=self.port,
            # A fixed banner name: the default does a reverse DNS lookup, which
            # can hang for seconds on machines without a resolver.
            server_hostname="tenderdesk-mailcapture",
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCapture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _sort_key(msg: EmailMessage, path: Path) -> tuple[str, float, str]:
    captured = str(msg.get(CAPTURED_AT, ""))
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return (captured, mtime, path.name)


def read_messages(maildir: Path | str = DEFAULT_MAILDIR) -> list[EmailMessage]:
    """Every captured message, newest first. A missing Maildir means no mail yet."""
    root = Path(maildir)
    found: list[tuple[tuple[str, float, str], EmailMessage]] = []
    for sub in ("new", "cur"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # moved between listing and reading
                continue
            msg = _PARSER.parsebytes(data)
            assert isinstance(msg, EmailMessage)
            found.append((_sort_key(msg, path), msg))
    found.sort(key=lambda item: item[0], reverse=True)
    return [msg for _, msg in found]


def text_body(msg: EmailMessage) -> str:
    """The plain-text part of a message (the HTML part if there is no text part)."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content: Any = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def recipients(msg: EmailMessage) -> list[str]:
    """Envelope recipients as captured, falling back to the To header."""
    raw = str(msg.get(ENVELOPE_TO) or msg.get("To") or "")
    return [addr.strip() for addr in raw.split(",") if addr.strip()]


def wait_for_message(
    match: Callable[[EmailMessage], bool],
    maildir: Path | str = DEFAULT_MAILDIR,
    timeout: float = 15.0,
    interval: float = 0.1,
) -> EmailMessage:
    """The newest message for which ``match`` is true, polling until ``timeout``.

    Mails go out from Temporal activities, i.e. shortly *after* the web request
    that caused them, so tests need to wait rather than read once. Async tests
    can call this through ``asyncio.to_thread``.
    """
    deadline = time.monotonic() + timeout
    while True:
        for msg in read_messages(maildir):
            if match(msg):
                return msg
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no matching mail in {maildir} within {timeout:.0f}s")
        time.sleep(interval)


def clear(maildir: Path | str = DEFAULT_MAILDIR) -> None:
    """Delete every captured message (tests start from an empty mailbox)."""
    root = Path(maildir)
    for sub in ("new", "cur", "tmp"):
        folder = root / sub
        if folder.is_dir():
            for path in folder.iterdir():
                path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tenderdesk.dev.mailcapture",
        description="Capture SMTP mail into a Maildir instead of delivering it.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", type=Path, default=DEFAULT_MAILDIR)
    args = parser.parse_args(argv)

    stop = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    capture = MailCapture(args.maildir, host=args.host, port=args.port)
    try:
        capture.start()
    except Exception as exc:  # any bind/start failure: report it plainly
        print(f"mail capture: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"mail capture: listening on {args.host}:{args.port}, writing to {args.maildir}",
        flush=True,
    )
    try:
        # A flag and short sleeps, not an Event: setting an Event from a signal
        # handler can deadlock against the main thread waiting on it.
        while not stop:
            time.sleep(0.2)
    finally:
        capture.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

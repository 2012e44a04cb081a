"""What an insurer's email reply says: its new text and its PDF attachments.

Mail clients quote the whole previous email below (or above) the answer;
only the answer belongs in the thread. The text is cut at the first quote
header a German or English client writes ("Am … schrieb …:", "On … wrote:",
"-----Ursprüngliche Nachricht-----", "-----Original Message-----", a
"Von:"/"From:" block) and quoted lines (``>``) are dropped. PDFs (by content,
not by name) become documents; other attachments are named in the text,
so the backoffice knows to ask for them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

PDF_MAGIC = b"%PDF-"
_QUOTE_HEADER = re.compile(
    r"^\s*(Am .{3,200} schrieb .{1,200}:|On .{3,200} wrote:|-{2,}\s*(Ursprüngliche Nachricht|Original Message)\s*-{2,}"
    r"|(Von|From):\s.+)\s*$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
MAX_TEXT_CHARS = 4000


@dataclass
class ReplyMail:
    text: str
    pdfs: list[tuple[str, bytes]] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    #: A stable ID of this email (its Message-ID, else its bytes): a redelivery is the same email.
    fingerprint: str = ""


def answer_text(body: str) -> str:
    """The reply without the quoted email below it."""
    lines = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip()[:MAX_TEXT_CHARS]


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        text = _TAGS.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>", "\n", text))
    return text


def parse_reply(raw: bytes) -> ReplyMail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    reply = ReplyMail(text=answer_text(_body_text(message)))
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        name = part.get_filename() or "Anhang"
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data.startswith(PDF_MAGIC):
            reply.pdfs.append((name if name.lower().endswith(".pdf") else f"{name}.pdf", data))
        else:
            reply.other_files.append(name)
    message_id = str(message.get("Message-ID") or "").strip()
    reply.fingerprint = hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()
    return reply


__all__ = ["ReplyMail", "answer_text", "parse_reply"]

"""The whole conversation of a request as one list, for the cover note."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlmodel import Session, col, select

from tenderdesk import formats
from tenderdesk.db.models import (
    Message,
    Party,
    Thread,
)
from web.core.i18n import party_label
from web.messages.common import TranscriptEntry, thread_labels
from web.messages.threads import documents_by_id, forward_sources, user_names

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.

# ---------------------------------------------------------------- transcript


def transcript(session: Session, request_id: int) -> list[TranscriptEntry]:
    """Every visible message of every thread of the request, oldest first.

    The binding attaches this to the cover note ("Bei Deckungsbeauftragung wird
    der gesamte Verlauf des Chatmoduls der Deckungsnote beigefügt"), so it
    names insurers and staff. Not for insurer eyes; the caller authorises.
    """
    threads = list(session.exec(select(Thread).where(Thread.request_id == request_id)).all())
    if not threads:
        return []
    labels = thread_labels(session, threads)
    messages = list(
        session.exec(
            select(Message)
            .where(Message.request_id == request_id)
            .where(col(Message.visible).is_(True))
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
    )
    documents = documents_by_id(session, [m.document_id for m in messages])
    names = user_names(session, [m.author_user_id for m in messages])
    sources = forward_sources(session, messages, labels)
    entries = []
    for m in messages:
        doc = documents.get(m.document_id or 0)
        label = labels.get(m.thread_id, "")
        entries.append(
            TranscriptEntry(
                at=m.created_at,
                thread_label=label,
                author=m.author,
                author_name=label if m.author == Party.INSURER else names.get(m.author_user_id or 0),
                text=m.body,
                attachment_filename=doc.filename if doc else None,
                forwarded_from=sources.get(m.forwarded_from_id or 0),
            )
        )
    return entries


def transcript_text(entries: Sequence[TranscriptEntry]) -> str:
    """The transcript as plain German text (Berlin time), e.g. for the cover note's appendix."""
    blocks = []
    for e in entries:
        who = party_label(e.author) + (f" ({e.author_name})" if e.author_name else "")
        head = f"{formats.moment(e.at)} · {e.thread_label} · {who}"
        if e.forwarded_from:
            head += f" · weitergeleitet aus „{e.forwarded_from}“"
        lines = [head]
        if e.text:
            lines.append(e.text)
        if e.attachment_filename:
            lines.append(f"Anhang: {e.attachment_filename}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)



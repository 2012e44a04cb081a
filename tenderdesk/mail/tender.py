"""What a tender email (to the insurer) says and carries: context, link, attachments.

Shared by the email activity, which sends it, and the "Ausschreibung
hinzufügen" preview, which shows it before the tender starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.contracts import EmailKind
from tenderdesk.db.models import (
    Account,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Offer,
    Request,
    Tender,
    utcnow,
)
from tenderdesk.documents.storage import open_path
from tenderdesk.mail.context import request_context
from tenderdesk.mail.smtp import Attachment

#: Stands in for the insurer's link in the stored copy: tokens are never stored in clear.
LINK_PLACEHOLDER = "[persönlicher Link – aus Sicherheitsgründen nicht gespeichert]"
LINK_LIFETIME = timedelta(days=365)
#: Kinds whose email carries the insurer's link.
LINKED = frozenset({EmailKind.TENDER, EmailKind.REMINDER, EmailKind.MESSAGE})
#: Total size of a tender email's attachments; the rest is on the link page.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def tender_context(session: Session, tender: Tender, kind: EmailKind) -> dict[str, Any]:
    """Everything the tender templates use; ``link`` is added by the caller."""
    parties = request_context(session, tender.request_id)
    request: Request = parties["request"]
    account: Account = parties["account"]
    insurer = session.get(Insurer, tender.insurer_id)
    assert insurer is not None
    offer = session.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
    respond_by = tender.deadline_at or utcnow() + timedelta(seconds=account.response_deadline_s)
    return {
        **parties,
        "subject": {"number": request.number, "product": parties["product"].name, "trade": request.trade},
        "insurer": insurer,
        "tender": tender,
        "offer": offer,
        "respond_by": respond_by,
        "note": tender.email_note,
        "kind": kind.value,
        "locale": contact_locale(session, tender),
    }


def contact_locale(session: Session, tender: Tender) -> str:
    """The language of the insurer contact the tender went to ("de" unless set)."""
    contact = session.exec(
        select(InsurerContact).where(InsurerContact.insurer_id == tender.insurer_id)
        .where(InsurerContact.email == tender.contact_email)
    ).first()
    return contact.locale if contact is not None and contact.locale else "de"


def insurer_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/t/{token}"


def fits_attachments(documents: Sequence[Document]) -> list[tuple[Document, bool]]:
    """Each document in attachment order, and whether it still fits under the cap."""
    total = 0
    result = []
    for doc in sorted(documents, key=lambda d: d.id or 0):
        fits = total + doc.size_bytes <= MAX_ATTACHMENT_BYTES
        if fits:
            total += doc.size_bytes
        result.append((doc, fits))
    return result


def tender_attachments(session: Session, settings: Settings, tender: Tender) -> list[Attachment]:
    """The documents chosen for this tender (default: the request's own) that fit
    under the cap and exist on disk; the insurer finds every document on its link page."""
    query = select(Document).where(Document.request_id == tender.request_id)
    if tender.document_ids:
        query = query.where(col(Document.id).in_(tender.document_ids))
    else:
        query = query.where(col(Document.kind) == DocumentKind.REQUEST)
    result = []
    for doc, fits in fits_attachments(session.exec(query).all()):
        path = open_path(settings, doc.storage_key)
        if fits and path.exists():
            result.append(Attachment(doc.filename, doc.content_type, path.read_bytes()))
    return result


def stored_attachments(session: Session, settings: Settings, document_id: int | None) -> list[Attachment]:
    """The document a System Email carries (the Deckungsnote), read at delivery.

    A file missing from storage is an error Temporal retries (storage may be a
    mount that is back in a minute); sending the email without the attachment it
    promises would lose it silently."""
    if document_id is None:
        return []
    doc = session.get(Document, document_id)
    if doc is None:
        raise LookupError(f"document {document_id} missing")
    return [Attachment(doc.filename, doc.content_type, open_path(settings, doc.storage_key).read_bytes())]


__all__ = [
    "LINKED", "LINK_LIFETIME", "LINK_PLACEHOLDER", "MAX_ATTACHMENT_BYTES", "fits_attachments", "insurer_link",
    "stored_attachments", "tender_attachments", "tender_context",
]

"""Step 2: the tender email as each insurer will get it, rendered by the one mail path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from tenderdesk.contracts import EmailKind
from tenderdesk.db.models import (
    Document,
    Request,
    Tender,
)
from tenderdesk.mail.render import render_email
from tenderdesk.mail.tender import fits_attachments, tender_context
from web.tenders.picker import InsurerChoice
from web.tenders.wizard_input import PREVIEW_LINK, WizardInput, note_for


@dataclass
class EmailPreview:
    choice: InsurerChoice
    to_addr: str
    subject: str
    body: str
    note: str


@dataclass
class Attachment:
    document: Document
    attached: bool  # False: beyond the email's size cap; the insurer finds it via its link


def email_previews(
    db: Session, request: Request, choices: Sequence[InsurerChoice], inp: WizardInput,
) -> list[EmailPreview]:
    """Each insurer's tender email as the email activity will render it: the same
    template and context, with a placeholder instead of the personal link."""
    previews = []
    for choice in choices:
        assert choice.insurer.id is not None and choice.contact is not None
        note = note_for(inp, choice.insurer.id)
        draft = Tender(
            request_id=request.id,  # type: ignore[arg-type]
            insurer_id=choice.insurer.id,
            contact_email=choice.contact.email,
            workflow_id="",
            email_note=note,
        )
        email = render_email(EmailKind.TENDER, {**tender_context(db, draft, EmailKind.TENDER), "link": PREVIEW_LINK})
        previews.append(
            EmailPreview(choice=choice, to_addr=choice.contact.email, subject=email.subject, body=email.text, note=note)
        )
    return previews


def attachments(documents: Sequence[Document]) -> list[Attachment]:
    """The chosen documents in the order the email attaches them, marking those
    that no longer fit under the email's total size."""
    return [Attachment(document=doc, attached=fits) for doc, fits in fits_attachments(documents)]

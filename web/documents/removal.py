"""Removing a document before it went out.

A wrong customer file must never reach an insurer. So a file the backoffice
uploaded can be removed as long as no tender has sent it: a staged upload of a
cancelled wizard, or a request document that no tender email carried or
listed yet. Removal keeps the row (kind ``removed``) and records who removed
what in the request's timeline; the file no longer shows anywhere, not to the
broker, not on an insurer's link page, not in the next wizard.

Once a tender has it (its chosen documents, or all request documents when it
chose none), the insurer may have it already: removal is refused, with why.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from sqlmodel import Session, select
from starlette.responses import RedirectResponse, Response

from tenderdesk.db.models import AuditEvent, Document, DocumentKind, Party, Tender
from web.core import i18n
from web.core.deps import PathId, SessionDep, SettingsDep, StaffCsrfLogin, StaffRequest
from web.core.errors import ActionRefused, not_found
from web.core.flash import Flash, set_flash

router = APIRouter(tags=["documents"])

#: Kinds the backoffice uploads and may therefore take back before they go out.
REMOVABLE_KINDS = (DocumentKind.REQUEST, DocumentKind.STAGED)


def sent_document_ids(tenders: Sequence[Tender]) -> set[int] | None:
    """The documents the request's tenders carry; ``None`` means every request
    document (a tender that chose none sends them all)."""
    sent: set[int] = set()
    for tender in tenders:
        if not tender.document_ids:
            return None
        sent.update(tender.document_ids)
    return sent


def removable(document: Document, sent: set[int] | None) -> bool:
    if document.kind == DocumentKind.STAGED:
        return document.id not in (sent or set())
    return document.kind == DocumentKind.REQUEST and sent is not None and document.id not in sent


def remove_document(db: Session, document: Document, user_id: int | None) -> bool:
    """Remove ``document`` unless it went out; ``False`` if it was removed already."""
    if document.kind == DocumentKind.REMOVED:
        return False
    tenders = db.exec(select(Tender).where(Tender.request_id == document.request_id)).all()
    if document.kind not in REMOVABLE_KINDS or not removable(document, sent_document_ids(tenders)):
        raise ActionRefused("documents.remove.sent", filename=document.filename)
    document.kind = DocumentKind.REMOVED
    db.add(document)
    db.add(AuditEvent(request_id=document.request_id, actor=Party.BACKOFFICE, actor_user_id=user_id,
                      kind="document_removed", detail=document.filename))
    db.commit()
    return True


@router.post("/requests/{request_id}/documents/{document_id}/remove")
def remove(
    document_id: PathId, request: StaffRequest, login: StaffCsrfLogin, db: SessionDep, settings: SettingsDep
) -> Response:
    """"Entfernen" on a document that has not gone out; a repeated click changes nothing."""
    document = db.get(Document, document_id)
    if document is None or document.request_id != request.id:
        raise not_found()
    removed = remove_document(db, document, login.user.id)
    response = RedirectResponse(f"/requests/{request.id}#dokumente", status_code=303)
    if removed:
        set_flash(response, settings, Flash("success", i18n.t("documents.remove.done", filename=document.filename)))
    return response

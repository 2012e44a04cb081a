"""Dokumente: download of a request's files, for logged-in users. The request
must be visible to the user, the document must belong to it, and brokers get
only their kinds of documents."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from tenderdesk.db.models import Account, Document
from web.core.access import can_see_document, load_request
from web.core.deps import CurrentLogin, SessionDep, SettingsDep
from web.core.downloads import document_response
from web.core.errors import not_found

router = APIRouter(tags=["documents"])


@router.get("/requests/{request_id}/documents/{document_id}")
def download_document(
    request_id: int,
    document_id: int,
    db: SessionDep,
    settings: SettingsDep,
    login: CurrentLogin,
) -> Response:
    request = load_request(db, login.user, request_id)
    document = db.get(Document, document_id)
    account = db.get(Account, request.account_id)
    if (
        document is None
        or account is None
        or document.request_id != request.id
        or not can_see_document(db, login.user, account, document)
    ):
        raise not_found("error.document_not_found")
    return document_response(settings, document)

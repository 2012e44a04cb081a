"""Dokumente: download of a request's files, for logged-in users. The request
must be visible to the user, the document must belong to it, and brokers get
only their kinds of documents."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from web.core.deps import RequestDocument, SettingsDep
from web.core.downloads import document_response

router = APIRouter(tags=["documents"])


@router.get("/requests/{request_id}/documents/{document_id}")
def download_document(document: RequestDocument, settings: SettingsDep) -> Response:
    return document_response(settings, document)

"""Serving stored documents safely: always as attachments with ``nosniff`` and a
sandboxing CSP, with a sanitised ``Content-Disposition`` name (RFC 6266).
Shared by every feature that lets a user download a file."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from starlette.responses import FileResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import Document
from tenderdesk.documents.storage import open_path
from web.core.errors import not_found

#: Types we name as such; everything else is sent as an opaque download.
KNOWN_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"}
)
MAX_FILENAME_CHARS = 120
FALLBACK_NAME = "dokument"

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]')


def safe_filename(name: str | None) -> str:
    """A filename that is safe in a header and on any file system."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    if not base:
        return FALLBACK_NAME
    if len(base) > MAX_FILENAME_CHARS:
        stem, dot, ext = base.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            base = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME_CHARS]
    return base


def content_disposition(name: str | None) -> str:
    clean = safe_filename(name)
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()-]", "_", ascii_name).strip() or FALLBACK_NAME
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def document_response(settings: Settings, document: Document) -> Response:
    path = open_path(settings, document.storage_key)
    if not path.is_file():
        raise not_found("error.document_not_found")
    media_type = (
        document.content_type if document.content_type in KNOWN_TYPES
        else "application/octet-stream"
    )
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(document.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )



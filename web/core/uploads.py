"""Uploads without trusting the client: size limits while streaming, PDF checks.

An upload is never held in memory as a whole. The request body is counted as
it arrives and cut off at ``max_upload_bytes`` plus a small allowance for the
other form fields, so the form parser (which spools files to disk above 1 MB)
never sees more. The file itself is then copied in chunks to a temporary file
under the storage directory, hashing and counting on the way; only a file
that passed every check is moved (renamed, same file system) to its
content-addressed place, the same layout :mod:`tenderdesk.documents.storage` uses.
Because such a form is parsed here and not by the CSRF dependency (which
would read the body without a limit), :func:`read_upload_form` checks its
token right after parsing.

A PDF must start with ``%PDF-`` and parse with pypdf with at least one page:
the magic bytes stop renamed files, the parse stops broken ones that an
insurer's broker would otherwise receive as its offer.

Request documents (the "+ Ausschreibung hinzufügen" wizard) may also be office
files. Their type is decided by the extension *and* the content's signature
(OOXML and OpenDocument are ZIP containers with a known member, legacy Office
files are OLE compound files, RTF starts with ``{\\rtf``); the content type we
store and send comes from that table, never from the browser.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from tenderdesk.config import Settings
from tenderdesk.documents.storage import storage_key_for
from web.core import csrf, i18n
from web.core.errors import PageError

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
#: Room for the text fields and multipart framing next to the file.
FORM_ALLOWANCE_BYTES = 64 * 1024
#: After a too-large body we keep reading (and discarding) up to this much, so
#: the browser gets to see our error page instead of a reset connection.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
INCOMING_DIR = ".incoming"


class UploadTooLarge(Exception):
    """The body or the file exceeded the limit."""


class UploadIncomplete(Exception):
    """The form could not be parsed (client aborted, malformed multipart)."""


@dataclass
class StagedFile:
    """An upload copied to a temporary file, not yet stored."""

    path: Path
    size: int
    sha256: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def body_limit(settings: Settings) -> int:
    return settings.max_upload_bytes + FORM_ALLOWANCE_BYTES


def size_mb(size: int) -> str:
    """A size in MB as the forms state their limit: ``10`` or ``2,5``."""
    mb = size / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}".replace(".", ",")


def form_text(form: FormData, name: str) -> str:
    """A text field of a parsed form; ``""`` when missing or sent as a file."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _drain(receive: object, already: int) -> None:
    total = already
    while total < DRAIN_LIMIT_BYTES:
        message: Message = await receive()  # type: ignore[operator]
        if message["type"] != "http.request":
            return
        total += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def read_limited_form(
    request: Request, limit: int, *, max_fields: int = 20, max_files: int = 1
) -> FormData:
    """Parse the form, refusing bodies larger than ``limit`` bytes.

    A declared ``Content-Length`` above the limit is refused before reading;
    a body without one (chunked) is counted and cut off as it streams.
    """
    declared = request.headers.get("content-length", "")
    receive = request.receive
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        if int(declared) <= DRAIN_LIMIT_BYTES:
            await _drain(receive, 0)
        raise UploadTooLarge()
    received = 0
    exceeded = False

    async def limited_receive() -> Message:
        nonlocal received, exceeded
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                exceeded = True
                raise UploadTooLarge()
        return message

    limited = Request(request.scope, limited_receive)
    try:
        return await limited.form(max_files=max_files, max_fields=max_fields)
    except UploadTooLarge:
        await _drain(receive, received)
        raise
    except HTTPException as err:  # malformed multipart, too many fields or files
        raise UploadIncomplete() from err
    except Exception as err:
        if exceeded:
            raise UploadTooLarge() from err
        raise UploadIncomplete() from err


async def read_upload_form(
    request: Request,
    settings: Settings,
    expected_csrf: str | None,
    *,
    refusal: Exception | None = None,
    max_fields: int = 20,
    max_files: int = 1,
) -> FormData:
    """Parse a form that may carry files within the upload limit, then check its CSRF token.

    Such forms cannot use the CSRF dependency (:data:`web.core.deps.CsrfLogin`): it
    parses the body without a limit. The token is in the body, so it is checked
    right after parsing; a body that is too large or unreadable raises
    :class:`UploadTooLarge` or :class:`UploadIncomplete` first, for the caller's
    own German answer. A wrong token closes the form and raises ``refusal``
    (default: the 403 page); the caller closes the returned form.
    """
    form = await read_limited_form(request, body_limit(settings), max_fields=max_fields, max_files=max_files)
    if not csrf.tokens_match(expected_csrf, form_text(form, csrf.FIELD) or None):
        await form.close()
        raise refusal or PageError(403, "csrf.failed")
    return form


async def stage_upload(settings: Settings, upload: UploadFile, limit: int) -> StagedFile:
    """Copy ``upload`` in chunks to a temporary file, at most ``limit`` bytes."""
    incoming = Path(settings.storage_dir) / INCOMING_DIR
    incoming.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            while chunk := await upload.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge()
                digest.update(chunk)
                await asyncio.to_thread(fh.write, chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StagedFile(path=path, size=size, sha256=digest.hexdigest())


#: Markup a browser would take for a web page. A PDF that carries it near its
#: start is a PDF/HTML polyglot: harmless as served here (attachment, nosniff,
#: sandbox), but nothing a real offer needs, so it is refused outright.
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|iframe|svg|object|embed|meta)\b", re.IGNORECASE)
SNIFF_BYTES = 4096


def pdf_problem(path: Path) -> str | None:
    """``None`` for a readable PDF, else the i18n key of what is wrong. Reads the
    file through its handle (pypdf seeks in it), never whole into memory."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.startswith(PDF_MAGIC):
        return "offer.file_not_pdf"
    if _MARKUP.search(head):
        log.info("uploaded PDF rejected: markup near its start")
        return "offer.file_broken"
    try:
        # A handle, not the path: given a path, pypdf reads the whole file into memory.
        with path.open("rb") as fh:
            reader = PdfReader(fh, strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
            if len(reader.pages) < 1:
                return "offer.file_broken"
    except Exception as err:  # pypdf raises many kinds on broken files
        log.info("uploaded PDF rejected: %s", type(err).__name__)
        return "offer.file_broken"
    return None


def store_staged(settings: Settings, staged: StagedFile) -> str:
    """Move a checked file to its content-addressed place; returns the storage key.

    Identical content already stored is kept and the staged copy dropped.
    """
    key = storage_key_for(staged.sha256)
    target = Path(settings.storage_dir) / key
    if target.is_file() and target.stat().st_size == staged.size:
        staged.discard()
        return key
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged.path, target)
    return key


async def stage_pdf(settings: Settings, upload: UploadFile) -> tuple[StagedFile, str | None]:
    """Stage an uploaded PDF (at most ``max_upload_bytes``) and check it.

    Returns the staged file and ``None``, or the staged file and the i18n key
    of what is wrong (the caller discards it). Raises :class:`UploadTooLarge`.
    """
    staged = await stage_upload(settings, upload, settings.max_upload_bytes)
    problem = await asyncio.to_thread(pdf_problem, staged.path)
    return staged, problem


# ------------------------------------------------------------ request documents

#: Accepted request documents: extension -> the content type stored and sent.
DOCUMENT_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".rtf": "application/rtf",
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RTF_MAGIC = b"{\\rtf"
_OOXML = {".docx", ".xlsx", ".pptx"}
_ODF = {".odt", ".ods", ".odp"}
_OLE = {".doc", ".xls", ".ppt"}


def document_extension(filename: str | None) -> str:
    """The lower-case extension (``.pdf``) of an uploaded file's name, or ``""``."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def document_problem(path: Path, filename: str | None) -> str | None:
    """``None`` for an accepted request document, else a sentence naming the file."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1] or i18n.t("uploads.file")
    ext = document_extension(filename)
    if ext not in DOCUMENT_TYPES:
        return i18n.t("uploads.type_not_allowed", name=name, types=i18n.t("uploads.document_types"))
    if path.stat().st_size == 0:
        return i18n.t("uploads.empty", name=name)
    if ext == ".pdf":
        return None if pdf_problem(path) is None else i18n.t("uploads.pdf_unreadable", name=name)
    with path.open("rb") as fh:
        head = fh.read(8)
    if ext in _OLE:
        ok = head == OLE_MAGIC
    elif ext == ".rtf":
        ok = head.startswith(RTF_MAGIC)
    else:
        ok = _zip_document_ok(path, ext)
    return None if ok else i18n.t("uploads.mismatch", name=name)


def _zip_document_ok(path: Path, ext: str) -> bool:
    """OOXML and OpenDocument files are ZIPs; only the directory is read, nothing inflated
    except OpenDocument's tiny uncompressed ``mimetype`` member."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if ext in _OOXML:
                return "[Content_Types].xml" in names
            if ext in _ODF and "mimetype" in names and archive.getinfo("mimetype").file_size < 200:
                return archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument")
    except (zipfile.BadZipFile, OSError, KeyError):
        return False
    return False

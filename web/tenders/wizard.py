""""+ Ausschreibung hinzufügen": a two-step wizard that works without JavaScript.

Step 1 (``GET /requests/{id}/tenders/new``) picks the insurers and the
documents. The picker lists insurers in the guide's order: first the
account's recommended insurers for this product (star), then the others with
a tender contact for the product, last the ones that are not relevant (no
contact for the product, or not reachable), which cannot be ticked; an
insurer with an open tender for this request is shown but disabled. The
request's documents are ticked by default; new files (PDF or office) can be
uploaded and become request documents.

Step 2 (``POST …/tenders/preview``) shows each insurer's email as it will be
sent (the real ``email/tender.txt`` template and context, with a placeholder
for the personal link) with an editable note per insurer. "Senden"
(``POST …/tenders``) starts one workflow per insurer through
:func:`web.tenders.start.start_tenders` and redirects to the request page, where the
new tenders go from "Bereit ausgeschrieben zu werden" to "Ausgeschrieben"
live. Forged choices (an insurer already tendered, another request's
document) are refused with a German message, 422, and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Party,
    Product,
    Request,
    RequestStatus,
)
from tenderdesk.mail.tender import MAX_ATTACHMENT_BYTES
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    EngineDep,
    PagesDep,
    PathId,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.downloads import safe_filename
from web.core.errors import ActionRefused
from web.core.flash import Flash, set_flash
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.uploads import (
    DOCUMENT_TYPES,
    StagedFile,
    UploadIncomplete,
    UploadTooLarge,
    document_extension,
    document_problem,
    read_upload_form,
    size_mb,
    stage_upload,
    store_staged,
)
from web.requests import detail_redirect
from web.tenders.picker import load_picker, request_documents
from web.tenders.preview import attachments, email_previews
from web.tenders.start import start_tenders
from web.tenders.wizard_input import MAX_NOTE_CHARS, WizardInput, check_input, read_wizard

router = APIRouter(tags=["tenders"])

#: Files per upload round; together at most ``max_upload_bytes``.
MAX_FILES = 10
#: Form fields of the wizard: insurers, documents and one note per insurer, with room.
MAX_FIELDS = 600


# ------------------------------------------------------------------ rendering


def _render_picker(
    http: HttpRequest, pages: Pages, db: Session, settings: Settings, login: Login, request: Request, *,
    errors: Sequence[str] = (), inp: WizardInput | None = None, status_code: int = 200,
) -> Response:
    documents = request_documents(db, request.id, inp.document_ids if inp else ()) if request.id else []
    if inp is None or not inp.documents_chosen:
        chosen_documents = {d.id for d in documents}
    else:
        chosen_documents = set(inp.document_ids)
    inp = inp or WizardInput()
    return pages.render(
        http,
        "tenders/add_tenders.html",
        {
            "request_row": request,
            "product": db.get(Product, request.product_id),
            "picker": load_picker(db, request),
            "errors": list(errors),
            "selected": set(inp.insurer_ids),
            "notes": inp.notes,
            "note": inp.common_note,
            "documents": documents,
            "chosen_documents": chosen_documents,
            "max_upload_mb": size_mb(settings.max_upload_bytes),
            "max_files": MAX_FILES,
            "accept": ",".join(sorted(DOCUMENT_TYPES)),
            "document_types": i18n.t("uploads.document_types"),
            "max_note": MAX_NOTE_CHARS,
            "nav": "requests",
            "page_title": i18n.t("title.add_tenders", number=request.number),
        },
        login=login,
        status_code=status_code,
    )


def _render_preview(
    http: HttpRequest, pages: Pages, db: Session, engine: Engine, settings: Settings, login: Login,
    request: Request, inp: WizardInput, *, errors: Sequence[str] = (), notices: Sequence[str] = (),
    status_code: int = 200,
) -> Response:
    picker = load_picker(db, request)
    choices = [picker.by_id[i] for i in inp.insurer_ids if i in picker.by_id and picker.by_id[i].selectable]
    documents = request_documents(db, request.id, inp.document_ids) if request.id else []
    chosen = [d for d in documents if d.id in inp.document_ids] if inp.documents_chosen else documents
    return pages.render(
        http,
        "tenders/add_tenders_preview.html",
        {
            "request_row": request,
            "product": db.get(Product, request.product_id),
            "previews": email_previews(db, request, choices, inp),
            "attachments": attachments(chosen),
            "max_attachment_mb": size_mb(MAX_ATTACHMENT_BYTES),
            "document_ids": [d.id for d in chosen],
            "errors": list(errors),
            "notices": list(notices),
            "max_note": MAX_NOTE_CHARS,
            "nav": "requests",
            "page_title": i18n.t("title.add_tenders", number=request.number),
        },
        login=login,
        status_code=status_code,
    )


# ------------------------------------------------------------------ step 1


@router.get("/requests/{request_id}/tenders/new")
def add_tenders_form(
    request_id: PathId,
    request: StaffRequest, http: HttpRequest, pages: PagesDep, db: SessionDep, settings: SettingsDep,
    login: StaffLogin,
) -> Response:
    if request.status != RequestStatus.OPEN:
        return _render_picker(
            http, pages, db, settings, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    return _render_picker(http, pages, db, settings, login, request)


@router.post("/requests/{request_id}/tenders/new")
def add_tenders_back(
    request_id: PathId,
    request: StaffRequest, http: HttpRequest, pages: PagesDep, db: SessionDep, settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Zurück" from the email step: step 1 again with everything chosen so far."""
    inp = read_wizard(wait(http.form()))
    if inp.malformed:
        inp = WizardInput()
    return _render_picker(http, pages, db, settings, login, request, inp=inp)


# ------------------------------------------------------------------ step 2


@dataclass
class StagedDocument:
    staged: StagedFile
    filename: str
    content_type: str


async def _stage_documents(settings: Settings, uploads: Sequence[UploadFile]) -> tuple[list[StagedDocument], list[str]]:
    """Copy every upload to a temporary file and check it; nothing is stored yet.
    Raises :class:`UploadTooLarge` (after discarding what was staged) for a file
    over the limit."""
    staged: list[StagedDocument] = []
    errors: list[str] = []
    for upload in uploads:
        try:
            item = await stage_upload(settings, upload, settings.max_upload_bytes)
        except UploadTooLarge:
            for done in staged:
                done.staged.discard()
            raise
        staged.append(
            StagedDocument(
                staged=item,
                filename=safe_filename(upload.filename),
                content_type=DOCUMENT_TYPES.get(document_extension(upload.filename), "application/octet-stream"),
            )
        )
        problem = await asyncio.to_thread(document_problem, item.path, upload.filename)
        if problem:
            errors.append(problem)
    return staged, errors


def _store_documents(
    settings: Settings, engine: Engine, request_id: int, user_id: int | None, items: Sequence[StagedDocument]
) -> list[int]:
    """Move checked uploads into storage and record them as staged documents:
    they become request documents only when a tender that sends them starts
    (in a thread: file moves and the commit must not block the event loop)."""
    documents = []
    with session_scope(engine) as db:
        for item in items:
            key = store_staged(settings, item.staged)
            document = Document(
                request_id=request_id,
                kind=DocumentKind.STAGED,
                filename=item.filename,
                content_type=item.content_type,
                size_bytes=item.staged.size,
                sha256=item.staged.sha256,
                storage_key=key,
                uploaded_by=Party.BACKOFFICE,
                uploaded_by_user_id=user_id,
            )
            db.add(document)
            documents.append(document)
        db.flush()
        return [d.id for d in documents if d.id is not None]


@router.post("/requests/{request_id}/tenders/preview")
def add_tenders_preview(
    request_id: PathId,
    request: StaffRequest,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    login: StaffLogin,
) -> Response:
    """Step 1 → step 2: check the choices, store new documents, show the emails.
    The form may carry files, so it is parsed here under a size limit (and its
    CSRF token checked here) instead of by the usual dependency."""
    try:
        form = wait(read_upload_form(
            http, settings, login.csrf_token, max_fields=MAX_FIELDS, max_files=MAX_FILES
        ))
    except UploadTooLarge:
        errors = [i18n.t("add_tenders.files.too_large", max_mb=size_mb(settings.max_upload_bytes))]
        return _render_picker(http, pages, db, settings, login, request, errors=errors, status_code=413)
    except UploadIncomplete:
        errors = [i18n.t("add_tenders.files.unreadable", max=MAX_FILES)]
        return _render_picker(http, pages, db, settings, login, request, errors=errors, status_code=400)
    staged: list[StagedDocument] = []
    try:
        inp = read_wizard(form)
        inp.documents_chosen = True
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        picker = load_picker(db, request)
        errors = check_input(db, request, picker, inp, new_documents=len(uploads))
        if not errors and uploads:
            try:
                staged, errors = wait(_stage_documents(settings, uploads))
            except UploadTooLarge:
                errors = [i18n.t("add_tenders.files.too_large", max_mb=size_mb(settings.max_upload_bytes)),
                          i18n.t("add_tenders.files.again")]
                return _render_picker(
                    http, pages, db, settings, login, request, errors=errors, inp=inp, status_code=413
                )
        if errors:
            if uploads:
                errors.append(i18n.t("add_tenders.files.again"))
            return _render_picker(
                http, pages, db, settings, login, request, errors=errors, inp=inp, status_code=422
            )
        notices = []
        if staged:
            new_ids = wait(asyncio.to_thread(
                _store_documents, settings, engine, request_id, login.user.id, staged
            ))
            staged = []
            inp.document_ids.extend(new_ids)
            notices.append(i18n.t("add_tenders.files.stored", count=len(new_ids)))
        return _render_preview(http, pages, db, engine, settings, login, request, inp, notices=notices)
    finally:
        for item in staged:
            item.staged.discard()
        wait(form.close())


# ------------------------------------------------------------------ send


@router.post("/requests/{request_id}/tenders")
def add_tenders_submit(
    request_id: PathId,
    request: StaffRequest,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
) -> Response:
    """Start one tender workflow per chosen insurer, each with its own note and
    the chosen documents. Also takes the plain form (insurers and one
    ``email_note``) without the wizard's steps."""
    form = wait(http.form())
    inp = read_wizard(form)
    from_preview = form.get("step") == "preview"

    def again(errors: Sequence[str], status_code: int) -> Response:
        if from_preview and inp.insurer_ids and not inp.malformed:
            return _render_preview(
                http, pages, db, engine, settings, login, request, inp, errors=errors, status_code=status_code
            )
        return _render_picker(
            http, pages, db, settings, login, request, errors=errors, inp=inp, status_code=status_code
        )

    errors = check_input(db, request, load_picker(db, request), inp)
    if errors:
        return again(errors, 422)
    try:
        client = wait(temporal.get())
        outcome = wait(start_tenders(
            client=client,
            engine=engine,
            task_queue=settings.temporal_task_queue,
            request_id=request_id,
            insurer_ids=inp.insurer_ids,
            actor_user_id=login.user.id,
            email_note=inp.common_note,
            email_notes=inp.notes or None,
            document_ids=inp.document_ids if inp.documents_chosen else None,
            id_prefix=settings.workflow_id_prefix,
        ))
    except ActionRefused as err:
        return again([str(err)], err.status_code)
    refusals = list(outcome.refused.values())
    if not outcome.started:
        return again(refusals, 409)
    response = detail_redirect(request_id, "#tenders")
    set_flash(
        response,
        settings,
        Flash("success", i18n.t("tenders.started", count=len(outcome.started))),
        *(Flash("error", text) for text in refusals),
    )
    return response

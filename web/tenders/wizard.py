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
:func:`web.tenders.service.start_tenders` and redirects to the request page, where the
new tenders go from "Bereit ausgeschrieben zu werden" to "Ausgeschrieben"
live. Forged choices (an insurer already tendered, another request's
document) are refused with a German message, 422, and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from activities.email import MAX_ATTACHMENT_BYTES, SUBJECTS, EmailActivities, template_env
from tenderdesk.config import Settings
from tenderdesk.contracts import EmailKind
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Party,
    Product,
    Recommendation,
    ReferralReason,
    Request,
    RequestStatus,
    Tender,
)
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import load_request
from web.core.deps import (
    EngineDep,
    PagesDep,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    TemporalDep,
)
from web.core.downloads import safe_filename
from web.core.flash import Flash, set_flash
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalUnavailable
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
from web.tenders.service import TenderActionError, start_tenders, tender_refusal

router = APIRouter(tags=["tenders"])

MAX_NOTE_CHARS = 2000
#: Files per upload round; together at most ``max_upload_bytes``.
MAX_FILES = 10
#: Form fields of the wizard: insurers, documents and one note per insurer, with room.
MAX_FIELDS = 600
#: Stands in for the personal link in the preview; the real one is minted per email.
PREVIEW_LINK = "[persönlicher Link]"


# ------------------------------------------------------------------ the picker


@dataclass
class InsurerChoice:
    insurer: Insurer
    contact: InsurerContact | None
    recommended: bool
    open_status: TenderStatus | None
    last_status: TenderStatus | None
    referral_reasons: list[str] = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        return self.insurer.reachable and self.contact is not None

    @property
    def selectable(self) -> bool:
        return self.relevant and self.open_status is None


@dataclass
class InsurerPicker:
    recommended: list[InsurerChoice]
    others: list[InsurerChoice]
    not_relevant: list[InsurerChoice]

    @property
    def by_id(self) -> dict[int, InsurerChoice]:
        return {
            c.insurer.id: c
            for c in (*self.recommended, *self.others, *self.not_relevant)
            if c.insurer.id is not None
        }


def load_picker(db: Session, request: Request) -> InsurerPicker:
    contacts = {
        c.insurer_id: c
        for c in db.exec(
            select(InsurerContact).where(InsurerContact.product_id == request.product_id)
        ).all()
    }
    starred = set(
        db.exec(
            select(Recommendation.insurer_id)
            .where(Recommendation.account_id == request.account_id)
            .where(Recommendation.product_id == request.product_id)
        ).all()
    )
    reasons: dict[int, list[str]] = defaultdict(list)
    for insurer_id, reason in db.exec(
        select(ReferralReason.insurer_id, ReferralReason.reason)
        .where(ReferralReason.request_id == request.id)
        .order_by(col(ReferralReason.id))
    ).all():
        reasons[insurer_id].append(reason)
    open_status: dict[int, TenderStatus] = {}
    last_status: dict[int, TenderStatus] = {}
    for tender in db.exec(
        select(Tender).where(Tender.request_id == request.id).order_by(col(Tender.id))
    ).all():
        last_status[tender.insurer_id] = tender.status
        if not is_terminal(tender.status):
            open_status[tender.insurer_id] = tender.status
    picker = InsurerPicker(recommended=[], others=[], not_relevant=[])
    for insurer in db.exec(select(Insurer).order_by(col(Insurer.name))).all():
        assert insurer.id is not None
        choice = InsurerChoice(
            insurer=insurer,
            contact=contacts.get(insurer.id),
            recommended=insurer.id in starred,
            open_status=open_status.get(insurer.id),
            last_status=last_status.get(insurer.id),
            referral_reasons=reasons.get(insurer.id, []),
        )
        if not choice.relevant:
            picker.not_relevant.append(choice)
        elif choice.recommended:
            picker.recommended.append(choice)
        else:
            picker.others.append(choice)
    return picker


def request_documents(db: Session, request_id: int) -> list[Document]:
    """The documents a tender email may attach: the request's own papers
    (never other insurers' offers or chat attachments)."""
    return list(
        db.exec(
            select(Document)
            .where(Document.request_id == request_id)
            .where(col(Document.kind) == DocumentKind.REQUEST)
            .order_by(col(Document.id))
        ).all()
    )


# ------------------------------------------------------------------ what the forms send


@dataclass
class WizardInput:
    insurer_ids: list[int] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    #: The documents step was on the form; without it every request document is attached.
    documents_chosen: bool = False
    notes: dict[int, str] = field(default_factory=dict)
    common_note: str = ""
    malformed: bool = False


def _ids(values: Sequence[object], into: list[int]) -> bool:
    """Append the integer values; ``False`` if one was not an ID (a forged form)."""
    ok = True
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        number = parse_id(text)
        if number is not None:
            if number not in into:
                into.append(number)
        else:
            ok = False
    return ok


def read_wizard(form: FormData) -> WizardInput:
    inp = WizardInput()
    ok = _ids(form.getlist("insurer_id"), inp.insurer_ids)
    ok = _ids(form.getlist("document_id"), inp.document_ids) and ok
    inp.documents_chosen = form.get("documents_chosen") == "1"
    for key, value in form.multi_items():
        if key.startswith("note_") and isinstance(value, str):
            suffix = key.removeprefix("note_")
            insurer_id = parse_id(suffix)
            if insurer_id is not None:
                inp.notes[insurer_id] = value.replace("\r\n", "\n").strip()
            else:
                ok = False
    common = form.get("email_note")
    inp.common_note = common.replace("\r\n", "\n").strip() if isinstance(common, str) else ""
    inp.malformed = not ok
    return inp


def note_for(inp: WizardInput, insurer_id: int) -> str:
    return inp.notes.get(insurer_id, inp.common_note)


def check_input(
    db: Session, request: Request, picker: InsurerPicker, inp: WizardInput, *, new_documents: int = 0
) -> list[str]:
    """Every German reason the wizard's input cannot be used; empty if it can."""
    if inp.malformed:
        return [i18n.t("error.action_id")]
    errors: list[str] = []
    if request.status != RequestStatus.OPEN:
        errors.append(i18n.t("request.not_open"))
    if not inp.insurer_ids:
        errors.append(i18n.t("tenders.none_selected"))
    product = db.get(Product, request.product_id)
    product_name = product.name if product else ""
    choices = picker.by_id
    for insurer_id in inp.insurer_ids:
        choice = choices.get(insurer_id)
        refusal = tender_refusal(
            insurer_id,
            choice.insurer if choice else None,
            choice.contact if choice else None,
            product_name,
            bool(choice and choice.open_status is not None),
        )
        if refusal:
            errors.append(refusal)
        elif len(note_for(inp, insurer_id)) > MAX_NOTE_CHARS:
            name = choice.insurer.name if choice else str(insurer_id)
            errors.append(i18n.t("add_tenders.note.too_long", insurer=name, max=MAX_NOTE_CHARS))
    if len(inp.common_note) > MAX_NOTE_CHARS:
        errors.append(i18n.t("tenders.note_too_long", max=MAX_NOTE_CHARS))
    available = {d.id for d in request_documents(db, request.id)} if request.id else set()
    if any(doc_id not in available for doc_id in inp.document_ids):
        errors.append(i18n.t("add_tenders.documents.foreign"))
    elif inp.documents_chosen and available and not inp.document_ids and not new_documents:
        errors.append(i18n.t("add_tenders.documents.none"))
    return errors


# ------------------------------------------------------------------ rendering


def _render_picker(
    http: HttpRequest, pages: Pages, db: Session, settings: Settings, login: Login, request: Request, *,
    errors: Sequence[str] = (), inp: WizardInput | None = None, status_code: int = 200,
) -> Response:
    documents = request_documents(db, request.id) if request.id else []
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
    db: Session, engine: Engine, settings: Settings, request: Request, choices: Sequence[InsurerChoice],
    inp: WizardInput,
) -> list[EmailPreview]:
    """Each insurer's tender email as the email activity will render it: the same
    template and context, with a placeholder instead of the personal link."""
    activities = EmailActivities(engine, settings)
    template = template_env().get_template("email/tender.txt")
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
        context = activities._context(db, draft, EmailKind.TENDER)
        previews.append(
            EmailPreview(
                choice=choice,
                to_addr=choice.contact.email,
                subject=SUBJECTS[EmailKind.TENDER].format_map(context["subject"]),  # type: ignore[arg-type]
                body=template.render(**context, link=PREVIEW_LINK),
                note=note,
            )
        )
    return previews


def attachments(documents: Sequence[Document]) -> list[Attachment]:
    """The chosen documents in the order the email attaches them, marking those
    that no longer fit under the email's total size."""
    total = 0
    result = []
    for doc in sorted(documents, key=lambda d: d.id or 0):
        fits = total + doc.size_bytes <= MAX_ATTACHMENT_BYTES
        if fits:
            total += doc.size_bytes
        result.append(Attachment(document=doc, attached=fits))
    return result


def _render_preview(
    http: HttpRequest, pages: Pages, db: Session, engine: Engine, settings: Settings, login: Login,
    request: Request, inp: WizardInput, *, errors: Sequence[str] = (), notices: Sequence[str] = (),
    status_code: int = 200,
) -> Response:
    picker = load_picker(db, request)
    choices = [picker.by_id[i] for i in inp.insurer_ids if i in picker.by_id and picker.by_id[i].selectable]
    documents = request_documents(db, request.id) if request.id else []
    chosen = [d for d in documents if d.id in inp.document_ids] if inp.documents_chosen else documents
    return pages.render(
        http,
        "tenders/add_tenders_preview.html",
        {
            "request_row": request,
            "product": db.get(Product, request.product_id),
            "previews": email_previews(db, engine, settings, request, choices, inp),
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
    request_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, settings: SettingsDep,
    login: StaffLogin,
) -> Response:
    request = load_request(db, login.user, request_id)
    if request.status != RequestStatus.OPEN:
        return _render_picker(
            http, pages, db, settings, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    return _render_picker(http, pages, db, settings, login, request)


@router.post("/requests/{request_id}/tenders/new")
async def add_tenders_back(
    request_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Zurück" from the email step: step 1 again with everything chosen so far."""
    request = load_request(db, login.user, request_id)
    inp = read_wizard(await http.form())
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
    """Move checked uploads into storage and record them as request documents
    (in a thread: file moves and the commit must not block the event loop)."""
    documents = []
    with session_scope(engine) as db:
        for item in items:
            key = store_staged(settings, item.staged)
            document = Document(
                request_id=request_id,
                kind=DocumentKind.REQUEST,
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
async def add_tenders_preview(
    request_id: int,
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
    request = load_request(db, login.user, request_id)
    try:
        form = await read_upload_form(
            http, settings, login.csrf_token, max_fields=MAX_FIELDS, max_files=MAX_FILES
        )
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
                staged, errors = await _stage_documents(settings, uploads)
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
            new_ids = await asyncio.to_thread(
                _store_documents, settings, engine, request_id, login.user.id, staged
            )
            staged = []
            inp.document_ids.extend(new_ids)
            notices.append(i18n.t("add_tenders.files.stored", count=len(new_ids)))
        return _render_preview(http, pages, db, engine, settings, login, request, inp, notices=notices)
    finally:
        for item in staged:
            item.staged.discard()
        await form.close()


# ------------------------------------------------------------------ send


@router.post("/requests/{request_id}/tenders")
async def add_tenders_submit(
    request_id: int,
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
    request = load_request(db, login.user, request_id)
    form = await http.form()
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
        client = await temporal.get()
        outcome = await start_tenders(
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
        )
    except TemporalUnavailable:
        return again([i18n.t("error.temporal_unavailable")], 503)
    except TenderActionError as err:
        return again([str(err)], 422)
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

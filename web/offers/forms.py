"""Offer forms: what the three ways of submitting an offer have in common.

An Angebot reaches its tender through three forms: the insurer's upload (and
its correction) on the link page (:mod:`web.insurer.routes`), the backoffice's
"Angebot hinzufügen" on the insurer's behalf (:mod:`web.tenders.routes`) and
the Stiftsymbol (:mod:`web.offers.routes`). All three read the same fields, must
refuse the same bad input with the same German sentences, store the PDF as a
:class:`~tenderdesk.db.models.Document` and hand the terms to
:func:`web.tenders.service.submit_offer`; and a refused offer must not leave its PDF
behind. That is here, once.

What differs stays in the routes: who may act and when, the order in which
refusals are reported (the pencil shows field and file problems together, the
other two stop at the fields), the page a refusal re-renders, and what
happens after the workflow accepted (automatic release, flash message).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request as HttpRequest
from temporalio.client import Client

from tenderdesk.config import Settings
from tenderdesk.contracts import ActionResult
from tenderdesk.db.models import Document, DocumentKind, Offer, Party, Tender, utcnow
from tenderdesk.documents.storage import open_path
from web.core import i18n
from web.core.downloads import safe_filename
from web.core.forms import ACTION_ID, FormValueError, end_of_day_utc, parse_date, parse_eur_cents, today_berlin
from web.core.uploads import (
    StagedFile,
    UploadIncomplete,
    UploadTooLarge,
    form_text,
    read_upload_form,
    size_mb,
    stage_pdf,
    store_staged,
)
from web.offers.terms import TERM_FIELDS, StructuredTerms, read_terms
from web.tenders import OfferTerms, TenderActionError, UpdatePending, submit_offer

MAX_NOTES_CHARS = 4000
#: The text fields of every offer form (the PDF comes as ``file``).
OFFER_FIELDS = ("premium", "valid_until", "sum_insured", "notes", *TERM_FIELDS)


class OfferRefused(Exception):
    """The offer form's body or file cannot be used: a German sentence and the HTTP status to answer with."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def file_too_large(settings: Settings) -> str:
    return i18n.t("offer.file_too_large", max_mb=size_mb(settings.max_upload_bytes))


async def read_offer_request(
    http: HttpRequest, settings: Settings, expected_csrf: str | None, *, refusal: Exception | None = None
) -> FormData:
    """:func:`web.core.uploads.read_upload_form` with the offer forms' answers to a body
    that is too large (413) or unreadable (400), as :class:`OfferRefused`."""
    try:
        return await read_upload_form(http, settings, expected_csrf, refusal=refusal)
    except UploadTooLarge:
        raise OfferRefused(413, file_too_large(settings)) from None
    except UploadIncomplete:
        raise OfferRefused(400, i18n.t("offer.upload_incomplete")) from None


@dataclass
class OfferForm:
    """An offer form's fields as typed (kept to show them again) and its chosen file."""

    values: dict[str, str]
    action_id: str
    #: The chosen PDF; ``None`` when the file field was left empty.
    file: UploadFile | None

    @property
    def action_id_ok(self) -> bool:
        return bool(ACTION_ID.match(self.action_id))


def read_offer_form(form: FormData) -> OfferForm:
    upload = form.get("file")
    return OfferForm(
        values={name: form_text(form, name) for name in OFFER_FIELDS},
        action_id=form_text(form, "action_id"),
        file=upload if isinstance(upload, UploadFile) and upload.filename else None,
    )


@dataclass
class OfferInput:
    premium_cents: int = 0
    sum_insured_cents: int | None = None
    valid_until: datetime | None = None
    notes: str = ""
    terms: StructuredTerms = field(default_factory=StructuredTerms)


def validate_offer_fields(values: dict[str, str]) -> tuple[OfferInput, list[str]]:
    """Read the offer's text fields; German messages for whatever is wrong."""
    errors: list[str] = []
    offer = OfferInput()
    try:
        offer.premium_cents = parse_eur_cents(values.get("premium", ""))
        if offer.premium_cents <= 0:
            errors.append(i18n.t("offer.premium_positive"))
    except FormValueError as err:
        errors.append(i18n.t("offer.premium_missing") if err.key == "empty" else i18n.t("offer.premium_invalid"))
    raw_sum = values.get("sum_insured", "").strip()
    if raw_sum:
        try:
            offer.sum_insured_cents = parse_eur_cents(raw_sum)
            if offer.sum_insured_cents <= 0:
                errors.append(i18n.t("offer.sum_invalid"))
        except FormValueError:
            errors.append(i18n.t("offer.sum_invalid"))
    raw_date = values.get("valid_until", "").strip()
    if not raw_date:
        errors.append(i18n.t("offer.valid_missing"))
    else:
        try:
            day = parse_date(raw_date)
            # A validity is a date, valid through its end: today is still fine.
            if day < today_berlin(utcnow()):
                errors.append(i18n.t("offer.valid_past"))
            else:
                offer.valid_until = end_of_day_utc(day)
        except FormValueError:
            errors.append(i18n.t("offer.valid_invalid"))
    offer.notes = values.get("notes", "").strip()
    if len(offer.notes) > MAX_NOTES_CHARS:
        errors.append(i18n.t("offer.notes_too_long", max=MAX_NOTES_CHARS))
    offer.terms, term_errors = read_terms(values)
    return offer, errors + term_errors


def check_offer_form(sent: OfferForm, *, file_required: bool) -> tuple[OfferInput, list[str]]:
    """The fields read, and every German reason the form cannot be used: a
    forged action ID first, the fields, then a missing PDF (only a correction
    may keep the PDF it had)."""
    offer, errors = validate_offer_fields(sent.values)
    if not sent.action_id_ok:
        errors.insert(0, i18n.t("error.action_id"))
    if file_required and sent.file is None:
        errors.append(i18n.t("offer.file_missing"))
    return offer, errors


# ------------------------------------------------------------------ the PDF


def offer_filename(upload: UploadFile) -> str:
    name = safe_filename(upload.filename)
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


@dataclass
class OfferPdf:
    """A checked upload waiting to become the offer's Document. Routes discard it
    in their ``finally``; once stored, discarding does nothing (the staged name
    may belong to another upload by then)."""

    staged: StagedFile
    filename: str
    stored: bool = False

    def discard(self) -> None:
        if not self.stored:
            self.staged.discard()


async def stage_offer_pdf(settings: Settings, upload: UploadFile) -> OfferPdf:
    """Copy the chosen file aside and check that it is a readable PDF (by its
    content, not its name). Raises :class:`OfferRefused` (413 too large, 422 no
    PDF) with nothing left staged."""
    try:
        staged, problem = await stage_pdf(settings, upload)
    except UploadTooLarge:
        raise OfferRefused(413, file_too_large(settings)) from None
    if problem:
        staged.discard()
        raise OfferRefused(422, i18n.t(problem))
    return OfferPdf(staged=staged, filename=offer_filename(upload))


def store_offer_document(
    engine: Engine, settings: Settings, pdf: OfferPdf, tender: Tender, *, by: Party, user_id: int | None
) -> int:
    """Move the PDF to storage and record it as the tender's offer document (blocking: run it in a thread)."""
    key = store_staged(settings, pdf.staged)
    pdf.stored = True
    document = Document(
        request_id=tender.request_id,
        tender_id=tender.id,
        kind=DocumentKind.OFFER,
        filename=pdf.filename,
        content_type="application/pdf",
        size_bytes=pdf.staged.size,
        sha256=pdf.staged.sha256,
        storage_key=key,
        uploaded_by=by,
        uploaded_by_user_id=user_id,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(document)
        session.commit()
    assert document.id is not None
    return document.id


def _offer_document_of_action(engine: Engine, action_id: str) -> tuple[bool, int | None]:
    """Whether an offer with this ``action_id`` exists, and its document."""
    with Session(engine) as session:
        existing = session.exec(select(Offer).where(Offer.action_id == action_id)).first()
        return (existing is not None, existing.document_id if existing else None)


def forget_document(engine: Engine, settings: Settings, document_id: int) -> None:
    """Undo a stored upload whose offer was refused: the row, and the file
    unless another document shares its content."""
    with Session(engine) as session:
        document = session.get(Document, document_id)
        if document is None:
            return
        if session.exec(select(Offer.id).where(Offer.document_id == document_id)).first():
            return
        key = document.storage_key
        session.delete(document)
        session.commit()
        still_used = session.exec(select(Document.id).where(Document.storage_key == key)).first()
    if still_used is None:
        open_path(settings, key).unlink(missing_ok=True)


# ------------------------------------------------------------------ submitting


async def submit_uploaded_offer(
    *,
    engine: Engine,
    settings: Settings,
    client: Client,
    tender: Tender,
    offer: OfferInput,
    pdf: OfferPdf | None,
    by: Party,
    action_id: str,
    user_id: int | None = None,
    edit: bool = False,
    kept_document_id: int | None = None,
) -> ActionResult:
    """Store the PDF and submit the offer through :func:`web.tenders.service.submit_offer`.

    The same form again (double click: an offer with this ``action_id`` exists)
    keeps the first upload's document. Without a new PDF, ``kept_document_id``
    (the corrected offer's) stays. If the workflow refuses, the document stored
    here is forgotten again and :class:`~web.tenders.service.TenderActionError` raised,
    so nothing changed.
    """
    assert offer.valid_until is not None
    exists, existing_document = await asyncio.to_thread(_offer_document_of_action, engine, action_id)
    created: int | None = None
    if exists:
        document_id = existing_document
    elif pdf is not None:
        document_id = created = await asyncio.to_thread(
            store_offer_document, engine, settings, pdf, tender, by=by, user_id=user_id
        )
    else:
        document_id = kept_document_id
    terms = OfferTerms(
        premium_cents=offer.premium_cents,
        valid_until=offer.valid_until,
        sum_insured_cents=offer.sum_insured_cents,
        conditions_note=offer.notes,
        document_id=document_id,
        deductible_cents=offer.terms.deductible_cents,
        commission_bp=offer.terms.commission_bp,
        cover_modules=offer.terms.cover_modules,
        exclusions=offer.terms.exclusions,
    )
    try:
        result = await submit_offer(client, engine, tender, terms, by=by, user_id=user_id, action_id=action_id,
                                    edit=edit)
    except UpdatePending:
        raise  # the offer may still be accepted: keep its document
    except TenderActionError:
        if created is not None:
            await asyncio.to_thread(forget_document, engine, settings, created)
        raise
    if created is not None:
        # The same form twice at the same moment: the offer kept the other upload's document.
        _, kept = await asyncio.to_thread(_offer_document_of_action, engine, action_id)
        if kept != created:
            await asyncio.to_thread(forget_document, engine, settings, created)
    return result

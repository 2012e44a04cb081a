"""Angebot hinzufügen: the backoffice uploads an insurer's offer PDF on its behalf,
from the tender's actions menu."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Offer,
    Party,
    Tender,
)
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    EngineDep,
    PagesDep,
    PathId,
    RequestTender,
    SessionDep,
    SettingsDep,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.errors import PageError
from web.core.flash import Flash, set_flash
from web.core.forms import date_input_value
from web.core.ids import MAX_ID
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalUnavailable
from web.core.uploads import form_text, size_mb
from web.offers.forms import (
    MAX_NOTES_CHARS,
    OfferPdf,
    OfferRefused,
    check_offer_form,
    read_offer_form,
    read_offer_request,
    stage_offer_pdf,
    submit_uploaded_offer,
)
from web.offers.release import auto_release_quietly
from web.requests import (
    can_add_offer,
    detail_redirect,
)
from web.tenders import (
    TenderActionError,
    TenderPage,
    blocked_reason,
    load_tender_page,
    refusal_status,
    render_tender_page,
    result_flash,
)

router = APIRouter(tags=["offers"])


def _render_offer(
    http: HttpRequest, pages: Pages, login: Login, page: TenderPage, settings: Settings, status_code: int = 200,
    source: Document | None = None,
) -> Response:
    if "valid_until" in page.values:
        page.values = {**page.values, "valid_until": date_input_value(page.values["valid_until"])}
    return render_tender_page(
        http, pages, login, "tender_offer", page, i18n.t("title.add_offer"), status_code,
        max_upload_mb=size_mb(settings.max_upload_bytes), max_notes=MAX_NOTES_CHARS, source_document=source,
    )


def source_document(db: Session, tender: Tender, raw: str | int | None) -> Document | None:
    """The insurer's PDF (from its email or its chat message) an offer is recorded
    from („Als Angebot erfassen“): only a PDF the insurer sent for this tender."""
    if raw is None or raw == "":
        return None
    if not str(raw).isdigit() or int(raw) > MAX_ID:
        raise PageError(404, "error.document_not_found")
    document = db.get(Document, int(raw))
    if (document is None or document.tender_id != tender.id or document.request_id != tender.request_id
            or document.uploaded_by != Party.INSURER or document.content_type != "application/pdf"
            or document.kind not in (DocumentKind.ATTACHMENT, DocumentKind.OFFER)):
        raise PageError(404, "error.document_not_found")
    return document


@router.get("/requests/{request_id}/tenders/{tender_id}/offer")
def offer_form(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    login: StaffLogin,
    dokument: Annotated[str | None, Query(max_length=12)] = None,
) -> Response:
    page = load_tender_page(db, request, tender)
    page.blocked = blocked_reason(page, can_add_offer(page.tender), "offer.not_possible")
    source = source_document(db, tender, dokument)
    return _render_offer(http, pages, login, page, settings, 409 if page.blocked else 200, source)


def _offer_accepted(db: Session, tender: Tender, action_id: str) -> bool:
    offer = db.exec(select(Offer).where(Offer.action_id == action_id)).first()
    return offer is not None and offer.tender_id == tender.id and offer.active


@router.post("/requests/{request_id}/tenders/{tender_id}/offer")
def offer_submit(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffLogin,
) -> Response:
    """The backoffice adds an insurer's offer (PDF + premium, sum insured,
    validity, notes) on its behalf. The form is parsed here, not by FastAPI,
    so the size limit holds before anything is spooled to disk; the CSRF token
    is therefore checked here too, right after parsing."""
    page = load_tender_page(db, request, tender)
    page.blocked = blocked_reason(page, can_add_offer(page.tender), "offer.not_possible")
    try:
        form = wait(read_offer_request(http, settings, login.csrf_token))
    except OfferRefused as err:
        page.errors = [err.message]
        return _render_offer(http, pages, login, page, settings, err.status_code)
    pdf: OfferPdf | None = None
    try:
        sent = read_offer_form(form)
        page.values = sent.values
        source = source_document(db, tender, form_text(form, "from_document"))
        if sent.action_id_ok and _offer_accepted(db, page.tender, sent.action_id):
            # The same form again after it went through (back button, second click).
            response = detail_redirect(request_id, f"#tender-{tender_id}")
            already = i18n.t("tender_actions.offer.already")
            set_flash(response, settings, Flash("info", f"{page.insurer_name}: {already}"))
            return response
        if page.blocked:
            return _render_offer(http, pages, login, page, settings, 409, source)
        offer_input, page.errors = check_offer_form(sent, file_required=source is None)
        if sent.action_id_ok:
            page.action_id = sent.action_id
        if page.errors or (sent.file is None and source is None):
            return _render_offer(http, pages, login, page, settings, 422, source)
        if sent.file is not None:
            try:
                pdf = wait(stage_offer_pdf(settings, sent.file))
            except OfferRefused as err:
                page.errors = [err.message]
                return _render_offer(http, pages, login, page, settings, err.status_code, source)
        try:
            client = wait(temporal.get())
        except TemporalUnavailable:
            page.errors = [i18n.t("error.temporal_unavailable")]
            return _render_offer(http, pages, login, page, settings, 503)
        try:
            result = wait(submit_uploaded_offer(
                engine=engine, settings=settings, client=client, tender=page.tender, offer=offer_input,
                pdf=pdf, by=Party.BACKOFFICE, user_id=login.user.id, action_id=sent.action_id,
                kept_document_id=source.id if source is not None and pdf is None else None,
            ))
        except TenderActionError as err:
            page.errors = [str(err)]
            return _render_offer(http, pages, login, page, settings, refusal_status(err, 409))
        wait(auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=tender_id))
        response = detail_redirect(request_id, f"#tender-{tender_id}")
        set_flash(response, settings, result_flash(page.insurer_name, i18n.outcome_text(result.code), result.changed))
        return response
    finally:
        if pdf is not None:
            pdf.discard()
        wait(form.close())

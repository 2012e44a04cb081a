""""Link zur Ausschreibung": the insurer's pages, opened from the tender email.

The token in ``/t/<token>`` is the credential, so every route resolves it
first and everything it serves is scoped to that tender; the rules (what a dead
link says, CSRF from the link, no referrer) are in ARCHITECTURE.md, "Insurer links"."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.background import BackgroundTask
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Document,
    Offer,
    Party,
    Tender,
)
from web.core import csrf, i18n
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
    UploadSlot,
)
from web.core.downloads import document_response
from web.core.errors import ActionRefused, not_found
from web.core.flash import Flash, set_flash
from web.core.forms import ACTION_ID
from web.core.templating import Pages
from web.core.temporal import TemporalUnavailable
from web.core.uploads import form_text
from web.insurer.link import LINK_HEADERS, LinkContext, LinkProblem, resolve_link
from web.insurer.views import (
    MAX_REASON_CHARS,
    FormState,
    load_insurer_view,
    record_first_view,
    render_page,
    tender_documents,
)
from web.messages import (
    FormProblem,
    MessagingError,
    MessagingNotFound,
    message_attachment,
    post_message,
    read_message_form,
)
from web.offers import (
    OfferPdf,
    OfferRefused,
    auto_release_quietly,
    check_offer_form,
    read_offer_form,
    read_offer_request,
    stage_offer_pdf,
    submit_uploaded_offer,
)
from web.tenders import TenderActionError, decline, refusal_status

log = logging.getLogger(__name__)
router = APIRouter(tags=["insurer"])



# ---------------------------------------------------------------- routes


@router.get("/t/{token}")
def link_page(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    ctx = resolve_link(db, token)
    view = load_insurer_view(db, ctx.tender, ctx.request, preview=False)
    background = (
        BackgroundTask(record_first_view, temporal, ctx.tender)
        if ctx.tender.first_opened_at is None
        else None
    )
    return render_page(
        pages, http, view, base_path=f"/t/{token}",
        csrf_token=csrf.link_csrf_token(settings, ctx.link.token_hash), background=background,
    )


def insurer_may_download(db: Session, tender: Tender, document_id: int) -> Document | None:
    """The document if it was sent with this tender or is its current offer's PDF, else ``None``.
    (Files of its thread go through :func:`link_attachment`.)"""
    document = db.get(Document, document_id)
    if document is None or document.request_id != tender.request_id:
        return None
    if any(d.id == document.id for d in tender_documents(db, tender)):
        return document
    offer = db.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
    if offer is not None and offer.document_id == document.id and offer.tender_id == tender.id:
        return document
    return None


@router.get("/t/{token}/documents/{document_id}")
def link_document(
    token: str, document_id: PathId, db: SessionDep, settings: SettingsDep
) -> Response:
    ctx = resolve_link(db, token)
    document = insurer_may_download(db, ctx.tender, document_id)
    if document is None:
        raise not_found("error.document_not_found")
    response = document_response(settings, document)
    response.headers.update(LINK_HEADERS)
    return response


@router.get("/t/{token}/messages/{message_id}/attachment")
def link_attachment(
    token: str, message_id: PathId, db: SessionDep, settings: SettingsDep
) -> Response:
    """The file of a message in this tender's own thread (either side's)."""
    ctx = resolve_link(db, token)
    assert ctx.request.id is not None
    response = message_attachment(db, settings, ctx.request.id, message_id, ctx.tender)
    response.headers.update(LINK_HEADERS)
    return response


def _check_link_csrf(settings: Settings, ctx: LinkContext, given: object) -> bool:
    expected = csrf.link_csrf_token(settings, ctx.link.token_hash)
    return csrf.tokens_match(expected, given if isinstance(given, str) else None)


def _rerender(
    pages: Pages, http: HttpRequest, db: Session, settings: Settings, token: str,
    ctx: LinkContext, state: FormState, status_code: int,
) -> Response:
    # Keep the submitted action ID so a retry after a transient error stays idempotent.
    view = load_insurer_view(db, ctx.tender, ctx.request, preview=False)
    return render_page(
        pages, http, view, base_path=f"/t/{token}",
        csrf_token=csrf.link_csrf_token(settings, ctx.link.token_hash), state=state,
        status_code=status_code,
    )


def _done(settings: Settings, token: str, message: str, anchor: str) -> Response:
    response = RedirectResponse(f"/t/{token}{anchor}", status_code=303, headers=LINK_HEADERS)
    set_flash(response, settings, Flash("success", message))
    return response


@router.post("/t/{token}/question")
def post_question(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    _slot: UploadSlot,
) -> Response:
    """A question (text and/or one file) in the insurer's thread. The workflow
    moves the tender to "In Bearbeitung"; the assignee gets an email."""
    ctx = resolve_link(db, token)
    state = FormState()
    try:
        form = wait(read_message_form(http, settings))
    except FormProblem as err:
        state.errors["question"] = [str(err)]
        return _rerender(pages, http, db, settings, token, ctx, state, err.status_code)
    if not _check_link_csrf(settings, ctx, form.csrf_token):
        raise LinkProblem(403, "csrf.failed")
    state.values["question"] = form.body
    if form.problem is not None:
        state.errors["question"] = [str(form.problem)]
        return _rerender(pages, http, db, settings, token, ctx, state, form.problem.status_code)
    if not ACTION_ID.match(form.action_id):
        state.errors["question"] = [i18n.t("error.action_id")]
        return _rerender(pages, http, db, settings, token, ctx, state, 422)
    state.action_ids["question"] = form.action_id
    try:
        client = wait(temporal.get())
    except TemporalUnavailable:
        state.errors["question"] = [i18n.t("error.temporal_unavailable")]
        return _rerender(pages, http, db, settings, token, ctx, state, 503)
    try:
        result = wait(post_message(
            engine=engine, client=client, settings=settings, thread_id=None, author=Party.INSURER,
            user=None, tender=ctx.tender, body=form.body, attachment=form.attachment, action_id=form.action_id,
        ))
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        state.errors["question"] = [str(err)]
        return _rerender(pages, http, db, settings, token, ctx, state, refusal_status(err, 422))
    return _done(settings, token, result.info_de, "#nachrichten")


@router.post("/t/{token}/decline")
def post_decline(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    csrf_token: Annotated[str, Form()] = "",
    action_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    ctx = resolve_link(db, token)
    if not _check_link_csrf(settings, ctx, csrf_token):
        raise LinkProblem(403, "csrf.failed")
    state = FormState(values={"reason": reason})
    text = reason.strip()
    if not ACTION_ID.match(action_id):
        state.errors["decline"] = [i18n.t("error.action_id")]
    elif not text:
        state.errors["decline"] = [i18n.t("decline.empty")]
    elif len(text) > MAX_REASON_CHARS:
        state.errors["decline"] = [i18n.t("decline.too_long", max=MAX_REASON_CHARS)]
    if state.errors:
        return _rerender(pages, http, db, settings, token, ctx, state, 422)
    state.action_ids["decline"] = action_id
    try:
        client = wait(temporal.get())
        result = wait(decline(client, engine, ctx.tender, reason=text, action_id=action_id))
    except ActionRefused as err:
        state.errors["decline"] = [str(err)]
        return _rerender(pages, http, db, settings, token, ctx, state, err.status_code)
    return _done(settings, token, i18n.outcome_text(result.code), "")



@router.post("/t/{token}/offer")
def post_offer(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    _slot: UploadSlot,
) -> Response:
    """Offer upload (``mode=new``) or correction of the insurer's own offer
    (``mode=edit``, the PDF optional). The form is parsed here, not by FastAPI,
    so the body limit applies before anything is spooled to disk."""
    ctx = resolve_link(db, token)
    state = FormState()
    try:
        form = wait(read_offer_request(
            http, settings, csrf.link_csrf_token(settings, ctx.link.token_hash),
            refusal=LinkProblem(403, "csrf.failed"),
        ))
    except OfferRefused as err:
        state.errors["offer"] = [err.message]
        return _rerender(pages, http, db, settings, token, ctx, state, err.status_code)
    pdf: OfferPdf | None = None
    try:
        editing = form_text(form, "mode") == "edit"
        name = "edit" if editing else "offer"
        sent = read_offer_form(form)
        state.values = {f"{name}_{k}": v for k, v in sent.values.items()}
        current = db.get(Offer, ctx.tender.current_offer_id) if ctx.tender.current_offer_id else None
        if editing:
            # Refused before anything is stored: the broker may already see this offer.
            view = load_insurer_view(db, ctx.tender, ctx.request, preview=False)
            if current is None or not view.offer_correctable:
                state.errors["edit"] = [
                    i18n.t("insurer_link.edit.none") if current is None else i18n.t("insurer_link.edit.released")
                ]
                return _rerender(pages, http, db, settings, token, ctx, state, 409)
        offer_input, errors = check_offer_form(sent, file_required=not editing)
        if errors:
            state.errors[name] = errors
            return _rerender(pages, http, db, settings, token, ctx, state, 422)
        state.action_ids[name] = sent.action_id
        if sent.file is not None:
            try:
                pdf = wait(stage_offer_pdf(settings, sent.file))
            except OfferRefused as err:
                state.errors[name] = [err.message]
                return _rerender(pages, http, db, settings, token, ctx, state, err.status_code)
        try:
            client = wait(temporal.get())
        except TemporalUnavailable:
            state.errors[name] = [i18n.t("error.temporal_unavailable")]
            return _rerender(pages, http, db, settings, token, ctx, state, 503)
        try:
            result = wait(submit_uploaded_offer(
                engine=engine, settings=settings, client=client, tender=ctx.tender, offer=offer_input,
                pdf=pdf, by=Party.INSURER, action_id=sent.action_id, edit=editing,
                # A correction without a new PDF keeps the document of the offer it corrects.
                kept_document_id=current.document_id if current is not None else None,
            ))
        except TenderActionError as err:
            state.errors[name] = [str(err)]
            return _rerender(pages, http, db, settings, token, ctx, state, refusal_status(err, 422))
        assert ctx.tender.id is not None
        wait(auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=ctx.tender.id))
        done = i18n.t("insurer_link.edit.done") if editing else i18n.outcome_text(result.code)
        return _done(settings, token, done, "#angebot")
    finally:
        if pdf is not None:
            pdf.discard()
        wait(form.close())


# ------------------------------------------------------------ backoffice preview


@router.get("/requests/{request_id}/tenders/{tender_id}/insurer-view")
def insurer_preview(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    login: StaffLogin,
) -> Response:
    """The insurer's page as the insurer sees it, read-only and without a token."""
    view = load_insurer_view(db, tender, request, preview=True)
    return render_page(
        pages, http, view, base_path="", csrf_token="", login=login,
    )



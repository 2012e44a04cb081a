"""Angebote on the request page: Freigabe and the pencil edit (Stiftsymbol).

The decisions live in the service modules (release, binding, forms); this
module authorises, reads forms and turns refusals into pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.db.models import (
    Account,
    Document,
    Insurer,
    Offer,
    Party,
    Product,
    Request,
    RequestStatus,
    Tender,
    utcnow,
)
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    EngineDep,
    PagesDep,
    PathId,
    RequestOffer,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.errors import not_found
from web.core.flash import Flash, set_flash
from web.core.forms import new_action_id, today_berlin
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages, fmt_eur_input
from web.core.temporal import TemporalUnavailable
from web.core.uploads import size_mb
from web.offers.binding import (
    is_expired,
)
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
from web.offers.release import ReleaseError, ReleaseNotAllowed, auto_release_quietly
from web.offers.release import release_offers as release_offers_service
from web.offers.terms import terms_values
from web.offers.views import EDITABLE, aware, staff_rows, text
from web.requests import detail_redirect, render_request_page
from web.tenders import TenderActionError, refusal_status

router = APIRouter(tags=["offers"])

#: The early-warning list; the dashboard's navigation links here.
EXPIRING_PATH = "/angebote/ablaufend"
SECTION_ANCHOR = "#angebote"


# ---------------------------------------------------------------- shared route helpers


def offer_parts(db: Session, offer: Offer) -> tuple[Tender, Insurer]:
    """The tender and insurer of an offer that :data:`RequestOffer` checked already."""
    tender = db.get(Tender, offer.tender_id)
    insurer = db.get(Insurer, tender.insurer_id) if tender else None
    if tender is None or insurer is None:
        raise not_found()
    return tender, insurer


def section_redirect(request_id: int) -> RedirectResponse:
    return detail_redirect(request_id, SECTION_ANCHOR)


# ---------------------------------------------------------------- Freigabe


@router.post("/requests/{request_id}/offers/release")
def release(
    request_id: PathId,
    request: StaffRequest,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    offer_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    release_all: Annotated[str, Form(alias="all", max_length=1)] = "",
) -> Response:
    """"Freigeben": the ticked offers of this request, at once; the broker gets one
    email. "Alle freigeben" (``all=1``) releases every offer that may be released
    now, chosen here rather than by the form, so a repeated click finds nothing
    new and changes nothing."""
    account = db.get(Account, request.account_id)
    assert account is not None

    def refuse(message: str, status_code: int) -> Response:
        return render_request_page(http, pages, db, settings, login, request, errors=[message], status_code=status_code)

    if not account.offers_need_release:
        return refuse(text("release.not_needed"), 409)
    if release_all:
        offer_id = [str(row.offer.id) for row in staff_rows(db, request, account) if row.can_release]
        if not offer_id:
            response = section_redirect(request_id)
            set_flash(response, settings, Flash("info", text("release.all_done")))
            return response
    parsed = [parse_id(value) for value in offer_id]
    if any(value is None for value in parsed):
        return refuse(text("offer.not_found"), 422)
    ids = sorted({value for value in parsed if value is not None})
    if not ids:
        return refuse(text("release.none"), 422)
    found = set(db.exec(select(Offer.id).where(col(Offer.id).in_(ids)).where(Offer.request_id == request_id)).all())
    if found != set(ids):
        return refuse(text("offer.not_found"), 422)
    try:
        client = wait(temporal.get())
        outcome = wait(release_offers_service(
            engine=engine, client=client, settings=settings, offer_ids=ids, user=login.user
        ))
    except TemporalUnavailable:
        return refuse(i18n.t("error.temporal_unavailable"), 503)
    except ReleaseNotAllowed:
        raise not_found() from None
    except ReleaseError as err:
        return refuse(str(err), 409)
    response = section_redirect(request_id)
    set_flash(response, settings, Flash("success" if outcome.released_offer_ids else "info", outcome.message))
    return response


# ---------------------------------------------------------------- Stiftsymbol


@dataclass
class EditPage:
    request: Request
    product: Product
    account: Account
    offer: Offer
    tender: Tender
    insurer: Insurer
    document: Document | None
    expired: bool


def _edit_page(db: Session, request: Request, offer: Offer, tender: Tender, insurer: Insurer) -> EditPage:
    product = db.get(Product, request.product_id)
    account = db.get(Account, request.account_id)
    assert product is not None and account is not None
    return EditPage(
        request=request, product=product, account=account, offer=offer, tender=tender, insurer=insurer,
        document=db.get(Document, offer.document_id) if offer.document_id else None,
        expired=is_expired(tender, offer, utcnow()),
    )


def edit_blocker(request: Request, offer: Offer, tender: Tender) -> str | None:
    """Why the pencil cannot change this offer now (German), or None."""
    if request.status != RequestStatus.OPEN:
        return i18n.t("request.not_open")
    if not offer.active:
        return text("offer.superseded")
    if tender.status not in EDITABLE:
        return text("offer.not_editable", status=i18n.tender_status_label(tender.status))
    return None


def _current_values(offer: Offer) -> dict[str, str]:
    return {
        "premium": fmt_eur_input(offer.premium_cents),
        "sum_insured": fmt_eur_input(offer.sum_insured_cents),
        "valid_until": today_berlin(aware(offer.valid_until)).isoformat(),
        "notes": offer.conditions_note,
        **terms_values(offer),
    }


def _render_edit(
    http: HttpRequest, pages: Pages, login: Login, page: EditPage, *, values: dict[str, str],
    action_id: str, errors: Sequence[str] = (), blocked: str | None = None, status_code: int = 200,
) -> Response:
    return pages.render(
        http,
        "offers/edit.html",
        {
            "page": page,
            "values": values,
            "action_id": action_id,
            "errors": list(errors),
            "blocked": blocked,
            "min_date": today_berlin(utcnow()).isoformat(),
            "max_upload_mb": size_mb(pages.settings.max_upload_bytes),
            "max_notes": MAX_NOTES_CHARS,
            "nav": "requests",
            "page_title": i18n.t("title.edit_offer", number=page.request.number),
        },
        login=login,
        status_code=status_code,
    )


@router.get("/requests/{request_id}/offers/{offer_id}/edit")
def edit_form(
    request_id: PathId, request: StaffRequest, offer_id: PathId, offer: RequestOffer,
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin,
) -> Response:
    tender, insurer = offer_parts(db, offer)
    page = _edit_page(db, request, offer, tender, insurer)
    blocked = edit_blocker(request, offer, tender)
    return _render_edit(
        http, pages, login, page, values=_current_values(offer), action_id=new_action_id(),
        blocked=blocked, status_code=409 if blocked else 200,
    )


@router.post("/requests/{request_id}/offers/{offer_id}/edit")
def edit_submit(
    request_id: PathId,
    request: StaffRequest,
    offer_id: PathId,
    offer: RequestOffer,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffLogin,
) -> Response:
    """Save the pencil's changes as an edit of the tender's offer.

    The form carries an optional PDF, so it is parsed here with the upload body
    limit (like the insurer's upload) and its CSRF token is checked right after
    parsing, with the same session token :data:`web.core.deps.CsrfLogin` compares.
    """
    tender, insurer = offer_parts(db, offer)
    page = _edit_page(db, request, offer, tender, insurer)
    try:
        form = wait(read_offer_request(http, settings, login.csrf_token))
    except OfferRefused as err:
        return _render_edit(http, pages, login, page, values=_current_values(offer), action_id=new_action_id(),
                            errors=[err.message], status_code=err.status_code)
    pdf: OfferPdf | None = None
    try:
        sent = read_offer_form(form)
        values, action_id = sent.values, sent.action_id
        if not sent.action_id_ok:
            return _render_edit(http, pages, login, page, values=values, action_id=new_action_id(),
                                errors=[i18n.t("error.action_id")], status_code=422)
        repeat = db.exec(select(Offer).where(Offer.action_id == action_id)).first()
        if repeat is not None and repeat.active:
            response = section_redirect(request_id)
            set_flash(response, settings, Flash("info", text("offer.edited_again")))
            return response
        blocked = edit_blocker(request, offer, tender)
        if blocked:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id,
                                blocked=blocked, status_code=409)
        # Unlike the other offer forms, a bad PDF is reported together with the fields.
        offer_input, errors = check_offer_form(sent, file_required=False)
        status_code = 422
        if sent.file is not None:
            try:
                pdf = wait(stage_offer_pdf(settings, sent.file))
            except OfferRefused as err:
                errors.append(err.message)
                status_code = err.status_code
        if errors:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id, errors=errors,
                                status_code=status_code)
        try:
            client = wait(temporal.get())
        except TemporalUnavailable:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id,
                                errors=[i18n.t("error.temporal_unavailable")], status_code=503)
        try:
            wait(submit_uploaded_offer(
                engine=engine, settings=settings, client=client, tender=tender, offer=offer_input, pdf=pdf,
                by=Party.BACKOFFICE, user_id=login.user.id, action_id=action_id, edit=True,
                kept_document_id=offer.document_id,
            ))
        except TenderActionError as err:
            return _render_edit(http, pages, login, page, values=values, action_id=new_action_id(),
                                errors=[str(err)], status_code=refusal_status(err, 422))
        assert tender.id is not None
        wait(auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=tender.id))
        response = section_redirect(request_id)
        key = "offer.edited_release" if page.account.offers_need_release else "offer.edited_visible"
        set_flash(response, settings, Flash("success", text(key)))
        return response
    finally:
        if pdf is not None:
            pdf.discard()
        wait(form.close())


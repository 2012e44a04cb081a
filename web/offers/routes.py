"""Angebote on the request page: Freigabe, Stiftsymbol, Verlängerung, Vergleich and Abschluss.

The guide's procedures, as pages:

- **Freigabe** (backoffice): the "Angebote" section lists every active offer of
  the request; ticked offers are released together with
  :func:`web.offers.release.release_offers`, which emails the broker once. Accounts
  without release see "Angebote sind für den Vermittler sofort sichtbar".
- **Stiftsymbol** (backoffice): ``/requests/{id}/offers/{offer}/edit`` changes
  validity, premium, sum insured, notes and optionally the PDF through
  :func:`web.tenders.service.submit_offer` with ``edit=True``. The workflow moves an
  expired offer back to "Angebot erhalten" and re-arms its validity timer; the
  new offer row is unreleased, so it has to be released again.
- **Abgelaufene Angebote**: one click posts a prepared "Könnten Sie die
  Gültigkeit Ihres Angebots verlängern?" into the insurer's thread
  (:func:`web.messages.service.post_message`), on the request page and on the early
  warning list ``/angebote/ablaufend`` (:func:`web.offers.release.expiring_offers`).
- **Vergleich und Abschluss** (broker): the released offers side by side
  (:func:`web.offers.binding.offer_choices`), "Abschließen" behind a confirmation page,
  then :func:`web.offers.binding.bind_offer`. The bound request shows the cover note
  once ``BindingWorkflow`` stored it ("wird erstellt …" until then).

The decisions live in the service modules; this module only authorises, reads
forms, and turns their German refusals into pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Account,
    Binding,
    Document,
    DocumentKind,
    Insurer,
    Message,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    RequestStatus,
    Tender,
    User,
    as_utc,
    utcnow,
)
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import is_staff, load_request
from web.core.deps import (
    CsrfLogin,
    CurrentLogin,
    EngineDep,
    PagesDep,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    TemporalDep,
)
from web.core.errors import forbidden, not_found
from web.core.flash import Flash, set_flash
from web.core.forms import new_action_id, today_berlin
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.templating import Pages, fmt_date, fmt_eur, fmt_eur_input
from web.core.temporal import TemporalUnavailable
from web.core.uploads import size_mb
from web.messages import MessagingError, MessagingNotFound, insurer_thread_id, post_message
from web.offers.binding import (
    AlreadyBound,
    BindingError,
    BindingNotAllowed,
    OfferChoice,
    bind_offer,
    broker_owns,
    is_expired,
    offer_choices,
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
from web.offers.release import ExpiringOffer, ReleaseError, ReleaseNotAllowed, auto_release_quietly
from web.offers.release import expiring_offers as expiring_offers_of
from web.offers.release import release_offers as release_offers_service
from web.requests import detail_redirect, render_request_page
from web.tenders import TenderActionError

router = APIRouter(tags=["offers"])

#: The early-warning list; the dashboard's navigation links here.
EXPIRING_PATH = "/angebote/ablaufend"
SECTION_ANCHOR = "#angebote"
#: Tender states whose offer the pencil may change (the workflow's ``edit_offer`` rule).
EDITABLE = frozenset({TenderStatus.OFFERED, TenderStatus.OFFER_EXPIRED})


def text(key: str, **params: object) -> str:
    """A sentence of this module in the request's language (``offers.*`` in :mod:`web.core.i18n`)."""
    value = i18n.t(f"offers.{key}")
    return value.format(**params) if params else value


def extension_action_id(offer_id: int) -> str:
    """One extension request per offer version: a second click (or a second
    colleague) gets the first message back and nothing is sent twice. After an
    edit the new offer row may be asked about again."""
    return f"verlaengerung-angebot-{offer_id}"


def extension_text(request: Request, product: Product, account: Account, offer: Offer, *, expired: bool) -> str:
    """The prepared message of the guide's procedure for expired offers."""
    when = (
        f"ist am {fmt_date(offer.valid_until)} abgelaufen"
        if expired
        else f"ist nur noch bis zum {fmt_date(offer.valid_until)} gültig"
    )
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        f"Ihr Angebot zur Anfrage {request.number} ({product.name}) über eine Jahresprämie von "
        f"{fmt_eur(offer.premium_cents)} {when}. Könnten Sie die Gültigkeit Ihres Angebots verlängern? "
        "Bitte nennen Sie uns das neue Gültigkeitsdatum; wir passen das Angebot dann für Sie an.\n\n"
        f"Vielen Dank und freundliche Grüße\nIhr Backoffice {account.name}"
    )


# ---------------------------------------------------------------- page model


@dataclass
class StaffOfferRow:
    """One line of the backoffice's "Angebote" table."""

    offer: Offer
    tender: Tender
    insurer: Insurer
    document: Document | None
    expired: bool
    #: Ends within the account's warning days (and is not expired yet).
    expiring: bool
    can_release: bool
    can_edit: bool
    can_request_extension: bool
    #: When the prepared extension message went to the insurer, if it did.
    extension_requested_at: datetime | None
    released_by: str = ""
    #: The offer the request was bound with.
    bound: bool = False

    @property
    def released(self) -> bool:
        return self.offer.released_at is not None


@dataclass
class BindingView:
    """The request's Abschluss, as everyone sees it."""

    binding: Binding
    offer: Offer
    insurer: Insurer
    bound_by: str
    cover_note: Document | None


@dataclass
class OffersSection:
    staff: bool
    open: bool
    need_release: bool
    warning_days: int
    rows: list[StaffOfferRow] = field(default_factory=list)
    choices: list[OfferChoice] = field(default_factory=list)
    binding: BindingView | None = None
    #: The broker may bind here (his own request); False for staff and others.
    broker_may_bind: bool = False
    cheapest_offer_id: int | None = None

    @property
    def releasable(self) -> bool:
        return any(row.can_release for row in self.rows)


def _extension_times(db: Session, offer_ids: Sequence[int]) -> dict[int, datetime]:
    if not offer_ids:
        return {}
    wanted = {extension_action_id(i): i for i in offer_ids}
    rows = db.exec(
        select(Message.action_id, Message.created_at)
        .where(col(Message.action_id).in_(list(wanted)))
        .where(col(Message.visible).is_(True))
    ).all()
    return {wanted[action_id]: created_at for action_id, created_at in rows}


def _user_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.name for u in db.exec(select(User).where(col(User.id).in_(ids))).all() if u.id is not None}


def staff_rows(
    db: Session, request: Request, account: Account, *, bound_offer_id: int | None = None, now: datetime | None = None
) -> list[StaffOfferRow]:
    """Every active offer of the request, cheapest first, with what the backoffice
    may do with it. Once the request is closed, validity no longer matters and
    nothing is offered but the record."""
    now = now or utcnow()
    horizon = now + timedelta(days=account.expiry_warning_days)
    is_open = request.status == RequestStatus.OPEN
    rows = db.exec(
        select(Offer, Tender, Insurer)
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Offer.request_id == request.id)
        .where(col(Offer.active).is_(True))
        .order_by(col(Offer.premium_cents), col(Offer.id))
    ).all()
    offer_ids = [offer.id for offer, _, _ in rows if offer.id is not None]
    extensions = _extension_times(db, offer_ids)
    names = _user_names(db, {offer.released_by_id for offer, _, _ in rows if offer.released_by_id is not None})
    result = []
    for offer, tender, insurer in rows:
        assert offer.id is not None
        expired = is_open and is_expired(tender, offer, now)
        editable = is_open and tender.status in EDITABLE
        expiring = is_open and not expired and _aware(offer.valid_until) <= horizon
        result.append(
            StaffOfferRow(
                offer=offer,
                tender=tender,
                insurer=insurer,
                document=db.get(Document, offer.document_id) if offer.document_id else None,
                expired=expired,
                expiring=expiring,
                can_release=(
                    is_open and account.offers_need_release and offer.released_at is None
                    and not expired and not is_terminal(tender.status)
                ),
                can_edit=editable,
                can_request_extension=editable and (expired or expiring),
                extension_requested_at=extensions.get(offer.id),
                released_by=names.get(offer.released_by_id, "") if offer.released_by_id else "",
                bound=offer.id == bound_offer_id,
            )
        )
    return result


def _aware(value: datetime) -> datetime:
    aware = as_utc(value)
    assert aware is not None
    return aware


def binding_view(db: Session, request_id: int) -> BindingView | None:
    binding = db.exec(select(Binding).where(Binding.request_id == request_id)).first()
    if binding is None:
        return None
    offer = db.get(Offer, binding.offer_id)
    tender = db.get(Tender, binding.tender_id)
    insurer = db.get(Insurer, tender.insurer_id) if tender else None
    bound_by = db.get(User, binding.bound_by_id)
    assert offer is not None and insurer is not None
    cover_note = db.get(Document, binding.cover_note_document_id) if binding.cover_note_document_id else None
    return BindingView(
        binding=binding, offer=offer, insurer=insurer, bound_by=bound_by.name if bound_by else "",
        cover_note=cover_note if cover_note is not None and cover_note.kind == DocumentKind.COVER_NOTE else None,
    )


def load_offers_section(db: Session, user: User, request: Request, account: Account) -> OffersSection:
    """What the section shows: the backoffice gets every active offer with its
    actions, a broker only what :func:`web.offers.binding.offer_choices` lets him see."""
    assert request.id is not None
    staff = is_staff(user)
    section = OffersSection(
        staff=staff,
        open=request.status == RequestStatus.OPEN,
        need_release=account.offers_need_release,
        warning_days=account.expiry_warning_days,
        binding=binding_view(db, request.id),
    )
    bound_offer_id = section.binding.offer.id if section.binding else None
    if staff:
        section.rows = staff_rows(db, request, account, bound_offer_id=bound_offer_id)
    else:
        # The bound offer first, then what can still be compared: valid offers, cheapest first.
        section.choices = sorted(
            offer_choices(db, request.id), key=lambda c: (not c.bound, c.expired, c.offer.premium_cents)
        )
        section.broker_may_bind = broker_owns(user, request)
        bindable = [c for c in section.choices if c.can_bind]
        if len(bindable) > 1:
            section.cheapest_offer_id = min(bindable, key=lambda c: c.offer.premium_cents).offer.id
    return section


def offers_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """The "Angebote" section of the request page (``templates/offers/_offers.html``)."""
    return {"offers": load_offers_section(db, login.user, view.request, view.account)}


# ---------------------------------------------------------------- shared route helpers


def _request_offer(db: Session, request: Request, offer_id: int) -> tuple[Offer, Tender, Insurer]:
    """An offer of this (already authorised) request with its tender and insurer, else 404."""
    offer = db.get(Offer, offer_id)
    if offer is None or offer.request_id != request.id:
        raise not_found()
    tender = db.get(Tender, offer.tender_id)
    insurer = db.get(Insurer, tender.insurer_id) if tender else None
    if tender is None or insurer is None:
        raise not_found()
    return offer, tender, insurer


def _section_redirect(request_id: int) -> RedirectResponse:
    return detail_redirect(request_id, SECTION_ANCHOR)


# ---------------------------------------------------------------- Freigabe


@router.post("/requests/{request_id}/offers/release")
async def release(
    request_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    offer_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    """"Freigeben": the ticked offers of this request, at once; the broker gets one email."""
    request = load_request(db, login.user, request_id)
    account = db.get(Account, request.account_id)
    assert account is not None

    def refuse(message: str, status_code: int) -> Response:
        return render_request_page(http, pages, db, settings, login, request, errors=[message], status_code=status_code)

    if not account.offers_need_release:
        return refuse(text("release.not_needed"), 409)
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
        client = await temporal.get()
        outcome = await release_offers_service(
            engine=engine, client=client, settings=settings, offer_ids=ids, user=login.user
        )
    except TemporalUnavailable:
        return refuse(i18n.t("error.temporal_unavailable"), 503)
    except ReleaseNotAllowed:
        raise not_found() from None
    except ReleaseError as err:
        return refuse(str(err), 409)
    response = _section_redirect(request_id)
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


def _edit_blocker(request: Request, offer: Offer, tender: Tender) -> str | None:
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
        "valid_until": today_berlin(_aware(offer.valid_until)).isoformat(),
        "notes": offer.conditions_note,
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
            "min_date": (today_berlin(utcnow()) + timedelta(days=1)).isoformat(),
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
    request_id: int, offer_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin
) -> Response:
    request = load_request(db, login.user, request_id)
    offer, tender, insurer = _request_offer(db, request, offer_id)
    page = _edit_page(db, request, offer, tender, insurer)
    blocked = _edit_blocker(request, offer, tender)
    return _render_edit(
        http, pages, login, page, values=_current_values(offer), action_id=new_action_id(),
        blocked=blocked, status_code=409 if blocked else 200,
    )


@router.post("/requests/{request_id}/offers/{offer_id}/edit")
async def edit_submit(
    request_id: int,
    offer_id: int,
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
    request = load_request(db, login.user, request_id)
    offer, tender, insurer = _request_offer(db, request, offer_id)
    page = _edit_page(db, request, offer, tender, insurer)
    try:
        form = await read_offer_request(http, settings, login.csrf_token)
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
            response = _section_redirect(request_id)
            set_flash(response, settings, Flash("info", text("offer.edited_again")))
            return response
        blocked = _edit_blocker(request, offer, tender)
        if blocked:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id,
                                blocked=blocked, status_code=409)
        # Unlike the other offer forms, a bad PDF is reported together with the fields.
        offer_input, errors = check_offer_form(sent, file_required=False)
        status_code = 422
        if sent.file is not None:
            try:
                pdf = await stage_offer_pdf(settings, sent.file)
            except OfferRefused as err:
                errors.append(err.message)
                status_code = err.status_code
        if errors:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id, errors=errors,
                                status_code=status_code)
        try:
            client = await temporal.get()
        except TemporalUnavailable:
            return _render_edit(http, pages, login, page, values=values, action_id=action_id,
                                errors=[i18n.t("error.temporal_unavailable")], status_code=503)
        try:
            await submit_uploaded_offer(
                db=db, engine=engine, settings=settings, client=client, tender=tender, offer=offer_input, pdf=pdf,
                by=Party.BACKOFFICE, user_id=login.user.id, action_id=action_id, edit=True,
                kept_document_id=offer.document_id,
            )
        except TenderActionError as err:
            return _render_edit(http, pages, login, page, values=values, action_id=new_action_id(),
                                errors=[str(err)], status_code=422)
        assert tender.id is not None
        await auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=tender.id)
        response = _section_redirect(request_id)
        key = "offer.edited_release" if page.account.offers_need_release else "offer.edited_visible"
        set_flash(response, settings, Flash("success", text(key)))
        return response
    finally:
        if pdf is not None:
            pdf.discard()
        await form.close()


# ---------------------------------------------------------------- Verlängerung anfragen


@router.post("/requests/{request_id}/offers/{offer_id}/extension")
async def request_extension(
    request_id: int,
    offer_id: int,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One click: the prepared "Könnten Sie die Gültigkeit Ihres Angebots
    verlängern?" goes into the insurer's thread, and the insurer is emailed."""
    request = load_request(db, login.user, request_id)
    offer, tender, insurer = _request_offer(db, request, offer_id)
    response = RedirectResponse(EXPIRING_PATH, status_code=303) if back == "ablaufend" else _section_redirect(
        request_id
    )
    if _edit_blocker(request, offer, tender) is not None:
        set_flash(response, settings, Flash("error", text("extension.not_possible")))
        return response
    account = db.get(Account, request.account_id)
    product = db.get(Product, request.product_id)
    assert account is not None and product is not None and tender.id is not None and offer.id is not None
    body = extension_text(request, product, account, offer, expired=is_expired(tender, offer, utcnow()))
    try:
        client = await temporal.get()
        thread_id = await asyncio.to_thread(insurer_thread_id, engine, tender.id)
        result = await post_message(
            engine=engine, client=client, settings=settings, thread_id=thread_id, author=Party.BACKOFFICE,
            user=login.user, tender=None, body=body, action_id=extension_action_id(offer.id),
        )
    except TemporalUnavailable:
        set_flash(response, settings, Flash("error", i18n.t("error.temporal_unavailable")))
        return response
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        set_flash(response, settings, Flash("error", str(err)))
        return response
    key = "extension.sent" if result.created else "extension.again"
    set_flash(response, settings, Flash("success" if result.created else "info", text(key, insurer=insurer.name)))
    return response


# ---------------------------------------------------------------- Frühwarnung


@dataclass
class ExpiryRow(ExpiringOffer):
    """One line of ``/angebote/ablaufend``: the release module's early-warning
    line (also for offers already expired, with ``days_left`` 0) and what the
    table shows besides."""

    product: str
    policyholder: str
    expired: bool
    extension_requested_at: datetime | None


def _already_expired(db: Session, account_id: int) -> list[tuple[Offer, Tender, Request, Insurer]]:
    """Expired offers of open requests: the ones the guide's procedure is about."""
    rows = db.exec(
        select(Offer, Tender, Request, Insurer)
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Request, col(Request.id) == col(Offer.request_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Request.account_id == account_id)
        .where(Request.status == RequestStatus.OPEN)
        .where(col(Offer.active).is_(True))
        .where(Tender.status == TenderStatus.OFFER_EXPIRED)
        .order_by(col(Offer.valid_until), col(Offer.id))
    ).all()
    return [(offer, tender, request, insurer) for offer, tender, request, insurer in rows]


def expiry_rows(db: Session, account_id: int) -> tuple[list[ExpiryRow], list[ExpiryRow]]:
    """(expiring soon, already expired) for the early-warning page."""
    soon: list[ExpiringOffer] = expiring_offers_of(db, account_id)
    expired = _already_expired(db, account_id)
    requests = {item.request.id: item.request for item in soon} | {r.id: r for _, _, r, _ in expired}
    products = {p.id: p.name for p in db.exec(select(Product)).all()}
    holder_ids = {r.policyholder_id for r in requests.values()}
    holders = {
        h.id: h.name for h in db.exec(select(Policyholder).where(col(Policyholder.id).in_(holder_ids))).all()
    } if holder_ids else {}
    extensions = _extension_times(
        db, [item.offer.id for item in soon if item.offer.id] + [o.id for o, _, _, _ in expired if o.id]
    )

    def row(offer: Offer, tender: Tender, request: Request, insurer: Insurer, days_left: int, gone: bool) -> ExpiryRow:
        return ExpiryRow(
            offer=offer, tender=tender, request=request, insurer=insurer,
            product=products.get(request.product_id, ""), policyholder=holders.get(request.policyholder_id, ""),
            expired=gone, days_left=days_left,
            extension_requested_at=extensions.get(offer.id) if offer.id is not None else None,
        )

    return (
        [row(i.offer, i.tender, i.request, i.insurer, i.days_left, False) for i in soon],
        [row(o, t, r, i, 0, True) for o, t, r, i in expired],
    )


@router.get(EXPIRING_PATH)
def expiring_page(http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin) -> Response:
    """Frühwarnung: offers that run out within the account's ``expiry_warning_days``,
    and the ones that already did, each with the one-click extension request."""
    account = db.get(Account, login.user.account_id)
    assert account is not None
    soon, expired = expiry_rows(db, login.user.account_id)
    return pages.render(
        http,
        "offers/expiring.html",
        {
            "soon": soon,
            "expired": expired,
            "warning_days": account.expiry_warning_days,
            "nav": "ablaufend",
            "page_title": "Ablaufende Angebote",
        },
        login=login,
    )


# ---------------------------------------------------------------- Abschluss (broker)


@dataclass
class BindPage:
    request: Request
    product: Product
    policyholder: Policyholder
    choice: OfferChoice
    #: Why binding is refused now (German), or None.
    refusal: str | None


def _bind_page(db: Session, user: User, request: Request, offer_id: int) -> BindPage:
    """The offer as the broker's comparison shows it, or 404 for anything he may not see."""
    if is_staff(user):
        raise forbidden()
    if not broker_owns(user, request):
        raise not_found()
    assert request.id is not None
    choice = next((c for c in offer_choices(db, request.id) if c.offer.id == offer_id), None)
    if choice is None:
        raise not_found()
    product = db.get(Product, request.product_id)
    policyholder = db.get(Policyholder, request.policyholder_id)
    assert product is not None and policyholder is not None
    return BindPage(request=request, product=product, policyholder=policyholder, choice=choice,
                    refusal=str(choice.refusal) if choice.refusal else None)


def _render_bind(
    http: HttpRequest, pages: Pages, login: Login, page: BindPage, *, error: str | None = None,
    status_code: int = 200,
) -> Response:
    return pages.render(
        http,
        "offers/bind.html",
        {
            "page": page,
            "error": error or page.refusal,
            "nav": "requests",
            "page_title": i18n.t("title.bind", number=page.request.number),
        },
        login=login,
        status_code=status_code,
    )


@router.get("/requests/{request_id}/offers/{offer_id}/bind")
def bind_confirm(
    request_id: int, offer_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, login: CurrentLogin
) -> Response:
    """The confirmation step: the terms once more, and one button."""
    if is_staff(login.user):
        raise forbidden()
    request = load_request(db, login.user, request_id)
    page = _bind_page(db, login.user, request, offer_id)
    return _render_bind(http, pages, login, page, status_code=409 if page.refusal else 200)


@router.post("/requests/{request_id}/offers/{offer_id}/bind")
async def bind(
    request_id: int,
    offer_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: CsrfLogin,
) -> Response:
    """"Abschließen". The service decides (one binding per request, whoever
    clicks first); the loser of a race or a double click reads its German refusal."""
    if is_staff(login.user):
        raise forbidden()
    request = load_request(db, login.user, request_id)
    page = _bind_page(db, login.user, request, offer_id)
    try:
        client = await temporal.get()
        outcome = await bind_offer(
            engine=engine, client=client, settings=settings, offer_id=offer_id, broker_user=login.user
        )
    except TemporalUnavailable:
        return _render_bind(http, pages, login, page, error=i18n.t("error.temporal_unavailable"), status_code=503)
    except BindingNotAllowed:
        raise not_found() from None
    except (AlreadyBound, BindingError) as err:
        db.expire_all()
        fresh = load_request(db, login.user, request_id)
        return _render_bind(http, pages, login, _bind_page(db, login.user, fresh, offer_id), error=str(err),
                            status_code=409)
    response = _section_redirect(request_id)
    set_flash(response, settings, Flash("success", f"{text('bind.done')} {outcome.message}"))
    return response


__all__ = [
    "EXPIRING_PATH", "BindingView", "OffersSection", "StaffOfferRow", "expiry_rows", "extension_action_id",
    "extension_text", "load_offers_section", "offers_extras", "router",
]

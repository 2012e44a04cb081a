""""Link zur Ausschreibung": the insurer's page, opened from the tender email.

The insurer has no login: the 256-bit token in ``/t/<token>`` is the
credential. It is looked up by its SHA-256 (only the hash is stored) and must
belong to a link that is neither revoked nor expired, of a tender that has not
ended. Otherwise the page says why (withdrawn, expired, declined,
closed) and whom to contact (the account's address and phone, and the request's
assignee by name), with 404 for unknown and 410 for ended links; such a link
accepts no action at all.

What the insurer sees: the risk (request number, product, trade, the
questionnaire answers by section, policyholder), the documents it was sent,
whom to contact, its own status, its thread with the backoffice (both sides'
visible messages, files downloadable through this link only), its offer, and
the forms that make sense in its status:

- Rückfrage (text and/or one file): :func:`web.messages.service.post_message` as the
  insurer; the workflow moves the tender to "In Bearbeitung" and the assignee
  is emailed.
- Angebot: a PDF (checked with pypdf, not by its name; size-limited while
  streaming, :mod:`web.core.uploads`), premium, optional sum insured, validity,
  notes on conditions. Then :func:`web.offers.release.auto_release_if_configured`, so
  accounts without Freigabe show it to the broker at once.
- Angebot korrigieren: the insurer's own offer, as long as the broker cannot
  see it yet (:func:`web.offers.release.insurer_may_edit`); an ``edit_offer`` through
  :func:`web.tenders.service.submit_offer` with the new terms; without a new PDF the
  previous document stays.
- Absage with a reason.

Everything it may download is scoped to its tender: the documents it was sent,
its current offer's PDF, and files of messages in its own thread
(:func:`web.messages.service.threads_for` with the tender as viewer). Anything else is
404, also for IDs of other tenders of the same request.

Forms carry a CSRF token derived from the link (:func:`web.core.csrf.link_csrf_token`)
and an ``action_id`` that makes a resubmitted form harmless. Bad input
re-renders the page with a message and a 4xx status and changes nothing.
Pages under ``/t/`` speak the language of the insurer's contact
(``InsurerContact.locale``, German unless set to English).
Every response under ``/t/`` carries ``Referrer-Policy: no-referrer`` (the token
is in the URL) and loads nothing from third parties.

The backoffice opens the same page read-only, without a token, via
``/requests/{rid}/tenders/{tid}/insurer-view``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    Account,
    Broker,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    Tender,
    TenderLink,
    User,
    as_utc,
    utcnow,
)
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import AWAITING_INSURER, TenderStatus, is_terminal
from web.core import csrf, i18n
from web.core.access import load_request, load_tender
from web.core.deps import EngineDep, PagesDep, SessionDep, SettingsDep, StaffLogin, TemporalDep
from web.core.downloads import document_response
from web.core.errors import not_found
from web.core.flash import Flash, set_flash
from web.core.forms import ACTION_ID, BERLIN, new_action_id
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalConnector, TemporalUnavailable
from web.core.uploads import form_text, size_mb
from web.messages import (
    MAX_BODY_CHARS,
    FormProblem,
    MessagingError,
    MessagingNotFound,
    ThreadView,
    message_attachment,
    post_message,
    read_message_form,
    threads_for,
)
from web.offers import (
    MAX_NOTES_CHARS,
    OfferPdf,
    OfferRefused,
    auto_release_quietly,
    check_offer_form,
    insurer_may_edit,
    read_offer_form,
    read_offer_request,
    stage_offer_pdf,
    submit_uploaded_offer,
)
from web.tenders import TenderActionError, decline, send_action

log = logging.getLogger(__name__)
router = APIRouter(tags=["insurer"])

#: ``secrets.token_urlsafe(32)`` is 43 characters; allow some slack, refuse junk early.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
#: The question is a message of the insurer's thread: the messaging module's limit.
MAX_QUESTION_CHARS = MAX_BODY_CHARS
MAX_REASON_CHARS = 2000
#: Tender states in which an offer exists that its insurer may correct (the workflow's ``edit_offer`` rule).
CORRECTABLE = frozenset({TenderStatus.OFFERED, TenderStatus.OFFER_EXPIRED})
#: Headers of every insurer page; the security middleware adds the rest.
LINK_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


class LinkProblem(Exception):
    """The link cannot be used; carries what the page should say and whom to contact."""

    def __init__(
        self, status_code: int, title_key: str, reason: str = "", account: Account | None = None,
        contact_name: str | None = None,
    ) -> None:
        super().__init__(title_key)
        self.status_code = status_code
        self.title_key = title_key
        self.reason = reason
        self.account = account
        self.contact_name = contact_name


@dataclass
class LinkContext:
    link: TenderLink
    tender: Tender
    request: Request
    account: Account


def _assignee_name(db: Session, request: Request) -> str | None:
    """The request's Bearbeiter by name (an active user only): the person the insurer may ask for."""
    if request.assignee_id is None:
        return None
    user = db.get(User, request.assignee_id)
    return user.name if user is not None and user.is_active else None


def contact_locale(db: Session, tender: Tender, request: Request) -> str:
    """The language of the insurer's contact for this product (German if unknown)."""
    locale = db.exec(
        select(InsurerContact.locale)
        .where(InsurerContact.insurer_id == tender.insurer_id)
        .where(InsurerContact.product_id == request.product_id)
    ).first()
    return i18n.normalise_locale(locale)


def resolve_link(db: Session, token: str) -> LinkContext:
    """The usable link for ``token``, or :class:`LinkProblem` saying why not.
    From here on the request speaks the contact's language: the insurer has
    no login whose language could decide."""
    if not TOKEN_SHAPE.match(token):
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    link = db.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(token))).first()
    if link is None:
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    tender = db.get(Tender, link.tender_id)
    request = db.get(Request, tender.request_id) if tender else None
    account = db.get(Account, request.account_id) if request else None
    if tender is None or request is None or account is None:
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    i18n.use_locale(contact_locale(db, tender, request))
    contact = _assignee_name(db, request)
    if is_terminal(tender.status):
        raise LinkProblem(410, "link.ended", i18n.why_ended(tender.status), account, contact)
    if link.revoked_at is not None:
        raise LinkProblem(410, "link.revoked", "", account, contact)
    expires_at = as_utc(link.expires_at)
    if expires_at is None or expires_at <= utcnow():
        raise LinkProblem(410, "link.expired", "", account, contact)
    return LinkContext(link=link, tender=tender, request=request, account=account)


def render_link_problem(pages: Pages, http: HttpRequest, problem: LinkProblem) -> Response:
    return pages.render(
        http,
        "insurer/link_problem.html",
        {
            "title": i18n.t(problem.title_key),
            "reason": problem.reason,
            "account": problem.account,
            "contact_name": problem.contact_name,
            "page_title": i18n.t(problem.title_key),
        },
        status_code=problem.status_code,
        headers=LINK_HEADERS,
    )


def install_link_errors(app: FastAPI) -> None:
    @app.exception_handler(LinkProblem)
    async def _link_problem(http: HttpRequest, exc: LinkProblem) -> Response:
        return render_link_problem(http.app.state.pages, http, exc)


# ---------------------------------------------------------------- page model


@dataclass
class InsurerView:
    tender: Tender
    request: Request
    account: Account
    product: Product
    policyholder: Policyholder
    broker: Broker
    insurer: Insurer
    #: The request's Bearbeiter, if any: named as the insurer's contact.
    assignee_name: str | None
    documents: list[Document]
    #: The insurer's own thread, if anyone wrote in it yet.
    thread: ThreadView | None
    offer: Offer | None
    offer_document: Document | None
    preview: bool

    @property
    def can_ask(self) -> bool:
        status = self.tender.status
        return not self.preview and status != TenderStatus.QUEUED and not is_terminal(status)

    @property
    def can_offer(self) -> bool:
        return not self.preview and self.tender.status in AWAITING_INSURER

    @property
    def can_decline(self) -> bool:
        return not self.preview and self.tender.status in AWAITING_INSURER

    @property
    def offer_released(self) -> bool:
        return self.offer is not None and self.offer.released_at is not None

    @property
    def offer_correctable(self) -> bool:
        """The release module's rule, in the statuses the workflow edits offers in."""
        return (
            self.offer is not None
            and self.tender.status in CORRECTABLE
            and insurer_may_edit(self.offer, self.account)
        )

    @property
    def offer_valid_until_input(self) -> str:
        """The offer's last valid day (Berlin) as a date field's value, for the correction form."""
        valid_until = as_utc(self.offer.valid_until) if self.offer is not None else None
        return valid_until.astimezone(BERLIN).date().isoformat() if valid_until is not None else ""

    @property
    def can_correct(self) -> bool:
        return not self.preview and self.offer_correctable


@dataclass
class FormState:
    """What the forms show: fresh action IDs, earlier input and errors."""

    action_ids: dict[str, str] = field(
        default_factory=lambda: {name: new_action_id() for name in ("question", "offer", "edit", "decline")}
    )
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def tender_documents(db: Session, tender: Tender) -> list[Document]:
    """The documents the insurer was sent: those chosen for the tender, by default
    the request's own (the tender email attaches the same)."""
    query = select(Document).where(Document.request_id == tender.request_id)
    if tender.document_ids:
        query = query.where(col(Document.id).in_(tender.document_ids))
    else:
        query = query.where(col(Document.kind) == DocumentKind.REQUEST)
    return list(db.exec(query.order_by(col(Document.created_at), col(Document.id))).all())


def load_insurer_view(db: Session, tender: Tender, request: Request, *, preview: bool) -> InsurerView:
    account = db.get(Account, request.account_id)
    product = db.get(Product, request.product_id)
    policyholder = db.get(Policyholder, request.policyholder_id)
    broker = db.get(Broker, request.broker_id)
    insurer = db.get(Insurer, tender.insurer_id)
    assert account and product and policyholder and broker and insurer and request.id is not None
    threads = threads_for(db, request.id, tender)
    offer = db.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
    offer_document = db.get(Document, offer.document_id) if offer and offer.document_id else None
    return InsurerView(
        tender=tender, request=request, account=account, product=product,
        policyholder=policyholder, broker=broker, insurer=insurer,
        assignee_name=_assignee_name(db, request), documents=tender_documents(db, tender),
        thread=threads[0] if threads else None, offer=offer, offer_document=offer_document, preview=preview,
    )


def _render_page(
    pages: Pages, http: HttpRequest, view: InsurerView, *, base_path: str, csrf_token: str,
    state: FormState | None = None, status_code: int = 200, login: Login | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    state = state or FormState()
    response = pages.render(
        http,
        "insurer/tender.html",
        {
            "view": view,
            "base_path": base_path,
            "link_csrf": csrf_token,
            "form": state,
            "max_upload_mb": size_mb(pages.settings.max_upload_bytes),
            "max_question": MAX_QUESTION_CHARS,
            "max_reason": MAX_REASON_CHARS,
            "max_notes": MAX_NOTES_CHARS,
            "page_title": i18n.t("title.tender", number=view.request.number),
        },
        login=login,
        status_code=status_code,
        headers=LINK_HEADERS,
    )
    response.background = background
    return response


async def _record_first_view(connector: TemporalConnector, tender: Tender) -> None:
    """Tell the workflow the link was opened. Best effort: the page must not
    depend on it. The action ID is derived from the tender, so two first views
    at once still make one update."""
    try:
        client = await connector.get()
        await asyncio.wait_for(
            send_action(client, tender, "link_opened", Action(action_id=f"link-opened-{tender.id}")),
            timeout=10,
        )
    except Exception as err:  # ignored by design; logged without the token
        log.info("link_opened for tender %s not recorded: %s", tender.id, type(err).__name__)


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
        BackgroundTask(_record_first_view, temporal, ctx.tender)
        if ctx.tender.first_opened_at is None
        else None
    )
    return _render_page(
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
    token: str, document_id: int, db: SessionDep, settings: SettingsDep
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
    token: str, message_id: int, db: SessionDep, settings: SettingsDep
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
    return _render_page(
        pages, http, view, base_path=f"/t/{token}",
        csrf_token=csrf.link_csrf_token(settings, ctx.link.token_hash), state=state,
        status_code=status_code,
    )


def _done(settings: Settings, token: str, message: str, anchor: str) -> Response:
    response = RedirectResponse(f"/t/{token}{anchor}", status_code=303, headers=LINK_HEADERS)
    set_flash(response, settings, Flash("success", message))
    return response


@router.post("/t/{token}/question")
async def post_question(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """A question (text and/or one file) in the insurer's thread. The workflow
    moves the tender to "In Bearbeitung"; the assignee gets an email."""
    ctx = resolve_link(db, token)
    state = FormState()
    try:
        form = await read_message_form(http, settings)
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
        client = await temporal.get()
    except TemporalUnavailable:
        state.errors["question"] = [i18n.t("error.temporal_unavailable")]
        return _rerender(pages, http, db, settings, token, ctx, state, 503)
    try:
        result = await post_message(
            engine=engine, client=client, settings=settings, thread_id=None, author=Party.INSURER,
            user=None, tender=ctx.tender, body=form.body, attachment=form.attachment, action_id=form.action_id,
        )
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        state.errors["question"] = [str(err)]
        return _rerender(pages, http, db, settings, token, ctx, state, 422)
    return _done(settings, token, result.info_de, "#nachrichten")


@router.post("/t/{token}/decline")
async def post_decline(
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
        client = await temporal.get()
        result = await decline(client, engine, ctx.tender, reason=text, action_id=action_id)
    except TemporalUnavailable:
        state.errors["decline"] = [i18n.t("error.temporal_unavailable")]
        return _rerender(pages, http, db, settings, token, ctx, state, 503)
    except TenderActionError as err:
        state.errors["decline"] = [str(err)]
        return _rerender(pages, http, db, settings, token, ctx, state, 422)
    return _done(settings, token, i18n.outcome_text(result.code), "")



@router.post("/t/{token}/offer")
async def post_offer(
    token: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Offer upload (``mode=new``) or correction of the insurer's own offer
    (``mode=edit``, the PDF optional). The form is parsed here, not by FastAPI,
    so the body limit applies before anything is spooled to disk."""
    ctx = resolve_link(db, token)
    state = FormState()
    try:
        form = await read_offer_request(
            http, settings, csrf.link_csrf_token(settings, ctx.link.token_hash),
            refusal=LinkProblem(403, "csrf.failed"),
        )
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
                pdf = await stage_offer_pdf(settings, sent.file)
            except OfferRefused as err:
                state.errors[name] = [err.message]
                return _rerender(pages, http, db, settings, token, ctx, state, err.status_code)
        try:
            client = await temporal.get()
        except TemporalUnavailable:
            state.errors[name] = [i18n.t("error.temporal_unavailable")]
            return _rerender(pages, http, db, settings, token, ctx, state, 503)
        try:
            result = await submit_uploaded_offer(
                db=db, engine=engine, settings=settings, client=client, tender=ctx.tender, offer=offer_input,
                pdf=pdf, by=Party.INSURER, action_id=sent.action_id, edit=editing,
                # A correction without a new PDF keeps the document of the offer it corrects.
                kept_document_id=current.document_id if current is not None else None,
            )
        except TenderActionError as err:
            state.errors[name] = [str(err)]
            return _rerender(pages, http, db, settings, token, ctx, state, 422)
        assert ctx.tender.id is not None
        await auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=ctx.tender.id)
        done = i18n.t("insurer_link.edit.done") if editing else i18n.outcome_text(result.code)
        return _done(settings, token, done, "#angebot")
    finally:
        if pdf is not None:
            pdf.discard()
        await form.close()


# ------------------------------------------------------------ backoffice preview


@router.get("/requests/{request_id}/tenders/{tender_id}/insurer-view")
def insurer_preview(
    request_id: int,
    tender_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    login: StaffLogin,
) -> Response:
    """The insurer's page as the insurer sees it, read-only and without a token."""
    request = load_request(db, login.user, request_id)
    tender = load_tender(db, request, tender_id)
    view = load_insurer_view(db, tender, request, preview=True)
    return _render_page(
        pages, http, view, base_path="", csrf_token="", login=login,
    )


__all__ = ["install_link_errors", "insurer_may_download", "resolve_link", "router", "tender_documents"]

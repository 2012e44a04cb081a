"""``/api/v1``: requests, tenders, offers, documents and messages as JSON.

Every route takes an API key (:mod:`web.api.keys`): GETs need the ``read``
scope, POSTs ``write`` and an ``Idempotency-Key`` (:mod:`web.api.idempotency`).
A key sees its own account's requests only; anything else is 404, exactly as
a request that does not exist. The POSTs call the same services as the pages
(start tenders, post a message, release offers), so the same rules and
workflows apply, and the same refusals come back as ``{"detail": "…"}`` in
the caller's language (``Accept-Language``; German by default).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session, col, func, select
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from tenderdesk.db.models import (
    Broker,
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
    Thread,
)
from web.api.idempotency import IdempotencyKey, action_id_for, once
from web.api.keys import ApiPrincipal, ReadKey, WriteKey
from web.api.schemas import (
    DocumentOut,
    ErrorOut,
    MessageIn,
    MessageOut,
    OfferOut,
    Refusal,
    ReleaseIn,
    ReleaseOut,
    RequestOut,
    RequestPage,
    StartTendersIn,
    StartTendersOut,
    TenderOut,
)
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import EngineDep, PathId, SessionDep, SettingsDep, TemporalDep
from web.core.downloads import KNOWN_TYPES, document_response
from web.core.errors import ActionRefused, PageError
from web.messages import MessagingError, MessagingNotFound, insurer_thread_id, post_message
from web.offers import release_offers
from web.tenders import UpdatePending, start_tenders

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not readable JSON"},
    401: {"model": ErrorOut, "description": "No valid API key"},
    403: {"model": ErrorOut, "description": "The key lacks the scope"},
    404: {"model": ErrorOut, "description": "Not found in the key's account"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}
POST_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    202: {"model": ErrorOut, "description": "Accepted; the workflow has not answered yet (retry with the same key)"},
    409: {"model": ErrorOut, "description": "Refused by a rule or the workflow"},
    503: {"model": ErrorOut, "description": "Temporal not reachable; nothing was done"},
}
#: Documents an API client may list and fetch (not staged or removed files).
LISTED_KINDS = [DocumentKind.REQUEST, DocumentKind.OFFER, DocumentKind.ATTACHMENT, DocumentKind.COVER_NOTE]



def refuse_unknown_query(http: HttpRequest) -> None:
    """A misspelt filter (``?stauts=open``) is refused, not silently ignored."""
    allowed: set[str] = set()
    pending = [getattr(http.scope.get("route"), "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is not None:
            allowed.update(p.alias for p in dependant.query_params)
            pending.extend(dependant.dependencies)
    unknown = sorted(set(http.query_params) - allowed)
    if unknown:
        raise PageError(422, "api.unknown_parameter")


router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS, dependencies=[Depends(refuse_unknown_query)])


def _request_of(db: Session, principal: ApiPrincipal, request_id: int) -> Request:
    request = db.get(Request, request_id)
    if request is None or request.account_id != principal.account_id:
        raise PageError(404, "error.not_found")
    return request


def _request_out(db: Session, request: Request) -> RequestOut:
    product = db.get(Product, request.product_id)
    broker = db.get(Broker, request.broker_id)
    holder = db.get(Policyholder, request.policyholder_id)
    return RequestOut(
        id=request.id or 0, number=request.number, status=request.status.value, product=product.name if product else "",
        trade=request.trade, broker=broker.company if broker else "", policyholder=holder.name if holder else "",
        created_at=request.created_at, bound_at=request.bound_at)


def _tender_out(db: Session, tender: Tender) -> TenderOut:
    insurer = db.get(Insurer, tender.insurer_id)
    return TenderOut(
        id=tender.id or 0, request_id=tender.request_id, insurer_id=tender.insurer_id,
        insurer=insurer.name if insurer else "", status=tender.status.value, sent_at=tender.sent_at,
        deadline_at=tender.deadline_at, next_reminder_at=tender.next_reminder_at,
        reminders_sent=tender.reminders_sent, current_offer_id=tender.current_offer_id)


@router.get("/requests", response_model=RequestPage, summary="Anfragen des Kontos")
def list_requests(
    db: SessionDep, principal: ReadKey,
    status: Annotated[Literal["open", "bound", "closed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RequestPage:
    query = select(Request).where(Request.account_id == principal.account_id)
    if status is not None:
        query = query.where(Request.status == RequestStatus(status))
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    rows = db.exec(query.order_by(col(Request.id).desc()).offset(offset).limit(limit)).all()
    return RequestPage(items=[_request_out(db, r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/requests/{request_id}", response_model=RequestOut, summary="Eine Anfrage")
def get_request(request_id: PathId, db: SessionDep, principal: ReadKey) -> RequestOut:
    return _request_out(db, _request_of(db, principal, request_id))


@router.get("/requests/{request_id}/tenders", response_model=list[TenderOut], summary="Ausschreibungen der Anfrage")
def list_tenders(request_id: PathId, db: SessionDep, principal: ReadKey) -> list[TenderOut]:
    _request_of(db, principal, request_id)
    tenders = db.exec(select(Tender).where(Tender.request_id == request_id).order_by(col(Tender.id))).all()
    return [_tender_out(db, t) for t in tenders]


@router.get("/requests/{request_id}/offers", response_model=list[OfferOut], summary="Aktuelle Angebote der Anfrage")
def list_offers(request_id: PathId, db: SessionDep, principal: ReadKey) -> list[OfferOut]:
    """Each tender's current (accepted) offer; superseded versions are not listed."""
    _request_of(db, principal, request_id)
    rows = db.exec(select(Offer, Tender).join(Tender, col(Tender.current_offer_id) == col(Offer.id))
                   .where(Tender.request_id == request_id).order_by(col(Offer.id))).all()
    names = {i.id: i.name for i in db.exec(select(Insurer)).all()}
    return [OfferOut(
        id=o.id or 0, request_id=o.request_id, tender_id=o.tender_id, insurer=names.get(t.insurer_id, ""),
        premium_cents=o.premium_cents, sum_insured_cents=o.sum_insured_cents, deductible_cents=o.deductible_cents,
        commission_bp=o.commission_bp, cover_modules=o.cover_modules, exclusions=o.exclusions,  # type: ignore[arg-type]
        valid_until=o.valid_until, conditions_note=o.conditions_note, released_at=o.released_at,
        document_id=o.document_id) for o, t in rows]


@router.get("/requests/{request_id}/documents", response_model=list[DocumentOut], summary="Dokumente der Anfrage")
def list_documents(request_id: PathId, db: SessionDep, principal: ReadKey) -> list[DocumentOut]:
    _request_of(db, principal, request_id)
    rows = db.exec(select(Document).where(Document.request_id == request_id)
                   .where(col(Document.kind).in_(LISTED_KINDS)).order_by(col(Document.id))).all()
    return [DocumentOut(id=d.id or 0, request_id=d.request_id, tender_id=d.tender_id, kind=d.kind.value,
                        filename=d.filename, content_type=d.content_type, size_bytes=d.size_bytes, sha256=d.sha256,
                        created_at=d.created_at) for d in rows]


@router.get("/requests/{request_id}/documents/{document_id}", summary="Ein Dokument (die Datei)",
            response_class=Response,
            responses={200: {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                         for t in sorted({*KNOWN_TYPES, "application/octet-stream"})}}})
def get_document(request_id: PathId, document_id: PathId, db: SessionDep, settings: SettingsDep,
                 principal: ReadKey) -> Response:
    _request_of(db, principal, request_id)
    document = db.get(Document, document_id)
    if document is None or document.request_id != request_id or document.kind not in LISTED_KINDS:
        raise PageError(404, "error.not_found")
    return document_response(settings, document)


@router.get("/requests/{request_id}/messages", response_model=list[MessageOut], summary="Nachrichten der Anfrage")
def list_messages(request_id: PathId, db: SessionDep, principal: ReadKey) -> list[MessageOut]:
    _request_of(db, principal, request_id)
    rows = db.exec(select(Message, Thread).join(Thread, col(Thread.id) == col(Message.thread_id))
                   .where(Message.request_id == request_id).where(col(Message.visible).is_(True))
                   .order_by(col(Message.id))).all()
    return [MessageOut(id=m.id or 0, request_id=m.request_id, thread=t.kind.value, tender_id=t.tender_id,
                       author=m.author.value, body=m.body, document_id=m.document_id, created_at=m.created_at)
            for m, t in rows]


def _refused(err: ActionRefused) -> tuple[int, Any]:
    status = 202 if isinstance(err, UpdatePending) else 404 if isinstance(err, MessagingNotFound) else err.status_code
    return status, {"detail": str(err)}


@router.post("/requests/{request_id}/tenders", response_model=StartTendersOut, status_code=201,
             summary="Ausschreiben an Gesellschaften", responses=POST_ERRORS)
def post_tenders(
    request_id: PathId, body: StartTendersIn, http: HttpRequest, db: SessionDep, engine: EngineDep,
    settings: SettingsDep, temporal: TemporalDep, principal: WriteKey, key: IdempotencyKey,
) -> JSONResponse:
    """Start one tender workflow per insurer (as "+ Ausschreibung hinzufügen"
    does); insurers that cannot be tendered are listed under ``refused``."""
    request = _request_of(db, principal, request_id)

    def run() -> tuple[int, Any]:
        if request.status != RequestStatus.OPEN:
            return 409, {"detail": i18n.t("request.not_open")}
        try:
            client = wait(temporal.get())
            outcome = wait(start_tenders(
                client=client, engine=engine, task_queue=settings.temporal_task_queue, request_id=request_id,
                insurer_ids=sorted(set(body.insurer_ids)), actor_user_id=principal.user.id,
                email_note=body.note.strip(), id_prefix=settings.workflow_id_prefix))
        except ActionRefused as err:
            return _refused(err)
        out = StartTendersOut(started=[_tender_out(db, t) for t in outcome.started],
                              refused=[Refusal(insurer_id=i, reason=r) for i, r in outcome.refused.items()])
        return (201 if outcome.started else 409), out.model_dump(mode="json")

    return once(engine, principal, key, method="POST", path=http.url.path, body=body.model_dump(), run=run)


@router.post("/requests/{request_id}/messages", response_model=MessageOut, status_code=201,
             summary="Nachricht an die Gesellschaft oder den Vermittler", responses=POST_ERRORS)
def post_api_message(
    request_id: PathId, body: MessageIn, http: HttpRequest, db: SessionDep, engine: EngineDep,
    settings: SettingsDep, temporal: TemporalDep, principal: WriteKey, key: IdempotencyKey,
) -> JSONResponse:
    """As the backoffice: to one insurer's thread (``tender_id``), or to the
    broker thread (which the backoffice must have opened)."""
    _request_of(db, principal, request_id)
    thread_id: int | None = None
    if body.tender_id is not None:
        tender = db.get(Tender, body.tender_id)
        if tender is None or tender.request_id != request_id:
            raise PageError(404, "error.not_found")
        thread_id = insurer_thread_id(engine, body.tender_id)

    def run() -> tuple[int, Any]:
        try:
            client = wait(temporal.get())
            result = wait(post_message(
                engine=engine, client=client, settings=settings, thread_id=thread_id,
                author=Party.BACKOFFICE, user=principal.user, tender=None, body=body.body,
                action_id=action_id_for(principal, key), request_id=request_id if thread_id is None else None))
        except (MessagingError, ActionRefused) as err:
            return _refused(err)
        message = result.message
        return 201, MessageOut(
            id=message.id or 0, request_id=message.request_id, thread="insurer" if thread_id else "broker",
            tender_id=body.tender_id, author=message.author.value, body=message.body,
            document_id=message.document_id, created_at=message.created_at).model_dump(mode="json")

    return once(engine, principal, key, method="POST", path=http.url.path, body=body.model_dump(), run=run)


@router.post("/requests/{request_id}/offers/release", response_model=ReleaseOut,
             summary="Angebote an den Vermittler freigeben", responses=POST_ERRORS)
def post_release(
    request_id: PathId, body: ReleaseIn, http: HttpRequest, db: SessionDep, engine: EngineDep,
    settings: SettingsDep, temporal: TemporalDep, principal: WriteKey, key: IdempotencyKey,
) -> JSONResponse:
    """Freigabe as on the request page: all or nothing, the broker is emailed once."""
    _request_of(db, principal, request_id)
    offers = db.exec(select(Offer).where(col(Offer.id).in_(body.offer_ids))).all()
    if len(offers) != len(set(body.offer_ids)) or any(o.request_id != request_id for o in offers):
        raise PageError(404, "error.not_found")

    def run() -> tuple[int, Any]:
        try:
            client = wait(temporal.get())
            outcome = wait(release_offers(engine=engine, client=client, settings=settings,
                                          offer_ids=body.offer_ids, user=principal.user))
        except ActionRefused as err:
            return _refused(err)
        except i18n.Refusal as err:  # a release rule (not open, not the active offer, …)
            return 409, {"detail": str(err)}
        return 200, ReleaseOut(released_offer_ids=outcome.released_offer_ids,
                               already_released_offer_ids=outcome.already_released_offer_ids).model_dump(mode="json")

    return once(engine, principal, key, method="POST", path=http.url.path, body=body.model_dump(), run=run)

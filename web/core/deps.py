"""FastAPI dependencies, as ``Annotated`` aliases routes put in their signatures.

Everything a route needs (settings, database session, the logged-in user, a
checked CSRF token, the Temporal connector) comes from here, so a route's
signature shows what it relies on and tests can swap the app's state.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tenderdesk.config import Settings
from tenderdesk.db.models import Account, Document, Offer, Tender, User
from tenderdesk.db.models import Request as Anfrage
from web.core import bridge, csrf
from web.core.access import (
    broker_sees_offer,
    can_see_document,
    is_staff,
    load_request,
    load_tender,
    require_staff,
)
from web.core.errors import LoginRequired, PageError, not_found
from web.core.ids import MAX_ID
from web.core.sessions import Login, resolve_session, session_token
from web.core.templating import Pages
from web.core.temporal import TemporalConnector


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def get_temporal(request: Request) -> TemporalConnector:
    connector: TemporalConnector = request.app.state.temporal
    return connector


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PagesDep = Annotated[Pages, Depends(get_pages)]
TemporalDep = Annotated[TemporalConnector, Depends(get_temporal)]


async def get_db(engine: EngineDep) -> AsyncIterator[Session]:
    """One session per request; objects stay readable after commit.

    Async only so that it runs in the request's own context: there it registers
    the session with :mod:`web.core.bridge`, which hands the connection back
    while the route awaits Temporal. Creating a session does no I/O; closing
    it (a rollback on its connection) runs in the thread pool."""
    session = bridge.track(Session(engine, expire_on_commit=False))
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_db)]


def upload_slot(request: Request) -> Iterator[None]:
    """One of ``Settings.upload_slots`` per process, held for an upload route's
    whole request: a bulkhead between bursts of uploads and everything else."""
    slots: threading.BoundedSemaphore = request.app.state.upload_slots
    slots.acquire()
    try:
        yield
    finally:
        slots.release()


UploadSlot = Annotated[None, Depends(upload_slot)]


def optional_login(request: Request, db: SessionDep, settings: SettingsDep) -> Login | None:
    login = resolve_session(db, session_token(request, settings))
    # Error pages rendered later for this request still show the user menu.
    request.state.login = login
    return login


OptionalLogin = Annotated[Login | None, Depends(optional_login)]


def require_login(login: OptionalLogin) -> Login:
    if login is None:
        raise LoginRequired()
    return login


CurrentLogin = Annotated[Login, Depends(require_login)]


def current_user(login: CurrentLogin) -> User:
    return login.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_staff_login(login: CurrentLogin) -> Login:
    require_staff(login.user)
    return login


StaffLogin = Annotated[Login, Depends(require_staff_login)]


async def checked_csrf(request: Request, login: CurrentLogin) -> Login:
    """The login, after the form's ``csrf_token`` matched the session's."""
    form = await request.form()
    given = form.get(csrf.FIELD)
    if not csrf.tokens_match(login.csrf_token, given if isinstance(given, str) else None):
        raise PageError(403, "csrf.failed")
    return login


CsrfLogin = Annotated[Login, Depends(checked_csrf)]


async def checked_staff_csrf(login: CsrfLogin) -> Login:
    require_staff(login.user)
    return login


StaffCsrfLogin = Annotated[Login, Depends(checked_staff_csrf)]


# ---------------------------------------------------------------- objects from the path
#: An object ID in the path: a positive database integer, else the request is
#: answered before any query runs.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def visible_request(request_id: PathId, db: SessionDep, login: CurrentLogin) -> Anfrage:
    """The request, if this user may see it (staff of its account, its broker), else 404."""
    return load_request(db, login.user, request_id)


VisibleRequest = Annotated[Anfrage, Depends(visible_request)]


def staff_request(login: StaffLogin, request: VisibleRequest) -> Anfrage:
    """The request, for the backoffice of its account only (brokers: 403)."""
    return request


StaffRequest = Annotated[Anfrage, Depends(staff_request)]


def request_tender(tender_id: PathId, request: VisibleRequest, db: SessionDep) -> Tender:
    """A tender of the (visible) request, else 404."""
    return load_tender(db, request, tender_id)


RequestTender = Annotated[Tender, Depends(request_tender)]


def request_offer(offer_id: PathId, request: VisibleRequest, db: SessionDep, login: CurrentLogin) -> Offer:
    """An offer of the (visible) request, else 404; a broker sees only released ones."""
    offer = db.get(Offer, offer_id)
    account = db.get(Account, request.account_id)
    if offer is None or account is None or offer.request_id != request.id:
        raise not_found()
    if not is_staff(login.user) and not broker_sees_offer(account, offer):
        raise not_found()
    return offer


RequestOffer = Annotated[Offer, Depends(request_offer)]


def request_document(document_id: PathId, request: VisibleRequest, db: SessionDep, login: CurrentLogin) -> Document:
    """A document of the (visible) request that this user may download, else 404."""
    document = db.get(Document, document_id)
    account = db.get(Account, request.account_id)
    if (
        document is None
        or account is None
        or document.request_id != request.id
        or not can_see_document(db, login.user, account, document)
    ):
        raise not_found("error.document_not_found")
    return document


RequestDocument = Annotated[Document, Depends(request_document)]

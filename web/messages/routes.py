"""Nachrichten on the request page: one panel per thread, and its forms.

The rules live in the messaging modules (who sees and writes which thread,
what a post does); this module turns clicks into those calls and re-renders
the request page with the reason and the typed text when one is refused."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import Document, Message, Request, Role, Thread
from web.core import csrf, i18n
from web.core.access import is_staff
from web.core.bridge import wait
from web.core.deps import (
    CurrentLogin,
    EngineDep,
    PagesDep,
    PathId,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffRequest,
    TemporalDep,
    VisibleRequest,
)
from web.core.downloads import document_response
from web.core.errors import PageError, not_found
from web.core.flash import Flash, set_flash
from web.core.forms import new_action_id
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.temporal import TemporalUnavailable
from web.messages.common import (
    NOT_OPENED,
    OPEN_FIRST,
    MessagingError,
    MessagingNotFound,
    Viewer,
)
from web.messages.forms import FormProblem, read_message_form
from web.messages.inbox import mark_processed
from web.messages.section import Compose, composing, party_of
from web.messages.service import forward_message, post_message
from web.messages.threads import open_broker_thread, threads_for
from web.requests import render_request_page
from web.tenders import UpdatePending

log = logging.getLogger(__name__)
router = APIRouter(tags=["messages"])

#: Anchor of the section; redirects after a post land there.
ANCHOR = "#nachrichten"


# ---------------------------------------------------------------- routes


def _redirect(request_id: int, settings: Settings, text: str, level: str = "success") -> Response:
    response = RedirectResponse(f"/requests/{request_id}{ANCHOR}", status_code=303)
    set_flash(response, settings, Flash(level, text))  # type: ignore[arg-type]
    return response


def _refuse(
    http: HttpRequest, pages: Any, db: Session, settings: Settings, login: Login, request: Request,
    text: str, status_code: int, compose: Compose | None = None,
) -> Response:
    """The request page again, with the reason on top (and at the form, with the text kept)."""
    with composing(compose or Compose(key="", body="", action_id="", errors=[])):
        return render_request_page(
            http, pages, db, settings, login, request, errors=[text], status_code=status_code
        )


def _status_for(err: MessagingError) -> int:
    """Not opened yet is a state of the request (409); anything else is the input (422)."""
    if isinstance(err, MessagingNotFound):
        return 404
    if isinstance(err, UpdatePending):
        return 202
    return 409 if err.key in (NOT_OPENED, OPEN_FIRST) else 422


def _message_of(db: Session, request: Request, message_id: int) -> Message:
    """A message of this request (the request was authorised already), else 404."""
    message = db.get(Message, message_id)
    if message is None or message.request_id != request.id or not message.visible:
        raise not_found()
    return message


@router.post("/requests/{request_id}/messages")
def write_message(
    request_id: PathId,
    request: VisibleRequest,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: CurrentLogin,
) -> Response:
    """Write in a thread, with an optional file. Backoffice: the thread named by
    the form; broker: always the broker thread of his request (refused with the
    guide's reason until the backoffice opened it)."""
    user = login.user
    staff = is_staff(user)
    if not staff and user.role != Role.BROKER:
        raise not_found()
    try:
        form = wait(read_message_form(http, settings))
    except FormProblem as err:
        return _refuse(http, pages, db, settings, login, request, str(err), err.status_code)
    if not csrf.tokens_match(login.csrf_token, form.csrf_token or None):
        raise PageError(403, "csrf.failed")
    thread_id = parse_id(form.thread) if staff else None
    key = f"thread-{thread_id}" if thread_id is not None else (
        "thread-vermittler" if not staff or form.thread == "vermittler" else ""
    )
    compose = Compose(key=key, body=form.body, action_id=form.action_id or new_action_id(), errors=[])

    def refuse(text: str, status_code: int) -> Response:
        compose.errors = [text]
        return _refuse(http, pages, db, settings, login, request, text, status_code, compose)

    if form.problem is not None:
        return refuse(str(form.problem), form.problem.status_code)
    if staff and thread_id is None and form.thread != "vermittler":
        return refuse(i18n.t("messages.thread.missing"), 422)
    if thread_id is not None:
        thread = db.get(Thread, thread_id)
        if thread is None or thread.request_id != request_id:
            # a thread of another request, from a stale or hand-made form
            return refuse(i18n.t("messages.thread.missing"), 422)
    if not form.action_id or len(form.action_id) > 100:
        compose.action_id = new_action_id()
        return refuse(i18n.t("error.action_id"), 422)
    try:
        client = wait(temporal.get())
    except TemporalUnavailable:
        return refuse(i18n.t("error.temporal_unavailable"), 503)
    try:
        result = wait(post_message(
            engine=engine, client=client, settings=settings, thread_id=thread_id,
            author=party_of(user), user=user, tender=None, body=form.body, attachment=form.attachment,
            action_id=form.action_id, request_id=request_id if thread_id is None else None,
        ))
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        return refuse(str(err), _status_for(err))
    return _redirect(request_id, settings, result.info_de)


@router.post("/requests/{request_id}/broker-thread")
def open_conversation(
    request_id: PathId,
    request: StaffRequest,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Kommunikation mit Vermittler eröffnen" (idempotent)."""
    assert request.id is not None
    try:
        open_broker_thread(engine, request.id, login.user)
    except MessagingNotFound:
        raise not_found() from None
    return _redirect(request_id, settings, i18n.t("messages.opened"))


@router.post("/requests/{request_id}/messages/{message_id}/forward")
def forward(
    request_id: PathId,
    request: StaffRequest,
    message_id: PathId,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    target_thread_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """"Weiterleiten": copy a message (and its file) into another thread of the request."""
    message = _message_of(db, request, message_id)
    if parse_id(target_thread_id) is None:
        return _refuse(http, pages, db, settings, login, request, i18n.t("messages.forward.target"), 422)
    try:
        client = wait(temporal.get())
    except TemporalUnavailable:
        return _refuse(http, pages, db, settings, login, request, i18n.t("error.temporal_unavailable"), 503)
    try:
        result = wait(forward_message(
            engine=engine, client=client, settings=settings, message_id=message.id,  # type: ignore[arg-type]
            target_thread_id=int(target_thread_id), user=login.user,
        ))
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        return _refuse(http, pages, db, settings, login, request, str(err), _status_for(err))
    return _redirect(request_id, settings, result.info_de)


@router.post("/requests/{request_id}/messages/{message_id}/processed")
def processed(
    request_id: PathId,
    request: StaffRequest,
    message_id: PathId,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Als bearbeitet markieren": only the assignee, or anyone while nobody is assigned."""
    message = _message_of(db, request, message_id)
    try:
        changed = mark_processed(engine, message.id, login.user)  # type: ignore[arg-type]
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        return _refuse(http, pages, db, settings, login, request, str(err), 403)
    text = i18n.t("messages.processed") if changed else i18n.t("messages.processed.already")
    return _redirect(request_id, settings, text, "success" if changed else "info")


@router.get("/requests/{request_id}/messages/{message_id}/attachment")
def attachment(
    request_id: PathId,
    request: VisibleRequest,
    message_id: PathId,
    db: SessionDep,
    settings: SettingsDep,
    login: CurrentLogin,
) -> Response:
    """The file of a message the user can see in one of his threads (a broker has
    no other way to chat files: the Dokumente list gives him none)."""
    return message_attachment(db, settings, request.id, message_id, login.user)  # type: ignore[arg-type]


def message_attachment(db: Session, settings: Settings, request_id: int, message_id: int, viewer: Viewer) -> Response:
    """Serve the attachment of ``message_id`` if ``viewer`` sees that message, else 404.
    The one visibility rule is :func:`web.messages.service.threads_for`'s."""
    for thread in threads_for(db, request_id, viewer):
        for message in thread.messages:
            if message.id == message_id and message.attachment is not None:
                document = db.get(Document, message.attachment.document_id)
                if document is None or document.request_id != request_id:
                    break
                return document_response(settings, document)
    raise not_found("error.document_not_found")



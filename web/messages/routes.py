"""Nachrichten and Verlauf on the request page: one panel per thread, and the audit timeline.

The service layer (:mod:`web.messages.service`) decides everything that matters:
who may see and write in which thread, what a post does (workflow update,
System Email to the other side), forwarding, read state and "unbearbeitet".
This module only turns clicks into those calls and builds what
``templates/messages/_messages.html`` and ``_timeline.html`` show.

What the page shows:

- backoffice (``view.staff``): every thread of the request, the broker thread
  first. Until the backoffice opened the conversation with the broker
  ("Kommunikation mit Vermittler eröffnen"), the "Vermittler" panel says so and
  offers the button; the broker cannot write before (the guide's rule). Each
  message can be forwarded ("Weiterleiten") to another open thread of the
  request; messages of insurers and the broker carry "unbearbeitet" until the
  request's assignee (or anyone, while nobody is assigned) marks them processed.
- broker: only the broker thread of his own request (threads_for decides), or
  the notice that the backoffice has not opened it yet.

Opening the page marks the shown threads read for the user, after the page
was built, so messages that are new since the last visit are still marked
"neu" once. The panels are tabs made of radio buttons and CSS
(``web/static/messages.css``): they work without JavaScript, and the tab that
starts open is the thread with the newest unread message, else the newest
activity, so after writing or forwarding the page opens where it happened.

Forms that may carry a file (writing a message) are parsed here under the
upload limit (:func:`web.core.uploads.read_limited_form`) and check the session's
CSRF token right after parsing, as the other upload routes do; the others use
the CSRF dependency. Refusals re-render the request page with the German
reason, a 4xx status and the typed text kept (:data:`_compose`).

Verlauf: :func:`web.requests.timeline.timeline`, newest first, for the backoffice only.
It names insurers (also declined and withdrawn ones), staff, email addresses
and offers before their release, so a broker sees no timeline at all; what
concerns him (messages, released offers, binding) is on his page already.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.config import Settings
from tenderdesk.db.models import Document, Message, Party, Request, Role, Thread, ThreadKind, User
from web.core import csrf, i18n
from web.core.access import is_staff, load_request
from web.core.deps import CurrentLogin, EngineDep, PagesDep, SessionDep, SettingsDep, StaffCsrfLogin, TemporalDep
from web.core.downloads import document_response
from web.core.errors import PageError, not_found
from web.core.flash import Flash, set_flash
from web.core.forms import new_action_id
from web.core.ids import parse_id
from web.core.sessions import Login
from web.core.temporal import TemporalUnavailable
from web.core.uploads import UploadIncomplete, UploadTooLarge, body_limit, read_limited_form
from web.messages.service import (
    MAX_BODY_CHARS,
    NOT_OPENED,
    OPEN_FIRST,
    Attachment,
    MessageView,
    MessagingError,
    MessagingNotFound,
    ThreadView,
    Viewer,
    ensure_insurer_threads,
    forward_message,
    mark_processed,
    mark_read,
    open_broker_thread,
    post_message,
    threads_for,
)
from web.requests import render_request_page

log = logging.getLogger(__name__)
router = APIRouter(tags=["messages"])

#: Anchor of the section; redirects after a post land there.
ANCHOR = "#nachrichten"
#: Form fields of the write form besides the file (csrf, action id, thread, body).
MAX_FIELDS = 8


# ---------------------------------------------------------------- page model


@dataclass
class ThreadPanel:
    """One tab of the "Nachrichten" section."""

    #: ``thread-<id>``, or ``thread-vermittler`` for the not yet opened broker thread.
    key: str
    label: str
    thread: ThreadView | None
    #: Fresh for each rendering; kept after a refused post so a retry stays one message.
    action_id: str
    body: str = ""
    errors: list[str] = field(default_factory=list)
    #: Where a message of this thread may be forwarded: (thread id, label).
    forward_targets: list[tuple[int, str]] = field(default_factory=list)

    @property
    def messages(self) -> list[MessageView]:
        return self.thread.messages if self.thread else []

    @property
    def unread(self) -> int:
        return self.thread.unread if self.thread else 0

    @property
    def unprocessed(self) -> int:
        return sum(1 for m in self.messages if m.unprocessed)

    @property
    def is_broker(self) -> bool:
        return self.thread is None or self.thread.kind == ThreadKind.BROKER

    def newest(self, *, unread_only: bool) -> datetime | None:
        times = [m.created_at for m in self.messages if m.unread or not unread_only]
        return max(times) if times else None


@dataclass
class MessagingSection:
    staff: bool
    #: The viewer's side: messages by it are drawn as "own".
    own_party: Party
    panels: list[ThreadPanel]
    broker_thread_open: bool
    #: Key of the panel that starts open.
    selected: str
    #: The user may clear "unbearbeitet" (assignee, or anyone while unassigned).
    can_process: bool
    assignee_name: str | None
    max_body: int
    max_upload_mb: str
    not_opened_text: str

    @property
    def unread(self) -> int:
        return sum(p.unread for p in self.panels)

    @property
    def unprocessed(self) -> int:
        return sum(p.unprocessed for p in self.panels)


@dataclass
class _Compose:
    """A refused post, so the re-rendered page keeps the text and shows the reason at its form."""

    key: str
    body: str
    action_id: str
    errors: list[str]


#: Set by a refused post while it re-renders the request page (same task, no
#: other way into :func:`messaging_extras`, whose signature the page fixes).
_compose: contextvars.ContextVar[_Compose | None] = contextvars.ContextVar("tenderdesk_compose", default=None)


@contextmanager
def _composing(state: _Compose) -> Iterator[None]:
    token = _compose.set(state)
    try:
        yield
    finally:
        _compose.reset(token)


def _engine_of(db: Session) -> Engine:
    bind = db.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine


def _mb(size: int) -> str:
    mb = size / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}".replace(".", ",")


def _party_of(user: User) -> Party:
    return Party.BACKOFFICE if is_staff(user) else Party.BROKER


def _panels(views: list[ThreadView], *, staff: bool) -> tuple[list[ThreadPanel], bool]:
    """One panel per visible thread; for the backoffice a placeholder "Vermittler"
    panel while the broker thread is not opened."""
    broker_open = any(v.kind == ThreadKind.BROKER for v in views)
    panels = [ThreadPanel(key=f"thread-{v.id}", label=v.label, thread=v, action_id=new_action_id()) for v in views]
    if not broker_open:
        panels.insert(0, ThreadPanel(key="thread-vermittler", label=i18n.party_label(Party.BROKER), thread=None,
                                     action_id=new_action_id()))
    if staff:
        writable = [(v.id, v.label) for v in views if v.can_write]
        for panel in panels:
            if panel.thread is not None:
                panel.forward_targets = [(tid, label) for tid, label in writable if tid != panel.thread.id]
    return panels, broker_open


def _selected(panels: list[ThreadPanel], compose: _Compose | None) -> str:
    """The tab that starts open: a refused form, else the newest unread message,
    else the newest activity, else the first."""
    keys = {p.key for p in panels}
    if compose is not None and compose.key in keys:
        return compose.key
    for unread_only in (True, False):
        dated = [(p.newest(unread_only=unread_only), p.key) for p in panels]
        candidates = [(at, key) for at, key in dated if at is not None]
        if candidates:
            return max(candidates)[1]
    return panels[0].key if panels else ""


def messaging_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """Context of the "Nachrichten" and "Verlauf" sections; marks the shown threads read."""
    user = login.user
    request: Request = view.request
    assert request.id is not None
    engine = _engine_of(db)
    staff = bool(view.staff)
    if staff:
        ensure_insurer_threads(engine, request.id)
    views = threads_for(db, request.id, user)
    panels, broker_open = _panels(views, staff=staff)
    compose = _compose.get()
    if compose is not None:
        for panel in panels:
            if panel.key == compose.key:
                panel.body, panel.action_id, panel.errors = compose.body, compose.action_id, compose.errors
    assignee_id = request.assignee_id
    section = MessagingSection(
        staff=staff,
        own_party=_party_of(user),
        panels=panels,
        broker_thread_open=broker_open,
        selected=_selected(panels, compose),
        can_process=staff and (assignee_id is None or assignee_id == user.id),
        assignee_name=view.assignee.name if getattr(view, "assignee", None) is not None else None,
        max_body=MAX_BODY_CHARS,
        max_upload_mb=_mb(settings.max_upload_bytes),
        not_opened_text=i18n.t("messages.staff.not_opened") if staff else i18n.t(NOT_OPENED),
    )
    # Read after rendering data was taken: new messages show as "neu" this once.
    for thread in views:
        if thread.unread:
            try:
                mark_read(engine, thread.id, user)
            except MessagingError:  # lost access in between: nothing to mark
                log.info("thread %s not marked read for user %s", thread.id, user.id)
    return {"messaging": section}


# ---------------------------------------------------------------- form reading


class FormProblem(Exception):
    """The write form could not be taken as it is; ``str(err)`` is German."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(text)
        self.status_code = status_code


@dataclass
class MessageInput:
    csrf_token: str
    action_id: str
    thread: str
    body: str
    attachment: Attachment | None
    #: The file could not be taken (too large); the text fields are still here to show again.
    problem: FormProblem | None = None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def read_message_form(http: HttpRequest, settings: Settings) -> MessageInput:
    """Parse a message form (text and at most one file) under the upload limit.

    The body is cut off while it streams at the upload limit plus room for the
    text fields (nothing larger reaches memory or disk); the file itself may
    then have at most ``max_upload_bytes``. Raises :class:`FormProblem` if the form
    could not be read at all; a file that is too large is reported in
    :attr:`MessageInput.problem`, with the text fields kept."""
    too_large = i18n.t("messages.file.too_large", max_mb=_mb(settings.max_upload_bytes))
    try:
        form = await read_limited_form(http, body_limit(settings), max_fields=MAX_FIELDS, max_files=1)
    except UploadTooLarge:
        raise FormProblem(413, too_large) from None
    except UploadIncomplete:
        raise FormProblem(400, i18n.t("messages.form.incomplete")) from None
    try:
        result = MessageInput(
            csrf_token=_text(form, csrf.FIELD),
            action_id=_text(form, "action_id"),
            thread=_text(form, "thread"),
            body=_text(form, "body"),
            attachment=None,
        )
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(settings.max_upload_bytes + 1)
            if len(data) > settings.max_upload_bytes:
                result.problem = FormProblem(413, too_large)
            else:
                result.attachment = (upload.filename, data, upload.content_type or "")
        return result
    finally:
        await form.close()


# ---------------------------------------------------------------- routes


def _redirect(request_id: int, settings: Settings, text: str, level: str = "success") -> Response:
    response = RedirectResponse(f"/requests/{request_id}{ANCHOR}", status_code=303)
    set_flash(response, settings, Flash(level, text))  # type: ignore[arg-type]
    return response


def _refuse(
    http: HttpRequest, pages: Any, db: Session, settings: Settings, login: Login, request: Request,
    text: str, status_code: int, compose: _Compose | None = None,
) -> Response:
    """The request page again, with the reason on top (and at the form, with the text kept)."""
    with _composing(compose or _Compose(key="", body="", action_id="", errors=[])):
        return render_request_page(
            http, pages, db, settings, login, request, errors=[text], status_code=status_code
        )


def _status_for(err: MessagingError) -> int:
    """Not opened yet is a state of the request (409); anything else is the input (422)."""
    if isinstance(err, MessagingNotFound):
        return 404
    return 409 if err.key in (NOT_OPENED, OPEN_FIRST) else 422


def _message_of(db: Session, request: Request, message_id: int) -> Message:
    """A message of this request (the request was authorised already), else 404."""
    message = db.get(Message, message_id)
    if message is None or message.request_id != request.id or not message.visible:
        raise not_found()
    return message


@router.post("/requests/{request_id}/messages")
async def write_message(
    request_id: int,
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
    request = load_request(db, user, request_id)
    staff = is_staff(user)
    if not staff and user.role != Role.BROKER:
        raise not_found()
    try:
        form = await read_message_form(http, settings)
    except FormProblem as err:
        return _refuse(http, pages, db, settings, login, request, str(err), err.status_code)
    if not csrf.tokens_match(login.csrf_token, form.csrf_token or None):
        raise PageError(403, "csrf.failed")
    thread_id = parse_id(form.thread) if staff else None
    key = f"thread-{thread_id}" if thread_id is not None else (
        "thread-vermittler" if not staff or form.thread == "vermittler" else ""
    )
    compose = _Compose(key=key, body=form.body, action_id=form.action_id or new_action_id(), errors=[])

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
        client = await temporal.get()
    except TemporalUnavailable:
        return refuse(i18n.t("error.temporal_unavailable"), 503)
    try:
        result = await post_message(
            engine=engine, client=client, settings=settings, thread_id=thread_id,
            author=_party_of(user), user=user, tender=None, body=form.body, attachment=form.attachment,
            action_id=form.action_id, request_id=request_id if thread_id is None else None,
        )
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        return refuse(str(err), _status_for(err))
    return _redirect(request_id, settings, result.info_de)


@router.post("/requests/{request_id}/broker-thread")
def open_conversation(
    request_id: int,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Kommunikation mit Vermittler eröffnen" (idempotent)."""
    request = load_request(db, login.user, request_id)
    assert request.id is not None
    try:
        open_broker_thread(engine, request.id, login.user)
    except MessagingNotFound:
        raise not_found() from None
    return _redirect(request_id, settings, i18n.t("messages.opened"))


@router.post("/requests/{request_id}/messages/{message_id}/forward")
async def forward(
    request_id: int,
    message_id: int,
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
    request = load_request(db, login.user, request_id)
    message = _message_of(db, request, message_id)
    if parse_id(target_thread_id) is None:
        return _refuse(http, pages, db, settings, login, request, i18n.t("messages.forward.target"), 422)
    try:
        client = await temporal.get()
    except TemporalUnavailable:
        return _refuse(http, pages, db, settings, login, request, i18n.t("error.temporal_unavailable"), 503)
    try:
        result = await forward_message(
            engine=engine, client=client, settings=settings, message_id=message.id,  # type: ignore[arg-type]
            target_thread_id=int(target_thread_id), user=login.user,
        )
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        return _refuse(http, pages, db, settings, login, request, str(err), _status_for(err))
    return _redirect(request_id, settings, result.info_de)


@router.post("/requests/{request_id}/messages/{message_id}/processed")
def processed(
    request_id: int,
    message_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    login: StaffCsrfLogin,
) -> Response:
    """"Als bearbeitet markieren": only the assignee, or anyone while nobody is assigned."""
    request = load_request(db, login.user, request_id)
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
    request_id: int,
    message_id: int,
    db: SessionDep,
    settings: SettingsDep,
    login: CurrentLogin,
) -> Response:
    """The file of a message the user can see in one of his threads (a broker has
    no other way to chat files: the Dokumente list gives him none)."""
    request = load_request(db, login.user, request_id)
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


__all__ = [
    "MessageInput", "MessagingSection", "ThreadPanel", "FormProblem", "message_attachment", "messaging_extras",
    "read_message_form", "router",
]

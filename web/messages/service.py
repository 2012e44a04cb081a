"""Nachrichtenmodul: the service layer behind the request's chats.

Each request has one thread per tendered insurer and, once the backoffice
opened it, one thread with the broker ("Vermittler können Sie nicht initiativ
anschreiben"). The UI (routes and pages are built elsewhere) calls only the
functions below; they authorise, validate, store and notify, and raise
:class:`MessagingError` with a German sentence the page can show as is
(:class:`MessagingNotFound` for anything the caller may not see: show a 404,
never a 403, so IDs of other accounts cannot be probed).

Who may see what (:func:`threads_for`):

- backoffice and admin users of the request's account see every thread;
- a broker sees only the broker thread of his own requests
  (``Request.broker_id == user.broker_id``);
- an insurer, identified by the tender its link belongs to, sees only the
  thread of that tender.

How a message travels (:func:`post_message`):

- insurer → its thread: through :func:`web.tenders.service.ask_question`, because a
  question is a tender event: the workflow accepts it, moves the tender to
  "In Bearbeitung" and its projection makes the message visible. Then the
  request's assignee (or the account's contact address) gets a System Email.
- backoffice → insurer thread: the message is written pending, the workflow's
  ``notify_insurer`` update is sent (it emails the insurer a fresh link, and
  refuses once the tender ended), and only an accepted update makes the
  message visible, so the insurer never sees a message it was not told about.
- backoffice ↔ broker: visible at once; the other side gets a System Email
  through :func:`web.core.notifications.queue_email` with a link to the request's
  "Nachrichten" section, keyed ``message:{message_id}`` so it goes out once.

Every post carries an ``action_id`` (``Message.action_id`` is unique): a double
click or a retried request returns the first message and sends nothing twice.
Attachments are stored content-addressed (identical bytes share one file) as
``Document`` rows of the request, so they appear in the thread and under
"Dokumente".

Read state is per user (``MessageRead``); "unbearbeitet" is per message and is
cleared by the request's assignee (or any backoffice user while nobody is
assigned). The dashboard's "Nachrichten" tab reads :func:`messages_tab`.

API for the pages (all German errors via :class:`MessagingError`):

- request page: :func:`ensure_insurer_threads` then :func:`threads_for`
  (threads with messages, unread flags, ``can_write``); :func:`mark_read` when
  a thread is shown; :func:`open_broker_thread` for "Kommunikation eröffnen";
  :func:`post_message` and :func:`forward_message` for the forms (each form
  carries an ``action_id`` from :func:`web.tenders.service.new_action_id`);
  :func:`mark_processed` for "bearbeitet".
- broker page: :func:`broker_thread` (``None``: show :data:`NOT_OPENED`),
  :func:`threads_for`, :func:`post_message` with ``request_id``.
- insurer link page: :func:`threads_for` with the link's tender,
  :func:`post_message` with ``author=Party.INSURER, tender=...``.
- dashboard: :func:`messages_tab`, :func:`unread_count` for the badge.
- downloads: :func:`attachment_visible_to`.
- binding: :func:`transcript` / :func:`transcript_text` for the cover note.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeAlias

from jinja2 import Environment
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, update
from sqlalchemy import insert as sa_insert
from sqlalchemy import join as sa_join
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import Join
from sqlmodel import Session, col, select
from temporalio.client import Client

from activities.email import template_env
from tenderdesk.config import Settings
from tenderdesk.contracts import Action
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    AuditEvent,
    Broker,
    Document,
    DocumentKind,
    EmailStatus,
    Insurer,
    Message,
    MessageRead,
    Party,
    Product,
    Request,
    RequestStatus,
    Role,
    SystemEmail,
    Tender,
    Thread,
    ThreadKind,
    User,
    as_utc,
    utcnow,
)
from tenderdesk.documents.storage import store_bytes
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import can_see_request, is_staff
from web.core.downloads import safe_filename
from web.core.i18n import N_, party_label
from web.core.notifications import queue_email
from web.core.templating import fmt_datetime
from web.tenders import TenderActionError, ask_question, insurer_thread, send_action

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.
MAX_BODY_CHARS = 5000
#: Length of the text preview in the "Nachrichten" tab.
EXCERPT_CHARS = 200
MAX_PER_PAGE = 200
#: Thread label of the broker thread (insurer threads are labelled with the insurer's name).
BROKER_THREAD_LABEL = "Vermittler"
#: Anchor of the messages section on the request page; notification links point at it.
MESSAGES_ANCHOR = "#nachrichten"

#: What a broker reads until the backoffice opened the conversation (the guide's rule).
NOT_OPENED = N_("messages.error.not_opened")
OPEN_FIRST = N_("messages.error.open_first")
THREAD_NOT_FOUND = N_("messages.error.thread_not_found")
MESSAGE_NOT_FOUND = N_("messages.error.message_not_found")
REQUEST_NOT_FOUND = N_("error.request_not_found")
EMPTY = N_("messages.error.empty")
STALE_FORM = N_("error.action_id")
STAFF_ONLY = N_("messages.error.staff_only")

#: ``(filename, bytes, content type)`` as the upload form delivers it.
Attachment: TypeAlias = tuple[str, bytes, str]
#: Whoever looks at threads: a logged-in user, or an insurer identified by its tender.
Viewer: TypeAlias = User | Tender
#: ``None``: everyone; ``"me"``: the calling user; ``"unassigned"``: no assignee; an id: that user.
AssigneeFilter: TypeAlias = int | Literal["me", "unassigned"] | None

_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


class MessagingError(TenderActionError):
    """A refused messaging action; ``str(err)`` is the reason in the reader's language.

    A subclass of :class:`web.tenders.service.TenderActionError`, so a route that
    already handles tender refusals handles these too."""


class MessagingNotFound(MessagingError):
    """Unknown, or not visible to the caller: the route answers 404."""


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class AttachmentView:
    document_id: int
    filename: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class MessageView:
    """One visible message as ``viewer`` may see it."""

    id: int
    thread_id: int
    author: Party
    #: The author's name where known: the user's name, or the insurer's name for
    #: insurer messages. ``None`` for insurer viewers (staff names stay internal).
    author_name: str | None
    body: str
    created_at: datetime
    attachment: AttachmentView | None
    #: Label of the thread the message was forwarded from (insurer name or
    #: "Vermittler"); ``None`` if not forwarded, and always for insurer viewers.
    forwarded_from: str | None
    is_forwarded: bool
    #: Not yet read by the viewing user (always ``False`` for insurers and own-side messages).
    unread: bool
    unprocessed: bool


@dataclass(frozen=True)
class ThreadView:
    id: int
    kind: ThreadKind
    #: Insurer name, or "Vermittler" for the broker thread.
    label: str
    tender_id: int | None
    tender_status: TenderStatus | None
    #: Whether the viewer may post here now (the service checks again on post).
    can_write: bool
    #: Why not, in German, when ``can_write`` is false.
    closed_reason: str
    messages: list[MessageView]
    unread: int


@dataclass(frozen=True)
class PostResult:
    message: Message
    #: ``False`` when ``action_id`` was seen before and the first message was returned.
    created: bool
    #: A German confirmation for the flash message.
    info_de: str


@dataclass(frozen=True)
class TranscriptEntry:
    at: datetime
    thread_label: str
    author: Party
    author_name: str | None
    text: str
    attachment_filename: str | None
    forwarded_from: str | None


@dataclass(frozen=True)
class TabRow:
    message_id: int
    thread_id: int
    request_id: int
    request_number: str
    thread_kind: ThreadKind
    thread_label: str
    author: Party
    author_name: str | None
    excerpt: str
    attachment_filename: str | None
    created_at: datetime
    unread: bool
    unprocessed: bool
    assignee_id: int | None
    assignee_name: str | None


@dataclass(frozen=True)
class MessagesTab:
    """One page of the dashboard's "Nachrichten" tab, with the counts for its filters."""

    rows: list[TabRow]
    #: Rows in the current view (all pages).
    total: int
    #: Unread messages under the assignee filter (badge of the tab).
    unread_total: int
    #: Unprocessed messages under the assignee filter (badge of "unbearbeitet").
    unprocessed_total: int
    page: int
    pages: int
    per_page: int


# ---------------------------------------------------------------- helpers


def _staff_of(user: User | None, request: Request) -> bool:
    return user is not None and is_staff(user) and user.account_id == request.account_id


def _viewer_sees(viewer: Viewer, thread: Thread, request: Request) -> bool:
    """The one visibility rule for threads (see the module docstring)."""
    if isinstance(viewer, Tender):
        return thread.kind == ThreadKind.INSURER and thread.tender_id == viewer.id
    if _staff_of(viewer, request):
        return True
    return viewer.role == Role.BROKER and thread.kind == ThreadKind.BROKER and can_see_request(viewer, request)


def _viewer_for(author: Party, user: User | None, tender: Tender | None) -> Viewer:
    """Who is posting; the author party must match the caller's identity."""
    if author == Party.INSURER and tender is not None and user is None:
        return tender
    if author == Party.BACKOFFICE and user is not None and is_staff(user):
        return user
    if author == Party.BROKER and user is not None and user.role == Role.BROKER:
        return user
    raise ValueError(
        f"author {author} does not match the caller (user={user is not None}, tender={tender is not None})"
    )


def _require_staff(user: User) -> None:
    if not is_staff(user):
        raise MessagingError(STAFF_ONLY)


def _clean_body(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_BODY_CHARS:
        raise MessagingError("messages.error.too_long", max=MAX_BODY_CHARS)
    return text


def _check_action_id(action_id: str) -> None:
    if not action_id or len(action_id) > 100:
        raise MessagingError(STALE_FORM)


def _mb(size: int) -> str:
    mb = size / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}".replace(".", ",")


@dataclass(frozen=True)
class _Upload:
    filename: str
    data: bytes
    content_type: str


def _check_attachment(settings: Settings, attachment: Attachment | None) -> _Upload | None:
    """Validate before anything is stored, so a refused upload leaves nothing behind."""
    if attachment is None:
        return None
    filename, data, content_type = attachment
    if not data:
        raise MessagingError("messages.error.file_empty")
    if len(data) > settings.max_upload_bytes:
        raise MessagingError("messages.error.file_too_large", max_mb=_mb(settings.max_upload_bytes))
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if not _CONTENT_TYPE.match(ctype):
        ctype = "application/octet-stream"
    return _Upload(filename=safe_filename(filename), data=data, content_type=ctype)


async def _store_attachment(
    engine: Engine, settings: Settings, upload: _Upload, *, request_id: int, tender_id: int | None,
    party: Party, user_id: int | None,
) -> int:
    """Store the bytes once (content-addressed) and record a Document of the request."""
    key, sha256 = await asyncio.to_thread(store_bytes, settings, upload.data)
    with session_scope(engine) as session:
        document = Document(
            request_id=request_id,
            tender_id=tender_id,
            kind=DocumentKind.ATTACHMENT,
            filename=upload.filename,
            content_type=upload.content_type,
            size_bytes=len(upload.data),
            sha256=sha256,
            storage_key=key,
            uploaded_by=party,
            uploaded_by_user_id=user_id,
        )
        session.add(document)
        session.flush()
        assert document.id is not None
        return document.id


def _forget_document(engine: Engine, document_id: int | None) -> None:
    """Drop the Document row of a refused message. The file stays: another
    document may share its bytes (content addressing), and a retry reuses it."""
    if document_id is None:
        return
    with session_scope(engine) as session:
        document = session.get(Document, document_id)
        if document is None:
            return
        if session.exec(select(Message.id).where(Message.document_id == document_id)).first() is None:
            session.delete(document)


def _message_by_action(engine: Engine, action_id: str) -> Message | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(select(Message).where(Message.action_id == action_id)).first()


def _duplicate(existing: Message, thread_id: int) -> Message:
    if existing.thread_id != thread_id:
        raise MessagingError(STALE_FORM)
    return existing


def _create_message(
    engine: Engine, *, thread: Thread, author: Party, user_id: int | None, body: str,
    document_id: int | None, action_id: str, visible: bool, forwarded_from_id: int | None = None,
) -> tuple[Message, bool]:
    """Insert once per ``action_id``; a concurrent duplicate gets the winner's row."""
    try:
        with session_scope(engine) as session:
            message = Message(
                thread_id=thread.id,  # type: ignore[arg-type]
                request_id=thread.request_id,
                action_id=action_id,
                author=author,
                author_user_id=user_id,
                body=body,
                document_id=document_id,
                forwarded_from_id=forwarded_from_id,
                visible=visible,
                # Only what reaches the backoffice needs working on.
                unprocessed=author != Party.BACKOFFICE,
            )
            session.add(message)
            session.flush()
        return message, True
    except IntegrityError:
        existing = _message_by_action(engine, action_id)
        if existing is None:
            raise
        return _duplicate(existing, thread.id), False  # type: ignore[arg-type]


def _set_visible(engine: Engine, message_id: int) -> None:
    with session_scope(engine) as session:
        session.execute(update(Message).where(col(Message.id) == message_id).values(visible=True))


def _discard_pending(engine: Engine, message_id: int) -> None:
    with session_scope(engine) as session:
        message = session.get(Message, message_id)
        if message is not None and not message.visible:
            session.delete(message)


def _audit_once(
    engine: Engine, *, key: str, request_id: int, tender_id: int | None, user_id: int | None, kind: str, detail: str,
) -> None:
    """One AuditEvent per key; the timeline reads these (see :mod:`web.requests.timeline`)."""
    try:
        with session_scope(engine) as session:
            if session.exec(select(AuditEvent.id).where(AuditEvent.dedupe_key == key)).first() is not None:
                return
            session.add(
                AuditEvent(
                    request_id=request_id, tender_id=tender_id, actor=Party.BACKOFFICE, actor_user_id=user_id,
                    kind=kind, detail=detail, dedupe_key=key,
                )
            )
    except IntegrityError:
        pass  # written concurrently under the same key


def _thread_labels(session: Session, threads: Iterable[Thread]) -> dict[int, str]:
    """Thread id → "Vermittler" or the insurer's name, in one query."""
    threads = list(threads)
    tender_ids = [t.tender_id for t in threads if t.tender_id is not None]
    names: dict[int, str] = {}
    if tender_ids:
        rows = session.exec(
            select(Tender.id, Insurer.name)
            .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
            .where(col(Tender.id).in_(tender_ids))
        ).all()
        names = {tender_id: name for tender_id, name in rows if tender_id is not None}
    return {
        t.id: party_label(Party.BROKER) if t.kind == ThreadKind.BROKER  # type: ignore[misc]
        else names.get(t.tender_id or 0, party_label(Party.INSURER))
        for t in threads
    }


def _insurer_closed_reason(tender: Tender | None) -> str:
    """Why nobody can write in an insurer thread now ("" if they can)."""
    if tender is None:
        return i18n.t(THREAD_NOT_FOUND)
    if is_terminal(tender.status):
        return i18n.t("messages.error.tender_ended", status=i18n.tender_status_label(tender.status))
    if tender.status == TenderStatus.QUEUED:
        return i18n.t("messages.error.tender_not_sent")
    return ""


# ---------------------------------------------------------------- threads


def open_broker_thread(engine: Engine, request_id: int, user: User) -> Thread:
    """Open the conversation with the broker ("eröffnen"); only the backoffice may.

    Idempotent: a second call returns the existing thread. Concurrent callers
    are serialised on the request row (the update below takes its lock on
    PostgreSQL and the write lock on SQLite), because the unique constraint on
    ``(request_id, kind, tender_id)`` does not hold for the broker thread's
    NULL ``tender_id``. Writes a ``thread_opened`` AuditEvent.
    """
    _require_staff(user)
    with session_scope(engine) as session:
        locked = session.execute(
            update(Request)
            .where(col(Request.id) == request_id)
            .where(col(Request.account_id) == user.account_id)
            .values(updated_at=utcnow())
        )
        if locked.rowcount == 0:  # type: ignore[attr-defined]
            raise MessagingNotFound(REQUEST_NOT_FOUND)
        thread = session.exec(
            select(Thread).where(Thread.request_id == request_id).where(Thread.kind == ThreadKind.BROKER)
        ).first()
        if thread is not None:
            return thread
        thread = Thread(request_id=request_id, kind=ThreadKind.BROKER, opened_by_id=user.id)
        session.add(thread)
        session.flush()
        session.add(
            AuditEvent(
                request_id=request_id, actor=Party.BACKOFFICE, actor_user_id=user.id, kind="thread_opened",
                detail=BROKER_THREAD_LABEL, dedupe_key=f"thread_opened:{thread.id}",
            )
        )
    log.info("broker thread %s opened on request %s by user %s", thread.id, request_id, user.id)
    return thread


def broker_thread(session: Session, request_id: int) -> Thread | None:
    """The request's broker thread, or ``None`` while the backoffice has not opened it."""
    return session.exec(
        select(Thread).where(Thread.request_id == request_id).where(Thread.kind == ThreadKind.BROKER)
    ).first()


def insurer_thread_id(engine: Engine, tender_id: int) -> int:
    """The thread of one tender, created on first use (one per tender, unique)."""
    for attempt in (1, 2):
        try:
            with session_scope(engine) as session:
                tender = session.get(Tender, tender_id)
                if tender is None:
                    raise MessagingNotFound(THREAD_NOT_FOUND)
                thread = insurer_thread(session, tender)
                assert thread.id is not None
                return thread.id
        except IntegrityError:  # created concurrently: the second attempt finds it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def ensure_insurer_threads(engine: Engine, request_id: int) -> None:
    """Create the missing insurer threads of a request, so every tendered insurer
    has a thread the backoffice can write in. Cheap when nothing is missing;
    call it before rendering the backoffice's request page."""
    with Session(engine) as session:
        missing = session.exec(
            select(Tender.id)
            .where(Tender.request_id == request_id)
            .where(
                ~exists().where(
                    and_(col(Thread.tender_id) == col(Tender.id), col(Thread.kind) == ThreadKind.INSURER)
                )
            )
        ).all()
    for tender_id in missing:
        if tender_id is not None:
            insurer_thread_id(engine, tender_id)


def threads_for(session: Session, request_id: int, viewer: Viewer) -> list[ThreadView]:
    """The threads of a request that ``viewer`` may see, each with its visible messages.

    Backoffice (same account): the broker thread (if opened) first, then one
    thread per tender in tender order. Broker: only his broker thread. Insurer
    (pass its ``Tender``): only its own thread. Anything else: ``[]``.
    A tender without a thread row yet is missing here; see :func:`ensure_insurer_threads`.
    Five queries whatever the number of threads and messages.
    """
    request = session.get(Request, request_id)
    if request is None:
        return []
    all_threads = list(session.exec(select(Thread).where(Thread.request_id == request_id)).all())
    threads = [t for t in all_threads if _viewer_sees(viewer, t, request)]
    if not threads:
        return []
    labels = _thread_labels(session, all_threads)
    tender_ids = [t.tender_id for t in threads if t.tender_id is not None]
    tenders = {
        t.id: t for t in session.exec(select(Tender).where(col(Tender.id).in_(tender_ids))).all()
    } if tender_ids else {}
    thread_ids = [t.id for t in threads]
    messages = list(
        session.exec(
            select(Message)
            .where(col(Message.thread_id).in_(thread_ids))
            .where(col(Message.visible).is_(True))
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
    )
    user = viewer if isinstance(viewer, User) else None
    documents = _documents(session, [m.document_id for m in messages])
    names = _user_names(session, [m.author_user_id for m in messages]) if user is not None else {}
    sources = _forward_sources(session, messages, labels) if user is not None else {}
    read = _read_ids(session, user, [m.id for m in messages]) if user is not None else set()
    other_side = _other_side(user)

    by_thread: dict[int, list[MessageView]] = {tid: [] for tid in thread_ids}  # type: ignore[misc]
    for m in messages:
        doc = documents.get(m.document_id or 0)
        author_name = names.get(m.author_user_id or 0)
        if m.author == Party.INSURER and user is not None:
            author_name = labels.get(m.thread_id)
        by_thread[m.thread_id].append(
            MessageView(
                id=m.id,  # type: ignore[arg-type]
                thread_id=m.thread_id,
                author=m.author,
                author_name=author_name,
                body=m.body,
                created_at=as_utc(m.created_at),  # type: ignore[arg-type]
                attachment=AttachmentView(doc.id, doc.filename, doc.content_type, doc.size_bytes)  # type: ignore[arg-type]
                if doc else None,
                forwarded_from=sources.get(m.forwarded_from_id or 0),
                is_forwarded=m.forwarded_from_id is not None,
                unread=m.author in other_side and m.id not in read,
                unprocessed=m.unprocessed and m.author != Party.BACKOFFICE,
            )
        )

    def order(t: Thread) -> tuple[int, datetime, int]:
        tender = tenders.get(t.tender_id) if t.tender_id else None
        created = as_utc(tender.created_at if tender else t.created_at)
        return (0 if t.kind == ThreadKind.BROKER else 1, created, t.tender_id or 0)  # type: ignore[return-value]

    views = []
    for t in sorted(threads, key=order):
        tender = tenders.get(t.tender_id) if t.tender_id else None
        reason = "" if t.kind == ThreadKind.BROKER else _insurer_closed_reason(tender)
        items = by_thread[t.id]  # type: ignore[index]
        views.append(
            ThreadView(
                id=t.id,  # type: ignore[arg-type]
                kind=t.kind,
                label=labels[t.id],  # type: ignore[index]
                tender_id=t.tender_id,
                tender_status=tender.status if tender else None,
                can_write=not reason,
                closed_reason=reason,
                messages=items,
                unread=sum(1 for v in items if v.unread),
            )
        )
    return views


def _other_side(user: User | None) -> frozenset[Party]:
    """Whose messages count as unread for this user: staff read insurers and
    brokers, a broker reads the backoffice."""
    if user is None:
        return frozenset()
    if is_staff(user):
        return frozenset({Party.INSURER, Party.BROKER})
    return frozenset({Party.BACKOFFICE})


def _documents(session: Session, ids: Iterable[int | None]) -> dict[int, Document]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {d.id: d for d in session.exec(select(Document).where(col(Document.id).in_(wanted))).all()}  # type: ignore[misc]


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User.id, User.name).where(col(User.id).in_(wanted))).all()
    return {uid: name for uid, name in rows if uid is not None}


def _forward_sources(session: Session, messages: Sequence[Message], labels: dict[int, str]) -> dict[int, str]:
    """Forwarded-from message id → label of the thread it came from."""
    wanted = {m.forwarded_from_id for m in messages if m.forwarded_from_id is not None}
    if not wanted:
        return {}
    rows = session.exec(select(Message.id, Message.thread_id).where(col(Message.id).in_(wanted))).all()
    return {mid: labels.get(tid, "") for mid, tid in rows if mid is not None}


def _read_ids(session: Session, user: User | None, message_ids: Sequence[int | None]) -> set[int]:
    ids = [i for i in message_ids if i is not None]
    if user is None or not ids:
        return set()
    return set(
        session.exec(
            select(MessageRead.message_id)
            .where(MessageRead.user_id == user.id)
            .where(col(MessageRead.message_id).in_(ids))
        ).all()
    )


def attachment_visible_to(session: Session, document: Document, viewer: Viewer) -> bool:
    """Whether ``viewer`` may download ``document`` because it is attached to a
    visible message in a thread the viewer sees.

    For the download routes: :func:`web.core.access.can_see_document` gives brokers
    no ``ATTACHMENT`` documents, and the insurer link serves only documents of
    its own tender, so without this a broker could not open a file the
    backoffice sent or forwarded him, nor an insurer a forwarded file.
    """
    request = session.get(Request, document.request_id)
    if request is None:
        return False
    threads = session.exec(
        select(Thread)
        .join(Message, col(Message.thread_id) == col(Thread.id))
        .where(Message.document_id == document.id)
        .where(col(Message.visible).is_(True))
    ).all()
    return any(_viewer_sees(viewer, thread, request) for thread in threads)


# ---------------------------------------------------------------- posting


@dataclass(frozen=True)
class _Target:
    thread: Thread
    request: Request
    tender: Tender | None


def _resolve_target(
    engine: Engine, *, thread_id: int | None, request_id: int | None, author: Party, viewer: Viewer,
) -> _Target:
    with Session(engine, expire_on_commit=False) as session:
        if thread_id is not None:
            thread = session.get(Thread, thread_id)
        elif isinstance(viewer, Tender):
            thread = session.get(Thread, insurer_thread_id(engine, viewer.id))  # type: ignore[arg-type]
        elif request_id is not None:
            request = session.get(Request, request_id)
            if request is None or not (_staff_of(viewer, request) or can_see_request(viewer, request)):
                raise MessagingNotFound(REQUEST_NOT_FOUND)
            thread = broker_thread(session, request_id)
            if thread is None:
                raise MessagingError(NOT_OPENED if author == Party.BROKER else OPEN_FIRST)
        else:
            raise ValueError("thread_id or request_id is required")
        if thread is None:
            raise MessagingNotFound(THREAD_NOT_FOUND)
        request = session.get(Request, thread.request_id)
        if request is None or not _viewer_sees(viewer, thread, request):
            raise MessagingNotFound(THREAD_NOT_FOUND)
        tender = session.get(Tender, thread.tender_id) if thread.tender_id is not None else None
        return _Target(thread=thread, request=request, tender=tender)


async def post_message(
    *,
    engine: Engine,
    client: Client,
    settings: Settings,
    thread_id: int | None,
    author: Party,
    user: User | None,
    tender: Tender | None,
    body: str,
    attachment: Attachment | None = None,
    action_id: str,
    request_id: int | None = None,
) -> PostResult:
    """Post a message (text, an attachment, or both) to a thread.

    ``author`` names the side: ``INSURER`` with ``tender`` (from its link) and
    no ``user``; ``BACKOFFICE`` with a staff ``user``; ``BROKER`` with a broker
    ``user``. A broker (or the backoffice) may pass ``request_id`` instead of
    ``thread_id`` to mean the request's broker thread; until the backoffice
    opened it, a broker gets :data:`NOT_OPENED`. An insurer may pass
    ``thread_id=None`` to mean its own thread.

    Raises :class:`MessagingNotFound` for threads the caller may not see and
    :class:`MessagingError` (German) for refusals: empty message, file too
    large, tender ended, Temporal unreachable. A refused post stores nothing.
    The same ``action_id`` again returns the first message and sends nothing twice.
    """
    viewer = _viewer_for(author, user, tender)
    _check_action_id(action_id)
    target = await asyncio.to_thread(
        _resolve_target, engine, thread_id=thread_id, request_id=request_id, author=author, viewer=viewer
    )
    existing = await asyncio.to_thread(_message_by_action, engine, action_id)
    if existing is not None:
        _duplicate(existing, target.thread.id)  # type: ignore[arg-type]
    text = _clean_body(body)
    upload = _check_attachment(settings, attachment)
    if existing is None and not text and upload is None:
        raise MessagingError(EMPTY)
    user_id = user.id if user is not None else None
    if author == Party.INSURER:
        return await _post_as_insurer(engine, client, settings, target, existing, text, upload, action_id)
    if target.thread.kind == ThreadKind.INSURER:
        return await _post_to_insurer(
            engine, client, settings, target, existing, text, upload, action_id, user_id,
        )
    return await _post_in_broker_thread(
        engine, client, settings, target, existing, author, text, upload, action_id, user_id,
    )


async def _post_as_insurer(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    text: str, upload: _Upload | None, action_id: str,
) -> PostResult:
    """An insurer's question is a tender event: the workflow accepts it, sets
    "In Bearbeitung" and makes the message visible; then the backoffice is told."""
    tender = target.tender
    assert tender is not None
    if existing is not None and existing.visible:
        await _notify_backoffice(engine, client, settings, existing, target)
        return PostResult(existing, False, i18n.t("messages.done.question_again"))
    if existing is None and is_terminal(tender.status):
        raise MessagingError(_insurer_closed_reason(tender))
    created_document: int | None = None
    document_id = existing.document_id if existing is not None else None
    if existing is None and upload is not None:
        document_id = created_document = await _store_attachment(
            engine, settings, upload, request_id=tender.request_id, tender_id=tender.id,
            party=Party.INSURER, user_id=None,
        )
    # ask_question refuses an empty text; an attachment alone is named instead.
    question = text or (f"Anhang: {upload.filename}" if upload else (existing.body if existing else ""))
    try:
        result = await ask_question(
            client, engine, tender, body=question, author=Party.INSURER, action_id=action_id,
            document_id=document_id,
        )
    except TenderActionError as err:
        await asyncio.to_thread(_forget_document, engine, created_document)
        raise MessagingError(str(err)) from None
    message = await asyncio.to_thread(_message_by_action, engine, action_id)
    assert message is not None
    await _notify_backoffice(engine, client, settings, message, target)
    return PostResult(message, existing is None, i18n.outcome_text(result.code))


async def _post_to_insurer(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    text: str, upload: _Upload | None, action_id: str, user_id: int | None,
    forwarded_from_id: int | None = None, document_id: int | None = None,
) -> PostResult:
    """Backoffice → insurer: pending message, ``notify_insurer``, then visible."""
    tender = target.tender
    assert tender is not None
    if existing is not None and existing.visible:
        return PostResult(existing, False, i18n.t("messages.done.again"))
    if existing is None and is_terminal(tender.status):
        raise MessagingError(_insurer_closed_reason(tender))
    created_document: int | None = None
    message = existing
    if message is None:
        if upload is not None:
            document_id = created_document = await _store_attachment(
                engine, settings, upload, request_id=tender.request_id, tender_id=tender.id,
                party=Party.BACKOFFICE, user_id=user_id,
            )
        pending, _ = await asyncio.to_thread(
            _create_message, engine, thread=target.thread, author=Party.BACKOFFICE, user_id=user_id, body=text,
            document_id=document_id, action_id=action_id, visible=False, forwarded_from_id=forwarded_from_id,
        )
        message = pending
        if message.visible:  # a concurrent duplicate already finished
            return PostResult(message, False, i18n.t("messages.done.again"))
    assert message.id is not None
    try:
        await send_action(
            client, tender, "notify_insurer", Action(action_id=f"message-{message.id}", actor_user_id=user_id)
        )
    except TenderActionError as err:
        await asyncio.to_thread(_discard_pending, engine, message.id)
        await asyncio.to_thread(_forget_document, engine, created_document)
        raise MessagingError(str(err)) from None
    await asyncio.to_thread(_set_visible, engine, message.id)
    message.visible = True
    return PostResult(
        message, existing is None, i18n.t("messages.done.insurer_notified")
    )


async def _post_in_broker_thread(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    author: Party, text: str, upload: _Upload | None, action_id: str, user_id: int | None,
) -> PostResult:
    """Backoffice ↔ broker: visible at once, the other side gets a System Email."""
    if existing is not None:
        message, created = existing, False
    else:
        document_id = None
        if upload is not None:
            document_id = await _store_attachment(
                engine, settings, upload, request_id=target.request.id,  # type: ignore[arg-type]
                tender_id=None, party=author, user_id=user_id,
            )
        message, created = await asyncio.to_thread(
            _create_message, engine, thread=target.thread, author=author, user_id=user_id, body=text,
            document_id=document_id, action_id=action_id, visible=True,
        )
        if not created:
            await asyncio.to_thread(_forget_document, engine, document_id)
    if author == Party.BROKER:
        await _notify_backoffice(engine, client, settings, message, target)
        info = i18n.t("messages.done.to_backoffice")
    else:
        await _notify_broker(engine, client, settings, message, target)
        info = i18n.t("messages.done.broker_notified")
    if not created:
        info = i18n.t("messages.done.again")
    return PostResult(message, created, info)


# ---------------------------------------------------------------- forwarding


def _load_forward(
    engine: Engine, message_id: int, target_thread_id: int, user: User,
) -> tuple[Message, Thread, _Target, dict[int, str]]:
    """The source message, its thread, the target and both thread labels, or a refusal."""
    with Session(engine, expire_on_commit=False) as session:
        source = session.get(Message, message_id)
        request = session.get(Request, source.request_id) if source is not None else None
        if source is None or request is None or not source.visible or not _staff_of(user, request):
            raise MessagingNotFound(MESSAGE_NOT_FOUND)
        thread = session.get(Thread, target_thread_id)
        if thread is None or thread.request_id != request.id:
            raise MessagingNotFound(THREAD_NOT_FOUND)
        if thread.id == source.thread_id:
            raise MessagingError("messages.error.same_thread")
        source_thread = session.get(Thread, source.thread_id)
        assert source_thread is not None
        labels = _thread_labels(session, [source_thread, thread])
        tender = session.get(Tender, thread.tender_id) if thread.tender_id is not None else None
        return source, source_thread, _Target(thread=thread, request=request, tender=tender), labels


async def forward_message(
    *,
    engine: Engine,
    client: Client,
    settings: Settings,
    message_id: int,
    target_thread_id: int,
    user: User,
    action_id: str | None = None,
) -> PostResult:
    """Forward a visible message into another thread of the same request (backoffice only).

    The copy keeps the text and the same attachment (a reference to the same
    Document, not a second upload), records ``forwarded_from_id``, is authored
    by the forwarding backoffice user, and notifies the target side like a new
    message (broker: System Email; insurer: ``notify_insurer``). Forwarding the
    same message to the same thread twice is one forward (the default
    ``action_id`` derives from both); pass an ``action_id`` to forward again on
    purpose. Writes a ``message_forwarded`` AuditEvent.
    """
    _require_staff(user)
    source, source_thread, target, labels = await asyncio.to_thread(
        _load_forward, engine, message_id, target_thread_id, user
    )
    thread = target.thread
    action_id = action_id or f"forward-{message_id}-{target_thread_id}"
    _check_action_id(action_id)
    existing = await asyncio.to_thread(_message_by_action, engine, action_id)
    if existing is not None:
        _duplicate(existing, thread.id)  # type: ignore[arg-type]
    if thread.kind == ThreadKind.INSURER:
        result = await _post_to_insurer(
            engine, client, settings, target, existing, source.body, None, action_id, user.id,
            forwarded_from_id=source.id, document_id=source.document_id,
        )
    else:
        message, created = (existing, False) if existing is not None else await asyncio.to_thread(
            _create_message, engine, thread=thread, author=Party.BACKOFFICE, user_id=user.id, body=source.body,
            document_id=source.document_id, action_id=action_id, visible=True, forwarded_from_id=source.id,
        )
        await _notify_broker(engine, client, settings, message, target)
        result = PostResult(
            message, created, i18n.t("messages.done.forwarded_broker")
        )
    await asyncio.to_thread(
        _audit_once, engine, key=f"message_forwarded:{result.message.id}", request_id=thread.request_id,
        tender_id=thread.tender_id or source_thread.tender_id, user_id=user.id, kind="message_forwarded",
        detail=f"{labels[source_thread.id]} → {labels[thread.id]}",  # type: ignore[index]
    )
    if result.created and thread.kind == ThreadKind.INSURER:
        result = PostResult(
            result.message, True, i18n.t("messages.done.forwarded_insurer")
        )
    return result


# ---------------------------------------------------------------- notifications


@cache
def _templates() -> Environment:
    return template_env()


def _request_link(settings: Settings, request_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/requests/{request_id}{MESSAGES_ANCHOR}"


@dataclass(frozen=True)
class _Notice:
    to_addr: str
    subject: str
    body: str
    kind: str


def _sent_already(engine: Engine, key: str) -> bool:
    with Session(engine) as session:
        row = session.exec(select(SystemEmail).where(SystemEmail.idempotency_key == key)).first()
    # Sent, or shown as failed: a retried post must not start it again.
    return row is not None and row.status in (EmailStatus.SENT, EmailStatus.FAILED)


async def _queue_notice(engine: Engine, client: Client, settings: Settings, message: Message, notice: _Notice) -> None:
    """One System Email per message (``message:{id}``), delivered by NotificationWorkflow."""
    key = f"message:{message.id}"
    if await asyncio.to_thread(_sent_already, engine, key):
        return
    await queue_email(
        client=client, engine=engine, task_queue=settings.temporal_task_queue,
        id_prefix=settings.workflow_id_prefix, mail_from=settings.mail_from, request_id=message.request_id,
        to_addr=notice.to_addr, subject=notice.subject, body=notice.body, kind=notice.kind, key=key,
    )


def _notice_context(session: Session, target: _Target) -> dict[str, Any]:
    request = session.get(Request, target.request.id)
    assert request is not None
    account = session.get(Account, request.account_id)
    product = session.get(Product, request.product_id)
    broker = session.get(Broker, request.broker_id)
    assert account and product and broker
    return {"request": request, "account": account, "product": product, "broker": broker}


def _backoffice_notice(engine: Engine, settings: Settings, message: Message, target: _Target) -> _Notice:
    """To the request's assignee or, with nobody assigned, the account's contact address."""
    with Session(engine) as session:
        ctx = _notice_context(session, target)
        request: Request = ctx["request"]
        assignee = session.get(User, request.assignee_id) if request.assignee_id else None
        if assignee is not None and not assignee.is_active:
            assignee = None
        if target.thread.kind == ThreadKind.INSURER:
            who = _thread_labels(session, [target.thread])[target.thread.id]  # type: ignore[index]
            sender = f"der Gesellschaft {who}"
        else:
            who = BROKER_THREAD_LABEL
            sender = f"des Vermittlers {ctx['broker'].name} ({ctx['broker'].company})"
    body = _templates().get_template("email/notice_backoffice.txt").render(
        **ctx, assignee=assignee, sender=sender, link=_request_link(settings, request.id),  # type: ignore[arg-type]
        has_attachment=message.document_id is not None,
    )
    return _Notice(
        to_addr=assignee.email if assignee is not None else ctx["account"].contact_email,
        subject=f"Neue Nachricht zur Anfrage {request.number} ({who})",
        body=body,
        kind="message_backoffice",
    )


def _broker_notice(engine: Engine, settings: Settings, message: Message, target: _Target) -> _Notice:
    with Session(engine) as session:
        ctx = _notice_context(session, target)
    request: Request = ctx["request"]
    body = _templates().get_template("email/notice_broker.txt").render(
        **ctx, link=_request_link(settings, request.id),  # type: ignore[arg-type]
        has_attachment=message.document_id is not None, forwarded=message.forwarded_from_id is not None,
    )
    return _Notice(
        to_addr=ctx["broker"].email,
        subject=f"Neue Nachricht zu Ihrer Anfrage {request.number}: {ctx['product'].name}",
        body=body,
        kind="message_broker",
    )


async def _notify_backoffice(
    engine: Engine, client: Client, settings: Settings, message: Message, target: _Target,
) -> None:
    """Tell the backoffice that an insurer or the broker wrote."""
    notice = await asyncio.to_thread(_backoffice_notice, engine, settings, message, target)
    await _queue_notice(engine, client, settings, message, notice)


async def _notify_broker(
    engine: Engine, client: Client, settings: Settings, message: Message, target: _Target,
) -> None:
    """Tell the broker that the backoffice wrote (or forwarded) in his thread."""
    notice = await asyncio.to_thread(_broker_notice, engine, settings, message, target)
    await _queue_notice(engine, client, settings, message, notice)


# ---------------------------------------------------------------- read state


def _insert_reads(session: Session, user_id: int, message_ids: Sequence[int]) -> None:
    """Insert-or-ignore, so two tabs marking the same thread never collide."""
    if not message_ids:
        return
    rows = [{"message_id": mid, "user_id": user_id, "read_at": utcnow()} for mid in message_ids]
    table = MessageRead.__table__  # type: ignore[attr-defined]  # Core insert on the mapped table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).values(rows).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).values(rows).on_conflict_do_nothing())
    else:  # pragma: no cover - the app runs on PostgreSQL or SQLite
        for row in rows:
            try:
                with session.begin_nested():
                    session.execute(sa_insert(table).values(row))
            except IntegrityError:
                pass


def mark_read(engine: Engine, thread_id: int, user: User) -> int:
    """Mark every visible message of the thread as read by ``user``; idempotent.

    Returns how many messages were newly read. Raises :class:`MessagingNotFound`
    for a thread the user may not see.
    """
    with session_scope(engine) as session:
        thread = session.get(Thread, thread_id)
        request = session.get(Request, thread.request_id) if thread is not None else None
        if thread is None or request is None or not _viewer_sees(user, thread, request):
            raise MessagingNotFound(THREAD_NOT_FOUND)
        unread = list(
            session.exec(
                select(Message.id)
                .where(Message.thread_id == thread_id)
                .where(col(Message.visible).is_(True))
                .where(~_read_by(user.id))
            ).all()
        )
        _insert_reads(session, user.id, [i for i in unread if i is not None])  # type: ignore[arg-type]
        return len(unread)


def _read_by(user_id: int | None) -> ColumnElement[bool]:
    return exists().where(
        and_(col(MessageRead.message_id) == col(Message.id), col(MessageRead.user_id) == user_id)
    )


def mark_processed(engine: Engine, message_id: int, user: User) -> bool:
    """Clear "unbearbeitet" on a message (and mark it read for ``user``).

    Only the request's assignee may, or any backoffice user while the request
    has no assignee. Returns whether the flag changed (``False`` if it was
    already clear). Writes a ``message_processed`` AuditEvent once.
    """
    _require_staff(user)
    with session_scope(engine) as session:
        message = session.get(Message, message_id)
        request = session.get(Request, message.request_id) if message is not None else None
        if message is None or request is None or not message.visible or not _staff_of(user, request):
            raise MessagingNotFound(MESSAGE_NOT_FOUND)
        if request.assignee_id is not None and request.assignee_id != user.id:
            assignee = session.get(User, request.assignee_id)
            raise MessagingError("messages.error.assignee_only", name=assignee.name if assignee is not None else "—")
        changed = session.execute(
            update(Message)
            .where(col(Message.id) == message_id)
            .where(col(Message.unprocessed).is_(True))
            .values(unprocessed=False)
        ).rowcount  # type: ignore[attr-defined]
        _insert_reads(session, user.id, [message_id])  # type: ignore[arg-type]
        thread = session.get(Thread, message.thread_id)
        tender_id = thread.tender_id if thread is not None else None
    if changed:
        _audit_once(
            engine, key=f"message_processed:{message_id}", request_id=request.id,  # type: ignore[arg-type]
            tender_id=tender_id, user_id=user.id, kind="message_processed", detail=f"Nachricht #{message_id}",
        )
    return bool(changed)


def _tab_conditions(user: User, assignee_id: AssigneeFilter) -> list[ColumnElement[bool]]:
    """Messages from the other side on open requests of the user's account."""
    conditions: list[ColumnElement[bool]] = [
        col(Request.account_id) == user.account_id,
        col(Request.status) == RequestStatus.OPEN,
        col(Message.visible).is_(True),
        col(Message.author).in_(sorted(_other_side(user))),
    ]
    if not is_staff(user):
        # A broker without a broker record sees nothing rather than everything.
        conditions += [
            col(Request.broker_id) == (user.broker_id if user.role == Role.BROKER and user.broker_id else -1),
            col(Thread.kind) == ThreadKind.BROKER,
        ]
    if assignee_id == "me":
        conditions.append(col(Request.assignee_id) == user.id)
    elif assignee_id == "unassigned":
        conditions.append(col(Request.assignee_id).is_(None))
    elif isinstance(assignee_id, int):
        conditions.append(col(Request.assignee_id) == assignee_id)
    return conditions


def _tab_source(user: User) -> Join:
    """Messages with their request; the thread only for brokers (broker threads
    only), because a join per candidate message costs a third of the time."""
    source = sa_join(Message, Request, col(Request.id) == col(Message.request_id))
    if not is_staff(user):
        source = source.join(Thread, col(Thread.id) == col(Message.thread_id))
    return source


def _tab_counts(session: Session, user: User, assignee_id: AssigneeFilter) -> tuple[int, int]:
    """(unread, unprocessed) in one aggregate query."""
    unread = ~_read_by(user.id)
    unprocessed = col(Message.unprocessed).is_(True)
    statement = (
        sa_select(
            func.coalesce(func.sum(case((unread, 1), else_=0)), 0),
            func.coalesce(func.sum(case((unprocessed, 1), else_=0)), 0),
        )
        .select_from(_tab_source(user))
        .where(*_tab_conditions(user, assignee_id), or_(unread, unprocessed))
    )
    unread_n, unprocessed_n = session.exec(statement).one()  # type: ignore[call-overload]
    # "Unbearbeitet" is a backoffice notion; a broker's count is always 0.
    return int(unread_n), (int(unprocessed_n) if is_staff(user) else 0)


def unread_count(session: Session, user: User) -> int:
    """Unread messages for the "Nachrichten" badge: for backoffice users, from
    insurers and brokers on the account's open requests; for a broker, from the
    backoffice on his open requests."""
    return _tab_counts(session, user, None)[0]


def messages_tab(
    session: Session,
    user: User,
    *,
    assignee_id: AssigneeFilter = None,
    only_unprocessed: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> MessagesTab:
    """The dashboard's "Nachrichten" tab, newest first.

    Without ``only_unprocessed``: the user's unread messages. With it
    ("unbearbeitet"): the messages nobody has processed yet, read or not, so
    that "Bearbeiter: ich" + "unbearbeitet" lists the user's open work even
    after he glanced at a thread (the guide's tip). ``assignee_id`` filters by
    the request's assignee (see :data:`AssigneeFilter`).

    Two queries (rows with everything the row shows, and the counts), both
    driven by ``ix_request_account_status_created`` and ``ix_message_request_id``;
    "unread" is an anti-join on the unique ``(message_id, user_id)`` index.
    """
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    unread_total, unprocessed_total = _tab_counts(session, user, assignee_id)
    total = unprocessed_total if only_unprocessed else unread_total
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    unread = ~_read_by(user.id)
    view = col(Message.unprocessed).is_(True) if only_unprocessed else unread
    # First the page's ids (index-driven, no detail joins), then the details of those rows only.
    page_ids = (
        sa_select(col(Message.id).label("id"), col(Message.created_at).label("created_at"))
        .select_from(_tab_source(user))
        .where(*_tab_conditions(user, assignee_id), view)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery("page_ids")
    )
    author_user = aliased(User)
    assignee = aliased(User)
    statement = (
        sa_select(  # type: ignore[call-overload]  # nine columns: beyond the typed overloads
            Message, col(Request.number), col(Request.assignee_id), col(Thread.kind), col(Insurer.name),
            author_user.name, assignee.name, col(Document.filename), unread.label("unread"),
        )
        .select_from(page_ids)
        .join(Message, col(Message.id) == page_ids.c.id)
        .join(Thread, col(Thread.id) == col(Message.thread_id))
        .join(Request, col(Request.id) == col(Message.request_id))
        .outerjoin(Tender, col(Tender.id) == col(Thread.tender_id))
        .outerjoin(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .outerjoin(author_user, author_user.id == col(Message.author_user_id))
        .outerjoin(assignee, assignee.id == col(Request.assignee_id))
        .outerjoin(Document, col(Document.id) == col(Message.document_id))
        .order_by(page_ids.c.created_at.desc(), page_ids.c.id.desc())
    )
    rows = []
    for message, number, assignee_of, kind, insurer_name, author_name, assignee_name, filename, is_unread in (
        session.exec(statement).all()
    ):
        label = BROKER_THREAD_LABEL if kind == ThreadKind.BROKER else (insurer_name or "Gesellschaft")
        rows.append(
            TabRow(
                message_id=message.id,
                thread_id=message.thread_id,
                request_id=message.request_id,
                request_number=number,
                thread_kind=kind,
                thread_label=label,
                author=message.author,
                author_name=insurer_name if message.author == Party.INSURER else author_name,
                excerpt=_excerpt(message.body),
                attachment_filename=filename,
                created_at=as_utc(message.created_at),  # type: ignore[arg-type]
                unread=bool(is_unread),
                unprocessed=message.unprocessed,
                assignee_id=assignee_of,
                assignee_name=assignee_name,
            )
        )
    return MessagesTab(
        rows=rows, total=total, unread_total=unread_total, unprocessed_total=unprocessed_total,
        page=page, pages=pages, per_page=per_page,
    )


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


# ---------------------------------------------------------------- transcript


def transcript(session: Session, request_id: int) -> list[TranscriptEntry]:
    """Every visible message of every thread of the request, oldest first.

    The binding attaches this to the cover note ("Bei Deckungsbeauftragung wird
    der gesamte Verlauf des Chatmoduls der Deckungsnote beigefügt"), so it
    names insurers and staff. Not for insurer eyes; the caller authorises.
    """
    threads = list(session.exec(select(Thread).where(Thread.request_id == request_id)).all())
    if not threads:
        return []
    labels = _thread_labels(session, threads)
    messages = list(
        session.exec(
            select(Message)
            .where(Message.request_id == request_id)
            .where(col(Message.visible).is_(True))
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
    )
    documents = _documents(session, [m.document_id for m in messages])
    names = _user_names(session, [m.author_user_id for m in messages])
    sources = _forward_sources(session, messages, labels)
    entries = []
    for m in messages:
        doc = documents.get(m.document_id or 0)
        label = labels.get(m.thread_id, "")
        entries.append(
            TranscriptEntry(
                at=as_utc(m.created_at),  # type: ignore[arg-type]
                thread_label=label,
                author=m.author,
                author_name=label if m.author == Party.INSURER else names.get(m.author_user_id or 0),
                text=m.body,
                attachment_filename=doc.filename if doc else None,
                forwarded_from=sources.get(m.forwarded_from_id or 0),
            )
        )
    return entries


def transcript_text(entries: Sequence[TranscriptEntry]) -> str:
    """The transcript as plain German text (Berlin time), e.g. for the cover note's appendix."""
    blocks = []
    for e in entries:
        who = party_label(e.author) + (f" ({e.author_name})" if e.author_name else "")
        head = f"{fmt_datetime(e.at)} · {e.thread_label} · {who}"
        if e.forwarded_from:
            head += f" · weitergeleitet aus „{e.forwarded_from}“"
        lines = [head]
        if e.text:
            lines.append(e.text)
        if e.attachment_filename:
            lines.append(f"Anhang: {e.attachment_filename}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


__all__ = [
    "BROKER_THREAD_LABEL", "MAX_BODY_CHARS", "NOT_OPENED", "AssigneeFilter", "Attachment", "AttachmentView",
    "attachment_visible_to",
    "MessageView", "MessagesTab", "MessagingError", "MessagingNotFound", "PostResult", "TabRow", "ThreadView",
    "TranscriptEntry", "Viewer", "broker_thread", "ensure_insurer_threads", "forward_message", "insurer_thread_id",
    "mark_processed", "mark_read", "messages_tab", "open_broker_thread", "post_message", "threads_for",
    "transcript", "transcript_text", "unread_count",
]

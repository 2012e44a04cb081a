"""What the messaging modules share: limits, errors, the view models the
pages show, and the small rules every path applies (see ARCHITECTURE.md,
"Messaging")."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Document,
    DocumentKind,
    Insurer,
    Message,
    Party,
    Request,
    Role,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.documents.storage import store_bytes
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import can_see_request, is_staff
from web.core.downloads import safe_filename
from web.core.i18n import N_, party_label
from web.tenders import TenderActionError, UpdatePending

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.

MAX_BODY_CHARS = 5000
#: Length of the text preview in the "Nachrichten" tab.
EXCERPT_CHARS = 200
MAX_PER_PAGE = 200

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


class MessagingPending(MessagingError, UpdatePending):
    """The workflow has not answered yet; the message is kept and appears once it does."""


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


def thread_labels(session: Session, threads: Iterable[Thread]) -> dict[int, str]:
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

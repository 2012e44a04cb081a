"""Threads of a request and who sees them: the broker thread opened by the
backoffice, one thread per tendered insurer."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, exists, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Document,
    Message,
    MessageRead,
    Party,
    Request,
    Tender,
    Thread,
    ThreadKind,
    User,
    utcnow,
)
from web.core.access import is_staff
from web.core.bridge import release
from web.messages.common import (
    REQUEST_NOT_FOUND,
    THREAD_NOT_FOUND,
    AttachmentView,
    MessageView,
    MessagingNotFound,
    ThreadView,
    Viewer,
    _insurer_closed_reason,
    _require_staff,
    _viewer_sees,
    thread_labels,
)
from web.messages.notices import BROKER_THREAD_LABEL
from web.tenders import insurer_thread

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.

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


def ensure_insurer_threads(db: Session, engine: Engine, request_id: int) -> None:
    """Create the missing insurer threads of a request, so every tendered insurer
    has a thread the backoffice can write in. Cheap when nothing is missing;
    call it before rendering the backoffice's request page.

    The check reads through the request's own session ``db``: a second session
    here held a second connection per page load, and 30 page loads at once
    emptied the pool (B6). Only when a thread is missing is it created in a
    transaction of its own, after ``db`` gave its connection back."""
    missing = db.exec(
        select(Tender.id)
        .where(Tender.request_id == request_id)
        .where(
            ~exists().where(
                and_(col(Thread.tender_id) == col(Tender.id), col(Thread.kind) == ThreadKind.INSURER)
            )
        )
    ).all()
    if missing:
        release(db)
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
    labels = thread_labels(session, all_threads)
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
    documents = documents_by_id(session, [m.document_id for m in messages])
    names = user_names(session, [m.author_user_id for m in messages]) if user is not None else {}
    sources = forward_sources(session, messages, labels) if user is not None else {}
    read = _read_ids(session, user, [m.id for m in messages]) if user is not None else set()
    other_side = sender_parties(user)

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
                created_at=m.created_at,
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
        created = tender.created_at if tender else t.created_at
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


def sender_parties(user: User | None) -> frozenset[Party]:
    """Whose messages count as unread for this user: staff read insurers and
    brokers, a broker reads the backoffice."""
    if user is None:
        return frozenset()
    if is_staff(user):
        return frozenset({Party.INSURER, Party.BROKER})
    return frozenset({Party.BACKOFFICE})


def documents_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Document]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {d.id: d for d in session.exec(select(Document).where(col(Document.id).in_(wanted))).all()}  # type: ignore[misc]


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User.id, User.name).where(col(User.id).in_(wanted))).all()
    return {uid: name for uid, name in rows if uid is not None}


def forward_sources(session: Session, messages: Sequence[Message], labels: dict[int, str]) -> dict[int, str]:
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

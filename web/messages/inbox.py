"""Read state per user, "unbearbeitet" per message, and the dashboard's
"Nachrichten" tab."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

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

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Document,
    Insurer,
    Message,
    MessageRead,
    Party,
    Request,
    RequestStatus,
    Role,
    Tender,
    Thread,
    ThreadKind,
    User,
    utcnow,
)
from web.core.access import is_staff
from web.messages.common import (
    EXCERPT_CHARS,
    MAX_PER_PAGE,
    MESSAGE_NOT_FOUND,
    THREAD_NOT_FOUND,
    AssigneeFilter,
    MessagesTab,
    MessagingError,
    MessagingNotFound,
    TabRow,
    _audit_once,
    _require_staff,
    _staff_of,
    _viewer_sees,
)
from web.messages.notices import BROKER_THREAD_LABEL
from web.messages.threads import sender_parties

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.

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
        col(Message.author).in_(sorted(sender_parties(user))),
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
                created_at=message.created_at,
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

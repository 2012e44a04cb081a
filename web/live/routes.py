"""Live updates: Server-Sent Events that say "this page changed, fetch it again".

Lists and the request page are read from the database, which the worker's
activities keep current. Instead of pushing rendered fragments (a second
rendering path that could drift from the page), the server only watches a
cheap **change marker** of what a page shows, and the browser re-fetches the
page itself and swaps the marked parts. So a live update shows exactly what a
reload would show, with the same access checks.

Contract for pages (read by ``/static/live.js``):

1. One element (the page's outer wrapper, or ``<main>``/``<body>``) carries
   ``data-live-scope="dashboard"``, or ``data-live-scope="request"`` plus
   ``data-live-id="{{ request.id }}"``. Optionally ``data-live-marker`` with
   ``live.page_marker(http, db, user, "request", request.id)`` (or the
   dashboard's default scope) computed while rendering: a change that happens between
   rendering and connecting is then reported on the stream's first poll
   instead of being missed.
2. Every part that should refresh has an ``id`` and the attribute
   ``data-live``. On a change the script fetches the page's own URL (same query
   string) and replaces each such element by the element with the same id in
   the fresh page (an element missing there is left as it is). Parts that
   contain the keyboard focus or an open ``<details>`` (a confirmation being
   filled in) are left alone until the user is done.
3. The page includes ``<script src="/static/live.js" defer></script>`` and is
   rendered with ``headers=live.page_headers()`` (the default CSP allows no
   script and no ``connect-src``; see :data:`LIVE_CSP`). Without JavaScript
   nothing changes: the page is complete and a reload shows the news.

The endpoint, ``GET /live?scope=dashboard`` or ``GET /live?scope=request&id=N``
(optional ``since=<marker>``), needs a login and checks the object like the
page does (a foreign or unknown request is 404). It answers
``text/event-stream``::

    retry: 3000              reconnect delay for the browser
    event: ready             first event: the marker the stream starts from
    id: <marker>             (``change`` instead, if ``since``/Last-Event-ID is already stale)
    data: <marker>

    event: change            sent when the marker moved
    id: <marker>
    data: <marker>

    : ping                   heartbeat comment every 15 s (keeps proxies from cutting the line)

It polls the marker every ~1.5 s in a short database session of its own (never
holding a connection between polls), stops when the client goes away, when
the login ends, or after a bounded lifetime (10 min); the browser then
reconnects by itself and sends ``Last-Event-ID``, so nothing that happened in
between is lost. Timing is configurable per app for tests and operations:
``app.state.live = LiveStreams(poll_s=..., heartbeat_s=..., lifetime_s=...)``.

Cost: each poll checks the login (two primary-key lookups) and reads the
viewer's read receipts; the scope's aggregates are computed at most once per
poll interval per web process and shared by every stream and page render on
that scope (:class:`LiveStreams`). The browser closes its stream while the tab
is hidden, so idle tabs cost nothing.

Markers are hashes (nothing readable leaves the server) over counts, maximum
IDs and timestamps that any visible change moves: conservative, so a spurious
"change" costs one re-fetch, never a wrong page. A broker's markers cover only
what a broker sees (no System Emails, only his broker thread, released offers),
so their timing reveals nothing about the backoffice's work.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import APIRouter
from sqlalchemy import ColumnElement, case, func, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tenderdesk.db.models import (
    AuditEvent,
    Document,
    DocumentKind,
    Message,
    MessageRead,
    Offer,
    Request,
    RequestStatus,
    Role,
    SystemEmail,
    Tender,
    Thread,
    ThreadKind,
    User,
    UserSession,
    as_utc,
    utcnow,
)
from web.core import i18n
from web.core.access import can_see_request, is_staff, load_request
from web.core.deps import CurrentLogin, EngineDep, SessionDep
from web.core.headers import CSP

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

SCOPES = ("dashboard", "request")
#: The app's CSP plus what live.js needs: scripts and connections to this origin only.
LIVE_CSP = f"{CSP}; script-src 'self'; connect-src 'self'"
_MARKER_RE = re.compile(r"^[0-9a-f]{1,64}$")

BAD_SCOPE = i18n.N_("live.bad_scope")


def page_headers() -> dict[str, str]:
    """Response headers for a page that includes ``live.js``."""
    return {"Content-Security-Policy": LIVE_CSP}


@dataclass
class LiveStreams:
    """Timing of the event streams, how many are open, and the shared markers.

    The expensive part of a marker (account- or request-wide aggregates) is
    the same for every backoffice user looking at the same thing, so each web
    process computes it at most once per poll interval and every stream (and
    every page render) on that scope reuses it. Only the viewer's own read
    receipts are queried per stream (one index lookup).
    """

    poll_s: float = 1.5
    heartbeat_s: float = 15.0
    lifetime_s: float = 600.0
    retry_ms: int = 3000
    active: int = 0
    _shared: dict[tuple[Any, ...], tuple[float, tuple[Any, ...]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shared(
        self, key: tuple[Any, ...], compute: Callable[[], tuple[Any, ...]], *, max_age: float
    ) -> tuple[Any, ...]:
        """``compute()``, or its result from another caller at most ``max_age`` seconds ago."""
        now = time.monotonic()
        with self._lock:
            hit = self._shared.get(key)
        if hit is not None and now - hit[0] <= max_age:
            return hit[1]
        values = compute()
        with self._lock:
            self._shared[key] = (time.monotonic(), values)
            if len(self._shared) > 1000:  # scopes nobody polls any more
                cutoff = time.monotonic() - 60
                for stale in [k for k, (at, _) in self._shared.items() if at < cutoff]:
                    del self._shared[stale]
        return values

    def forget(self) -> None:
        """Drop every shared marker (the next poll computes afresh)."""
        with self._lock:
            self._shared.clear()


def streams_of(http: HttpRequest) -> LiveStreams:
    streams = getattr(http.app.state, "live", None)
    if not isinstance(streams, LiveStreams):
        streams = LiveStreams()
        http.app.state.live = streams
    return streams


@dataclass(frozen=True)
class Viewer:
    """What the stream needs of the login, copied so no ORM object outlives its session."""

    user_id: int
    session_id: int
    account_id: int
    staff: bool
    broker_id: int | None

    @classmethod
    def of(cls, user: User, session: UserSession) -> Viewer:
        assert user.id is not None and session.id is not None
        broker_id = user.broker_id if user.role == Role.BROKER else None
        return cls(user.id, session.id, user.account_id, is_staff(user), broker_id)


# ---------------------------------------------------------------- markers


def _digest(scope: str, values: Any) -> str:
    text = f"{scope}|{values!r}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _open_requests(viewer: Viewer) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Request.account_id) == viewer.account_id,
        col(Request.status) == RequestStatus.OPEN,
    ]
    if not viewer.staff:
        conditions.append(col(Request.broker_id) == (viewer.broker_id or -1))
    return conditions


def _flag_sum(flag: Any) -> Any:
    return func.coalesce(func.sum(case((flag, 1), else_=0)), 0)


def _one_row(db: Session, *parts: Any) -> tuple[Any, ...]:
    """Several one-row aggregates as one statement (one round trip)."""
    subqueries = [part.subquery() for part in parts]
    joined = subqueries[0]
    for sub in subqueries[1:]:
        joined = joined.join(sub, true())  # type: ignore[assignment]
    columns = [c for sub in subqueries for c in sub.c]
    row = db.exec(sa_select(*columns).select_from(joined)).one()  # type: ignore[call-overload]
    return tuple(row)


def dashboard_values(db: Session, viewer: Viewer) -> tuple[Any, ...]:
    """What the dashboard shows can only change if one of these moves: the open
    requests (count, last update), their tenders, offers and messages (plus the
    viewer's read receipts, :func:`own_reads`). The same for every viewer of
    the scope, so :class:`LiveStreams` shares it."""
    # The open requests are read once (a CTE used by every part), not once per part.
    open_requests = (
        sa_select(col(Request.id).label("id"), col(Request.updated_at).label("updated_at"))
        .where(*_open_requests(viewer))
        .cte("open_requests")
    )
    ids = sa_select(open_requests.c.id)
    requests = sa_select(func.count(open_requests.c.id), func.max(open_requests.c.updated_at))
    tenders = sa_select(func.count(col(Tender.id)), func.max(col(Tender.updated_at))).where(
        col(Tender.request_id).in_(ids)
    )
    offer_filter: list[ColumnElement[bool]] = [col(Offer.request_id).in_(ids)]
    message_filter: list[ColumnElement[bool]] = [col(Message.request_id).in_(ids), col(Message.visible).is_(True)]
    if not viewer.staff:
        offer_filter.append(col(Offer.released_at).is_not(None))
        message_filter.append(
            col(Message.thread_id).in_(
                sa_select(col(Thread.id)).where(col(Thread.kind) == ThreadKind.BROKER, col(Thread.request_id).in_(ids))
            )
        )
    offers = sa_select(
        func.count(col(Offer.id)), func.max(col(Offer.released_at)), _flag_sum(col(Offer.active).is_(True))
    ).where(*offer_filter)
    messages = sa_select(
        func.count(col(Message.id)), func.max(col(Message.id)), _flag_sum(col(Message.unprocessed).is_(True))
    ).where(*message_filter)
    return _one_row(db, requests, tenders, offers, messages)


def request_values(db: Session, viewer: Viewer, request_id: int) -> tuple[Any, ...]:
    """What the request page shows: the request row, its tenders, offers,
    documents, messages and (backoffice only) System Emails and timeline;
    shared by every viewer of the request with the same role."""
    request = sa_select(
        col(Request.updated_at), col(Request.status), col(Request.assignee_id), col(Request.self_handled),
        col(Request.bound_at),
    ).where(col(Request.id) == request_id)
    tenders = sa_select(func.count(col(Tender.id)), func.max(col(Tender.updated_at))).where(
        col(Tender.request_id) == request_id
    )
    offer_filter: list[ColumnElement[bool]] = [col(Offer.request_id) == request_id]
    document_filter: list[ColumnElement[bool]] = [col(Document.request_id) == request_id]
    message_filter: list[ColumnElement[bool]] = [col(Message.request_id) == request_id, col(Message.visible).is_(True)]
    if not viewer.staff:
        offer_filter.append(col(Offer.released_at).is_not(None))
        # Offer documents count through their offer's release (above).
        document_filter.append(col(Document.kind).in_([DocumentKind.REQUEST, DocumentKind.COVER_NOTE]))
        message_filter.append(
            col(Message.thread_id).in_(
                sa_select(col(Thread.id)).where(
                    col(Thread.request_id) == request_id, col(Thread.kind) == ThreadKind.BROKER
                )
            )
        )
    offers = sa_select(
        func.count(col(Offer.id)), func.max(col(Offer.id)), func.max(col(Offer.released_at)),
        _flag_sum(col(Offer.active).is_(True)),
    ).where(*offer_filter)
    documents = sa_select(func.count(col(Document.id)), func.max(col(Document.id))).where(*document_filter)
    messages = sa_select(
        func.count(col(Message.id)), func.max(col(Message.id)), _flag_sum(col(Message.unprocessed).is_(True))
    ).where(*message_filter)
    parts = [request, tenders, offers, documents, messages]
    if viewer.staff:
        parts.append(
            sa_select(
                func.count(col(SystemEmail.id)), func.max(col(SystemEmail.id)), func.max(col(SystemEmail.sent_at)),
                func.coalesce(func.sum(col(SystemEmail.attempts)), 0),
            ).where(col(SystemEmail.request_id) == request_id)
        )
        parts.append(sa_select(func.max(col(AuditEvent.id))).where(col(AuditEvent.request_id) == request_id))
    return _one_row(db, *parts)


def own_reads(db: Session, viewer: Viewer, request_id: int | None) -> int:
    """The viewer's read receipts (on one request, or all): reading elsewhere
    changes the unread badges of this page."""
    statement = sa_select(func.count(col(MessageRead.id))).where(col(MessageRead.user_id) == viewer.user_id)
    if request_id is not None:
        statement = statement.join(Message, col(Message.id) == col(MessageRead.message_id)).where(
            col(Message.request_id) == request_id
        )
    return int(db.exec(statement).one()[0])  # type: ignore[call-overload]


def current_marker(
    streams: LiveStreams, db: Session, viewer: Viewer, scope: str, request_id: int | None, *, max_age: float
) -> str:
    """The marker of a scope for a viewer: the shared part (cached up to
    ``max_age`` seconds) plus the viewer's own read receipts."""
    if scope == "request" and request_id is not None:
        rid = request_id
        key: tuple[Any, ...] = ("request", rid, viewer.staff)
        shared = streams.shared(key, lambda: request_values(db, viewer, rid), max_age=max_age)
    else:
        request_id = None
        key = ("dashboard", viewer.account_id, viewer.staff, None if viewer.staff else viewer.broker_id)
        shared = streams.shared(key, lambda: dashboard_values(db, viewer), max_age=max_age)
    return _digest(repr(key), (shared, own_reads(db, viewer, request_id)))


def page_marker(
    http: HttpRequest, db: Session, user: User, scope: str = "dashboard", object_id: int | None = None
) -> str:
    """The marker for a page's ``data-live-marker``; the caller authorised the object.

    Reuses a marker computed by a stream in the last two poll intervals. A
    slightly old marker is safe: if anything changed since, the stream reports
    a change (within one poll interval) and the page refreshes; nothing is missed.
    """
    streams = streams_of(http)
    return current_marker(streams, db, _viewer_without_session(user), scope, object_id, max_age=2 * streams.poll_s)


def _viewer_without_session(user: User) -> Viewer:
    assert user.id is not None
    broker_id = user.broker_id if user.role == Role.BROKER else None
    return Viewer(user.id, 0, user.account_id, is_staff(user), broker_id)


# ---------------------------------------------------------------- polling


def _still_allowed(db: Session, viewer: Viewer, request_id: int | None) -> bool:
    """The login is still valid and, for a request, the user may still see it."""
    row = db.exec(
        sa_select(col(UserSession.expires_at), col(User.is_active))  # type: ignore[call-overload]
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(col(UserSession.id) == viewer.session_id)
    ).first()
    if row is None:
        return False
    expires_at, active = row
    if not active or (as_utc(expires_at) or utcnow()) <= utcnow():
        return False
    if request_id is None:
        return True
    request = db.get(Request, request_id)
    user = db.get(User, viewer.user_id)
    return request is not None and user is not None and can_see_request(user, request)


def make_poll(
    engine: Engine, streams: LiveStreams, viewer: Viewer, scope: str, request_id: int | None
) -> Callable[[], str | None]:
    """A blocking function that returns the current marker, or ``None`` when the
    stream should end (login gone, access lost, database unavailable)."""

    def poll() -> str | None:
        try:
            with Session(engine) as db:
                if not _still_allowed(db, viewer, request_id):
                    return None
                # Slightly under one interval, so streams of the same scope share one query per interval.
                return current_marker(streams, db, viewer, scope, request_id, max_age=0.8 * streams.poll_s)
        except Exception:  # the browser reconnects; the next stream tries again
            log.warning("live: polling the change marker failed", exc_info=True)
            return None

    return poll


def _event(name: str, marker: str) -> str:
    return f"event: {name}\nid: {marker}\ndata: {marker}\n\n"


async def event_stream(
    poll: Callable[[], str | None], streams: LiveStreams, baseline: str | None
) -> AsyncIterator[str]:
    """The SSE body: first the current marker (or a change, if the page's own
    marker is already stale), then a change event whenever the marker moves."""
    streams.active += 1
    try:
        started = last_sent = time.monotonic()
        current = await anyio.to_thread.run_sync(poll)
        if current is None:
            return
        yield f"retry: {streams.retry_ms}\n"
        yield _event("change" if baseline and baseline != current else "ready", current)
        marker = current
        while True:
            await anyio.sleep(streams.poll_s)
            now = time.monotonic()
            if now - started >= streams.lifetime_s:
                return
            current = await anyio.to_thread.run_sync(poll)
            if current is None:
                return
            if current != marker:
                marker, last_sent = current, now
                yield _event("change", current)
            elif now - last_sent >= streams.heartbeat_s:
                last_sent = now
                yield ": ping\n\n"
    finally:
        streams.active -= 1


@router.get("/live")
def live(
    http: HttpRequest,
    db: SessionDep,
    engine: EngineDep,
    login: CurrentLogin,
    scope: str = "",
    id: str = "",
    since: str = "",
) -> Response:
    if scope not in SCOPES:
        return PlainTextResponse(i18n.t(BAD_SCOPE), status_code=400)
    request_id: int | None = None
    if scope == "request":
        if not (id.isascii() and id.isdigit()) or len(id) > 12:
            return PlainTextResponse(i18n.t(BAD_SCOPE), status_code=400)
        request_id = load_request(db, login.user, int(id)).id  # 404 unless visible
    viewer = Viewer.of(login.user, login.session)
    # Hand the connection back now: the stream polls in short sessions of its
    # own and must not keep one checked out for its whole lifetime.
    db.close()
    given = http.headers.get("last-event-id") or since
    baseline = given if given and _MARKER_RE.match(given) else None
    streams = streams_of(http)
    poll = make_poll(engine, streams, viewer, scope, request_id)
    return StreamingResponse(
        event_stream(poll, streams, baseline),
        media_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


__all__ = [
    "LIVE_CSP", "LiveStreams", "Viewer", "current_marker", "dashboard_values", "event_stream", "own_reads",
    "page_headers", "page_marker", "request_values", "router",
]

"""``GET /live``: the Server-Sent Events stream that tells a page to fetch itself
again when its change marker moved (see ARCHITECTURE.md, "Live updates")."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable

import anyio
from fastapi import APIRouter
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tenderdesk.db.models import (
    Request,
    User,
    UserSession,
    utcnow,
)
from web.core import i18n
from web.core.access import can_see_request, load_request
from web.core.deps import CurrentLogin, EngineDep, SessionDep
from web.core.headers import CSP
from web.live.markers import LiveStreams, Viewer, current_marker, streams_of

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
    if not active or (expires_at or utcnow()) <= utcnow():
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



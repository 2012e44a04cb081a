"""Async calls from plain ``def`` routes, without holding a database connection.

A route that touches the database is a plain ``def``: FastAPI runs it in its
thread pool, so a slow query never stalls the event loop (and every other user
of the process). Such a route still needs a few async things, form parsing and
Temporal calls; :func:`wait` runs them on the event loop and hands back the
result, while the database work stays in the route's worker thread.

A Temporal update can take seconds. If the route's session kept its
connection meanwhile, a burst of 20 insurers posting offers would check out
the whole pool, and every other request of the process (logins included)
would queue for a connection. So :func:`wait` first ends the request
session's read-only transaction: the connection goes back to the pool, the
loaded objects stay readable (``expire_on_commit=False``), and the next query
checks a connection out again. A session with unsaved or flushed writes keeps
its transaction, since committing it early would change what the route means.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any, TypeVar

from anyio import from_thread
from sqlalchemy import event
from sqlmodel import Session

T = TypeVar("T")

#: The session of the current HTTP request. Set by the (async) session
#: dependency in the request's own context, so the route's worker thread sees
#: it through its copied context. Each request sets its own (never appends to
#: an inherited value: a test client may run requests in one task's context).
_request_session: ContextVar[Session | None] = ContextVar("request_session", default=None)

_WROTE = "tenderdesk.wrote"


def _flushed(session: Any, _context: Any) -> None:
    session.info[_WROTE] = True


def _ended(session: Any) -> None:
    session.info.pop(_WROTE, None)


def track(session: Session) -> Session:
    """Make ``session`` the current request's, so :func:`wait` can release it."""
    event.listen(session, "after_flush", _flushed)
    event.listen(session, "after_commit", _ended)
    event.listen(session, "after_rollback", _ended)
    _request_session.set(session)
    return session


def release(session: Session) -> bool:
    """End ``session``'s transaction if it only read; True if its connection went back."""
    if not session.in_transaction():
        return True
    if session.new or session.dirty or session.deleted or session.info.get(_WROTE):
        return False
    session.commit()
    return True


def release_request_session() -> None:
    session = _request_session.get()
    if session is not None:
        release(session)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait(awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``, run on the event loop from a worker thread.

    The request's read-only database transaction ends first (module docstring)."""
    release_request_session()
    return from_thread.run(_await, awaitable)

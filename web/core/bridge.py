"""Async calls from plain ``def`` routes.

A route that touches the database is a plain ``def``: FastAPI runs it in its
thread pool, so a slow query never stalls the event loop (and every other user
of the process). Such a route still needs a few async things, form parsing and
Temporal calls; :func:`wait` runs them on the event loop and hands back the
result, while the database work stays in the route's worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from anyio import from_thread

T = TypeVar("T")


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait(awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``, run on the event loop from a worker thread."""
    return from_thread.run(_await, awaitable)

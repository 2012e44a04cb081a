"""Every route keeps the event loop free: no ``async def`` route or async
dependency takes the synchronous database session (ARCHITECTURE.md, "Layers").

A route that needs the database is a plain ``def`` (FastAPI runs it in its
thread pool) and reaches async code through :func:`web.core.bridge.wait`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from web.app import create_app
from web.core.deps import SessionDep, get_db

BLOCKING_DEPENDENCIES = {get_db}


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def _nodes(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _nodes(child)


def blocking_async_callables(app: FastAPI) -> list[str]:
    """``METHOD path: callable`` for each coroutine that takes a blocking dependency."""
    found = []
    for route in api_routes(app.routes):
        for node in _nodes(route.dependant):
            if node.call is None or not inspect.iscoroutinefunction(node.call):
                continue
            if any(child.call in BLOCKING_DEPENDENCIES for child in node.dependencies):
                method = ",".join(sorted(route.methods))
                found.append(f"{method} {route.path}: {node.call.__name__}")
    return found


def test_no_async_route_or_dependency_takes_the_sync_session(web_app: FastAPI) -> None:
    assert list(api_routes(web_app.routes)), "no routes found"
    assert blocking_async_callables(web_app) == []


def test_the_walk_finds_a_blocking_route() -> None:
    bad = FastAPI()

    @bad.get("/bad")
    async def bad_route(db: SessionDep) -> None:  # pragma: no cover - never called
        return None

    @bad.get("/good")
    def good_route(db: SessionDep) -> None:  # pragma: no cover - never called
        return None

    assert blocking_async_callables(bad) == ["GET /bad: bad_route"]


def test_routes_are_found_inside_included_routers() -> None:
    paths = {route.path for route in api_routes(create_app().routes)}
    assert {"/", "/login", "/requests/{request_id}", "/t/{token}", "/live"} <= paths

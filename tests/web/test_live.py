"""Live updates (web/live.py): the SSE endpoint over a real HTTP server.

httpx's ASGI transport buffers a response until it ends, so the streams are
read from uvicorn serving the app on 127.0.0.1 (a free port, stopped by the
fixture). Polling runs every 50 ms here instead of 1.5 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Request, SystemEmail, Tender, UserSession, utcnow
from tenderdesk.states import TenderStatus
from tests.conftest import free_port
from web.live.markers import LiveStreams

from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    SECOND_ACCOUNT_USER,
    account_requests,
    first_request,
    logged_in,
    main_account_id,
    make_linked_tender,
    user_by_email,
)

FAST = LiveStreams(poll_s=0.05, heartbeat_s=0.3, lifetime_s=30)


@dataclass
class Server:
    url: str
    streams: LiveStreams
    app: FastAPI


@pytest.fixture
async def server(web_app: FastAPI) -> AsyncIterator[Server]:
    streams = LiveStreams(poll_s=FAST.poll_s, heartbeat_s=FAST.heartbeat_s, lifetime_s=FAST.lifetime_s)
    web_app.state.live = streams
    port = free_port()
    config = uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=2)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    for _ in range(200):
        if uv.started:
            break
        await asyncio.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    try:
        yield Server(f"http://127.0.0.1:{port}", streams, web_app)
    finally:
        uv.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c


@dataclass
class Event:
    name: str = "message"
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)


class EventReader:
    """Reads SSE events (and the comments before them) off a streaming response.

    A background task parses the stream into a queue, so a ``next()`` that
    times out leaves the stream intact for the next call."""

    def __init__(self, response: httpx.Response) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.comments: list[str] = []
        self.task = asyncio.create_task(self._read(response))

    async def next(self, timeout: float = 5.0) -> Event:
        event = await asyncio.wait_for(self.queue.get(), timeout)
        if event is None:
            raise EOFError("stream ended")
        return event

    async def _read(self, response: httpx.Response) -> None:
        event, seen = Event(), False
        comments: list[str] = []
        try:
            async for line in response.aiter_lines():
                if line == "":
                    if seen:
                        event.comments = comments
                        await self.queue.put(event)
                        event, seen, comments = Event(), False, []
                    continue
                if line.startswith(":"):
                    comments.append(line[1:].strip())
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event.name, seen = value, True
                elif name == "id":
                    event.id, seen = value, True
                elif name == "data":
                    event.data, seen = value, True
        except (httpx.StreamClosed, httpx.ReadError, httpx.RemoteProtocolError):
            pass
        finally:
            await self.queue.put(None)


def touch_request(engine: Engine, request_id: int) -> None:
    with session_scope(engine) as s:
        row = s.get(Request, request_id)
        assert row is not None
        row.updated_at = utcnow() + timedelta(seconds=1)
        s.add(row)


async def test_dashboard_stream_reports_a_change(client: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(client, MAIN_BACKOFFICE)
    request = first_request(web_engine)
    async with client.stream("GET", "/live", params={"scope": "dashboard"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = EventReader(response)
        ready = await events.next()
        assert ready.name == "ready" and ready.id and ready.data == ready.id

        make_linked_tender(web_engine, request, status=TenderStatus.SENT)

        change = await events.next()
        assert change.name == "change" and change.id != ready.id


async def test_request_stream_reports_tender_and_email_changes(
    client: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(client, MAIN_BACKOFFICE)
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request, status=TenderStatus.SENT)
    async with client.stream("GET", "/live", params={"scope": "request", "id": str(request.id)}) as response:
        assert response.status_code == 200
        events = EventReader(response)
        first = await events.next()
        assert first.name == "ready"

        with session_scope(web_engine) as s:  # the worker's projection moves the tender on
            tender = s.get(Tender, linked.tender_id)
            assert tender is not None
            tender.status = TenderStatus.IN_PROGRESS
            tender.updated_at = utcnow() + timedelta(seconds=1)
            s.add(tender)
        second = await events.next()
        assert second.name == "change"

        with session_scope(web_engine) as s:  # a System Email is sent for the request
            s.add(SystemEmail(idempotency_key="live-test-1", request_id=request.id, tender_id=linked.tender_id,  # type: ignore[arg-type]
                              kind="reminder", to_addr="x@y.example", subject="Erinnerung", body_text="…",
                              message_id_header="<live-test-1@tenderdesk>"))
        third = await events.next()
        assert third.name == "change" and third.id not in (first.id, second.id)


async def test_other_requests_do_not_trigger_a_request_stream(
    client: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(client, MAIN_BACKOFFICE)
    requests = sorted(account_requests(web_engine, main_account_id(web_engine)), key=lambda r: r.id or 0)
    async with client.stream("GET", "/live", params={"scope": "request", "id": str(requests[0].id)}) as response:
        events = EventReader(response)
        await events.next()
        touch_request(web_engine, requests[1].id)  # type: ignore[arg-type]
        make_linked_tender(web_engine, requests[1], status=TenderStatus.SENT)
        # Only heartbeats follow (heartbeat_s=0.3): no change within a second.
        with pytest.raises(TimeoutError):
            await events.next(timeout=1.0)
        assert "ping" in events.comments


async def test_stale_marker_is_reported_at_once(client: httpx.AsyncClient, web_engine: Engine) -> None:
    """A change between rendering the page and connecting is not lost: the page's
    marker (``since``) or the browser's Last-Event-ID is compared first."""
    await logged_in(client, MAIN_BACKOFFICE)
    page = await client.get("/")
    marker = page.text.split('data-live-marker="', 1)[1].split('"', 1)[0]
    async with client.stream("GET", "/live", params={"scope": "dashboard", "since": marker}) as response:
        assert (await EventReader(response).next()).name == "ready"  # nothing changed yet

    touch_request(web_engine, first_request(web_engine).id)  # type: ignore[arg-type]
    # Markers are shared between streams for up to one poll interval; past that,
    # the very first event already reports the change.
    await asyncio.sleep(3 * FAST.poll_s)
    async with client.stream("GET", "/live", params={"scope": "dashboard", "since": marker}) as response:
        event = await EventReader(response).next()
        assert event.name == "change" and event.id != marker
        current = event.id
    async with client.stream("GET", "/live", params={"scope": "dashboard"},
                             headers={"Last-Event-ID": current or ""}) as response:
        assert (await EventReader(response).next()).name == "ready"


async def test_stream_ends_after_its_lifetime(client: httpx.AsyncClient, server: Server) -> None:
    server.streams.lifetime_s = 0.4
    await logged_in(client, MAIN_BACKOFFICE)
    async with client.stream("GET", "/live", params={"scope": "dashboard"}) as response:
        body = await asyncio.wait_for(response.aread(), 5)
    assert body.startswith(b"retry: 3000\n")  # the browser reconnects after 3 s
    assert b"event: ready" in body


async def test_stream_stops_when_the_client_goes_away(client: httpx.AsyncClient, server: Server) -> None:
    await logged_in(client, MAIN_BACKOFFICE)
    async with client.stream("GET", "/live", params={"scope": "dashboard"}) as response:
        await EventReader(response).next()
        assert server.streams.active == 1
    for _ in range(100):
        if server.streams.active == 0:
            break
        await asyncio.sleep(0.05)
    assert server.streams.active == 0


async def test_stream_ends_with_the_login(client: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(client, MAIN_BACKOFFICE)
    user = user_by_email(web_engine, MAIN_BACKOFFICE)
    async with client.stream("GET", "/live", params={"scope": "dashboard"}) as response:
        events = EventReader(response)
        await events.next()
        with session_scope(web_engine) as s:  # logged out elsewhere (or the password changed)
            for row in s.exec(select(UserSession).where(UserSession.user_id == user.id)).all():
                s.delete(row)
        with pytest.raises(EOFError):
            await events.next()
    reconnect = await client.get("/live", params={"scope": "dashboard"})
    assert reconnect.status_code == 303 and reconnect.headers["location"].startswith("/login")


async def test_access_is_checked(client: httpx.AsyncClient, web_engine: Engine) -> None:
    anonymous = await client.get("/live", params={"scope": "dashboard"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")

    await logged_in(client, MAIN_BACKOFFICE)
    second = user_by_email(web_engine, SECOND_ACCOUNT_USER)
    foreign = account_requests(web_engine, second.account_id)[0]
    assert (await client.get("/live", params={"scope": "request", "id": str(foreign.id)})).status_code == 404
    assert (await client.get("/live", params={"scope": "request", "id": "999999"})).status_code == 404
    for params in ({"scope": "everything"}, {}, {"scope": "request"}, {"scope": "request", "id": "x"}):
        refused = await client.get("/live", params=params)
        assert refused.status_code == 400, params
        assert "Unbekannter Bereich" in refused.text


async def test_broker_gets_streams_for_his_own_requests_only(
    client: httpx.AsyncClient, web_engine: Engine
) -> None:
    broker = user_by_email(web_engine, BROKER_USER)
    requests = account_requests(web_engine, broker.account_id)
    own = [r for r in requests if r.broker_id == broker.broker_id]
    other = [r for r in requests if r.broker_id != broker.broker_id]
    assert own and other
    await logged_in(client, BROKER_USER)
    refused = await client.get("/live", params={"scope": "request", "id": str(other[0].id)})
    assert refused.status_code == 404
    async with client.stream("GET", "/live", params={"scope": "dashboard"}) as response:
        events = EventReader(response)
        assert (await events.next()).name == "ready"
        touch_request(web_engine, other[0].id)  # type: ignore[arg-type]  # another broker's request
        with pytest.raises(TimeoutError):
            await events.next(timeout=0.8)
        touch_request(web_engine, own[0].id)  # type: ignore[arg-type]
        assert (await events.next()).name == "change"
    async with client.stream("GET", "/live", params={"scope": "request", "id": str(own[0].id)}) as response:
        assert response.status_code == 200
        assert (await EventReader(response).next()).name == "ready"
    # A System Email is backoffice business: it does not wake a broker's page.
    async with client.stream("GET", "/live", params={"scope": "request", "id": str(own[0].id)}) as response:
        events = EventReader(response)
        await events.next()
        with session_scope(web_engine) as s:
            s.add(SystemEmail(idempotency_key="live-broker-1", request_id=own[0].id,  # type: ignore[arg-type]
                              kind="tender", to_addr="x@y.example", subject="Ausschreibung", body_text="…",
                              message_id_header="<live-broker-1@tenderdesk>"))
        with pytest.raises(TimeoutError):
            await events.next(timeout=0.8)

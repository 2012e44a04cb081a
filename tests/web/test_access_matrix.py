"""Per-object authorization as a matrix: every role against every kind of
object of one request. Nobody sees another account's or another broker's data,
brokers see only what is theirs and released, and only staff reach staff pages.

Pages are read from the database, so no Temporal server is involved here."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate, session_scope
from tenderdesk.db.models import (
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Message,
    Offer,
    Party,
    Request,
    Tender,
    TenderLink,
    Thread,
    ThreadKind,
    User,
    utcnow,
)
from tenderdesk.demo.seed import seed_demo
from tenderdesk.documents.storage import store_bytes
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus
from web.app import create_app

from .test_routes import api_routes

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = {"admin@tenderdesk.example": "Elbe-Admin-2026!"}

#: who → e-mail; "owner" is the broker of the request under test.
WHO = {
    "backoffice": "anna.berger@tenderdesk.example",
    "admin": "admin@tenderdesk.example",
    "owner": "",  # filled from the data
    "other_broker": "",
    "other_account": "lena.gruber@tenderdesk.example",
}

#: object → roles allowed to see it (everyone else must get 403/404 without its data)
ALLOWED = {
    "request": {"backoffice", "admin", "owner"},
    "request_document": {"backoffice", "admin", "owner"},
    "unreleased_offer_pdf": {"backoffice", "admin"},
    "insurer_view": {"backoffice", "admin"},
    "insurer_thread_attachment": {"backoffice", "admin"},
    "broker_thread_attachment": {"backoffice", "admin", "owner"},
    "offer_edit": {"backoffice", "admin"},
    "expiring_offers": {"backoffice", "admin", "other_account"},
}


@dataclass
class World:
    app_settings: Settings
    engine: Engine
    urls: dict[str, str]
    number: str
    ids: dict[str, object]


@pytest.fixture
def world(tmp_path: Path) -> World:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    settings = Settings(database_url=url, storage_dir=tmp_path / "docs", base_url="http://testserver",
                        secret_key="matrix", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(url)
    seed_demo(engine, settings, requests=4)
    with session_scope(engine) as s:
        brokers = s.exec(select(User).where(col(User.broker_id).is_not(None)).order_by(col(User.id))).all()
        owner = next(u for u in brokers if s.exec(select(Request).where(Request.broker_id == u.broker_id)).first())
        other = next(u for u in brokers if u.broker_id != owner.broker_id and u.account_id == owner.account_id)
        WHO["owner"], WHO["other_broker"] = owner.email, other.email
        request = s.exec(select(Request).where(Request.broker_id == owner.broker_id)).first()
        assert request is not None and request.id is not None
        contact = s.exec(select(InsurerContact).where(InsurerContact.product_id == request.product_id)).first()
        assert contact is not None
        insurer = s.get(Insurer, contact.insurer_id)
        assert insurer is not None
        tender = Tender(request_id=request.id, insurer_id=contact.insurer_id, contact_email=contact.email,
                        workflow_id="matrix", status=TenderStatus.OFFERED, sent_at=utcnow())
        s.add(tender)
        s.flush()
        key, sha = store_bytes(settings, b"%PDF-1.4 matrix offer")
        pdf = Document(request_id=request.id, tender_id=tender.id, kind=DocumentKind.OFFER, filename="angebot.pdf",
                       content_type="application/pdf", size_bytes=22, sha256=sha, storage_key=key,
                       uploaded_by=Party.INSURER)
        s.add(pdf)
        s.flush()
        offer = Offer(tender_id=tender.id, request_id=request.id, action_id="matrix-offer",  # type: ignore[arg-type]
                      premium_cents=100_00, valid_until=utcnow() + timedelta(days=30), document_id=pdf.id,
                      submitted_by=Party.INSURER, active=True)
        s.add(offer)
        s.flush()
        tender.current_offer_id = offer.id
        request_doc = s.exec(select(Document).where(Document.request_id == request.id)).first()
        assert request_doc is not None
        ids: dict[str, object] = {}
        urls = {
            "request": f"/requests/{request.id}",
            "request_document": f"/requests/{request.id}/documents/{request_doc.id}",
            "unreleased_offer_pdf": f"/requests/{request.id}/documents/{pdf.id}",
            "insurer_view": f"/requests/{request.id}/tenders/{tender.id}/insurer-view",
            "offer_edit": f"/requests/{request.id}/offers/{offer.id}/edit",
            "expiring_offers": "/angebote/ablaufend",
        }
        for kind, thread_tender in ((ThreadKind.INSURER, tender.id), (ThreadKind.BROKER, None)):
            thread = Thread(request_id=request.id, kind=kind, tender_id=thread_tender)
            s.add(thread)
            s.flush()
            key, sha = store_bytes(settings, f"%PDF-1.4 {kind.value} attachment".encode())
            doc = Document(request_id=request.id, kind=DocumentKind.ATTACHMENT, filename=f"{kind.value}.pdf",
                           content_type="application/pdf", size_bytes=30, sha256=sha, storage_key=key,
                           uploaded_by=Party.INSURER if kind == ThreadKind.INSURER else Party.BACKOFFICE)
            s.add(doc)
            s.flush()
            message = Message(thread_id=thread.id, request_id=request.id, action_id=f"matrix-{kind.value}",  # type: ignore[arg-type]
                              author=doc.uploaded_by, body="Anhang", document_id=doc.id, visible=True)
            s.add(message)
            s.flush()
            urls[f"{kind.value}_thread_attachment"] = f"/requests/{request.id}/messages/{message.id}/attachment"
        token = "matrix-link-token"
        s.add(TenderLink(tender_id=tender.id, token_hash=hash_token(token),  # type: ignore[arg-type]
                         expires_at=utcnow() + timedelta(days=7)))
        ids.update(request=request.id, tender=tender.id, offer=offer.id, document=request_doc.id,
                   message=message.id, token=token)  # type: ignore[dict-item]
        number = request.number
    return World(settings, engine, urls, number, ids)


@pytest.fixture
async def clients(world: World) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    app = create_app(world.app_settings, world.engine)
    out: dict[str, httpx.AsyncClient] = {}
    for who, email in WHO.items():
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        page = await client.get("/login")
        match = CSRF_RE.search(page.text)
        assert match
        done = await client.post("/login", data={"email": email, "password": PASSWORD.get(email, "Elbe-Demo-2026!"),
                                                 "csrf_token": match.group(1), "next": "/"})
        assert done.status_code == 303, (who, done.text[:300])
        out[who] = client
    yield out
    for client in out.values():
        await client.aclose()


async def test_every_role_against_every_object(world: World, clients: dict[str, httpx.AsyncClient]) -> None:
    failures = []
    for obj, url in world.urls.items():
        for who, client in clients.items():
            response = await client.get(url)
            allowed = who in ALLOWED[obj]
            if allowed and response.status_code != 200:
                failures.append(f"{who} should see {obj} ({url}): {response.status_code}")
            if not allowed and (response.status_code not in (403, 404) or world.number in response.text):
                failures.append(f"{who} must not see {obj} ({url}): {response.status_code}")
    assert not failures, "\n".join(failures)


async def test_anonymous_reaches_nothing(world: World) -> None:
    app = create_app(world.app_settings, world.engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for url in world.urls.values():
            response = await client.get(url)
            assert response.status_code in (303, 401, 403, 404), url
            assert world.number not in response.text


def test_matrix_covers_every_object(world: World) -> None:
    assert set(world.urls) == set(ALLOWED)
    with Session(world.engine) as s:
        assert s.exec(select(Offer)).one().released_at is None


# ---------------------------------------------------------------- every route has a row
STAFF = frozenset({"backoffice", "admin"})
OWNER_AND_STAFF = STAFF | {"owner"}
LOGGED_IN = frozenset(WHO)
PUBLIC = frozenset({"anonymous", *WHO})

#: (method, path) → who may use it for the request under test. A route missing
#: here fails :func:`test_every_route_has_a_row`, so a new route gets a row.
ROUTES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/login"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): LOGGED_IN,
    ("GET", "/password"): LOGGED_IN,
    ("POST", "/password"): LOGGED_IN,
    ("GET", "/passwort-vergessen"): PUBLIC,
    ("POST", "/passwort-vergessen"): PUBLIC,
    ("GET", "/passwort-zuruecksetzen/{token}"): PUBLIC,
    ("POST", "/passwort-zuruecksetzen/{token}"): PUBLIC,
    ("POST", "/sprache"): LOGGED_IN,
    ("GET", "/"): LOGGED_IN,
    ("GET", "/kontakt"): LOGGED_IN,
    ("GET", "/live"): LOGGED_IN,
    ("GET", "/angebote/ablaufend"): STAFF | {"other_account"},
    # Account-wide: each account's staff sees its own figures (tests/web/test_analytics.py).
    ("GET", "/auswertung"): STAFF | {"other_account"},
    ("GET", "/api-schluessel"): STAFF | {"other_account"},
    ("POST", "/api-schluessel"): STAFF | {"other_account"},
    ("POST", "/api-schluessel/{key_id}/widerrufen"): STAFF | {"other_account"},
    # Documentation of the API: public, it holds no data.
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    # The JSON API takes API keys, no session: its own matrix is in tests/web/test_api.py.
    ("GET", "/api/v1/requests"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}/tenders"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}/offers"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}/documents"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}/documents/{document_id}"): frozenset(),
    ("GET", "/api/v1/requests/{request_id}/messages"): frozenset(),
    ("POST", "/api/v1/requests/{request_id}/tenders"): frozenset(),
    ("POST", "/api/v1/requests/{request_id}/messages"): frozenset(),
    ("POST", "/api/v1/requests/{request_id}/offers/release"): frozenset(),
    ("GET", "/auswertung/diagramm/{metric}.svg"): STAFF | {"other_account"},
    ("GET", "/requests/{request_id}"): OWNER_AND_STAFF,
    ("POST", "/requests/{request_id}/assign"): STAFF,
    ("POST", "/requests/{request_id}/assignee"): STAFF,
    ("POST", "/requests/{request_id}/tenders/{tender_id}/actions/{action}"): STAFF,
    ("GET", "/requests/{request_id}/tenders/{tender_id}/schedule"): STAFF,
    ("POST", "/requests/{request_id}/tenders/{tender_id}/schedule"): STAFF,
    ("GET", "/requests/{request_id}/tenders/{tender_id}/contact"): STAFF,
    ("POST", "/requests/{request_id}/tenders/{tender_id}/contact"): STAFF,
    ("GET", "/requests/{request_id}/tenders/new"): STAFF,
    ("POST", "/requests/{request_id}/tenders/new"): STAFF,
    ("POST", "/requests/{request_id}/tenders/preview"): STAFF,
    ("POST", "/requests/{request_id}/tenders"): STAFF,
    ("GET", "/requests/{request_id}/tenders/{tender_id}/offer"): STAFF,
    ("POST", "/requests/{request_id}/tenders/{tender_id}/offer"): STAFF,
    ("GET", "/requests/{request_id}/tenders/{tender_id}/insurer-view"): STAFF,
    ("GET", "/requests/{request_id}/documents/{document_id}"): OWNER_AND_STAFF,
    ("POST", "/requests/{request_id}/documents/{document_id}/remove"): STAFF,
    ("POST", "/requests/{request_id}/bulk/withdraw"): STAFF,
    ("POST", "/bulk/remind"): STAFF,
    ("POST", "/bulk/assign"): STAFF,
    ("POST", "/requests/{request_id}/messages"): OWNER_AND_STAFF,
    ("POST", "/requests/{request_id}/broker-thread"): STAFF,
    ("POST", "/requests/{request_id}/messages/{message_id}/forward"): STAFF,
    ("POST", "/requests/{request_id}/messages/{message_id}/processed"): STAFF,
    ("GET", "/requests/{request_id}/messages/{message_id}/attachment"): OWNER_AND_STAFF,
    ("POST", "/requests/{request_id}/offers/release"): STAFF,
    ("GET", "/requests/{request_id}/offers/{offer_id}/edit"): STAFF,
    ("POST", "/requests/{request_id}/offers/{offer_id}/edit"): STAFF,
    ("POST", "/requests/{request_id}/offers/{offer_id}/extension"): STAFF,
    # The offer is not released yet: not even the owner may open its binding page.
    ("GET", "/requests/{request_id}/offers/{offer_id}/bind"): frozenset(),
    ("POST", "/requests/{request_id}/offers/{offer_id}/bind"): frozenset(),
    # No offer released yet, so nobody gets a comparison PDF (tests/web/test_offer_comparison.py covers who may).
    ("GET", "/requests/{request_id}/angebote/vergleich.pdf"): frozenset(),
    # The insurer link: the token is the credential, a login neither helps nor hurts.
    ("GET", "/t/{token}"): PUBLIC,
    ("GET", "/t/{token}/documents/{document_id}"): PUBLIC,
    ("GET", "/t/{token}/messages/{message_id}/attachment"): PUBLIC,
    ("POST", "/t/{token}/question"): PUBLIC,
    ("POST", "/t/{token}/decline"): PUBLIC,
    ("POST", "/t/{token}/offer"): PUBLIC,
}
#: Request-scoped routes: an allowed role must also not see other accounts' or brokers' requests.
SCOPED = "/requests/{request_id}"


def _url(path: str, ids: dict[str, object]) -> str:
    return path.format(request_id=ids["request"], tender_id=ids["tender"], offer_id=ids["offer"],
                       document_id=ids["document"], message_id=ids["message"], token=ids["token"],
                       action="remind_now")


def test_every_route_has_a_row(world: World) -> None:
    app = create_app(world.app_settings, world.engine)
    routes = {(method, route.path) for route in api_routes(app.routes) for method in route.methods}
    assert routes - set(ROUTES) == set(), "add these routes to ROUTES"
    assert set(ROUTES) - routes == set(), "ROUTES names routes that are gone"


def _foreign_numbers(world: World, who: str) -> set[str]:
    """Request numbers this role must never see."""
    with Session(world.engine) as s:
        user = s.exec(select(User).where(User.email == WHO[who])).one()
        rows = s.exec(select(Request)).all()
        if user.broker_id is None:
            return {r.number for r in rows if r.account_id != user.account_id}
        return {r.number for r in rows if r.broker_id != user.broker_id}


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/kontakt")
    match = CSRF_RE.search(page.text)
    assert match, page.text[:300]
    return match.group(1)


async def test_every_route_against_every_role(world: World, clients: dict[str, httpx.AsyncClient]) -> None:
    """GET: allowed roles get the page (never a 401/403/404) showing nothing of other
    accounts or brokers; everyone else gets 403/404 without the request's data.
    POST: roles that are not allowed are refused with a valid CSRF token, and
    the request's data does not leak (allowed POSTs change state; their own tests
    cover them)."""
    failures = []
    tried: dict[str, int] = {}
    tokens = {who: await _csrf(client) for who, client in clients.items()}
    foreign = {who: _foreign_numbers(world, who) for who in clients}
    for (method, path), allowed in ROUTES.items():
        if not path.startswith(SCOPED) and path != "/":
            continue
        url = _url(path, world.ids)
        for who, client in clients.items():
            if who not in allowed:
                tried[who] = tried.get(who, 0) + 1
            if method == "GET":
                response = await client.get(url)
                if who in allowed:
                    if response.status_code in (401, 403, 404):
                        failures.append(f"{who} GET {path}: {response.status_code}")
                    leaked = [n for n in foreign[who] if n in response.text]
                    if leaked:
                        failures.append(f"{who} GET {path} shows foreign requests {leaked[:3]}")
                elif response.status_code not in (403, 404) or world.number in response.text:
                    failures.append(f"{who} GET {path} must be refused: {response.status_code}")
            elif who not in allowed:
                response = await client.post(url, data={"csrf_token": tokens[who], "action_id": "a" * 32})
                if response.status_code not in (403, 404) or world.number in response.text:
                    failures.append(f"{who} POST {path} must be refused: {response.status_code}")
    # The figures of issue 8: cross-account, cross-broker (and, on /t/ links, the
    # link tests: cross-insurer) attempts and how many succeeded.
    print(f"\nauthorization matrix: refused-role attempts {tried}, successes {len(failures)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("bad", ["0", "-1", "2147483648", "99999999999999999999", "abc", "1e3"])
async def test_malformed_ids_are_not_found(world: World, clients: dict[str, httpx.AsyncClient], bad: str) -> None:
    """Path IDs outside the database's range never reach a query."""
    client = clients["backoffice"]
    for path in ("/requests/{bad}", "/requests/{rid}/documents/{bad}", "/requests/{rid}/offers/{bad}/edit",
                 "/requests/{rid}/tenders/{bad}/schedule"):
        response = await client.get(path.format(bad=bad, rid=world.ids["request"]))
        assert response.status_code == 404, (path, bad, response.status_code)
        assert world.number not in response.text

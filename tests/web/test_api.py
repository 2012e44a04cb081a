"""The JSON API over HTTP: keys (made once, hashed, scoped, revocable) and
their authorization matrix over every API route, per-account scoping, the
read endpoints against the seeded data, and OpenAPI at /api/docs."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.db.models import ApiKey, Message, Request, Tender, User
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus
from web.api.keys import create_api_key

from ..conftest import Running, SmtpServer
from ..workflows.helpers import wait_status
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    SECOND_ACCOUNT_USER,
    client_for,
    csrf_from,
    first_request,
    logged_in,
    user_by_email,
)
from .test_messages_ui import open_portal

ADMIN = "admin@tenderdesk.example"


@dataclass
class Keys:
    read_write: str
    read_only: str
    revoked: str
    other_account: str


def _keys(engine: Engine) -> Keys:
    with Session(engine, expire_on_commit=False) as db:
        admin = user_by_email(engine, ADMIN)
        other = user_by_email(engine, SECOND_ACCOUNT_USER)
        _, rw = create_api_key(db, user=admin, name="ERP", scopes=["read", "write"])
        _, ro = create_api_key(db, user=admin, name="Reporting", scopes=["read"])
        revoked_row, revoked = create_api_key(db, user=admin, name="alt", scopes=["read", "write"])
        _, foreign = create_api_key(db, user=other, name="fremd", scopes=["read", "write"])
        revoked_row.revoked_at = revoked_row.created_at
        db.add(revoked_row)
        db.commit()
    return Keys(rw, ro, revoked, foreign)


def _routes(request_id: int) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", "/api/v1/requests", None),
        ("GET", f"/api/v1/requests/{request_id}", None),
        ("GET", f"/api/v1/requests/{request_id}/tenders", None),
        ("GET", f"/api/v1/requests/{request_id}/offers", None),
        ("GET", f"/api/v1/requests/{request_id}/documents", None),
        ("GET", f"/api/v1/requests/{request_id}/messages", None),
        ("POST", f"/api/v1/requests/{request_id}/tenders", {"insurer_ids": [1]}),
        ("POST", f"/api/v1/requests/{request_id}/messages", {"body": "Hallo"}),
        ("POST", f"/api/v1/requests/{request_id}/offers/release", {"offer_ids": [1]}),
    ]


async def test_api_authorization_matrix(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """Every API route against: no key, a malformed, revoked, read-only, other
    account's and a valid key. Only the valid key (and the read-only one for
    GETs) gets past authentication; nothing of the main account leaks."""
    keys = _keys(web_engine)
    request = first_request(web_engine)
    failures = []
    attempts = 0
    for method, path, body in _routes(request.id):  # type: ignore[arg-type]
        for who, header in (("none", None), ("malformed", "Bearer nicht-td"), ("basic", "Basic YWRtaW46YWRtaW4="),
                            ("revoked", f"Bearer {keys.revoked}"), ("read_only", f"Bearer {keys.read_only}"),
                            ("other_account", f"Bearer {keys.other_account}")):
            headers = {"Idempotency-Key": f"matrix-{who}-{attempts:04d}"}
            if header:
                headers["Authorization"] = header
            attempts += 1
            response = await http.request(method, path, headers=headers, json=body)
            expected = {"none": 401, "malformed": 401, "basic": 401, "revoked": 401,
                        "read_only": 200 if method == "GET" else 403,
                        "other_account": 404}[who]
            if who == "other_account" and path == "/api/v1/requests":
                expected = 200  # its own account's list, checked below for leaks
            if response.status_code != expected:
                failures.append(f"{who} {method} {path}: {response.status_code} (expected {expected})")
            if who != "read_only" and request.number in response.text:
                failures.append(f"{who} {method} {path} leaks the request number")
            if response.status_code == 401 and "bearer" not in response.headers.get("www-authenticate", "").lower():
                failures.append(f"{who} {method} {path}: 401 without WWW-Authenticate")
    print(f"\nAPI authorization matrix: {attempts} attempts, {len(failures)} failures")
    assert not failures, "\n".join(failures)

    # The other account's key lists only its own requests.
    own = (await http.get("/api/v1/requests?limit=200", headers={"Authorization": f"Bearer {keys.other_account}"}))
    other_account = user_by_email(web_engine, SECOND_ACCOUNT_USER).account_id
    with Session(web_engine) as db:
        mine = {r.number for r in db.exec(select(Request).where(Request.account_id == other_account)).all()}
    assert {r["number"] for r in own.json()["items"]} == mine


async def test_read_endpoints_return_the_accounts_data(http: httpx.AsyncClient, web_engine: Engine) -> None:
    keys = _keys(web_engine)
    auth = {"Authorization": f"Bearer {keys.read_only}"}
    request = first_request(web_engine)
    page = (await http.get("/api/v1/requests?status=open&limit=3", headers=auth)).json()
    assert page["limit"] == 3 and len(page["items"]) == 3 and page["total"] >= 3
    assert all(item["status"] == "open" for item in page["items"])
    one = (await http.get(f"/api/v1/requests/{request.id}", headers=auth)).json()
    assert one["number"] == request.number and one["status"] == "open"
    documents = (await http.get(f"/api/v1/requests/{request.id}/documents", headers=auth)).json()
    assert documents and all(d["request_id"] == request.id for d in documents)
    file = await http.get(f"/api/v1/requests/{request.id}/documents/{documents[0]['id']}", headers=auth)
    assert file.status_code == 200 and len(file.content) == documents[0]["size_bytes"]
    bad = await http.get("/api/v1/requests?limit=0", headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"] == "Die Anfrage enthält ungültige Werte."
    assert bad.json()["errors"][0]["loc"] == ["query", "limit"]
    misspelt = await http.get("/api/v1/requests?stauts=open", headers=auth)
    assert misspelt.status_code == 422 and misspelt.json()["detail"] == "Unbekannter Parameter in der Anfrage."
    # A key is stored only as its hash and names itself by its prefix.
    with Session(web_engine) as db:
        row = db.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(keys.read_only))).one()
        assert keys.read_only not in {row.prefix, row.key_hash, row.name} and keys.read_only.startswith(row.prefix)
        assert row.last_used_at is not None


async def test_admin_makes_a_key_shown_once_and_revokes_it(web_app: FastAPI, web_engine: Engine) -> None:
    async with client_for(web_app) as admin:
        await logged_in(admin, ADMIN)
        page = await admin.get("/api-schluessel")
        assert page.status_code == 200 and "Neuen Schlüssel anlegen" in page.text
        refused = await admin.post("/api-schluessel", data={"csrf_token": csrf_from(page.text), "name": ""})
        assert refused.status_code == 422 and "Bitte geben Sie eine Bezeichnung" in refused.text
        assert "Bitte wählen Sie mindestens eine Berechtigung" in refused.text
        made = await admin.post("/api-schluessel", data={"csrf_token": csrf_from(page.text), "name": "ERP-Anbindung",
                                                         "scope": ["read", "write"]})
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        secret = re.search(r'<p class="secret-once">(td_[A-Za-z0-9_-]+)</p>', made.text)
        assert secret, made.text[:500]
        key = secret.group(1)
        assert key not in (await admin.get("/api-schluessel")).text  # shown once only
        assert (await admin.get("/api/v1/requests", headers={"Authorization": f"Bearer {key}"})).status_code == 200
        with Session(web_engine) as db:
            row = db.exec(select(ApiKey).where(ApiKey.name == "ERP-Anbindung")).one()
        assert row.scopes == ["read", "write"] and row.key_hash == hash_token(key)
        revoked = await admin.post(f"/api-schluessel/{row.id}/widerrufen",
                                   data={"csrf_token": csrf_from(page.text)})
        assert revoked.status_code == 303
        assert (await admin.get("/api/v1/requests", headers={"Authorization": f"Bearer {key}"})).status_code == 401
        # CSRF on the forms.
        assert (await admin.post("/api-schluessel", data={"name": "x", "scope": "read"})).status_code == 403

    async with client_for(web_app) as staff:
        await logged_in(staff, MAIN_BACKOFFICE)
        page = await staff.get("/api-schluessel")
        assert page.status_code == 200 and "ERP-Anbindung" in page.text and "widerrufen am" in page.text
        assert (await staff.post("/api-schluessel", data={"csrf_token": csrf_from(page.text), "name": "Berichte",
                                                          "scope": "read"})).status_code == 201
    async with client_for(web_app) as broker:
        await logged_in(broker, BROKER_USER)
        assert (await broker.get("/api-schluessel")).status_code in (403, 404)
        assert (await broker.post("/api-schluessel", data={"csrf_token": csrf_from((await broker.get("/")).text),
                                                           "name": "x", "scope": "read"})).status_code in (403, 404)
    async with client_for(web_app) as other:
        await logged_in(other, SECOND_ACCOUNT_USER)
        assert "ERP-Anbindung" not in (await other.get("/api-schluessel")).text


async def test_openapi_schema_and_docs_are_served(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/api/openapi.json")).json()
    assert schema["openapi"].startswith("3.") and "/api/v1/requests/{request_id}/tenders" in schema["paths"]
    post = schema["paths"]["/api/v1/requests/{request_id}/tenders"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    docs = await http.get("/api/docs")
    assert docs.status_code == 200 and "/api/v1/requests/{request_id}/offers/release" in docs.text
    assert "<script" not in docs.text



async def test_posts_act_once_per_idempotency_key_on_real_workflows(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        world = portal.cast.world
        with Session(portal.engine, expire_on_commit=False) as db:
            staff = db.get(User, world.backoffice_user_id)
            assert staff is not None
            _, key = create_api_key(db, user=staff, name="ERP", scopes=["read", "write"])
        api = await portal.stack.enter_async_context(client_for(portal.app))
        auth = {"Authorization": f"Bearer {key}"}
        path = f"/api/v1/requests/{world.request_id}/tenders"
        body = {"insurer_ids": world.insurer_ids[:2], "note": "Bitte bis Monatsende."}

        first = await api.post(path, json=body, headers={**auth, "Idempotency-Key": "erp-4711-tenders"})
        assert first.status_code == 201, first.text
        started = first.json()["started"]
        assert sorted(t["insurer_id"] for t in started) == sorted(world.insurer_ids[:2]) and not first.json()["refused"]
        again = await api.post(path, json=body, headers={**auth, "Idempotency-Key": "erp-4711-tenders"})
        assert again.status_code == 201 and again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        other_body = await api.post(path, json={"insurer_ids": world.insurer_ids[2:]},
                                    headers={**auth, "Idempotency-Key": "erp-4711-tenders"})
        assert other_body.status_code == 422 and "andere Anfrage" in other_body.json()["detail"]
        assert (await api.post(path, json=body, headers=auth)).status_code == 422  # no Idempotency-Key
        with Session(portal.engine) as db:
            assert len(db.exec(select(Tender).where(Tender.request_id == world.request_id)).all()) == 2

        # A question to the insurer's thread, sent twice: one message, one workflow update.
        tender_id = started[0]["id"]
        with Session(portal.engine) as db:
            tender = db.get(Tender, tender_id)
        assert tender is not None
        await wait_status(dev, tender, TenderStatus.SENT)
        message_path = f"/api/v1/requests/{world.request_id}/messages"
        sent = [await api.post(message_path, json={"tender_id": tender_id, "body": "Gibt es Vorschäden?"},
                               headers={**auth, "Idempotency-Key": "erp-4711-msg"}) for _ in range(2)]
        assert [r.status_code for r in sent] == [201, 201] and sent[0].json() == sent[1].json()
        with Session(portal.engine) as db:
            bodies = [m.body for m in db.exec(select(Message).where(Message.request_id == world.request_id)).all()]
        assert bodies.count("Gibt es Vorschäden?") == 1
        listed = (await api.get(message_path, headers=auth)).json()
        assert [m["body"] for m in listed if m["tender_id"] == tender_id] == ["Gibt es Vorschäden?"]
        # Another request's tender is not reachable through this request.
        assert (await api.post(message_path, json={"tender_id": 999999, "body": "x"},
                               headers={**auth, "Idempotency-Key": "erp-4711-msg2"})).status_code == 404

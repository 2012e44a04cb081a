"""Login, throttling, server-side sessions, CSRF, logout and password change."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.models import Request, UserSession
from tenderdesk.tokens import hash_token

from .conftest import (
    MAIN_BACKOFFICE,
    client_for,
    csrf_from,
    first_request,
    logged_in,
    login,
    user_by_email,
)


def sessions_of(engine: Engine, user_id: int) -> list[UserSession]:
    with Session(engine) as s:
        return list(s.exec(select(UserSession).where(UserSession.user_id == user_id)).all())


async def test_pages_need_login(http: httpx.AsyncClient) -> None:
    for path in ("/", "/requests/1", "/kontakt", "/password", "/requests/1/tenders/new"):
        response = await http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path


async def test_login_ok_sets_server_side_session(http: httpx.AsyncClient, web_engine: Engine) -> None:
    response = await login(http, MAIN_BACKOFFICE)

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("td_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = http.cookies["td_session"]
    rows = sessions_of(web_engine, user_by_email(web_engine, MAIN_BACKOFFICE).id)  # type: ignore[arg-type]
    assert [row.token_hash for row in rows] == [hash_token(token)]  # only the hash is stored
    page = await http.get("/")
    assert page.status_code == 200
    assert "Manuelle Anfragen" in page.text and "Abmelden" in page.text


async def test_login_failed_says_the_same_for_unknown_and_wrong(http: httpx.AsyncClient) -> None:
    wrong = await login(http, MAIN_BACKOFFICE, "falsch")
    unknown = await login(http, "niemand@tenderdesk.example", "falsch")

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "E-Mail-Adresse oder Passwort ist falsch." in response.text
        assert "td_session" not in response.headers.get("set-cookie", "")
    assert "td_session" not in http.cookies


async def test_login_is_throttled_after_five_failures(http: httpx.AsyncClient) -> None:
    for _ in range(5):
        assert (await login(http, MAIN_BACKOFFICE, "falsch")).status_code == 401

    blocked = await login(http, MAIN_BACKOFFICE.upper())  # right password, other spelling

    assert blocked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in blocked.text
    assert "td_session" not in http.cookies


async def test_login_form_needs_its_csrf_cookie(web_app: FastAPI) -> None:
    async with client_for(web_app) as client:
        page = await client.get("/login")
        token = csrf_from(page.text)
        client.cookies.clear()
        response = await client.post(
            "/login", data={"email": MAIN_BACKOFFICE, "password": "demo1234!", "csrf_token": token}
        )
    assert response.status_code == 403
    assert "Sicherheitsprüfung" in response.text


async def test_login_never_redirects_off_site(http: httpx.AsyncClient) -> None:
    page = await http.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    response = await http.post(
        "/login",
        data={"email": MAIN_BACKOFFICE, "password": "demo1234!", "csrf_token": csrf_from(page.text),
              "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/"


async def test_post_without_or_with_wrong_csrf_is_rejected(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    request = first_request(web_engine)

    missing = await http.post(f"/requests/{request.id}/assign")
    wrong = await http.post(f"/requests/{request.id}/assign", data={"csrf_token": "x" * 43})

    for response in (missing, wrong):
        assert response.status_code == 403
        assert "Sicherheitsprüfung des Formulars ist fehlgeschlagen" in response.text
    with Session(web_engine) as s:
        assert s.get(Request, request.id).assignee_id == request.assignee_id  # type: ignore[union-attr]


async def test_logout_deletes_the_session(http: httpx.AsyncClient, web_engine: Engine) -> None:
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    token = http.cookies["td_session"]

    response = await http.post("/logout", data={"csrf_token": csrf})

    assert response.status_code == 303 and response.headers["location"] == "/login"
    with Session(web_engine) as s:
        assert s.exec(select(UserSession).where(UserSession.token_hash == hash_token(token))).first() is None
    page = await http.get("/login")
    assert "Sie wurden abgemeldet." in page.text
    http.cookies.set("td_session", token)  # the old cookie is worthless now
    assert (await http.get("/")).status_code == 303


async def test_expired_session_is_refused(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    from datetime import timedelta

    from tenderdesk.db import session_scope
    from tenderdesk.models import utcnow

    with session_scope(web_engine) as s:
        for row in s.exec(select(UserSession)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            s.add(row)
    assert (await http.get("/")).status_code == 303


async def test_password_change_needs_current_and_ends_other_sessions(
    web_app: FastAPI, web_engine: Engine
) -> None:
    async with client_for(web_app) as first, client_for(web_app) as second:
        csrf = await logged_in(first, MAIN_BACKOFFICE)
        await logged_in(second, MAIN_BACKOFFICE)

        wrong = await first.post("/password", data={
            "csrf_token": csrf, "current_password": "falsch",
            "new_password": "ein-neues-langes-Passwort", "new_password_repeat": "ein-neues-langes-Passwort",
        })
        assert wrong.status_code == 422
        assert "Das aktuelle Passwort ist nicht korrekt." in wrong.text

        ok = await first.post("/password", data={
            "csrf_token": csrf, "current_password": "demo1234!",
            "new_password": "ein-neues-langes-Passwort", "new_password_repeat": "ein-neues-langes-Passwort",
        })
        assert ok.status_code == 303
        assert (await first.get("/")).status_code == 200  # this session goes on
        assert (await second.get("/")).status_code == 303  # the other one ended

    async with client_for(web_app) as third:
        assert (await login(third, MAIN_BACKOFFICE)).status_code == 401
        assert (await login(third, MAIN_BACKOFFICE, "ein-neues-langes-Passwort")).status_code == 303


async def test_security_headers(http: httpx.AsyncClient) -> None:
    response = await http.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    css = await http.get("/static/app.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")


async def test_oversized_form_bodies_are_refused_early(http: httpx.AsyncClient) -> None:
    big = await http.post("/login", content=b"email=" + b"a" * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413

    async def chunks():  # type: ignore[no-untyped-def]
        yield b"email=a"

    chunked = await http.post("/login", content=chunks(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 411

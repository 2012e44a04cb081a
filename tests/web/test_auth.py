"""Login, throttling (shared through the database), server-side sessions, CSRF,
logout, password change, password reset by email, language switch and roles."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.config import ROOT, Settings
from tenderdesk.db.engine import make_engine, session_scope
from tenderdesk.db.models import (
    Document,
    EmailStatus,
    LoginAttempt,
    PasswordReset,
    Request,
    SystemEmail,
    User,
    UserSession,
    utcnow,
)
from tenderdesk.security.tokens import hash_token, new_token
from tenderdesk.states import TenderStatus
from tests.conftest import SmtpServer, eventually
from web.app import create_app
from web.core import i18n
from web.core.sessions import IDLE_TIMEOUT
from web.core.temporal import TemporalClientFactory

from .conftest import (
    BASE_URL,
    CSRF_RE,
    MAIN_BACKOFFICE,
    OTHER_BACKOFFICE,
    client_for,
    csrf_from,
    first_request,
    logged_in,
    login,
    make_linked_tender,
    user_by_email,
)

ADMIN_USER = "admin@tenderdesk.example"


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
            "/login", data={"email": MAIN_BACKOFFICE, "password": "Elbe-Demo-2026!", "csrf_token": token}
        )
    assert response.status_code == 403
    assert "Sicherheitsprüfung" in response.text


async def test_login_never_redirects_off_site(http: httpx.AsyncClient) -> None:
    page = await http.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    response = await http.post(
        "/login",
        data={"email": MAIN_BACKOFFICE, "password": "Elbe-Demo-2026!", "csrf_token": csrf_from(page.text),
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

    from tenderdesk.db.engine import session_scope
    from tenderdesk.db.models import utcnow

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
            "csrf_token": csrf, "current_password": "Elbe-Demo-2026!",
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


# --------------------------------------------------------------------- throttling
def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A browser at another client address (``request.client.host``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url=BASE_URL)


async def test_throttle_holds_across_two_app_instances(
    web_settings: Settings, no_temporal: TemporalClientFactory
) -> None:
    """Two apps with their own connection pools on one database, as two web
    processes would be: failures in one count in the other."""
    engines = [make_engine(web_settings.database_url) for _ in range(2)]
    apps = [create_app(web_settings, e, temporal_client_factory=no_temporal) for e in engines]
    try:
        async with client_for(apps[0]) as first, client_for(apps[1]) as second:
            for n in range(5):
                assert (await login(first if n % 2 else second, MAIN_BACKOFFICE, "falsch")).status_code == 401
            blocked = await login(first, MAIN_BACKOFFICE)
            also_blocked = await login(second, MAIN_BACKOFFICE)
        for response in (blocked, also_blocked):
            assert response.status_code == 429
            assert "Bitte versuchen Sie es in 1 Minute erneut." in response.text
    finally:
        for engine in engines:
            engine.dispose()


async def test_throttle_per_client_address(web_app: FastAPI, web_engine: Engine) -> None:
    """20 failures from one address, spread over many accounts, stop that address
    (even with a right password) but no other address."""
    async with client_from(web_app, "10.1.1.1") as attacker, client_from(web_app, "10.2.2.2") as colleague:
        for n in range(20):
            assert (await login(attacker, f"gibt-es-nicht-{n}@example.com", "falsch")).status_code == 401
        blocked = await login(attacker, MAIN_BACKOFFICE)
        assert blocked.status_code == 429
        assert "Zu viele fehlgeschlagene Anmeldeversuche" in blocked.text
        assert (await login(colleague, MAIN_BACKOFFICE)).status_code == 303
    with Session(web_engine) as s:
        rows = s.exec(select(LoginAttempt).where(LoginAttempt.address == "10.1.1.1")).all()
    assert len(rows) == 20  # the refused attempt left no row


async def test_success_clears_the_accounts_failures(http: httpx.AsyncClient, web_engine: Engine) -> None:
    for _ in range(4):
        assert (await login(http, MAIN_BACKOFFICE, "falsch")).status_code == 401
    assert (await login(http, MAIN_BACKOFFICE)).status_code == 303
    with Session(web_engine) as s:
        assert s.exec(select(LoginAttempt).where(LoginAttempt.email == MAIN_BACKOFFICE)).all() == []
    http.cookies.clear()
    for _ in range(5):
        assert (await login(http, MAIN_BACKOFFICE, "falsch")).status_code == 401


async def test_wrong_current_password_counts_as_failure(http: httpx.AsyncClient) -> None:
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    form = {"csrf_token": csrf, "current_password": "falsch",
            "new_password": "ein-neues-langes-Passwort", "new_password_repeat": "ein-neues-langes-Passwort"}
    for _ in range(5):
        assert (await http.post("/password", data=form)).status_code == 422
    blocked = await http.post("/password", data={**form, "current_password": "Elbe-Demo-2026!"})
    assert blocked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in blocked.text


# ------------------------------------------------------------------- sessions
async def test_cookie_is_secure_with_host_prefix_on_https(
    web_settings: Settings, web_engine: Engine, no_temporal: TemporalClientFactory
) -> None:
    settings = web_settings.model_copy(update={"base_url": "https://tenderdesk.example"})
    app = create_app(settings, web_engine, temporal_client_factory=no_temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        response = await login(client, MAIN_BACKOFFICE)
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if "td_session=" in c)
    assert cookie.startswith("__Host-td_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in cookie, flag
    assert "Domain=" not in cookie


async def test_idle_session_ends(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    with session_scope(web_engine) as s:
        for row in s.exec(select(UserSession)).all():
            row.last_seen_at = utcnow() - IDLE_TIMEOUT - timedelta(minutes=1)
            s.add(row)
    assert (await http.get("/")).status_code == 303
    assert sessions_of(web_engine, user_by_email(web_engine, MAIN_BACKOFFICE).id) == []  # type: ignore[arg-type]


async def test_recent_activity_keeps_session(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    with session_scope(web_engine) as s:
        for row in s.exec(select(UserSession)).all():
            row.last_seen_at = utcnow() - IDLE_TIMEOUT + timedelta(minutes=1)
            s.add(row)
    assert (await http.get("/kontakt")).status_code == 200
    [row] = sessions_of(web_engine, user_by_email(web_engine, MAIN_BACKOFFICE).id)  # type: ignore[arg-type]
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)  # type: ignore[operator]


# ------------------------------------------------------------- password reset
RESET_LINK = re.compile(r"http://testserver/passwort-zuruecksetzen/([A-Za-z0-9_-]+)")
SAME_ANSWER = "Falls ein Konto zu dieser Adresse besteht, haben wir Ihnen einen Link gesendet."


@pytest.fixture
def mail_app(dev_app: FastAPI) -> FastAPI:
    """The app with a worker on the dev server: reset emails go out through
    ``NotificationWorkflow`` to the loopback SMTP server of the test run."""
    return dev_app


async def request_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    page = await client.get("/passwort-vergessen")
    assert page.status_code == 200
    return await client.post("/passwort-vergessen", data={"email": email, "csrf_token": form_csrf(page.text)})


def form_csrf(html: str) -> str:
    return csrf_from(html)


async def reset_mail(smtp_server: SmtpServer, email: str) -> EmailMessage:
    """The one reset email to ``email``, once the worker delivered it (a login notice may be there too)."""
    [message] = await eventually(
        lambda: [m for m in smtp_server.capture.to(email)
                 if RESET_LINK.search(m.get_body(("plain",)).get_content())]  # type: ignore[union-attr]
    )
    return message


async def reset_token_from(smtp_server: SmtpServer, email: str) -> str:
    message = await reset_mail(smtp_server, email)
    match = RESET_LINK.search(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert match, "no reset link in the email"
    return match.group(1)


def reset_emails(engine: Engine) -> list[SystemEmail]:
    with Session(engine) as s:
        return list(s.exec(select(SystemEmail).where(SystemEmail.kind == "password_reset")).all())


async def test_reset_flow_end_to_end(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    user = user_by_email(web_engine, MAIN_BACKOFFICE)
    async with client_for(mail_app) as browser, client_for(mail_app) as office, client_for(mail_app) as laptop:
        await logged_in(office, MAIN_BACKOFFICE)
        await logged_in(laptop, MAIN_BACKOFFICE)

        login_page = await browser.get("/login")
        assert 'href="/passwort-vergessen"' in login_page.text and "Passwort vergessen?" in login_page.text
        answer = await request_reset(browser, MAIN_BACKOFFICE.upper())
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert SAME_ANSWER in (await browser.get("/login")).text

        message = await reset_mail(smtp_server, MAIN_BACKOFFICE)
        assert message["Subject"] == "Tenderdesk: Passwort zurücksetzen"
        assert "Guten Tag Anna Berger," in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        token = await reset_token_from(smtp_server, MAIN_BACKOFFICE)
        # Delivered like any other email: one System Email row (no request), sent, no token at rest.
        [email] = await eventually(lambda: [e for e in reset_emails(web_engine) if e.status == EmailStatus.SENT])
        assert email.request_id is None and email.to_addr == MAIN_BACKOFFICE
        assert message["Message-ID"] == email.message_id_header
        with Session(web_engine) as s:
            [row] = s.exec(select(PasswordReset).where(PasswordReset.user_id == user.id)).all()
            assert row.token_hash == hash_token(token) and row.used_at is None
            assert row.system_email_id == email.id
            assert timedelta(minutes=29) < row.expires_at - utcnow() <= timedelta(minutes=30)  # type: ignore[operator]
            assert all(token not in e.body_text for e in s.exec(select(SystemEmail)).all())

        form_page = await browser.get(f"/passwort-zuruecksetzen/{token}")
        assert form_page.status_code == 200 and "Neues Passwort festlegen" in form_page.text
        csrf = form_csrf(form_page.text)
        url = f"/passwort-zuruecksetzen/{token}"
        short = await browser.post(url, data={"csrf_token": csrf, "new_password": "kurz",
                                              "new_password_repeat": "kurz"})
        assert short.status_code == 422 and "mindestens 12 Zeichen" in short.text
        csrf = form_csrf(short.text)
        mismatch = await browser.post(url, data={"csrf_token": csrf, "new_password": "ein-neues-langes-Passwort",
                                                 "new_password_repeat": "ein-anderes-langes-Passwort"})
        assert mismatch.status_code == 422 and "stimmen nicht überein" in mismatch.text
        csrf = form_csrf(mismatch.text)
        done = await browser.post(url, data={"csrf_token": csrf, "new_password": "ein-neues-langes-Passwort",
                                             "new_password_repeat": "ein-neues-langes-Passwort"})
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert "Bitte melden Sie sich mit dem neuen Passwort an." in (await browser.get("/login")).text

        # Every session of the user ended, and the link is used up.
        assert sessions_of(web_engine, user.id) == []  # type: ignore[arg-type]
        assert (await office.get("/")).status_code == 303
        assert (await laptop.get("/")).status_code == 303
        again = await browser.get(url)
        assert again.status_code == 410 and "wurde bereits verwendet" in again.text
        reuse = await browser.post(url, data={"csrf_token": csrf, "new_password": "noch-ein-langes-Passwort",
                                              "new_password_repeat": "noch-ein-langes-Passwort"})
        assert reuse.status_code == 410

    async with client_for(mail_app) as fresh:
        assert (await login(fresh, MAIN_BACKOFFICE)).status_code == 401
        assert (await login(fresh, MAIN_BACKOFFICE, "ein-neues-langes-Passwort")).status_code == 303


async def test_reset_unlocks_a_throttled_account(mail_app: FastAPI, smtp_server: SmtpServer) -> None:
    async with client_for(mail_app) as browser:
        for _ in range(5):
            await login(browser, MAIN_BACKOFFICE, "falsch")
        assert (await login(browser, MAIN_BACKOFFICE)).status_code == 429
        await request_reset(browser, MAIN_BACKOFFICE)
        url = f"/passwort-zuruecksetzen/{await reset_token_from(smtp_server, MAIN_BACKOFFICE)}"
        page = await browser.get(url)
        await browser.post(url, data={"csrf_token": form_csrf(page.text), "new_password": "ein-neues-langes-Passwort",
                                      "new_password_repeat": "ein-neues-langes-Passwort"})
        assert (await login(browser, MAIN_BACKOFFICE, "ein-neues-langes-Passwort")).status_code == 303


async def test_reset_answer_is_the_same_for_unknown_addresses(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    answers = []
    for email in (MAIN_BACKOFFICE, "niemand@tenderdesk.example"):
        async with client_for(mail_app) as browser:
            response = await request_reset(browser, email)
            page = await browser.get("/login")
            answers.append((response.status_code, response.headers["location"],
                            CSRF_RE.sub("", page.text), page.status_code))
    assert answers[0] == answers[1]
    assert SAME_ANSWER in answers[0][2]
    await reset_mail(smtp_server, MAIN_BACKOFFICE)
    assert [str(m["To"]) for m in smtp_server.capture.messages] == [MAIN_BACKOFFICE]
    with Session(web_engine) as s:
        assert len(s.exec(select(PasswordReset)).all()) == 1


async def test_reset_link_problems_have_clear_pages(mail_app: FastAPI, web_engine: Engine) -> None:
    user = user_by_email(web_engine, MAIN_BACKOFFICE)
    expired_token = new_token()
    with session_scope(web_engine) as s:
        s.add(PasswordReset(user_id=user.id, token_hash=hash_token(expired_token),  # type: ignore[arg-type]
                            created_at=utcnow() - timedelta(minutes=31), expires_at=utcnow() - timedelta(minutes=1)))
    async with client_for(mail_app) as browser:
        expired = await browser.get(f"/passwort-zuruecksetzen/{expired_token}")
        unknown = await browser.get(f"/passwort-zuruecksetzen/{new_token()}")
        posted = await browser.post(f"/passwort-zuruecksetzen/{expired_token}", data={
            "csrf_token": "x", "new_password": "ein-neues-langes-Passwort",
            "new_password_repeat": "ein-neues-langes-Passwort"})
    assert expired.status_code == 410 and "ist abgelaufen" in expired.text
    assert unknown.status_code == 404 and "ist ungültig" in unknown.text
    assert posted.status_code == 410
    for page in (expired, unknown):
        assert 'href="/passwort-vergessen"' in page.text
    async with client_for(mail_app) as fresh:  # the password did not change
        assert (await login(fresh, MAIN_BACKOFFICE)).status_code == 303


async def test_reset_smtp_failure_gives_the_same_answer_and_logs_no_token(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.capture.script("554 5.7.1 rejected")
    caplog.set_level(logging.INFO)
    async with client_for(mail_app) as browser:
        response = await request_reset(browser, MAIN_BACKOFFICE)
        page = await browser.get("/login")
    assert response.status_code == 303 and SAME_ANSWER in page.text
    # A 5xx is final, as for every email: the row shows the server's reply.
    [email] = await eventually(lambda: [e for e in reset_emails(web_engine) if e.status == EmailStatus.FAILED])
    assert email.last_reply == "554 5.7.1 rejected" and email.attempts == 1
    assert smtp_server.capture.messages == []
    assert "rejected permanently (554)" in caplog.text
    with Session(web_engine) as s:
        [row] = s.exec(select(PasswordReset)).all()
    assert row.token_hash is not None
    assert "passwort-zuruecksetzen" not in caplog.text and row.token_hash not in caplog.text


async def test_reset_after_a_transient_smtp_error_is_retried(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    """A 4xx is retried by the workflow; only the link of the delivered attempt works."""
    smtp_server.capture.script("451 4.7.1 greylisted")
    async with client_for(mail_app) as browser:
        await request_reset(browser, MAIN_BACKOFFICE)
        token = await reset_token_from(smtp_server, MAIN_BACKOFFICE)
        [email] = await eventually(lambda: [e for e in reset_emails(web_engine) if e.status == EmailStatus.SENT])
        assert email.attempts == 2
        assert (await browser.get(f"/passwort-zuruecksetzen/{token}")).status_code == 200


async def test_reset_with_temporal_down_still_answers(
    web_app: FastAPI, web_engine: Engine, caplog: pytest.LogCaptureFixture,
) -> None:
    """The email waits as a pending System Email row; no link exists yet."""
    caplog.set_level(logging.INFO)
    async with client_for(web_app) as browser:
        response = await request_reset(browser, MAIN_BACKOFFICE)
        page = await browser.get("/login")
    assert response.status_code == 303 and SAME_ANSWER in page.text
    [email] = reset_emails(web_engine)
    assert email.status == EmailStatus.PENDING
    with Session(web_engine) as s:
        [row] = s.exec(select(PasswordReset)).all()
    assert row.token_hash is None and row.system_email_id == email.id
    assert "could not start delivery of system email" in caplog.text and "passwort-zuruecksetzen" not in caplog.text


async def test_reset_requests_are_throttled(mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer) -> None:
    """Three emails per account in 15 minutes (the fourth request looks the same
    but sends nothing), ten requests per client address."""
    async with client_for(mail_app) as browser:
        for _ in range(4):
            response = await request_reset(browser, MAIN_BACKOFFICE)
            assert response.status_code == 303
        await eventually(lambda: len(smtp_server.capture.to(MAIN_BACKOFFICE)) == 3)
        assert len(reset_emails(web_engine)) == 3
        for n in range(6):
            assert (await request_reset(browser, f"x{n}@example.com")).status_code == 303
        blocked = await request_reset(browser, OTHER_BACKOFFICE)
    assert blocked.status_code == 429
    assert "Zu viele Anfragen zum Zurücksetzen des Passworts. Bitte versuchen Sie es in 15 Minuten erneut." in (
        blocked.text
    )
    assert smtp_server.capture.to(OTHER_BACKOFFICE) == []
    async with client_from(mail_app, "10.3.3.3") as elsewhere:
        assert (await request_reset(elsewhere, OTHER_BACKOFFICE)).status_code == 303
    await reset_mail(smtp_server, OTHER_BACKOFFICE)


async def test_reset_email_follows_the_users_language(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    set_locale(web_engine, MAIN_BACKOFFICE, "en")
    async with client_for(mail_app) as browser:
        response = await request_reset(browser, MAIN_BACKOFFICE)
        page = await browser.get("/login")
        assert SAME_ANSWER in page.text  # the anonymous answer stays German: it must not reveal anything
        message = await reset_mail(smtp_server, MAIN_BACKOFFICE)
        assert response.status_code == 303
        assert message["Subject"] == "Tenderdesk: reset your password"
        assert "Hello Anna Berger," in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        token = await reset_token_from(smtp_server, MAIN_BACKOFFICE)
        form_page = await browser.get(f"/passwort-zuruecksetzen/{token}")
        assert "Set a new password" in form_page.text


# ------------------------------------------------------------------- CSRF
async def test_new_forms_need_their_csrf_token(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    token = new_token()
    user = user_by_email(web_engine, MAIN_BACKOFFICE)
    with session_scope(web_engine) as s:
        s.add(PasswordReset(user_id=user.id, token_hash=hash_token(token),  # type: ignore[arg-type]
                            expires_at=utcnow() + timedelta(minutes=30)))
    async with client_for(mail_app) as browser:
        forgot = await browser.post("/passwort-vergessen", data={"email": MAIN_BACKOFFICE, "csrf_token": "x" * 43})
        assert forgot.status_code == 403 and "Sicherheitsprüfung" in forgot.text
        page = await browser.get(f"/passwort-zuruecksetzen/{token}")
        browser.cookies.clear()  # a foreign site's form: no cookie of ours
        reset = await browser.post(f"/passwort-zuruecksetzen/{token}", data={
            "csrf_token": form_csrf(page.text), "new_password": "ein-neues-langes-Passwort",
            "new_password_repeat": "ein-neues-langes-Passwort"})
        assert reset.status_code == 403
        csrf = await logged_in(browser, MAIN_BACKOFFICE)
        no_token = await browser.post("/sprache", data={"locale": "en", "next": "/"})
        wrong_token = await browser.post("/sprache", data={"locale": "en", "next": "/", "csrf_token": csrf[::-1]})
        for response in (no_token, wrong_token):
            assert response.status_code == 403
    assert smtp_server.capture.messages == []
    with Session(web_engine) as s:
        assert s.exec(select(PasswordReset)).one().used_at is None
        assert s.exec(select(User).where(User.email == MAIN_BACKOFFICE)).one().locale == "de"
    async with client_for(mail_app) as fresh:
        assert (await login(fresh, MAIN_BACKOFFICE)).status_code == 303  # password unchanged


# ------------------------------------------------------------------- language
def set_locale(engine: Engine, email: str, locale: str) -> None:
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.email == email)).one()
        user.locale = locale
        s.add(user)


async def test_language_switch_renders_english(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    make_linked_tender(web_engine, request, status=TenderStatus.SENT)
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    german = await http.get("/kontakt")
    assert "Abmelden" in german.text and 'action="/sprache"' in german.text
    assert '<input type="hidden" name="next" value="/kontakt">' in german.text

    switched = await http.post("/sprache", data={"csrf_token": csrf, "locale": "en", "next": "/kontakt"})
    assert switched.status_code == 303 and switched.headers["location"] == "/kontakt"
    assert user_by_email(web_engine, MAIN_BACKOFFICE).locale == "en"

    page = await http.get("/kontakt")
    assert '<html lang="en">' in page.text
    for text in ("Log out", "Change password", "Manual requests", "Help &amp; contact", "Language",
                 "Main navigation"):
        assert text in page.text, text
    for text in ("Abmelden", "Passwort ändern", "Hauptnavigation"):
        assert text not in page.text, text
    assert '<strong lang="en" aria-current="true">English</strong>' in page.text

    dashboard = await http.get("/")
    assert dashboard.status_code == 200
    assert i18n.tender_status_label(TenderStatus.SENT, "en") in dashboard.text
    assert i18n.tender_status_label(TenderStatus.SENT, "de") not in dashboard.text
    assert "Assignee" in dashboard.text  # a Python-side label (i18n.t) follows the user too

    error = await http.get("/requests/999999")
    assert error.status_code == 404 and "The request was not found." in error.text

    back = await http.post("/sprache", data={"csrf_token": csrf, "locale": "de", "next": "//evil.example/"})
    assert back.headers["location"] == "/"
    assert "Abmelden" in (await http.get("/kontakt")).text


async def test_language_switch_refuses_unknown_locales(http: httpx.AsyncClient, web_engine: Engine) -> None:
    csrf = await logged_in(http, MAIN_BACKOFFICE)
    response = await http.post("/sprache", data={"csrf_token": csrf, "locale": "fr", "next": "/"})
    assert response.status_code == 422 and "Diese Sprache wird nicht angeboten." in response.text
    assert user_by_email(web_engine, MAIN_BACKOFFICE).locale == "de"


# ------------------------------------------------------------------- roles
#: Plus the ops endpoints, which show no business data (/metrics counts only,
#: and wants a bearer token when METRICS_TOKEN is set).
PUBLIC_ROUTES = {"/login", "/passwort-vergessen", "/passwort-zuruecksetzen/{token}", "/healthz", "/readyz",
                 "/metrics", "/api/openapi.json", "/api/docs"}
#: The JSON API takes an API key instead of a session: 401, never a login redirect.
API_PREFIX = "/api/v1/"


def app_routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, including those of included routers."""
    found: list[tuple[str, set[str]]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append((prefix + route.path, set(route.methods or ())))
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers as branches
                walk(route.original_router.routes, prefix + getattr(route.include_context, "prefix", ""))

    walk(list(app.routes), "")
    assert len(found) > 10, "the route walk found too little"
    return found


async def test_every_page_needs_a_login(web_app: FastAPI) -> None:
    """Nothing but login, password reset and the insurer's link pages (their
    token is the credential) answers without a session."""
    async with client_for(web_app) as anonymous:
        for route_path, methods in app_routes(web_app):
            if route_path in PUBLIC_ROUTES or route_path.startswith("/t/"):
                continue
            path = re.sub(r"\{[^}]+\}", "1", route_path)
            for method in sorted(methods - {"HEAD"}):
                response = await anonymous.request(method, path)
                if route_path.startswith(API_PREFIX):
                    assert response.status_code == 401 and "Bearer" in response.headers["www-authenticate"], route_path
                    continue
                assert response.status_code == 303, (method, route_path)
                assert response.headers["location"].startswith("/login"), (method, route_path)


async def test_admin_has_backoffice_rights_and_no_page_of_its_own(
    web_app: FastAPI, web_engine: Engine
) -> None:
    """Admin reaches every page backoffice reaches, and no page answers an admin
    differently; so no admin-only page exists that could be left unguarded."""
    request = first_request(web_engine)
    linked = make_linked_tender(web_engine, request)
    with Session(web_engine) as s:
        document = s.exec(select(Document).where(Document.request_id == request.id)).first()
    values = {"request_id": str(request.id), "tender_id": str(linked.tender_id), "token": linked.token,
              "document_id": str(document.id if document else 1)}
    admin_only = re.compile(r"(==|!=|\bis)\s*Role\.ADMIN\b|Role\.ADMIN\s*(==|!=)")
    for source in (ROOT / "web").glob("*.py"):
        assert not admin_only.search(source.read_text("utf-8")), f"{source.name} singles out admins"
    async with client_for(web_app) as staff, client_for(web_app) as admin:
        await logged_in(staff, MAIN_BACKOFFICE)
        await logged_in(admin, ADMIN_USER)
        checked = 0
        for route_path, methods in app_routes(web_app):
            if "GET" not in methods or route_path.startswith("/t/") or route_path in PUBLIC_ROUTES:
                continue
            path = re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "1"), route_path)
            as_staff, as_admin = await staff.get(path), await admin.get(path)
            assert as_staff.status_code == as_admin.status_code, path
            checked += 1
        assert checked >= 5


# ---------------------------------------------------------------- issue 8, defect 15
COMMON = ["password1234", "Passwort1234", "Passwort123!", "qwertz123456", "hallo1234567", "Sommer2024!!",
          "123456789012", "P@ssw0rd2024"]


async def test_common_passwords_are_refused_long_and_emoji_ones_work(
    web_app: FastAPI, web_engine: Engine
) -> None:
    async with client_for(web_app) as client:
        csrf = await logged_in(client, MAIN_BACKOFFICE)
        for common in COMMON:
            refused = await client.post("/password", data={
                "csrf_token": csrf, "current_password": "Elbe-Demo-2026!",
                "new_password": common, "new_password_repeat": common,
            })
            assert refused.status_code == 422, common
            assert "zu häufig" in refused.text, common
        long_one = "Ein langer Satz über den Hamburger Hafen, " * 5
        emoji = "Drei 🚀 Raketen über der Elbe 🌊"
        for good, current in ((long_one, "Elbe-Demo-2026!"), (emoji, long_one)):
            ok = await client.post("/password", data={
                "csrf_token": csrf, "current_password": current, "new_password": good, "new_password_repeat": good,
            })
            assert ok.status_code == 303, good
    async with client_for(web_app) as fresh:
        assert (await login(fresh, MAIN_BACKOFFICE, emoji)).status_code == 303


def test_the_demo_logins_follow_the_password_rule() -> None:
    """Issue 10, item 5: a user who changed a demo password could not set it back."""
    from tenderdesk.demo.data import ADMIN_PASSWORD, DEMO_PASSWORD
    from tenderdesk.security.common import is_common
    from web.auth.routes import MIN_PASSWORD_LENGTH

    for password in (DEMO_PASSWORD, ADMIN_PASSWORD):
        assert len(password) >= MIN_PASSWORD_LENGTH and not is_common(password)


async def test_a_new_reset_link_voids_the_older_one(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    async with client_for(mail_app) as browser:
        await request_reset(browser, MAIN_BACKOFFICE)
        await eventually(lambda: [e for e in reset_emails(web_engine) if e.status == EmailStatus.SENT])
        await request_reset(browser, MAIN_BACKOFFICE)
        mails = await eventually(lambda: m if len(m := smtp_server.capture.to(MAIN_BACKOFFICE)) == 2 else None)
        first, second = (RESET_LINK.search(m.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
                         for m in mails)

        old = await browser.get(f"/passwort-zuruecksetzen/{first}")
        assert old.status_code == 410 and "neueren Link ersetzt" in old.text
        new = await browser.get(f"/passwort-zuruecksetzen/{second}")
        assert new.status_code == 200


# ---------------------------------------------------------------- headers and settings (issue 8)
CSP_MUST = ("default-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'")


async def test_every_page_type_sends_the_security_headers_and_safe_cookies(
    web_settings: Settings, web_engine: Engine, no_temporal: TemporalClientFactory
) -> None:
    """Login page, backoffice page, error page and a dead insurer link, over http
    and https: CSP, nosniff, HSTS only on https; every cookie HttpOnly and SameSite,
    Secure on https."""
    for base in ("http://testserver", "https://testserver"):
        settings = web_settings.model_copy(update={"base_url": base.replace("testserver", "tenderdesk.example"),
                                                    "secret_key": "k" * 48})
        app = create_app(settings, web_engine, temporal_client_factory=no_temporal)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as client:
            answers = [await client.get("/login"), await login(client, MAIN_BACKOFFICE)]
            answers += [await client.get("/"), await client.get("/requests/999999"), await client.get("/t/" + "x" * 43)]
        for response in answers:
            headers = response.headers
            assert all(part in headers["content-security-policy"] for part in CSP_MUST), response.url
            assert headers["x-content-type-options"] == "nosniff"
            assert ("strict-transport-security" in headers) == base.startswith("https"), response.url
            for cookie in headers.get_list("set-cookie"):
                assert "HttpOnly" in cookie and "SameSite=" in cookie, cookie
                assert ("Secure" in cookie) == base.startswith("https"), cookie
        assert {r.status_code for r in answers} >= {200, 303, 404}


def test_the_web_refuses_the_default_secret_key_on_https(web_settings: Settings, web_engine: Engine) -> None:
    from tenderdesk.config import DEFAULT_SECRET_KEY, InsecureSettings

    public = web_settings.model_copy(update={"base_url": "https://tenderdesk.example",
                                             "secret_key": DEFAULT_SECRET_KEY})
    with pytest.raises(InsecureSettings, match="SECRET_KEY"):
        create_app(public, web_engine)
    local = public.model_copy(update={"base_url": "http://127.0.0.1:8000"})
    create_app(local, web_engine)  # a developer's machine may keep it


async def test_failed_logins_slow_down_the_guesser_not_the_owner_who_is_told(
    mail_app: FastAPI, web_engine: Engine, smtp_server: SmtpServer
) -> None:
    """Issue 8: five failures used to lock the account for everyone for 15 minutes."""
    async with client_from(mail_app, "10.1.1.1") as guesser, client_from(mail_app, "10.2.2.2") as owner:
        for _ in range(5):
            assert (await login(guesser, MAIN_BACKOFFICE, "falsch")).status_code == 401
        for _ in range(3):
            slowed = await login(guesser, MAIN_BACKOFFICE, "falsch")
            assert slowed.status_code == 429 and "in 1 Minute erneut" in slowed.text
        assert (await login(owner, MAIN_BACKOFFICE)).status_code == 303

    [notice] = await eventually(lambda: smtp_server.capture.to(MAIN_BACKOFFICE) or None)
    assert notice["Subject"] == "Tenderdesk: fehlgeschlagene Anmeldeversuche"
    body = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "5 fehlgeschlagene Anmeldeversuche" in body and "/passwort-vergessen" in body
    assert "10.1.1.1" not in body and "falsch" not in body
    await asyncio.sleep(0.5)
    assert len(smtp_server.capture.to(MAIN_BACKOFFICE)) == 1  # once per episode


def test_passwords_use_argon2id_at_least_at_owasp_parameters(web_engine: Engine) -> None:
    """The production hasher (the test run's fast one is set by an environment variable)."""
    from argon2 import PasswordHasher, extract_parameters

    from tenderdesk.security import passwords

    production = PasswordHasher(time_cost=passwords.OWASP_TIME_COST, memory_cost=passwords.OWASP_MEMORY_KIB,
                                parallelism=passwords.OWASP_PARALLELISM)
    params = extract_parameters(production.hash("ein-langes-Passwort"))
    assert params.type.name == "ID" and params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    source = Path(passwords.__file__).read_text()
    assert "PasswordHasher(time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB" in source

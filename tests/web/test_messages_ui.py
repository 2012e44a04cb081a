"""Nachrichten on the request page and the insurer's thread, over HTTP against the
real app, a real Temporal dev server with the worker and loopback SMTP (SQLite
and PostgreSQL). The helpers here (:func:`open_portal`, :func:`page_forms`) are
shared with the insurer-link and timeline tests."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Message,
    MessageRead,
    SystemEmail,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core import i18n
from web.core.sessions import cookie_name, start_session
from web.messages.common import NOT_OPENED

from ..binding.helpers import finish_leftovers
from ..conftest import Running, SmtpServer, eventually
from ..messaging.conftest import Cast, assign, make_cast
from ..workflows.helpers import start, wait_status
from .conftest import BASE_URL

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")
#: Small, so the oversized-upload tests need no big bodies.
MAX_UPLOAD = 200 * 1024
PDF_BYTES = b"%PDF-1.4\n% Fragenkatalog zur Betriebshaftpflicht\n"
STAFF_NOT_OPENED = "Die Kommunikation mit dem Vermittler ist noch nicht eröffnet."


# ---------------------------------------------------------------- forms on a page
@dataclass
class PageForm:
    action: str
    enctype: str
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PageForm] = []
        self._select: str | None = None
        self._option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(PageForm(action=a.get("action", ""), enctype=a.get("enctype", "")))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and a.get("type") != "file":
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name", "")
            self.forms[-1].options[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._option is not None and self._select is not None:
            self.forms[-1].options[self._select].append((self._option, data.strip()))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def page_forms(html: str, action_suffix: str = "") -> list[PageForm]:
    parser = _FormParser()
    parser.feed(html)
    return [f for f in parser.forms if f.action.endswith(action_suffix)]


def one_form(html: str, action_suffix: str, **match: str) -> PageForm:
    found = [f for f in page_forms(html, action_suffix) if all(f.fields.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (action_suffix, match, [f.action for f in page_forms(html)])
    return found[0]


def section(html: str, element_id: str) -> str:
    """The HTML of the element with this id up to the next card (enough for ``in`` checks)."""
    start_at = html.find(f'id="{element_id}"')
    assert start_at >= 0, element_id
    end = html.find('class="card', start_at + 1)
    return html[start_at:end if end > 0 else None]


# ---------------------------------------------------------------- the cast, over HTTP
async def _check_link_response(response: httpx.Response) -> None:
    """Every insurer page answer: no referrer, nothing from third parties."""
    if response.request.url.path.startswith("/t/"):
        assert response.headers.get("referrer-policy") == "no-referrer", response.request.url
        if response.headers.get("content-type", "").startswith("text/html"):
            await response.aread()
            assert not re.search(r'(src|href|action)="(https?:)?//', response.text), response.request.url


@dataclass
class Portal:
    """The app with real Temporal, and logged-in clients for the cast of :func:`make_cast`."""

    run: Running
    app: FastAPI
    cast: Cast
    smtp: SmtpServer
    stack: contextlib.AsyncExitStack
    #: Every response an insurer client got (the header checks ran on each).
    link_responses: list[httpx.Response] = field(default_factory=list)

    @property
    def engine(self) -> Engine:
        return self.run.engine

    @property
    def settings(self) -> Settings:
        return self.run.settings

    @property
    def request_id(self) -> int:
        return self.cast.request_id

    async def anonymous(self) -> httpx.AsyncClient:
        async def record(response: httpx.Response) -> None:
            await _check_link_response(response)
            self.link_responses.append(response)

        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL,
                                   event_hooks={"response": [record]})
        return await self.stack.enter_async_context(client)

    async def as_user(self, user: User) -> tuple[httpx.AsyncClient, str]:
        """A client with a fresh session of ``user``, and the session's CSRF token."""
        with Session(self.engine) as db:
            token, row = start_session(db, self.settings, user)
        client = await self.anonymous()
        client.cookies.set(cookie_name(self.settings), token)
        return client, row.csrf_token

    async def tenders(self, n: int = 1) -> list[Tender]:
        """``n`` tenders started through the workflow and sent (emails delivered)."""
        started = await start(self.run, self.cast.world, n)
        for tender in started:
            await wait_status(self.run, tender, TenderStatus.SENT)
            # the pages read the projection, which may trail the workflow's own state a moment
            await eventually(lambda t=tender: status_of(self.engine, t) == TenderStatus.SENT)  # type: ignore[misc]
        return started

    async def link(self, tender: Tender, nth: int = 0) -> str:
        """The token of the ``nth`` link emailed to the tender's contact."""
        mails = await mails_to(self.smtp, tender.contact_email, nth + 1)
        tokens = [m for mail in mails for m in LINK_RE.findall(text_of(mail))]
        return tokens[nth]


@contextlib.asynccontextmanager
async def open_portal(run: Running, smtp: SmtpServer, *, tag: str = "") -> AsyncIterator[Portal]:
    run.settings.max_upload_bytes = MAX_UPLOAD
    app = create_app(run.settings, run.engine, temporal_client_factory=lambda: run.client)
    async with contextlib.AsyncExitStack() as stack:
        portal = Portal(run=run, app=app, cast=make_cast(run.engine, tag), smtp=smtp, stack=stack)
        try:
            yield portal
        finally:
            await finish_leftovers(run)


async def mails_to(smtp: SmtpServer, address: str, n: int, timeout: float = 15) -> list[EmailMessage]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        mails = smtp.capture.to(address)
        if len(mails) >= n:
            return mails
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(mails)} emails to {address}, expected {n}")
        await asyncio.sleep(0.05)


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def rows(engine: Engine, model: type, *where: object) -> list:  # type: ignore[type-arg]
    with Session(engine) as s:
        return list(s.exec(select(model).where(*where)).all())  # type: ignore[call-overload,arg-type]


def status_of(engine: Engine, tender: Tender) -> TenderStatus:
    with Session(engine) as s:
        row = s.get(Tender, tender.id)
        assert row is not None
        return row.status


def thread_id(engine: Engine, request_id: int, kind: ThreadKind, tender_id: int | None = None) -> int:
    with Session(engine) as s:
        query = select(Thread).where(Thread.request_id == request_id).where(Thread.kind == kind)
        if tender_id is not None:
            query = query.where(Thread.tender_id == tender_id)
        thread = s.exec(query).one()
        assert thread.id is not None
        return thread.id


async def insurer_asks(
    portal: Portal, insurer: httpx.AsyncClient, token: str, body: str,
    file: tuple[str, bytes, str] | None = None,
) -> httpx.Response:
    page = await insurer.get(f"/t/{token}")
    assert page.status_code == 200, page.text
    form = one_form(page.text, "/question")
    return await insurer.post(f"/t/{token}/question", data={**form.fields, "body": body},
                              files={"file": file} if file else None)


async def write(
    client: httpx.AsyncClient, request_id: int, *, thread: int | str | None, body: str,
    file: tuple[str, bytes, str] | None = None,
) -> httpx.Response:
    """Post through the write form of a thread as the page renders it."""
    page = await client.get(f"/requests/{request_id}")
    assert page.status_code == 200
    candidates = page_forms(page.text, f"/requests/{request_id}/messages")
    form = next(f for f in candidates if thread is None or f.fields.get("thread") == str(thread))
    return await client.post(f"/requests/{request_id}/messages", data={**form.fields, "body": body},
                             files={"file": file} if file else None)


# ---------------------------------------------------------------- tests
async def test_insurer_question_with_file_reaches_the_backoffice(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.colleague)
        [tender] = await portal.tenders()
        token = await portal.link(tender)
        insurer = await portal.anonymous()

        asked = await insurer_asks(portal, insurer, token, "Gibt es Vorschäden?",
                                   ("fragen.pdf", PDF_BYTES, "application/pdf"))

        assert asked.status_code == 303, asked.text
        assert status_of(portal.engine, tender) == TenderStatus.IN_PROGRESS
        shown = await insurer.get(asked.headers["location"])
        assert "Ihre Rückfrage wurde übermittelt." in shown.text
        assert "Gibt es Vorschäden?" in section(shown.text, "nachrichten")
        [message] = rows(portal.engine, Message)
        assert message.visible and message.document_id is not None
        own_file = await insurer.get(f"/t/{token}/messages/{message.id}/attachment")
        assert own_file.status_code == 200 and own_file.content == PDF_BYTES

        # the assignee (Jonas) hears of it by email, and the System Emails list shows it
        [notice] = await mails_to(smtp_server, portal.cast.colleague.email, 1)
        assert "Neue Nachricht zur Anfrage" in str(notice["Subject"])
        assert f"http://testserver/requests/{portal.request_id}#nachrichten" in text_of(notice)

        backoffice, _ = await portal.as_user(portal.cast.colleague)
        page = await backoffice.get(f"/requests/{portal.request_id}")
        messages = section(page.text, "nachrichten")
        assert "Gibt es Vorschäden?" in messages and "fragen.pdf" in messages
        assert "Testversicherung 0 AG" in messages and "unbearbeitet" in messages
        assert str(notice["Subject"]) in section(page.text, "system-emails")
        download = await backoffice.get(f"/requests/{portal.request_id}/messages/{message.id}/attachment")
        assert download.status_code == 200 and download.content == PDF_BYTES
        assert "fragen.pdf" in section(page.text, "dokumente")


async def test_backoffice_answer_reaches_the_insurer_through_a_fresh_link(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender] = await portal.tenders()
        first_token = await portal.link(tender)
        backoffice, _ = await portal.as_user(portal.cast.backoffice)
        page = await backoffice.get(f"/requests/{portal.request_id}")  # creates the insurer thread
        insurer_thread = thread_id(portal.engine, portal.request_id, ThreadKind.INSURER, tender.id)
        assert f'name="thread" value="{insurer_thread}"' in page.text

        sent = await write(backoffice, portal.request_id, thread=insurer_thread,
                           body="Bitte beachten Sie den neuen Umsatz.",
                           file=("umsatz.pdf", PDF_BYTES, "application/pdf"))

        assert sent.status_code == 303, sent.text
        shown = await backoffice.get(sent.headers["location"])
        assert "die Gesellschaft wird per E-Mail benachrichtigt" in shown.text
        new_token = await portal.link(tender, nth=1)
        assert new_token != first_token
        [notice] = [m for m in smtp_server.capture.to(tender.contact_email)
                    if str(m["Subject"]).startswith("Neue Nachricht zur Ausschreibung")]
        insurer = await portal.anonymous()
        page = await insurer.get(f"/t/{new_token}")
        assert page.status_code == 200
        thread_html = section(page.text, "nachrichten")
        assert "Bitte beachten Sie den neuen Umsatz." in thread_html and "umsatz.pdf" in thread_html
        assert "Anna" not in thread_html and portal.cast.backoffice.name not in thread_html  # staff stay internal
        [answer] = rows(portal.engine, Message)
        got = await insurer.get(f"/t/{new_token}/messages/{answer.id}/attachment")
        assert got.status_code == 200 and got.content == PDF_BYTES
        emails = await backoffice.get(f"/requests/{portal.request_id}")
        assert str(notice["Subject"]) in section(emails.text, "system-emails")
        # the backoffice's read-only preview of the insurer page shows the same thread, without forms
        preview = await backoffice.get(f"/requests/{portal.request_id}/tenders/{tender.id}/insurer-view")
        assert preview.status_code == 200 and "Bitte beachten Sie den neuen Umsatz." in preview.text
        assert f"/requests/{portal.request_id}/messages/{answer.id}/attachment" in preview.text
        assert page_forms(preview.text, "/question") == [] and page_forms(preview.text, "/offer") == []


async def test_forwarding_an_insurer_question_and_its_file_to_the_broker(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.backoffice)
        [tender] = await portal.tenders()
        token = await portal.link(tender)
        insurer = await portal.anonymous()
        assert (await insurer_asks(portal, insurer, token, "Wie viele Mitarbeiter genau?",
                                   ("liste.pdf", PDF_BYTES, "application/pdf"))).status_code == 303
        [question] = rows(portal.engine, Message)
        backoffice, csrf = await portal.as_user(portal.cast.backoffice)

        page = await backoffice.get(f"/requests/{portal.request_id}")
        assert "Weiterleiten an den Vermittler ist möglich, sobald die Kommunikation mit ihm eröffnet ist." in page.text
        opened = await backoffice.post(f"/requests/{portal.request_id}/broker-thread", data={"csrf_token": csrf})
        assert opened.status_code == 303
        broker_thread = thread_id(portal.engine, portal.request_id, ThreadKind.BROKER)
        page = await backoffice.get(f"/requests/{portal.request_id}")
        form = one_form(page.text, f"/messages/{question.id}/forward")
        assert (str(broker_thread), "Vermittler") in form.options["target_thread_id"]

        forwarded = await backoffice.post(form.action, data={**form.fields, "target_thread_id": str(broker_thread)})

        assert forwarded.status_code == 303, forwarded.text
        [copy] = rows(portal.engine, Message, col(Message.forwarded_from_id) == question.id)
        assert (copy.thread_id, copy.document_id, copy.body) == (broker_thread, question.document_id,
                                                                 "Wie viele Mitarbeiter genau?")
        [notice] = await mails_to(smtp_server, "erika@makler.example", 1)
        assert "weitergeleitet" in text_of(notice)
        # the broker sees the forwarded question with its file, and nothing of the insurer's thread
        broker, _ = await portal.as_user(portal.cast.broker)
        mine = await broker.get(f"/requests/{portal.request_id}")
        messages = section(mine.text, "nachrichten")
        assert "Wie viele Mitarbeiter genau?" in messages and "liste.pdf" in messages
        assert "weitergeleitet aus „Testversicherung 0 AG“" in messages
        assert messages.count('class="msg ') == 1 and 'id="verlauf"' not in mine.text
        got = await broker.get(f"/requests/{portal.request_id}/messages/{copy.id}/attachment")
        assert got.status_code == 200 and got.content == PDF_BYTES
        original = await broker.get(f"/requests/{portal.request_id}/messages/{question.id}/attachment")
        assert original.status_code == 404
        # forwarding the same message there again is the same forward
        again = await backoffice.post(form.action, data={**form.fields, "target_thread_id": str(broker_thread)})
        assert again.status_code == 303
        assert len(rows(portal.engine, Message, col(Message.forwarded_from_id) == question.id)) == 1


async def test_broker_writes_only_after_the_backoffice_opened_the_conversation(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.colleague)
        broker, broker_csrf = await portal.as_user(portal.cast.broker)
        backoffice, csrf = await portal.as_user(portal.cast.colleague)

        mine = await broker.get(f"/requests/{portal.request_id}")
        assert i18n.t(NOT_OPENED) in section(mine.text, "nachrichten")
        assert page_forms(mine.text, "/messages") == []
        staff_page = await backoffice.get(f"/requests/{portal.request_id}")
        assert STAFF_NOT_OPENED in staff_page.text and "Kommunikation mit Vermittler eröffnen" in staff_page.text

        refused = await broker.post(f"/requests/{portal.request_id}/messages",
                                    data={"csrf_token": broker_csrf, "action_id": "a" * 32, "body": "Hallo?"})
        assert refused.status_code == 409
        assert i18n.t(NOT_OPENED) in refused.text and 'Hallo?</textarea>' not in refused.text
        assert rows(portal.engine, Message) == [] and rows(portal.engine, Thread) == []
        # the broker cannot open it himself
        assert (await broker.post(f"/requests/{portal.request_id}/broker-thread",
                                  data={"csrf_token": broker_csrf})).status_code == 403
        without_csrf = await backoffice.post(f"/requests/{portal.request_id}/broker-thread", data={})
        assert without_csrf.status_code == 403 and rows(portal.engine, Thread) == []

        opened = await backoffice.post(f"/requests/{portal.request_id}/broker-thread", data={"csrf_token": csrf})
        assert opened.status_code == 303
        shown = await backoffice.get(opened.headers["location"])
        assert "Die Kommunikation mit dem Vermittler ist eröffnet." in shown.text

        sent = await write(broker, portal.request_id, thread=None, body="Der Umsatz steigt 2025 auf 1,5 Mio.",
                           file=("bwa.pdf", PDF_BYTES, "application/pdf"))
        assert sent.status_code == 303, sent.text
        assert "Ihre Nachricht wurde an das Backoffice gesendet." in (await broker.get(sent.headers["location"])).text
        [notice] = await mails_to(smtp_server, portal.cast.colleague.email, 1)
        assert "Neue Nachricht zur Anfrage" in str(notice["Subject"])
        await eventually(lambda: all(e.status.value == "sent" for e in rows(portal.engine, SystemEmail)))
        page = await backoffice.get(f"/requests/{portal.request_id}")
        assert str(notice["Subject"]) in section(page.text, "system-emails")
        assert "Der Umsatz steigt 2025 auf 1,5 Mio." in section(page.text, "nachrichten")

        # and the backoffice answers: the broker is emailed
        answer = await write(backoffice, portal.request_id,
                             thread=thread_id(portal.engine, portal.request_id, ThreadKind.BROKER), body="Danke!")
        assert answer.status_code == 303
        [to_broker] = await mails_to(smtp_server, "erika@makler.example", 1)
        assert f"http://testserver/requests/{portal.request_id}#nachrichten" in text_of(to_broker)


async def test_read_state_and_unbearbeitet(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.colleague)
        [tender] = await portal.tenders()
        token = await portal.link(tender)
        insurer = await portal.anonymous()
        assert (await insurer_asks(portal, insurer, token, "Vorschäden?")).status_code == 303
        [message] = rows(portal.engine, Message)
        anna, anna_csrf = await portal.as_user(portal.cast.backoffice)  # not the assignee
        jonas, jonas_csrf = await portal.as_user(portal.cast.colleague)

        first = await anna.get(f"/requests/{portal.request_id}")
        messages = section(first.text, "nachrichten")
        assert "1 neu" in messages and "unbearbeitet" in messages
        assert "Nur Jonas Kollege als Bearbeiter kann Nachrichten als bearbeitet markieren." in messages
        assert page_forms(first.text, "/processed") == []
        assert [r.user_id for r in rows(portal.engine, MessageRead)] == [portal.cast.backoffice.id]
        second = await anna.get(f"/requests/{portal.request_id}")
        assert "1 neu" not in section(second.text, "nachrichten")

        refused = await anna.post(f"/requests/{portal.request_id}/messages/{message.id}/processed",
                                  data={"csrf_token": anna_csrf})
        assert refused.status_code == 403
        assert "Nur der Bearbeiter der Anfrage (Jonas Kollege) kann Nachrichten als bearbeitet markieren." \
            in refused.text
        assert rows(portal.engine, Message)[0].unprocessed

        page = await jonas.get(f"/requests/{portal.request_id}")
        form = one_form(page.text, f"/messages/{message.id}/processed")
        done = await jonas.post(form.action, data=form.fields)
        assert done.status_code == 303
        assert not rows(portal.engine, Message)[0].unprocessed
        after = await jonas.get(done.headers["location"])
        assert "Die Nachricht ist als bearbeitet markiert." in after.text
        assert "unbearbeitet" not in section(after.text, "nachrichten").replace("Als bearbeitet", "")


async def test_brokers_and_strangers_reach_only_their_own(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender] = await portal.tenders()
        token = await portal.link(tender)
        insurer = await portal.anonymous()
        assert (await insurer_asks(portal, insurer, token, "Interne Rückfrage der Gesellschaft",
                                   ("intern.pdf", PDF_BYTES, "application/pdf"))).status_code == 303
        [question] = rows(portal.engine, Message)
        backoffice, csrf = await portal.as_user(portal.cast.backoffice)
        await backoffice.post(f"/requests/{portal.request_id}/broker-thread", data={"csrf_token": csrf})
        broker_thread = thread_id(portal.engine, portal.request_id, ThreadKind.BROKER)
        insurer_thread = question.thread_id
        assert (await write(backoffice, portal.request_id, thread=broker_thread, body="Nur für Erika",
                            file=("erika.pdf", PDF_BYTES, "application/pdf"))).status_code == 303
        [for_erika] = rows(portal.engine, Message, col(Message.body) == "Nur für Erika")

        broker, broker_csrf = await portal.as_user(portal.cast.broker)
        page = await broker.get(f"/requests/{portal.request_id}")
        assert "Interne Rückfrage der Gesellschaft" not in page.text and "intern.pdf" not in page.text
        assert "Nur für Erika" in page.text
        assert (await broker.get(f"/requests/{portal.request_id}/messages/{question.id}/attachment")).status_code == 404
        # a forged thread id still lands in his own broker thread, never in the insurer's
        forged = await broker.post(f"/requests/{portal.request_id}/messages", data={
            "csrf_token": broker_csrf, "action_id": "b" * 32, "thread": str(insurer_thread), "body": "Hallo"})
        assert forged.status_code == 303
        [hello] = rows(portal.engine, Message, col(Message.body) == "Hallo")
        assert hello.thread_id == broker_thread
        for path in (f"/messages/{question.id}/forward", f"/messages/{question.id}/processed", "/broker-thread"):
            response = await broker.post(f"/requests/{portal.request_id}{path}",
                                         data={"csrf_token": broker_csrf, "target_thread_id": str(broker_thread)})
            assert response.status_code == 403, path

        for outsider in (portal.cast.other_broker, portal.cast.stranger):
            client, outsider_csrf = await portal.as_user(outsider)
            assert (await client.get(f"/requests/{portal.request_id}")).status_code == 404
            assert (await client.get(
                f"/requests/{portal.request_id}/messages/{for_erika.id}/attachment")).status_code == 404
            posted = await client.post(f"/requests/{portal.request_id}/messages", data={
                "csrf_token": outsider_csrf, "action_id": "c" * 32, "thread": str(broker_thread), "body": "Fremd"})
            assert posted.status_code == 404
            # his own request's URL with someone else's message: still nothing
            own = portal.cast.other_request_id
            assert (await client.get(f"/requests/{own}/messages/{for_erika.id}/attachment")).status_code == 404
        other, other_csrf = await portal.as_user(portal.cast.stranger)
        for path in (f"/messages/{question.id}/forward", f"/messages/{question.id}/processed", "/broker-thread"):
            response = await other.post(f"/requests/{portal.request_id}{path}",
                                        data={"csrf_token": other_csrf, "target_thread_id": str(broker_thread)})
            assert response.status_code == 404, path
        assert rows(portal.engine, Message, col(Message.body) == "Fremd") == []
        # a forward into a thread of another request is not found either
        other_thread_target = await backoffice.post(
            f"/requests/{portal.request_id}/messages/{question.id}/forward",
            data={"csrf_token": csrf, "target_thread_id": "999999"})
        assert other_thread_target.status_code == 404


async def test_a_hidden_tab_refreshing_does_not_mark_messages_read(dev: Running, smtp_server: SmtpServer) -> None:
    """Issue 10, item 11: the live refresh of a background tab marked new messages read."""
    from tenderdesk.db.models import Party
    from web.core.forms import new_action_id
    from web.messages.inbox import unread_count
    from web.messages.service import post_message
    from web.messages.threads import open_broker_thread

    async with open_portal(dev, smtp_server) as portal:
        staff, _ = await portal.as_user(portal.cast.backoffice)
        open_broker_thread(portal.engine, portal.request_id, portal.cast.backoffice)
        await post_message(engine=portal.engine, client=dev.client, settings=dev.settings, thread_id=None,
                           author=Party.BROKER, user=portal.cast.broker, tender=None, body="Gibt es schon Angebote?",
                           action_id=new_action_id(), request_id=portal.request_id)

        def unread() -> int:
            with Session(portal.engine) as s:
                return unread_count(s, portal.cast.backoffice)

        assert unread() == 1
        hidden = await staff.get(f"/requests/{portal.request_id}", headers={"X-Live-Visibility": "hidden"})
        assert hidden.status_code == 200 and "Gibt es schon Angebote?" in hidden.text
        assert unread() == 1
        await staff.get(f"/requests/{portal.request_id}", headers={"X-Live-Visibility": "visible"})
        assert unread() == 0

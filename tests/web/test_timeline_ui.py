"""The "Verlauf" section of the request page: the audit timeline, newest first, for
the backoffice only (real app, Temporal dev server with the worker, loopback SMTP)."""

from __future__ import annotations

import html as html_lib
import re

from sqlmodel import col

from tenderdesk.db.models import Message, ThreadKind

from ..conftest import Running, SmtpServer
from ..messaging.conftest import assign
from .test_messages_ui import insurer_asks, one_form, open_portal, rows, section, thread_id

ENTRY_RE = re.compile(r'<p class="tl-what"><strong>([^<]+)</strong>')


def timeline_labels(page: str) -> list[str]:
    return [html_lib.unescape(label) for label in ENTRY_RE.findall(section(page, "verlauf"))]


async def test_backoffice_sees_the_timeline_newest_first_brokers_see_none(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        assign(portal.engine, portal.request_id, portal.cast.backoffice)
        [tender] = await portal.tenders()
        token = await portal.link(tender)
        insurer = await portal.anonymous()
        assert (await insurer_asks(portal, insurer, token, "Gibt es Vorschäden?")).status_code == 303
        [question] = rows(portal.engine, Message)
        backoffice, csrf = await portal.as_user(portal.cast.backoffice)
        await backoffice.post(f"/requests/{portal.request_id}/broker-thread", data={"csrf_token": csrf})
        page = await backoffice.get(f"/requests/{portal.request_id}")
        forward = one_form(page.text, f"/messages/{question.id}/forward")
        broker_thread = thread_id(portal.engine, portal.request_id, ThreadKind.BROKER)
        assert (await backoffice.post(forward.action, data={**forward.fields,
                                                            "target_thread_id": str(broker_thread)})).status_code == 303
        page = await backoffice.get(f"/requests/{portal.request_id}")
        processed = one_form(page.text, f"/messages/{question.id}/processed")
        assert (await backoffice.post(processed.action, data=processed.fields)).status_code == 303

        page = await backoffice.get(f"/requests/{portal.request_id}")

        verlauf = section(page.text, "verlauf")
        assert "<details" in verlauf and "neueste zuerst" in verlauf
        labels = timeline_labels(page.text)
        expected = ["Nachricht als bearbeitet markiert", "Nachricht weitergeleitet",
                    "Kommunikation mit dem Vermittler eröffnet", "Rückfrage der Gesellschaft",
                    "Ausschreibung versendet", "Ausschreibung gestartet"]
        positions = [labels.index(label) for label in expected]
        assert positions == sorted(positions), labels
        assert "E-Mail: Ausschreibung" in labels
        assert "Bea Backoffice (Backoffice)" in verlauf and "Testversicherung 0 AG" in verlauf
        assert "Testversicherung 0 AG → Vermittler" in html_lib.unescape(verlauf)
        assert "Status: In Bearbeitung" in verlauf

        broker, _ = await portal.as_user(portal.cast.broker)
        mine = await broker.get(f"/requests/{portal.request_id}")
        assert mine.status_code == 200
        assert 'id="verlauf"' not in mine.text and "Ausschreibung gestartet" not in mine.text
        assert rows(portal.engine, Message, col(Message.forwarded_from_id) == question.id)

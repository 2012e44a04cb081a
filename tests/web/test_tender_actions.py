"""The tender actions menu: one-click actions, "Termine ändern" and "Angebot
hinzufügen" by the backoffice. Everything runs against the real Temporal dev
server and worker: form validation on the seeded SQLite copy (``dev_http``;
the workflow's history proves what reached it), the whole menu on SQLite and
PostgreSQL (``dev``)."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import AuditEvent, Document, DocumentKind, Offer, Party, Request, Tender, utcnow
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core.forms import BERLIN, end_of_day_utc
from web.tenders.routes import parse_schedule
from web.tenders.service import decline

from ..conftest import Running, SmtpServer
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    MAX_UPLOAD,
    SECOND_ACCOUNT_USER,
    accepted_updates,
    client_for,
    eventually,
    first_request,
    logged_in,
    started_tender,
    tenderable_insurer,
    user_by_email,
)
from .test_end_to_end import ACTION_ID_RE, tender_status
from .test_insurer_link import sample_pdf

FORM_ACTION_ID_RE = re.compile(r'name="action_id" value="([0-9a-f]{32})"')


def today() -> date:
    return utcnow().astimezone(BERLIN).date()


def de(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def row(engine: Engine, tender_id: int | None) -> Tender:
    with Session(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        return tender


async def action_id_of(http: httpx.AsyncClient, path: str) -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    match = FORM_ACTION_ID_RE.search(page.text)
    assert match, "no action_id on the page"
    return match.group(1)


# ------------------------------------------------------------------ Termine ändern


def test_parse_schedule_rules() -> None:
    now = datetime.now(UTC)
    day = now.astimezone(BERLIN).date()
    tender = Tender(request_id=1, insurer_id=1, contact_email="x@y", workflow_id="w",
                    deadline_at=end_of_day_utc(day + timedelta(days=10)),
                    next_reminder_at=datetime.combine(day + timedelta(days=3), time(9), tzinfo=BERLIN))

    change, errors = parse_schedule(tender, {"deadline": de(day + timedelta(days=20)),
                                             "next_reminder": (day + timedelta(days=5)).isoformat()}, now)
    assert errors == []
    assert change.deadline_at == end_of_day_utc(day + timedelta(days=20))
    assert change.next_reminder_at == datetime.combine(day + timedelta(days=5), time(9), tzinfo=BERLIN)

    # unchanged days change nothing; only the moved field travels
    change, errors = parse_schedule(tender, {"deadline": de(day + timedelta(days=10)),
                                             "next_reminder": de(day + timedelta(days=4))}, now)
    assert errors == [] and change.deadline_at is None and change.next_reminder_at is not None

    cases = {
        ("", ""): "Bitte geben Sie eine neue Antwortfrist",
        (de(day + timedelta(days=10)), de(day + timedelta(days=3))): "Bitte geben Sie eine neue Antwortfrist",
        ("31.02.2030", ""): "Die Antwortfrist ist kein gültiges Datum",
        ("morgen", ""): "Die Antwortfrist ist kein gültiges Datum",
        (de(day - timedelta(days=1)), ""): "Die Antwortfrist darf nicht in der Vergangenheit liegen.",
        ("", de(day)): "Die nächste Erinnerung muss frühestens morgen sein.",
        ("", "2030-13-01"): "Der Termin der nächsten Erinnerung ist kein gültiges Datum",
        ("", de(day + timedelta(days=11))): "Die nächste Erinnerung muss vor der Antwortfrist",
        (de(day + timedelta(days=5)), de(day + timedelta(days=6))): "Die nächste Erinnerung muss vor der Antwortfrist",
        (de(day + timedelta(days=400)), ""): "höchstens ein Jahr im Voraus",
    }
    for (deadline, reminder), message in cases.items():
        _, errors = parse_schedule(tender, {"deadline": deadline, "next_reminder": reminder}, now)
        assert any(message in e for e in errors), (deadline, reminder, errors)


async def test_schedule_form_validates_and_sends_the_update(dev_http: httpx.AsyncClient, web_dev: Running) -> None:
    engine = web_dev.engine
    request = first_request(engine)
    tender = await started_tender(web_dev, request)
    assert tender.id is not None
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    path = f"/requests/{request.id}/tenders/{tender.id}/schedule"
    action_id = await action_id_of(dev_http, path)

    invalid = [
        ({"deadline": "32.13.2030"}, "Die Antwortfrist ist kein gültiges Datum"),
        ({"deadline": de(today() - timedelta(days=2))}, "nicht in der Vergangenheit"),
        ({"next_reminder": de(today())}, "frühestens morgen"),
        ({"next_reminder": de(today() + timedelta(days=30))}, "vor der Antwortfrist"),
        ({}, "Bitte geben Sie eine neue Antwortfrist"),
    ]
    for fields, message in invalid:
        response = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id, **fields})
        assert response.status_code == 422, fields
        assert message in html.unescape(response.text), fields
        assert f'value="{action_id}"' in response.text  # a retry stays the same action
    forged = await dev_http.post(path, data={"csrf_token": csrf, "action_id": "x",
                                             "deadline": de(today() + timedelta(days=27))})
    assert forged.status_code == 422 and "Das Formular ist veraltet" in forged.text
    assert await accepted_updates(web_dev, tender.workflow_id) == []
    assert row(engine, tender.id).deadline_at == tender.deadline_at

    response = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id,
                                               "deadline": (today() + timedelta(days=27)).isoformat(),
                                               "next_reminder": de(today() + timedelta(days=2))})

    assert response.status_code == 303 and response.headers["location"].endswith(f"#tender-{tender.id}")
    new_deadline = end_of_day_utc(today() + timedelta(days=27))
    new_reminder = datetime.combine(today() + timedelta(days=2), time(9), tzinfo=BERLIN)
    user_id = user_by_email(engine, MAIN_BACKOFFICE).id
    [update] = await accepted_updates(web_dev, tender.workflow_id)
    assert update.name == "reschedule" and update.update_id == action_id == update.arg["action_id"]
    assert update.arg["actor_user_id"] == user_id
    assert datetime.fromisoformat(update.arg["deadline_at"]) == new_deadline
    assert datetime.fromisoformat(update.arg["next_reminder_at"]) == new_reminder
    moved = await eventually(lambda: row(engine, tender.id).deadline_at == new_deadline)
    assert moved and row(engine, tender.id).next_reminder_at == new_reminder
    with Session(engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.tender_id == tender.id)
                       .where(AuditEvent.kind == "rescheduled")).one()
    assert event.actor == Party.BACKOFFICE and event.actor_user_id == user_id
    page = html.unescape((await dev_http.get(response.headers["location"])).text)
    assert "Die Termine wurden geändert" in page and f"Antwortfrist {de(today() + timedelta(days=27))}" in page


async def test_schedule_and_offer_only_while_awaiting_the_insurer(
    dev_http: httpx.AsyncClient, web_dev: Running
) -> None:
    request = first_request(web_dev.engine)
    tender = await started_tender(web_dev, request)
    await decline(web_dev.client, web_dev.engine, tender, reason="Kein Interesse an diesem Risiko")
    await eventually(lambda: row(web_dev.engine, tender.id).status == TenderStatus.DECLINED)
    [declined] = await accepted_updates(web_dev, tender.workflow_id)
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    base = f"/requests/{request.id}/tenders/{tender.id}"
    for path, message in ((f"{base}/schedule", "Termine können im Status „Absage zur Anfrage“ nicht"),
                          (f"{base}/offer", "Ein Angebot kann im Status „Absage zur Anfrage“ nicht")):
        page = await dev_http.get(path)
        assert page.status_code == 409 and message in html.unescape(page.text)
        posted = await dev_http.post(path, data={"csrf_token": csrf, "action_id": "a" * 32,
                                                 "deadline": de(today() + timedelta(days=9))})
        assert posted.status_code == 409 and message in html.unescape(posted.text)  # refused here, not by Temporal
    request_page = (await dev_http.get(f"/requests/{request.id}")).text
    assert f"{base}/schedule" not in request_page and f"{base}/offer" not in request_page
    assert await accepted_updates(web_dev, tender.workflow_id) == [declined]


# ------------------------------------------------------------------ Angebot hinzufügen


def offer_fields(**overrides: str) -> dict[str, str]:
    fields = {"premium": "1.234,50", "sum_insured": "3.000.000",
              "valid_until": de(today() + timedelta(days=60)), "notes": "SB 500 €"}
    fields.update(overrides)
    return fields


def offer_rows(engine: Engine, request_id: int | None) -> tuple[list[Offer], list[Document]]:
    with Session(engine) as s:
        offers = list(s.exec(select(Offer).where(Offer.request_id == request_id)).all())
        documents = list(s.exec(select(Document).where(Document.kind == DocumentKind.OFFER)
                                .where(Document.request_id == request_id)).all())
    return offers, documents


async def test_offer_form_refuses_bad_input_and_stores_nothing(dev_http: httpx.AsyncClient, web_dev: Running) -> None:
    request = first_request(web_dev.engine)
    tender = await started_tender(web_dev, request)
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    path = f"/requests/{request.id}/tenders/{tender.id}/offer"
    action_id = await action_id_of(dev_http, path)
    pdf = ("angebot.pdf", sample_pdf(), "application/pdf")
    cases = [
        (offer_fields(premium=""), pdf, 422, "Bitte geben Sie die Jahresprämie an."),
        (offer_fields(premium="12,345"), pdf, 422, "Die Prämie ist kein gültiger Betrag"),
        (offer_fields(sum_insured="viel"), pdf, 422, "Die Versicherungssumme ist kein gültiger Betrag"),
        (offer_fields(valid_until="01.01.2020"), pdf, 422, "darf nicht in der Vergangenheit liegen"),
        (offer_fields(valid_until="bald"), pdf, 422, "Das Gültigkeitsdatum ist ungültig"),
        (offer_fields(), None, 422, "Bitte laden Sie das Angebot als PDF-Datei hoch."),
        (offer_fields(), ("angebot.pdf", b"<html></html>", "application/pdf"), 422, "Die Datei ist kein PDF."),
        (offer_fields(), ("a.pdf", b"%PDF-" + b"0" * (MAX_UPLOAD + 1), "application/pdf"), 413, "zu groß"),
    ]
    for fields, upload, status, message in cases:
        files = {"file": upload} if upload else {"file": ("", b"", "application/octet-stream")}
        response = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id, **fields},
                                       files=files)
        assert response.status_code == status, (message, response.status_code)
        assert message in html.unescape(response.text), message
    no_csrf = await dev_http.post(path, data={"action_id": action_id, **offer_fields()}, files={"file": pdf})
    assert no_csrf.status_code == 403
    assert await accepted_updates(web_dev, tender.workflow_id) == []
    assert offer_rows(web_dev.engine, request.id) == ([], [])
    assert row(web_dev.engine, tender.id).status == TenderStatus.SENT


async def test_offer_refused_by_the_workflow_leaves_nothing(dev_http: httpx.AsyncClient, web_dev: Running) -> None:
    """The workflow ended behind the projection's back (terminated in the
    Temporal UI): Temporal refuses the offer, and the staged rows are gone."""
    request = first_request(web_dev.engine)
    tender = await started_tender(web_dev, request)
    await web_dev.client.get_workflow_handle(tender.workflow_id).terminate("von Hand beendet")
    csrf = await logged_in(dev_http, MAIN_BACKOFFICE)
    path = f"/requests/{request.id}/tenders/{tender.id}/offer"
    action_id = await action_id_of(dev_http, path)
    response = await dev_http.post(path, data={"csrf_token": csrf, "action_id": action_id, **offer_fields()},
                                   files={"file": ("angebot.pdf", sample_pdf(), "application/pdf")})
    assert response.status_code == 409
    assert "Die Ausschreibung ist bereits beendet." in response.text
    assert offer_rows(web_dev.engine, request.id) == ([], [])


# ------------------------------------------------------------------ authorization


@pytest.mark.parametrize("who, status", [(BROKER_USER, 403), (SECOND_ACCOUNT_USER, 404)])
async def test_every_tender_action_is_backoffice_of_the_account_only(
    dev_http: httpx.AsyncClient, web_dev: Running, who: str, status: int
) -> None:
    engine = web_dev.engine
    request = first_request(engine)
    tender = await started_tender(web_dev, request)
    if who == BROKER_USER:
        with session_scope(engine) as s:
            req = s.get(Request, request.id)
            req.broker_id = user_by_email(engine, BROKER_USER).broker_id  # type: ignore[union-attr,assignment]
            s.add(req)
    csrf = await logged_in(dev_http, who)
    base = f"/requests/{request.id}/tenders/{tender.id}"
    for path in (f"{base}/schedule", f"{base}/offer", f"{base}/insurer-view"):
        assert (await dev_http.get(path)).status_code == status, path
    posts = [f"{base}/actions/{name}" for name in ("remind_now", "withdraw", "mark_in_progress")]
    posts += [f"{base}/schedule", f"{base}/offer", f"/requests/{request.id}/assign",
              f"/requests/{request.id}/assignee"]
    for path in posts:
        response = await dev_http.post(path, data={"csrf_token": csrf, "action_id": "a" * 32,
                                                   "deadline": de(today() + timedelta(days=9)),
                                                   "assignee_id": "1"})
        assert response.status_code == status, path
    assert await accepted_updates(web_dev, tender.workflow_id) == []
    after = row(engine, tender.id)
    assert (after.status, after.reminders_sent, after.deadline_at) == (
        TenderStatus.SENT, 0, tender.deadline_at)


# ------------------------------------------------------------------ with Temporal


async def test_actions_menu_against_the_workflow(dev: Running, smtp_server: SmtpServer) -> None:
    seed_demo(dev.engine, dev.settings, requests=3)
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    with Session(dev.engine) as s:
        request = s.exec(select(Request).order_by(col(Request.id))).first()
    assert request is not None
    first, second = (tenderable_insurer(dev.engine, request, skip=n) for n in (0, 1))
    user_id = user_by_email(dev.engine, MAIN_BACKOFFICE).id

    async with client_for(app) as http:
        csrf = await logged_in(http, MAIN_BACKOFFICE)
        started = await http.post(f"/requests/{request.id}/tenders",
                                  data={"csrf_token": csrf, "insurer_id": [str(first.id), str(second.id)]})
        assert started.status_code == 303, started.text
        with Session(dev.engine) as s:
            by_insurer = {t.insurer_id: t for t in s.exec(select(Tender)).all()}
        a, b = by_insurer[first.id], by_insurer[second.id]  # type: ignore[index]
        assert a.id is not None and b.id is not None
        for tender in (a, b):
            await eventually(lambda t=tender: tender_status(dev.engine, t.id) == TenderStatus.SENT)  # type: ignore[misc]

        def actions_of(page: str, tender_id: int) -> dict[str, str]:
            part = page.split(f'id="tender-{tender_id}"')[1].split("</tr>")[0]
            return dict(ACTION_ID_RE.findall(part))

        page = (await http.get(f"/requests/{request.id}")).text
        assert "Termine ändern" in page and "Angebot hinzufügen" in page
        base_a = f"/requests/{request.id}/tenders/{a.id}"
        base_b = f"/requests/{request.id}/tenders/{b.id}"

        # Erinnerung schicken
        reminded = await http.post(f"{base_a}/actions/remind_now",
                                   data={"csrf_token": csrf, "action_id": actions_of(page, a.id)["remind_now"]})
        assert reminded.status_code == 303
        shown = html.unescape((await http.get(reminded.headers["location"])).text)
        assert f"{first.name}: Die Erinnerung wird versendet." in shown
        await eventually(lambda: row(dev.engine, a.id).reminders_sent == 1)

        # In Bearbeitung
        marked = await http.post(f"{base_a}/actions/mark_in_progress",
                                 data={"csrf_token": csrf, "action_id": actions_of(page, a.id)["mark_in_progress"]})
        assert marked.status_code == 303
        assert tender_status(dev.engine, a.id) == TenderStatus.IN_PROGRESS

        # Termine ändern: invalid, then valid; the projection follows
        deadline_before = row(dev.engine, a.id).deadline_at
        action_id = await action_id_of(http, f"{base_a}/schedule")
        bad = await http.post(f"{base_a}/schedule", data={
            "csrf_token": csrf, "action_id": action_id, "next_reminder": de(today() + timedelta(days=40))})
        assert bad.status_code == 422 and "vor der Antwortfrist" in html.unescape(bad.text)
        assert row(dev.engine, a.id).deadline_at == deadline_before
        new_deadline, new_reminder = today() + timedelta(days=21), today() + timedelta(days=2)
        moved = await http.post(f"{base_a}/schedule", data={
            "csrf_token": csrf, "action_id": action_id, "deadline": de(new_deadline),
            "next_reminder": new_reminder.isoformat()})
        assert moved.status_code == 303, moved.text
        shown = html.unescape((await http.get(moved.headers["location"])).text)
        assert f"{first.name}: Die Termine wurden geändert" in shown
        fresh = row(dev.engine, a.id)
        assert fresh.deadline_at is not None and fresh.next_reminder_at is not None
        assert fresh.deadline_at.replace(tzinfo=UTC) == end_of_day_utc(new_deadline)
        assert fresh.next_reminder_at.replace(tzinfo=UTC) == datetime.combine(
            new_reminder, time(9), tzinfo=BERLIN)
        assert de(new_deadline) in shown

        # Angebot hinzufügen by the backoffice
        action_id = await action_id_of(http, f"{base_a}/offer")
        added = await http.post(
            f"{base_a}/offer", data={"csrf_token": csrf, "action_id": action_id, **offer_fields()},
            files={"file": ("Angebot Gesellschaft.pdf", sample_pdf(), "application/pdf")})
        assert added.status_code == 303, added.text
        assert tender_status(dev.engine, a.id) == TenderStatus.OFFERED
        with Session(dev.engine) as s:
            offer = s.exec(select(Offer).where(Offer.tender_id == a.id)).one()
            document = s.get(Document, offer.document_id)
        assert offer.active and offer.premium_cents == 123450 and offer.sum_insured_cents == 300000000
        assert offer.submitted_by == Party.BACKOFFICE and offer.submitted_by_user_id == user_id
        assert offer.conditions_note == "SB 500 €"
        assert document is not None and document.kind == DocumentKind.OFFER
        assert document.uploaded_by == Party.BACKOFFICE and document.tender_id == a.id
        shown = html.unescape((await http.get(added.headers["location"])).text)
        assert f"{first.name}: Das Angebot wurde übermittelt." in shown
        assert "vom Backoffice erfasst" in shown and "1.234,50" in shown
        # the same form again (double click) changes nothing
        again = await http.post(
            f"{base_a}/offer", data={"csrf_token": csrf, "action_id": action_id, **offer_fields()},
            files={"file": ("Angebot Gesellschaft.pdf", sample_pdf(), "application/pdf")})
        assert again.status_code == 303
        shown = html.unescape((await http.get(again.headers["location"])).text)
        assert f"{first.name}: Dieses Angebot wurde bereits übermittelt." in shown
        other_form = await http.post(
            f"{base_a}/offer", data={"csrf_token": csrf, "action_id": "d" * 32, **offer_fields()},
            files={"file": ("Angebot Gesellschaft.pdf", sample_pdf(), "application/pdf")})
        assert other_form.status_code == 409  # no longer awaiting the insurer
        assert "Ein Angebot kann im Status „Angebot erhalten“ nicht" in html.unescape(other_form.text)
        with Session(dev.engine) as s:
            assert len(s.exec(select(Offer).where(Offer.tender_id == a.id)).all()) == 1

        # Anfrage nicht erfolgreich on the other tender
        page = (await http.get(f"/requests/{request.id}")).text
        withdrawn = await http.post(f"{base_b}/actions/withdraw",
                                    data={"csrf_token": csrf, "action_id": actions_of(page, b.id)["withdraw"]})
        assert withdrawn.status_code == 303
        assert tender_status(dev.engine, b.id) == TenderStatus.WITHDRAWN
        shown = html.unescape((await http.get(withdrawn.headers["location"])).text)
        assert f"{second.name}: Die Ausschreibung wurde zurückgezogen" in shown
        assert (await http.get(f"{base_b}/schedule")).status_code == 409

        # a workflow refusal is shown with the insurer's name
        refused = await http.post(f"{base_b}/actions/withdraw",
                                  data={"csrf_token": csrf, "action_id": "c" * 32})
        shown = html.unescape((await http.get(refused.headers["location"])).text)
        assert f"{second.name}: " in shown and ("nicht mehr möglich" in shown or "bereits beendet" in shown)

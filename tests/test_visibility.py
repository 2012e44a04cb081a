"""TenderWorkflow on the real Temporal dev server, on SQLite and PostgreSQL.

The time-skipping test server has no real visibility store and answers some
RPCs differently, so what the backoffice and operators rely on is checked here
against the dev server: the ``TenderStatus`` search attribute (lists and the
Temporal UI filter on it), German refusals that leave the database untouched,
duplicate actions, the one-open-tender-per-insurer rule, and that no personal
data or link token ever lands in a workflow's history (Temporal shows history
payloads in plain text).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from google.protobuf import text_format
from google.protobuf.message import Message as ProtoMessage
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import Payload

import web.tenders.start
from tenderdesk.contracts import Action, ActionResult, QuestionAction
from tenderdesk.db.models import AuditEvent, Broker, Message, Offer, Party, Policyholder, Tender
from tenderdesk.states import TenderStatus
from web.tenders.service import (
    OfferTerms,
    TenderActionError,
    ask_question,
    decline,
    new_action_id,
    send_action,
    submit_offer,
)
from web.tenders.start import start_tenders

from .conftest import Running, SmtpServer
from .factories import World, make_world
from .workflows.helpers import handle, start, wait_status

LINK_RE = re.compile(r"http://testserver/t/([A-Za-z0-9_-]+)")


# ------------------------------------------------------------------ helpers
async def visible_ids(run: Running, query: str) -> set[str]:
    return {wf.id async for wf in run.client.list_workflows(query)}


async def wait_listed(run: Running, world: World, status: TenderStatus, expected: set[str],
                      timeout: float = 10.0) -> None:
    """Poll visibility: it is updated asynchronously after the workflow task.

    ``TaskQueue`` scopes the query to this test, because the dev server is shared
    by the whole session and every test's request has id 1."""
    query = (f'TenderStatus = "{status.value}" AND RequestId = "{world.request_id}" '
             f'AND TaskQueue = "{run.task_queue}"')
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await visible_ids(run, query)) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{query!r} lists {found}, expected {expected}")
        await asyncio.sleep(0.2)


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


def plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    content: Any = body.get_content()
    return str(content)


def payload_texts(message: ProtoMessage) -> list[str]:
    """Every ``Payload.data`` inside a history event, as readable text."""
    if isinstance(message, Payload):
        raw = message.data.decode("utf-8", "replace")
        try:  # JSON escapes umlauts as \u00fc; undo that so German text matches
            return [json.dumps(json.loads(raw), ensure_ascii=False)]
        except ValueError:
            return [raw]
    found: list[str] = []
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if isinstance(value, ProtoMessage):
            values = [value]
        elif hasattr(value, "values"):  # a map field
            values = list(value.values())
        else:  # a repeated field
            values = list(value)
        for item in values:
            if isinstance(item, ProtoMessage):
                found.extend(payload_texts(item))
    return found


def offer_terms(days: float = 30) -> OfferTerms:
    return OfferTerms(premium_cents=150_000, valid_until=datetime.now(UTC) + timedelta(days=days))


def db_state(engine: Engine, tender: Tender) -> tuple[Any, ...]:
    """Everything an action could touch: the tender row, its messages, offers and audit."""
    with Session(engine) as s:
        t = s.get(Tender, tender.id)
        assert t is not None
        messages = s.exec(select(Message.id, Message.visible).order_by(col(Message.id))).all()
        offers = s.exec(select(Offer.id, Offer.active).order_by(col(Offer.id))).all()
        audit = s.exec(select(AuditEvent.kind).where(AuditEvent.tender_id == tender.id)).all()
        return (t.status, t.projection_version, t.current_offer_id, t.ended_at,
                tuple(messages), tuple(offers), tuple(audit))


async def sent_tenders(dev: Running, n: int = 1) -> tuple[World, list[Tender]]:
    world = make_world(dev.engine)
    tenders = await start(dev, world, n)
    for tender in tenders:
        await wait_status(dev, tender, TenderStatus.SENT)
    return world, tenders


# ------------------------------------------------------------- visibility
async def test_tender_status_search_attribute_follows_updates(dev: Running) -> None:
    world, [a, b] = await sent_tenders(dev, 2)
    await wait_listed(dev, world, TenderStatus.SENT, {a.workflow_id, b.workflow_id})

    await ask_question(dev.client, dev.engine, a, body="Gibt es Vorschäden?")
    await wait_listed(dev, world, TenderStatus.IN_PROGRESS, {a.workflow_id})

    await submit_offer(dev.client, dev.engine, a, offer_terms(), by=Party.INSURER)
    await wait_listed(dev, world, TenderStatus.OFFERED, {a.workflow_id})

    await decline(dev.client, dev.engine, b, reason="Kein Zeichnungsinteresse.")
    await wait_listed(dev, world, TenderStatus.DECLINED, {b.workflow_id})
    await wait_listed(dev, world, TenderStatus.SENT, set())


async def test_failed_deliveries_of_today_are_found_by_search_attribute(
    dev: Running, smtp_server: SmtpServer
) -> None:
    """The README's ops recipe "all failed deliveries today": DeliveryFailedOn = '<UTC day>'."""
    world = make_world(dev.engine)
    smtp_server.capture.script_rcpt("550 5.1.1 User unknown")
    [failed] = await start(dev, world)
    query = (f"DeliveryFailedOn = '{datetime.now(UTC).date().isoformat()}' "
             f"AND RequestId = '{world.request_id}'")
    found: set[str] = set()
    for _ in range(100):
        found = {w.id async for w in dev.client.list_workflows(query) if w.id.startswith(dev.task_queue)}
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == {failed.workflow_id}


async def test_static_summary_names_the_request(dev: Running) -> None:
    world, [tender] = await sent_tenders(dev)
    description = await handle(dev, tender).describe()
    summary = await description.static_summary()
    assert summary is not None and "MA-TEST-00001" in summary


# ---------------------------------------------------------------- refusals
async def test_illegal_update_on_running_tender_is_refused_and_changes_nothing(dev: Running) -> None:
    _, [tender] = await sent_tenders(dev)
    await submit_offer(dev.client, dev.engine, tender, offer_terms(), by=Party.INSURER)
    before = db_state(dev.engine, tender)

    with pytest.raises(TenderActionError) as declined:
        await decline(dev.client, dev.engine, tender, reason="Doch lieber nicht.")
    assert str(declined.value) == "Eine Absage ist im Status „Angebot erhalten“ nicht möglich."

    with pytest.raises(TenderActionError) as offered:
        await submit_offer(dev.client, dev.engine, tender, offer_terms(), by=Party.INSURER)
    assert str(offered.value) == (
        "Es liegt bereits ein Angebot vor. Bitte ändern Sie das bestehende Angebot.")

    # The pending Message and Offer rows were deleted again: nothing changed.
    assert db_state(dev.engine, tender) == before


async def test_update_after_the_tender_ended_is_refused_and_changes_nothing(dev: Running) -> None:
    _, [declined_tender, withdrawn_tender] = await sent_tenders(dev, 2)
    await decline(dev.client, dev.engine, declined_tender, reason="Kein Interesse.")
    await send_action(dev.client, withdrawn_tender, "withdraw",
                      Action(action_id=new_action_id()))
    for tender in (declined_tender, withdrawn_tender):
        await asyncio.wait_for(handle(dev, tender).result(), timeout=10)
    before = [db_state(dev.engine, t) for t in (declined_tender, withdrawn_tender)]

    with pytest.raises(TenderActionError) as twice:
        await decline(dev.client, dev.engine, declined_tender, reason="Noch einmal.")
    with pytest.raises(TenderActionError) as late_offer:
        await submit_offer(dev.client, dev.engine, withdrawn_tender, offer_terms(), by=Party.INSURER)

    assert str(twice.value) == str(late_offer.value) == "Die Ausschreibung ist bereits beendet."
    assert [db_state(dev.engine, t) for t in (declined_tender, withdrawn_tender)] == before


async def test_duplicate_action_is_applied_once(dev: Running) -> None:
    _, [tender] = await sent_tenders(dev)
    question_id, offer_id = new_action_id(), new_action_id()

    first = await ask_question(dev.client, dev.engine, tender, body="Umsatz?", action_id=question_id)
    again = await ask_question(dev.client, dev.engine, tender, body="Umsatz?", action_id=question_id)
    offer = await submit_offer(dev.client, dev.engine, tender, offer_terms(), by=Party.INSURER,
                               action_id=offer_id)
    offer_again = await submit_offer(dev.client, dev.engine, tender, offer_terms(),
                                     by=Party.INSURER, action_id=offer_id)

    # Same action_id = same Temporal update ID: the server hands back the first answer.
    assert first.changed and again == first
    assert offer.changed and offer_again == offer
    # Delivered again under another update ID (e.g. a replayed request after the
    # server forgot the update), the workflow's own action_id check answers unchanged.
    with Session(dev.engine) as s:
        message_id = s.exec(select(Message.id).where(Message.action_id == question_id)).one()
    replayed = await handle(dev, tender).execute_update(
        "ask_question", QuestionAction(action_id=question_id, message_id=message_id),
        id=new_action_id(), result_type=ActionResult)
    assert replayed == ActionResult(status=TenderStatus.OFFERED, changed=False,
                                    code=first.code)

    with Session(dev.engine) as s:
        assert len(s.exec(select(Message)).all()) == 1
        assert len(s.exec(select(Offer)).all()) == 1
        kinds = [e.kind for e in s.exec(select(AuditEvent).where(AuditEvent.tender_id == tender.id))]
        assert kinds.count("question_asked") == 1 and kinds.count("offer_submitted") == 1


async def test_second_open_tender_for_same_insurer_is_refused(
    dev: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, [tender] = await sent_tenders(dev)

    async def start_again() -> web.tenders.start.StartOutcome:
        return await start_tenders(
            client=dev.client, engine=dev.engine, task_queue=dev.task_queue,
            request_id=world.request_id, insurer_ids=[tender.insurer_id],
            actor_user_id=world.backoffice_user_id, id_prefix=dev.settings.workflow_id_prefix)

    outcome = await start_again()
    assert outcome.started == []
    assert outcome.refused == {
        tender.insurer_id: "Testversicherung 0 AG ist für diese Anfrage bereits ausgeschrieben."}

    # Two web processes may both pass the database check; Temporal's ID conflict
    # policy refuses the second, and its Tender row is removed again.
    monkeypatch.setattr(web.tenders.start, "open_tender_insurers", lambda session, request_id: set())
    outcome = await start_again()
    assert outcome.started == []
    assert outcome.refused == {
        tender.insurer_id: "Für Testversicherung 0 AG läuft bereits eine Ausschreibung."}
    with Session(dev.engine) as s:
        assert [t.id for t in s.exec(select(Tender))] == [tender.id]


# ------------------------------------------------------------------ privacy
async def test_history_carries_no_personal_data_or_tokens(dev: Running, smtp_server: SmtpServer) -> None:
    world, [tender] = await sent_tenders(dev)
    question = "Gibt es Vorschäden auf Baustellen?"
    await ask_question(dev.client, dev.engine, tender, body=question)
    await send_action(dev.client, tender, "remind_now", Action(action_id=new_action_id()))
    await wait_for(lambda: len(smtp_server.capture.messages) == 2)
    await submit_offer(dev.client, dev.engine, tender,
                       OfferTerms(premium_cents=150_000, valid_until=datetime.now(UTC)
                                  + timedelta(days=30), conditions_note="Selbstbehalt 500 EUR"),
                       by=Party.INSURER)
    await send_action(dev.client, tender, "withdraw", Action(action_id=new_action_id()))
    await asyncio.wait_for(handle(dev, tender).result(), timeout=10)

    tokens = {t for m in smtp_server.capture.messages for t in LINK_RE.findall(plain_text(m))}
    assert len(tokens) == 2, "tender email and reminder each carry their own link token"
    with Session(dev.engine) as s:
        holder = s.exec(select(Policyholder)).one()
        broker = s.exec(select(Broker)).one()
    secrets = [tender.contact_email, holder.name, broker.name, broker.email, question,
               "Selbstbehalt", *tokens]

    history = await handle(dev, tender).fetch_history()
    # Headers and metadata as text, plus every payload decoded (in the text format
    # payload bytes are escaped, so a JSON string would not match literally).
    text = "\n".join(
        [text_format.MessageToString(event, as_utf8=True) for event in history.events]
        + [data for event in history.events for data in payload_texts(event)]
    )
    # Positive control: payloads really are in what we search.
    assert "MA-TEST-00001" in text and f'"tender_id": {tender.id}' in text
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []

"""Read state per user, "unbearbeitet" per message, and the dashboard's "Nachrichten" tab."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import AuditEvent, MessageRead, Party, Request, RequestStatus
from web.core.forms import new_action_id
from web.messages.common import MessagingError
from web.messages.inbox import mark_processed, mark_read, messages_tab, unread_count
from web.messages.service import post_message
from web.messages.threads import open_broker_thread

from ..conftest import Running
from .conftest import Cast, add_tenders, assign, insurer_says


async def _broker_says(engine: Engine, settings: Settings, dev: Running, cast: Cast, body: str) -> int:
    result = await post_message(engine=engine, client=dev.client, settings=settings,
                                thread_id=None, request_id=cast.request_id, author=Party.BROKER, user=cast.broker,
                                tender=None, body=body, action_id=new_action_id())
    assert result.message.id is not None
    return result.message.id


async def test_read_is_per_user_and_idempotent(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    [tender] = add_tenders(engine, cast, 1)
    thread = open_broker_thread(engine, cast.request_id, cast.backoffice)
    await _broker_says(engine, settings, dev, cast, "Erste Frage")
    await _broker_says(engine, settings, dev, cast, "Zweite Frage")
    insurer_says(engine, tender, "Frage der Gesellschaft")
    # The backoffice's own messages are never unread for the backoffice.
    await post_message(engine=engine, client=dev.client, settings=settings, thread_id=thread.id,
                       author=Party.BACKOFFICE, user=cast.backoffice, tender=None, body="Antwort",
                       action_id=new_action_id())
    with Session(engine) as s:
        assert unread_count(s, cast.backoffice) == 3 and unread_count(s, cast.colleague) == 3
        assert unread_count(s, cast.broker) == 1
    assert mark_read(engine, thread.id, cast.backoffice) == 3  # type: ignore[arg-type]
    assert mark_read(engine, thread.id, cast.backoffice) == 0  # type: ignore[arg-type]
    assert mark_read(engine, thread.id, cast.broker) == 3  # type: ignore[arg-type]
    with Session(engine) as s:
        assert unread_count(s, cast.backoffice) == 1 and unread_count(s, cast.colleague) == 3
        assert unread_count(s, cast.broker) == 0
        assert len(s.exec(select(MessageRead).where(MessageRead.user_id == cast.backoffice.id)).all()) == 3


async def test_unprocessed_is_cleared_by_the_assignee_only(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    open_broker_thread(engine, cast.request_id, cast.backoffice)
    first = await _broker_says(engine, settings, dev, cast, "Bitte um Rückruf")
    second = await _broker_says(engine, settings, dev, cast, "Noch etwas")
    assign(engine, cast.request_id, cast.colleague)
    with pytest.raises(MessagingError, match=r"Nur der Bearbeiter der Anfrage \(Jonas Kollege\)"):
        mark_processed(engine, first, cast.backoffice)
    with pytest.raises(MessagingError, match="Backoffice vorbehalten"):
        mark_processed(engine, first, cast.broker)
    assert mark_processed(engine, first, cast.colleague) is True
    assert mark_processed(engine, first, cast.colleague) is False
    # Unassigned: any backoffice user may.
    assign(engine, cast.request_id, None)
    assert mark_processed(engine, second, cast.backoffice) is True
    with Session(engine) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.kind == "message_processed")).all()
        assert sorted((e.actor_user_id or 0) for e in events) == sorted([cast.colleague.id, cast.backoffice.id])  # type: ignore[type-var]
        tab = messages_tab(s, cast.colleague, only_unprocessed=True)
        assert tab.total == 0 and tab.unprocessed_total == 0
        # Processing reads the message for whoever processed it.
        assert messages_tab(s, cast.colleague).unread_total == 1


async def test_messages_tab_filters_and_counts(
    engine: Engine, settings: Settings, dev: Running, cast: Cast
) -> None:
    [t0, t1] = add_tenders(engine, cast, 2)
    open_broker_thread(engine, cast.request_id, cast.backoffice)
    other_thread = open_broker_thread(engine, cast.other_request_id, cast.backoffice)
    assign(engine, cast.request_id, cast.backoffice)
    await _broker_says(engine, settings, dev, cast, "Vermittler fragt")
    insurer_says(engine, t0, "Gesellschaft 0 fragt " + "lang " * 100)
    q1 = insurer_says(engine, t1, "Gesellschaft 1 fragt")
    await post_message(engine=engine, client=dev.client, settings=settings, thread_id=other_thread.id,
                       author=Party.BROKER, user=cast.other_broker, tender=None, body="Otto fragt",
                       action_id=new_action_id())

    with Session(engine) as s:
        everything = messages_tab(s, cast.backoffice)
        assert (everything.total, everything.unread_total, everything.unprocessed_total) == (4, 4, 4)
        newest_first = [r.created_at for r in everything.rows]
        assert newest_first == sorted(newest_first, reverse=True)
        by_label = {r.thread_label: r for r in everything.rows}
        assert set(by_label) == {"Vermittler", "Testversicherung 0 AG", "Testversicherung 1 AG"}
        row = by_label["Testversicherung 1 AG"]
        assert (row.author, row.author_name, row.request_number, row.assignee_name) == (
            Party.INSURER, "Testversicherung 1 AG", "MA-TEST-00001", "Bea Backoffice"
        )
        assert row.unread and row.unprocessed and row.message_id == q1.id
        assert len(by_label["Testversicherung 0 AG"].excerpt) <= 200
        assert by_label["Testversicherung 0 AG"].excerpt.endswith("…")

        mine = messages_tab(s, cast.backoffice, assignee_id="me")
        assert mine.total == 3 and {r.request_id for r in mine.rows} == {cast.request_id}
        unassigned = messages_tab(s, cast.backoffice, assignee_id="unassigned")
        assert [(r.excerpt, r.author_name) for r in unassigned.rows] == [("Otto fragt", "Otto Anders")]
        assert messages_tab(s, cast.backoffice, assignee_id=cast.colleague.id).total == 0
        assert messages_tab(s, cast.colleague, assignee_id=cast.backoffice.id).total == 3

        paged = messages_tab(s, cast.backoffice, per_page=3, page=2)
        assert (paged.pages, paged.page, len(paged.rows)) == (2, 2, 1)
        assert messages_tab(s, cast.backoffice, per_page=3, page=99).page == 2

    # Read, but not processed: gone from "unread", still under "unbearbeitet".
    mark_read(engine, q1.thread_id, cast.backoffice)
    with Session(engine) as s:
        tab = messages_tab(s, cast.backoffice, assignee_id="me")
        assert (tab.total, tab.unread_total, tab.unprocessed_total) == (2, 2, 3)
        open_work = messages_tab(s, cast.backoffice, assignee_id="me", only_unprocessed=True)
        assert open_work.total == 3
        assert {r.message_id: r.unread for r in open_work.rows}[q1.id] is False
    mark_processed(engine, q1.id, cast.backoffice)
    with Session(engine) as s:
        assert messages_tab(s, cast.backoffice, assignee_id="me", only_unprocessed=True).total == 2

    # Bound requests leave the tab.
    with session_scope(engine) as s:
        request = s.get(Request, cast.request_id)
        assert request is not None
        request.status = RequestStatus.BOUND
        s.add(request)
    with Session(engine) as s:
        assert [r.excerpt for r in messages_tab(s, cast.backoffice).rows] == ["Otto fragt"]
        assert unread_count(s, cast.backoffice) == 1

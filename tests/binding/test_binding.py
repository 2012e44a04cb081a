"""Abschluss: the cascade over all tenders, races, permissions and refusals.

The cascade and the race run on the time-skipping server (SQLite) and on the
real dev server (SQLite and PostgreSQL); the refusals and the insert races run
on the dev server against both databases too, and check that a refusal never
reached Temporal (no binding workflow exists) while every binding started one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    AuditEvent,
    Binding,
    Document,
    DocumentKind,
    Offer,
    Party,
    Request,
    RequestStatus,
    Tender,
    TenderLink,
)
from tenderdesk.documents.storage import open_path
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.forms import new_action_id
from web.offers.binding import (
    ALREADY_BOUND,
    EXPIRED,
    NOT_ALLOWED,
    AlreadyBound,
    BindingError,
    BindingNotAllowed,
    BindOutcome,
    bind_offer,
    offer_choices,
)
from web.offers.release import release_offers
from web.tenders.service import send_action

from ..conftest import Running, SmtpServer
from ..factories import World, make_world
from .helpers import (
    BROKER_EMAIL,
    backoffice,
    binding_result,
    broker_user,
    direct_offer,
    emails,
    give_offer,
    no_binding_workflow,
    request_row,
    sent_tenders,
    wait_for,
)

ALREADY_BOUND_DE, EXPIRED_DE, NOT_ALLOWED_DE = (i18n.t(key, "de") for key in (ALREADY_BOUND, EXPIRED, NOT_ALLOWED))


async def _release(run: Running, world: World, *offers: Offer) -> None:
    await release_offers(engine=run.engine, client=run.client, settings=run.settings,
                         offer_ids=[o.id for o in offers], user=backoffice(run.engine, world))  # type: ignore[misc]


def _subjects_to(smtp_server: SmtpServer, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp_server.capture.to(address)]


# ------------------------------------------------------------------ cascade
async def cascade(run: Running, smtp_server: SmtpServer) -> None:
    world = make_world(run.engine)
    winner, waiting, asking = await sent_tenders(run, world, 3)
    offer = await give_offer(run, winner, premium_cents=98_000)
    await send_action(run.client, asking, "mark_in_progress",
                      Action(action_id=new_action_id(), actor_user_id=world.backoffice_user_id))
    await _release(run, world, offer)
    broker = broker_user(run.engine, world)

    outcome = await bind_offer(engine=run.engine, client=run.client, settings=run.settings,
                               offer_id=offer.id, broker_user=broker)  # type: ignore[arg-type]
    assert outcome.workflow_started and outcome.tender_id == winner.id
    request = request_row(run.engine, world.request_id)
    assert request.status == RequestStatus.BOUND and request.bound_at is not None

    result = await binding_result(run, world.request_id)
    assert sorted(result.closed_tender_ids) == sorted(t.id for t in (winner, waiting, asking))  # type: ignore[type-var]
    assert result.broker_notified
    with Session(run.engine) as s:
        assert {t.status for t in s.exec(select(Tender))} == {TenderStatus.CLOSED}
        links = s.exec(select(TenderLink)).all()
        assert len(links) == 3 and all(link.revoked_at is not None for link in links)
        binding = s.exec(select(Binding)).one()
        assert binding.cover_note_document_id == result.cover_note_document_id
        events = s.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        kinds = [e.kind for e in events]
        assert kinds.count("bound") == 1 and kinds.count("cover_note_created") == 1
        assert kinds.count("closed_won") == 1 and kinds.count("closed") == 2
        bound = next(e for e in events if e.kind == "bound")
        assert bound.actor == Party.BROKER and bound.actor_user_id == broker.id

    # The tender workflows send their outcome emails after the close.
    contacts = {t.id: t.contact_email for t in (winner, waiting, asking)}
    await wait_for(lambda: len(smtp_server.capture.messages) >= 3 + 1 + 3 + 1, what="outcome emails")
    assert any(s.startswith("Deckungsauftrag") for s in _subjects_to(smtp_server, contacts[winner.id]))
    for loser in (waiting, asking):
        assert any("nicht zum Zuge gekommen" in s
                   for s in _subjects_to(smtp_server, contacts[loser.id]))
    assert not any("nicht zum Zuge" in s for s in _subjects_to(smtp_server, contacts[winner.id]))
    broker_mails = [m for m in smtp_server.capture.to(BROKER_EMAIL) if "Abschluss" in str(m["Subject"])]
    assert len(broker_mails) == 1
    assert "Testversicherung 0 AG" in broker_mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The Deckungsnote the bind page promises "per E-Mail" is attached, the same PDF as under "Dokumente".
    (pdf,) = list(broker_mails[0].iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename().startswith("Deckungsnote")
    with Session(run.engine) as s:
        note = s.get(Document, result.cover_note_document_id)
        assert note is not None and pdf.get_content() == open_path(run.settings, note.storage_key).read_bytes()
    assert "980,00\xa0€" in broker_mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"/requests/{world.request_id}" in broker_mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_binding_closes_every_tender_under_time_skipping(bts: Running, smtp_server: SmtpServer) -> None:
    await cascade(bts, smtp_server)


async def test_binding_closes_every_tender_on_dev_server(bdev: Running, smtp_server: SmtpServer) -> None:
    await cascade(bdev, smtp_server)


# --------------------------------------------------------------------- race
async def race(run: Running) -> None:
    world = make_world(run.engine)
    first, second = await sent_tenders(run, world, 2)
    a = await give_offer(run, first, premium_cents=98_000)
    b = await give_offer(run, second, premium_cents=97_000)
    await _release(run, world, a, b)
    erika = broker_user(run.engine, world)
    colleague = broker_user(run.engine, world, tag="2")  # a second login of the same broker

    results = await asyncio.gather(
        bind_offer(engine=run.engine, client=run.client, settings=run.settings, offer_id=a.id,  # type: ignore[arg-type]
                   broker_user=erika),
        bind_offer(engine=run.engine, client=run.client, settings=run.settings, offer_id=b.id,  # type: ignore[arg-type]
                   broker_user=colleague),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, BindOutcome)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], AlreadyBound) and str(losses[0]) == ALREADY_BOUND_DE
    with Session(run.engine) as s:
        [binding] = s.exec(select(Binding)).all()
        assert binding.offer_id == wins[0].offer_id
    result = await binding_result(run, world.request_id)
    assert sorted(result.closed_tender_ids) == sorted([first.id, second.id])  # type: ignore[type-var]
    with Session(run.engine) as s:
        kinds = [e.kind for e in s.exec(select(AuditEvent))]
        assert kinds.count("closed_won") == 1 and kinds.count("bound") == 1


async def test_two_concurrent_bindings_make_one_under_time_skipping(bts: Running) -> None:
    await race(bts)


async def test_two_concurrent_bindings_make_one_on_dev_server(bdev: Running) -> None:
    await race(bdev)


async def test_racing_inserts_make_one_binding(bdev: Running) -> None:
    """Many rounds of two simultaneous binds, on SQLite and PostgreSQL; each
    round's winner starts the one binding workflow of its request."""
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    worlds = []
    for round_ in range(4):
        world = make_world(engine, tag=f"R{round_}")
        worlds.append(world)
        a = direct_offer(engine, world, 0)
        b = direct_offer(engine, world, 1)
        erika = broker_user(engine, world, tag=f"R{round_}")
        results = await asyncio.gather(
            *(bind_offer(engine=engine, client=client, settings=settings, offer_id=o.id,  # type: ignore[arg-type]
                         broker_user=erika) for o in (a, b)),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["AlreadyBound", "BindOutcome"], results
        [won] = [r for r in results if isinstance(r, BindOutcome)]
        assert won.workflow_started
        with Session(engine) as s:
            assert len(s.exec(select(Binding).where(Binding.request_id == world.request_id)).all()) == 1
            assert s.get(Request, world.request_id).status == RequestStatus.BOUND  # type: ignore[union-attr]
    # Four requests, four binding workflows run to the end (no tender workflow is left to close).
    for world in worlds:
        result = await binding_result(bdev, world.request_id)
        assert result.closed_tender_ids == [] and result.broker_notified


async def test_unique_request_decides_even_when_checks_passed(bdev: Running) -> None:
    """The loser of a race passed every check before the winner committed: the
    insert's IntegrityError is what turns it away, with the German message."""
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    offer = direct_offer(engine, world, 0)
    other = direct_offer(engine, world, 1)
    with Session(engine) as s:
        s.add(Binding(request_id=world.request_id, offer_id=other.id, tender_id=other.tender_id,  # type: ignore[arg-type]
                      bound_by_id=world.backoffice_user_id))
        s.commit()
    with pytest.raises(AlreadyBound, match=ALREADY_BOUND_DE):
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=offer.id,  # type: ignore[arg-type]
                         broker_user=broker_user(engine, world))
    assert request_row(engine, world.request_id).status == RequestStatus.OPEN
    await no_binding_workflow(bdev, world.request_id)


# -------------------------------------------------------------- refusals
async def test_only_the_requests_broker_may_bind(bdev: Running) -> None:
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    foreign = make_world(engine, tag="B")
    offer = direct_offer(engine, world, 0)

    async def bind(user_id: int | None = None, *, other_broker: bool = False, in_world: World = world) -> None:
        from .helpers import user

        who = user(engine, user_id) if user_id else broker_user(engine, in_world, other_broker=other_broker,
                                                                  tag=new_action_id()[:6])
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=offer.id,  # type: ignore[arg-type]
                         broker_user=who)

    with pytest.raises(BindingNotAllowed, match=NOT_ALLOWED_DE):
        await bind(other_broker=True)  # another broker of the same account
    with pytest.raises(BindingNotAllowed, match=NOT_ALLOWED_DE):
        await bind(in_world=foreign)  # a broker of another account
    with pytest.raises(BindingNotAllowed, match=NOT_ALLOWED_DE):
        await bind(world.backoffice_user_id)  # backoffice does not bind for the broker
    with pytest.raises(BindingNotAllowed, match="nicht gefunden"):
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=424242,
                         broker_user=broker_user(engine, world))
    with Session(engine) as s:
        assert s.exec(select(Binding)).all() == []
    assert request_row(engine, world.request_id).status == RequestStatus.OPEN
    await no_binding_workflow(bdev, world.request_id)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"released": False}, "noch nicht freigegeben"),
        ({"days": -1}, EXPIRED_DE),
        ({"status": TenderStatus.OFFER_EXPIRED}, EXPIRED_DE),
        ({"status": TenderStatus.WITHDRAWN}, "im Status „Anfrage nicht erfolgreich“"),
    ],
    ids=["not-released", "past-validity", "offer-expired", "withdrawn"],
)
async def test_offer_that_cannot_be_bound(bdev: Running, setup: dict[str, object], message: str) -> None:
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    offer = direct_offer(engine, world, 0, **setup)  # type: ignore[arg-type]
    with pytest.raises(BindingError, match=message):
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=offer.id,  # type: ignore[arg-type]
                         broker_user=broker_user(engine, world))
    with Session(engine) as s:
        assert s.exec(select(Binding)).all() == []
        choices = offer_choices(s, world.request_id)
        if setup.get("released", True):
            [choice] = choices
            assert not choice.can_bind and choice.refusal is not None and message in str(choice.refusal)
            assert choice.expired == (message == EXPIRED_DE)
        else:
            assert choices == []
    await no_binding_workflow(bdev, world.request_id)


async def test_superseded_offer_and_bound_request(bdev: Running) -> None:
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    old = direct_offer(engine, world, 0)
    with Session(engine) as s:
        row = s.get(Offer, old.id)
        assert row is not None
        row.active = False
        s.add(row)
        s.commit()
    erika = broker_user(engine, world)
    with pytest.raises(BindingError, match="nicht mehr aktuell"):
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=old.id,  # type: ignore[arg-type]
                         broker_user=erika)
    await no_binding_workflow(bdev, world.request_id)
    current = direct_offer(engine, world, 1)
    first = await bind_offer(engine=engine, client=client, settings=settings, offer_id=current.id,  # type: ignore[arg-type]
                             broker_user=erika)
    assert first.binding_id and first.workflow_id.endswith(f"-binding-r{world.request_id}")
    assert first.workflow_started
    with pytest.raises(AlreadyBound, match=ALREADY_BOUND_DE):
        await bind_offer(engine=engine, client=client, settings=settings, offer_id=current.id,  # type: ignore[arg-type]
                         broker_user=erika)
    with Session(engine) as s:
        [choice] = offer_choices(s, world.request_id)
        assert str(choice.refusal) == ALREADY_BOUND_DE and choice.bound
    # The one binding's follow-up ran once: the broker heard of it.
    assert (await binding_result(bdev, world.request_id)).broker_notified


# ------------------------------------------------------ expired → extended
async def test_expired_offer_extended_released_again_and_bound(bts: Running, smtp_server: SmtpServer) -> None:
    """The guide's procedure: an offer expires, the broker cannot bind it; the
    backoffice edits it (pencil, new validity) and releases it again; the
    broker is emailed and binds."""
    world = make_world(bts.engine)
    [tender] = await sent_tenders(bts, world, 1)
    offer = await give_offer(bts, tender, premium_cents=110_000, days=30)
    await _release(bts, world, offer)
    await wait_for(lambda: len(smtp_server.capture.to(BROKER_EMAIL)) == 1, what="first release email")
    erika = broker_user(bts.engine, world)

    await bts.env.sleep(timedelta(days=31))
    with Session(bts.engine) as s:
        assert s.get(Tender, tender.id).status == TenderStatus.OFFER_EXPIRED  # type: ignore[union-attr]
        [choice] = offer_choices(s, world.request_id)
        assert choice.offer.id == offer.id and choice.expired and not choice.can_bind
        assert str(choice.refusal) == EXPIRED_DE
    with pytest.raises(BindingError) as refused:
        await bind_offer(engine=bts.engine, client=bts.client, settings=bts.settings,
                         offer_id=offer.id, broker_user=erika)  # type: ignore[arg-type]
    assert str(refused.value) == "Das Angebot ist abgelaufen und kann nicht abgeschlossen werden."

    # Backoffice asked the insurer, who agreed: pencil with a new validity.
    extended = await give_offer(bts, tender, premium_cents=110_000, days=20, edit=True, by=Party.BACKOFFICE,
                                user_id=world.backoffice_user_id)
    assert extended.id != offer.id and extended.released_at is None
    with Session(bts.engine) as s:
        assert s.get(Tender, tender.id).status == TenderStatus.OFFERED  # type: ignore[union-attr]
        assert offer_choices(s, world.request_id) == []  # the edit waits for its release
    await _release(bts, world, extended)
    await wait_for(lambda: len(smtp_server.capture.to(BROKER_EMAIL)) == 2, what="second release email")
    assert "Neues Angebot" in str(smtp_server.capture.to(BROKER_EMAIL)[1]["Subject"])
    with Session(bts.engine) as s:
        [choice] = offer_choices(s, world.request_id)
        assert choice.offer.id == extended.id and choice.can_bind and not choice.expired

    outcome = await bind_offer(engine=bts.engine, client=bts.client, settings=bts.settings,
                               offer_id=extended.id, broker_user=erika)  # type: ignore[arg-type]
    result = await binding_result(bts, world.request_id)
    assert result.closed_tender_ids == [tender.id] and outcome.offer_id == extended.id
    await wait_for(lambda: any(str(m["Subject"]).startswith("Deckungsauftrag")
                               for m in smtp_server.capture.to(tender.contact_email)), what="cover order")
    with Session(bts.engine) as s:
        assert s.get(Tender, tender.id).status == TenderStatus.CLOSED  # type: ignore[union-attr]
        assert len(s.exec(select(Document).where(Document.kind == DocumentKind.COVER_NOTE)).all()) == 1
    assert [e.kind for e in emails(bts.engine) if e.tender_id is None] == [
        "offers_released", "offers_released", "bound_broker"]

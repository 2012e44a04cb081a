"""Freigabe both ways (per account), the broker's email, and the expiring-offers list."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.db.models import Account, AuditEvent, Offer, Party, Request, RequestStatus, Tender
from tenderdesk.states import TenderStatus
from web.core.forms import end_of_day_utc, today_berlin
from web.offers.binding import offer_choices
from web.offers.release import (
    ReleaseError,
    ReleaseNotAllowed,
    auto_release_if_configured,
    expiring_offers,
    insurer_may_edit,
    offers_visible_to_broker,
    release_email_key,
    release_offers,
)

from ..conftest import Running, SmtpServer
from ..factories import make_world
from .helpers import (
    BROKER_EMAIL,
    backoffice,
    broker_user,
    direct_offer,
    emails,
    give_offer,
    now,
    offer_row,
    sent_tenders,
    set_need_release,
    wait_email_sent,
)


def visible(engine: Engine, request_id: int) -> list[int]:
    with Session(engine) as s:
        return [o.id for o in offers_visible_to_broker(s, request_id)]  # type: ignore[misc]


async def test_offers_need_release_broker_sees_nothing_until_released(bts: Running, smtp_server: SmtpServer) -> None:
    world = make_world(bts.engine)
    first, second = await sent_tenders(bts, world, 2)
    cheap = await give_offer(bts, first, premium_cents=98_000, sum_insured_cents=300_000_000)
    dear = await give_offer(bts, second, premium_cents=121_050)
    assert visible(bts.engine, world.request_id) == []
    with Session(bts.engine) as s:
        assert offer_choices(s, world.request_id) == []
    assert insurer_may_edit(cheap) and insurer_may_edit(dear)

    staff = backoffice(bts.engine, world)
    outcome = await release_offers(engine=bts.engine, client=bts.client, settings=bts.settings,
                                   offer_ids=[dear.id, cheap.id], user=staff)  # type: ignore[list-item]
    assert sorted(outcome.released_offer_ids) == sorted([cheap.id, dear.id])  # type: ignore[type-var]
    assert outcome.email is not None and outcome.email.to_addr == BROKER_EMAIL
    assert outcome.email.idempotency_key == release_email_key(world.request_id, [cheap.id, dear.id])  # type: ignore[list-item]
    assert visible(bts.engine, world.request_id) == [cheap.id, dear.id]
    released = offer_row(bts.engine, cheap.id)  # type: ignore[arg-type]
    assert released.released_at is not None and released.released_by_id == staff.id
    assert not insurer_may_edit(released)

    row = await wait_email_sent(bts.engine, outcome.email.id)  # type: ignore[arg-type]
    [mail] = smtp_server.capture.to(BROKER_EMAIL)
    body = mail.get_content()
    assert "Neue Angebote zu Ihrer Anfrage MA-TEST-00001" in str(mail["Subject"])
    assert "Testversicherung 0 AG: Jahresprämie 980,00\xa0€, Versicherungssumme 3.000.000,00\xa0€" in body
    assert "Testversicherung 1 AG: Jahresprämie 1.210,50\xa0€" in body
    assert f"http://testserver/requests/{world.request_id}" in body
    assert row.kind == "offers_released" and "Testversicherung 1 AG" in row.body_text

    # Again (double click): nothing new, no second email.
    again = await release_offers(engine=bts.engine, client=bts.client, settings=bts.settings,
                                 offer_ids=[cheap.id], user=staff)  # type: ignore[list-item]
    assert again.released_offer_ids == [] and again.already_released_offer_ids == [cheap.id]
    assert again.email is None
    assert len(emails(bts.engine, "offers_released")) == 1
    with Session(bts.engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.kind == "offers_released")).all()
        assert event.actor == Party.BACKOFFICE and event.actor_user_id == staff.id


async def test_no_release_needed_offers_visible_at_once_and_broker_emailed(
    bts: Running, smtp_server: SmtpServer
) -> None:
    world = make_world(bts.engine)
    set_need_release(bts.engine, world, False)
    [tender] = await sent_tenders(bts, world, 1)
    offer = await give_offer(bts, tender, premium_cents=150_000)
    # Visible the moment the workflow accepted it, before any release.
    assert visible(bts.engine, world.request_id) == [offer.id]
    with Session(bts.engine) as s:
        account = s.get(Account, world.account_id)
        assert account is not None and not insurer_may_edit(offer, account)

    outcome = await auto_release_if_configured(engine=bts.engine, client=bts.client, settings=bts.settings,
                                               tender_id=tender.id)  # type: ignore[arg-type]
    assert outcome is not None and outcome.released_offer_ids == [offer.id]
    assert outcome.email is not None
    await wait_email_sent(bts.engine, outcome.email.id)  # type: ignore[arg-type]
    [mail] = smtp_server.capture.to(BROKER_EMAIL)
    assert "Neues Angebot zu Ihrer Anfrage" in str(mail["Subject"])
    assert "wurde ein Angebot für Sie freigegeben" in mail.get_content()
    released = offer_row(bts.engine, offer.id)  # type: ignore[arg-type]
    assert released.released_at is not None and released.released_by_id is None
    with Session(bts.engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.kind == "offers_released")).all()
        assert event.actor == Party.SYSTEM and event.detail.startswith("automatisch")

    # Called again (a second route, a retry): nothing more happens.
    assert await auto_release_if_configured(engine=bts.engine, client=bts.client, settings=bts.settings,
                                            tender_id=tender.id) is None  # type: ignore[arg-type]
    # An edit is a new offer row: released at once again, one more email.
    edited = await give_offer(bts, tender, premium_cents=140_000, edit=True, by=Party.BACKOFFICE,
                              user_id=world.backoffice_user_id)
    second = await auto_release_if_configured(engine=bts.engine, client=bts.client, settings=bts.settings,
                                              tender_id=tender.id)  # type: ignore[arg-type]
    assert second is not None and second.released_offer_ids == [edited.id]
    assert visible(bts.engine, world.request_id) == [edited.id]
    assert len(emails(bts.engine, "offers_released")) == 2


async def test_auto_release_does_nothing_when_release_is_needed(bdev: Running, smtp_server: SmtpServer) -> None:
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    offer = direct_offer(engine, world, 0, released=False)
    assert await auto_release_if_configured(engine=engine, client=client, settings=settings,
                                            tender_id=offer.tender_id) is None
    assert offer_row(engine, offer.id).released_at is None  # type: ignore[arg-type]
    # No System Email row means no delivery workflow was started (the row comes first).
    assert emails(engine) == []
    await asyncio.sleep(0.3)
    assert smtp_server.capture.messages == []


async def test_release_refusals(bdev: Running, smtp_server: SmtpServer) -> None:
    """Only backoffice of the same account, only active offers of open requests
    and running tenders; a refused release changes nothing and emails nobody."""
    engine, settings, client = bdev.engine, bdev.settings, bdev.client
    world = make_world(engine)
    other = make_world(engine, tag="B")
    good = direct_offer(engine, world, 0, released=False)
    ended = direct_offer(engine, world, 1, released=False, status=TenderStatus.WITHDRAWN)
    staff = backoffice(engine, world)

    async def release(ids: list[int], user_id: int | None = None) -> None:
        from .helpers import user

        who = staff if user_id is None else user(engine, user_id)
        await release_offers(engine=engine, client=client, settings=settings, offer_ids=ids, user=who)

    with pytest.raises(ReleaseNotAllowed, match="Nur das Backoffice"):
        await release_offers(engine=engine, client=client, settings=settings, offer_ids=[good.id],  # type: ignore[list-item]
                             user=broker_user(engine, world))
    with pytest.raises(ReleaseNotAllowed, match="nicht freigeben"):
        await release([good.id], other.backoffice_user_id)  # type: ignore[list-item]
    with pytest.raises(ReleaseError, match="Ausschreibung an Testversicherung 1 AG ist beendet"):
        await release([good.id, ended.id])  # type: ignore[list-item]
    with pytest.raises(ReleaseError, match="mindestens ein Angebot"):
        await release([])
    with pytest.raises(ReleaseError, match="nicht gefunden"):
        await release([9999])
    with Session(engine) as s:
        superseded = s.get(type(good), good.id)
        assert superseded is not None
        superseded.active = False
        s.add(superseded)
        s.commit()
    with pytest.raises(ReleaseError, match="geändert oder ersetzt"):
        await release([good.id])  # type: ignore[list-item]
    fresh = direct_offer(engine, world, 2, released=False)
    with Session(engine) as s:
        request = s.get(Request, world.request_id)
        assert request is not None
        request.status = RequestStatus.BOUND
        s.add(request)
        s.commit()
    with pytest.raises(ReleaseError, match="bereits abgeschlossen"):
        await release([fresh.id])  # type: ignore[list-item]
    with Session(engine) as s:
        assert all(o.released_at is None for o in s.exec(select(type(good))).all())
    assert emails(engine) == []
    await asyncio.sleep(0.3)
    assert smtp_server.capture.messages == []


async def test_expiring_offers_early_warning(bts: Running) -> None:
    world = make_world(bts.engine)  # expiry_warning_days defaults to 7
    soon_tender, later_tender, _ = await sent_tenders(bts, world, 3)
    soon = await give_offer(bts, soon_tender, days=3)
    later = await give_offer(bts, later_tender, days=20)
    at = await now(bts)
    with Session(bts.engine) as s:
        [warning] = expiring_offers(s, world.account_id, now=at)
        assert warning.offer.id == soon.id and warning.days_left == 3 and not warning.released
        assert warning.insurer.name == "Testversicherung 0 AG"
        assert [w.offer.id for w in expiring_offers(s, world.account_id, 30, now=at)] == [soon.id, later.id]
        assert expiring_offers(s, world.account_id + 1, 30, now=at) == []

    await bts.env.sleep(timedelta(days=4))
    with Session(bts.engine) as s:
        assert s.get(Tender, soon_tender.id).status == TenderStatus.OFFER_EXPIRED  # type: ignore[union-attr]
        # Expired offers leave the warning list (they show as "Angebot abgelaufen").
        assert [w.offer.id for w in expiring_offers(s, world.account_id, 30, now=await now(bts))] == [later.id]


async def test_days_left_count_calendar_days(bts: Running) -> None:
    """Issue 10, item 6: valid through tomorrow is "noch 1 Tag", not 2; through today is 0."""
    world = make_world(bts.engine)
    first, second, _ = await sent_tenders(bts, world, 3)
    tomorrow_offer = await give_offer(bts, first, days=1)
    today_offer = await give_offer(bts, second, days=1)
    at = await now(bts)
    today = today_berlin(at)
    with Session(bts.engine) as s:
        for offer, day in ((tomorrow_offer, today + timedelta(days=1)), (today_offer, today)):
            row = s.get(Offer, offer.id)
            assert row is not None
            row.valid_until = end_of_day_utc(day)
        s.commit()
        left = {w.offer.id: w.days_left for w in expiring_offers(s, world.account_id, now=at)}
    assert left == {tomorrow_offer.id: 1, today_offer.id: 0}

"""Insurer figures on SQLite and PostgreSQL: what the Auswertung and the ★
order read. Rows are written as the projection leaves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.analytics import by_insurer, insurer_figures
from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Account, Binding, Offer, Party, Request, RequestStatus, Tender, utcnow
from tenderdesk.demo.history import HISTORY_PREFIX, seed_history
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus

from .factories import add_answered_tender, add_request, make_world

REASON = "Risiko außerhalb der Zeichnungsrichtlinien"


def test_figures_count_answers_hits_time_and_spread_of_one_account(engine: Engine) -> None:
    world = make_world(engine, insurers=2, tag="an")
    a, b = world.insurer_ids
    r1, r2, r3 = world.request_id, add_request(engine, world, "MA-AN-2"), add_request(engine, world, "MA-AN-3")
    sent = utcnow() - timedelta(days=10)
    # r1: A offers 1.000 € after 1 day and is bound; B declines.
    add_answered_tender(engine, r1, a, sent_at=sent, status=TenderStatus.CLOSED, premium_cents=100_000,
                        offered_after=timedelta(days=1), bound_by=world.backoffice_user_id)
    add_answered_tender(engine, r1, b, sent_at=sent, status=TenderStatus.DECLINED, decline_reason=REASON)
    # r2: A offers 1.200 € after 2 days, B offers the best 1.000 €.
    add_answered_tender(engine, r2, a, sent_at=sent, status=TenderStatus.OFFERED, premium_cents=120_000,
                        offered_after=timedelta(days=2))
    add_answered_tender(engine, r2, b, sent_at=sent, status=TenderStatus.OFFERED, premium_cents=100_000,
                        offered_after=timedelta(hours=12))
    # r3: A has not answered; its pending offer row (never accepted) does not count.
    silent = add_answered_tender(engine, r3, a, sent_at=sent)
    with session_scope(engine) as s:
        s.add(Offer(tender_id=silent, request_id=r3, action_id="pending-an", premium_cents=1,
                    submitted_by=Party.INSURER, valid_until=sent + timedelta(days=9)))
    add_answered_tender(engine, r3, b, sent_at=sent)
    # Not counted: a tender not sent yet, one sent before the period, another account's.
    with session_scope(engine) as s:
        s.add(Tender(request_id=r3, insurer_id=a, contact_email="x@y.example", workflow_id="queued-an",
                     status=TenderStatus.QUEUED))
    add_answered_tender(engine, r3, a, sent_at=utcnow() - timedelta(days=400), status=TenderStatus.DECLINED,
                        decline_reason="alt")
    other = make_world(engine, insurers=0, tag="an-other")
    add_answered_tender(engine, other.request_id, a, sent_at=sent, status=TenderStatus.DECLINED, decline_reason="x")

    with Session(engine) as db:
        figures = insurer_figures(db, world.account_id, since=utcnow() - timedelta(days=365))
        everything = by_insurer(insurer_figures(db, world.account_id).values())
        others = insurer_figures(db, other.account_id)
    fa, fb = figures[(a, world.product_id)], figures[(b, world.product_id)]
    assert (fa.sent, fa.offered, fa.declined, fa.bound) == (3, 2, 0, 1)
    assert fa.answer_rate == 2 / 3 and fa.hit_rate == 0.5
    assert fa.median_hours_to_offer == 36.0
    assert fa.median_spread == 10.0  # 0 % on r1, 20 % above B on r2
    assert (fb.sent, fb.offered, fb.declined, fb.bound) == (3, 1, 1, 0)
    assert fb.answer_rate == 2 / 3 and fb.decline_rate == 1 / 3 and fb.hit_rate == 0.0
    assert fb.median_spread == 0.0 and fb.median_hours_to_offer == 12.0
    assert fb.top_reasons == [(REASON, 1)]
    # Without a period the old decline counts too; another account never does.
    assert everything[a].sent == 4 and everything[a].declined == 1
    assert others[(a, other.product_id)].declined == 1 and others[(a, other.product_id)].sent == 1
    # The ★ order: A answers 2 of 3 and has offered, so its figures recommend it.
    assert fa.advisable and fb.advisable and fa.score > 0


def test_demo_history_gives_every_covering_insurer_figures_and_consistent_bindings(
    engine: Engine, settings: Settings
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    seed_demo(engine, settings, requests=4, now=now)
    written = seed_history(engine, requests=24, now=now)
    assert written >= 24 * 3
    with Session(engine) as db:
        account = db.exec(select(Account).order_by(col(Account.id))).first()
        assert account is not None and account.id is not None
        figures = by_insurer(insurer_figures(db, account.id, since=now - timedelta(days=365)).values())
        bindings = db.exec(select(Binding)).all()
        history = db.exec(select(Request).where(col(Request.number).startswith(HISTORY_PREFIX))).all()
        for binding in bindings:
            offer, tender = db.get(Offer, binding.offer_id), db.get(Tender, binding.tender_id)
            assert offer is not None and tender is not None
            assert offer.tender_id == tender.id and tender.request_id == binding.request_id
            assert tender.current_offer_id == offer.id and tender.status == TenderStatus.CLOSED
    assert len(history) == 24 and len(bindings) == sum(r.status == RequestStatus.BOUND for r in history)
    assert len(figures) >= 4
    rates = {round(f.answer_rate or 0, 2) for f in figures.values()}
    assert len(rates) > 1, "insurers must differ"
    assert sum(f.declined for f in figures.values()) > 0 and sum(f.bound for f in figures.values()) == len(bindings)

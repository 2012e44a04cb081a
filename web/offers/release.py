"""Freigabe (release) of offers to the broker, and the expiring-offers warning list.

One rule decides what a broker sees (:func:`offers_visible_to_broker`); a
release stamps each offer once and emails the broker once (ARCHITECTURE.md,
"Release")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    AuditEvent,
    Insurer,
    Offer,
    Party,
    Request,
    RequestStatus,
    SystemEmail,
    Tender,
    User,
    utcnow,
)
from tenderdesk.mail.context import request_context
from tenderdesk.mail.render import MailKind, render_email
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import broker_sees_offer, is_staff
from web.core.forms import today_berlin
from web.core.i18n import party_label
from web.core.notifications import QueuedEmail, queue_email

log = logging.getLogger(__name__)

RELEASE_EMAIL_KIND = MailKind.OFFERS_RELEASED.value
AUDIT_KIND = "offers_released"


class ReleaseError(i18n.Refusal):
    """A release was refused; ``str(err)`` is the reason in the reader's language."""


class ReleaseNotAllowed(ReleaseError):
    """The user may not release these offers (wrong role or another account).
    Pages may show it as "not found", like :mod:`web.core.access` does."""


@dataclass
class ReleaseOutcome:
    request_id: int
    #: Offers this call released (listed in the broker's email).
    released_offer_ids: list[int] = field(default_factory=list)
    #: Offers asked for that had been released before (nothing happened to them).
    already_released_offer_ids: list[int] = field(default_factory=list)
    #: The broker's email (queued for delivery), if this call released anything.
    email: SystemEmail | None = None

    @property
    def message(self) -> str:
        n = len(self.released_offer_ids)
        if n == 0:
            return i18n.t("release.done.already")
        return i18n.t("release.done.one") if n == 1 else i18n.t("release.done.many", n=n)


@dataclass
class ExpiringOffer:
    """One line of the backoffice's early-warning list."""

    offer: Offer
    tender: Tender
    request: Request
    insurer: Insurer
    #: Whole days until ``valid_until`` (rounded up; 0 = expires today or overdue).
    days_left: int

    @property
    def released(self) -> bool:
        return self.offer.released_at is not None


@dataclass
class _Released:
    """What a committed release needs for its email."""

    request_id: int
    released: list[int]
    already: list[int]


# ----------------------------------------------------------------- the rule
def offers_visible_to_broker(session: Session, request_id: int) -> list[Offer]:
    """The request's active offers the broker may see: released ones, or all of
    them if the account needs no release. Cheapest premium first."""
    request = session.get(Request, request_id)
    if request is None:
        return []
    account = session.get(Account, request.account_id)
    assert account is not None
    offers = session.exec(
        select(Offer)
        .where(Offer.request_id == request_id)
        .where(col(Offer.active).is_(True))
        .order_by(col(Offer.premium_cents), col(Offer.id))
    ).all()
    return [offer for offer in offers if broker_sees_offer(account, offer)]


def insurer_may_edit(offer: Offer, account: Account | None = None) -> bool:
    """Whether the insurer may still correct its offer: only the current (active)
    offer and only until the broker can see it. Pass the account to also refuse
    for accounts without release (their offers are visible at once). The tender
    workflow still decides whether an edit is possible in the tender's status."""
    if not offer.active or offer.released_at is not None:
        return False
    return account is None or account.offers_need_release


def release_email_key(request_id: int, offer_ids: Sequence[int]) -> str:
    """Idempotency key of the broker email for one release. No timestamp: the
    offer ids identify the release, because an offer row is released only once."""
    return f"release:{request_id}:{','.join(str(i) for i in sorted(set(offer_ids)))}"


# ----------------------------------------------------------------- release
async def release_offers(
    *, engine: Engine, client: Client, settings: Settings, offer_ids: Sequence[int], user: User
) -> ReleaseOutcome:
    """Release offers of ONE request to its broker and email him once.

    Backoffice (staff) of the request's account only. Every offer must be the
    active offer of a tender that has not ended, and the request must be open;
    if any offer fails, nothing is released. Offers released before are
    reported in ``already_released_offer_ids`` and not mailed again.
    """
    if not is_staff(user):
        raise ReleaseNotAllowed("release.error.staff_only")
    ids = sorted(set(offer_ids))
    if not ids:
        raise ReleaseError("release.error.none")
    done = await asyncio.to_thread(_release_checked, engine, ids, user)
    return await _notify(engine, client, settings, done)


async def auto_release_if_configured(
    *, engine: Engine, client: Client, settings: Settings, tender_id: int
) -> ReleaseOutcome | None:
    """For accounts without release: release the tender's newly active offer at
    once and email the broker. Returns None when there is nothing to do (the
    account needs release, the request is not open, no active offer, or it was
    released already), so callers may invoke it after every successful
    :func:`web.tenders.service.submit_offer` (new offer or edit) without checking.
    """
    done = await asyncio.to_thread(_release_auto, engine, tender_id)
    if done is None:
        return None
    return await _notify(engine, client, settings, done)


def _release_checked(engine: Engine, ids: list[int], user: User) -> _Released:
    with session_scope(engine) as session:
        offers = session.exec(select(Offer).where(col(Offer.id).in_(ids))).all()
        if len(offers) != len(ids):
            raise ReleaseError("offers.offer.not_found")
        request_ids = {offer.request_id for offer in offers}
        if len(request_ids) != 1:
            raise ReleaseError("release.error.mixed")
        request = session.get(Request, request_ids.pop())
        assert request is not None and request.id is not None
        if request.account_id != user.account_id:
            raise ReleaseNotAllowed("release.error.not_allowed")
        if request.status != RequestStatus.OPEN:
            raise ReleaseError("release.error.closed")
        for offer in offers:
            tender = session.get(Tender, offer.tender_id)
            assert tender is not None
            insurer = session.get(Insurer, tender.insurer_id)
            name = insurer.name if insurer else party_label(Party.INSURER)
            if not offer.active:
                raise ReleaseError("release.error.superseded", insurer=name)
            if is_terminal(tender.status):
                raise ReleaseError("release.error.ended", insurer=name)
        return _stamp(session, request.id, ids, user.id, Party.BACKOFFICE)


def _release_auto(engine: Engine, tender_id: int) -> _Released | None:
    with session_scope(engine) as session:
        tender = session.get(Tender, tender_id)
        if tender is None:
            return None
        request = session.get(Request, tender.request_id)
        assert request is not None and request.id is not None
        account = session.get(Account, request.account_id)
        assert account is not None
        if account.offers_need_release or request.status != RequestStatus.OPEN or is_terminal(tender.status):
            return None
        offer_id = session.exec(
            select(Offer.id)
            .where(Offer.tender_id == tender_id)
            .where(col(Offer.active).is_(True))
            .where(col(Offer.released_at).is_(None))
        ).first()
        if offer_id is None:
            return None
        done = _stamp(session, request.id, [offer_id], None, Party.SYSTEM)
        return done if done.released else None


def _stamp(session: Session, request_id: int, ids: list[int], user_id: int | None, actor: Party) -> _Released:
    """Set ``released_at`` where it is still empty. The condition makes two
    concurrent releases of the same offer count (and email) once."""
    now = utcnow()
    released: list[int] = []
    for offer_id in ids:
        result = session.execute(
            update(Offer)
            .where(col(Offer.id) == offer_id)
            .where(col(Offer.released_at).is_(None))
            .values(released_at=now, released_by_id=user_id)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            released.append(offer_id)
    if released:
        tender_ids = set(session.exec(select(Offer.tender_id).where(col(Offer.id).in_(released))).all())
        session.add(
            AuditEvent(
                request_id=request_id,
                tender_id=tender_ids.pop() if len(tender_ids) == 1 else None,
                at=now,
                actor=actor,
                actor_user_id=user_id,
                kind=AUDIT_KIND,
                detail=("automatisch: " if actor == Party.SYSTEM else "")
                + "Angebote " + ", ".join(f"#{i}" for i in released),
                dedupe_key=release_email_key(request_id, released),
            )
        )
    return _Released(request_id=request_id, released=released, already=[i for i in ids if i not in released])


# ------------------------------------------------------------------- email
async def _notify(engine: Engine, client: Client, settings: Settings, done: _Released) -> ReleaseOutcome:
    outcome = ReleaseOutcome(
        request_id=done.request_id,
        released_offer_ids=done.released,
        already_released_offer_ids=done.already,
    )
    if not done.released:
        return outcome
    email = await asyncio.to_thread(_release_email, engine, settings, done)
    outcome.email = await queue_email(client=client, engine=engine, settings=settings, email=email)
    log.info("request %s: offers %s released, email %s", done.request_id, done.released, outcome.email.id)
    return outcome


def _release_email(engine: Engine, settings: Settings, done: _Released) -> QueuedEmail:
    with Session(engine) as session:
        parties = request_context(session, done.request_id)
        request: Request = parties["request"]
        lines = []
        rows = session.exec(
            select(Offer, Insurer)
            .join(Tender, col(Tender.id) == col(Offer.tender_id))
            .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
            .where(col(Offer.id).in_(done.released))
            .order_by(col(Offer.premium_cents), col(Offer.id))
        ).all()
        for offer, insurer in rows:
            lines.append({
                "insurer": insurer.name,
                "premium_cents": offer.premium_cents,
                "sum_insured_cents": offer.sum_insured_cents,
                "valid_until": offer.valid_until,
            })
        rendered = render_email(MailKind.OFFERS_RELEASED, {
            **parties, "offers": lines, "link": f"{settings.base_url.rstrip('/')}/requests/{request.id}",
            "subject": {"number": request.number, "product": parties["product"].name, "n": len(lines)},
        })
        return QueuedEmail(
            key=release_email_key(done.request_id, done.released), kind=RELEASE_EMAIL_KIND,
            to_addr=parties["broker"].email, rendered=rendered, request_id=done.request_id,
        )


# ------------------------------------------------------ expiring offers
def expiring_offers(
    session: Session, account_id: int, within_days: int | None = None, *, now: datetime | None = None
) -> list[ExpiringOffer]:
    """Offers about to run out, soonest first, for the backoffice's early warning.

    Active offers of the account's open requests whose tender is still
    ``offered`` and whose validity ends within ``within_days`` (default: the
    account's ``expiry_warning_days``). Already expired tenders are not listed:
    they show as "Angebot abgelaufen" on the request and are handled with the
    pencil (edit, then release again). ``now`` is for tests under time skipping.
    """
    if within_days is None:
        account = session.get(Account, account_id)
        within_days = account.expiry_warning_days if account else 7
    now = now or utcnow()
    horizon = now + timedelta(days=within_days)
    rows = session.exec(
        select(Offer, Tender, Request, Insurer)
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Request, col(Request.id) == col(Offer.request_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Request.account_id == account_id)
        .where(Request.status == RequestStatus.OPEN)
        .where(col(Offer.active).is_(True))
        .where(Tender.status == TenderStatus.OFFERED)
        .where(col(Offer.valid_until) <= horizon)
        .order_by(col(Offer.valid_until), col(Offer.id))
    ).all()
    result = []
    for offer, tender, request, insurer in rows:
        valid_until = offer.valid_until
        assert valid_until is not None
        # Calendar days in Germany: valid through tomorrow is "noch 1 Tag", through today "läuft heute ab".
        remaining = (today_berlin(valid_until) - today_berlin(now)).days
        result.append(ExpiringOffer(offer, tender, request, insurer, days_left=max(0, remaining)))
    return result


__all__ = [
    "ExpiringOffer", "ReleaseError", "ReleaseNotAllowed", "ReleaseOutcome", "auto_release_if_configured",
    "expiring_offers", "insurer_may_edit", "offers_visible_to_broker", "release_email_key", "release_offers",
]


async def auto_release_quietly(*, engine: Engine, client: Client, settings: Settings, tender_id: int) -> None:
    """:func:`auto_release_if_configured` after an accepted offer or edit. The offer
    stands either way; a failure here (e.g. the broker email could not be queued)
    leaves the release to the backoffice, so it is logged, not shown as an error."""
    try:
        await auto_release_if_configured(engine=engine, client=client, settings=settings, tender_id=tender_id)
    except Exception:
        log.exception("automatic release after the offer of tender %s failed", tender_id)

"""Frühwarnung: offers about to expire (and expired ones) with a one-click
request to the insurer to extend them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response

from tenderdesk.db.models import (
    Account,
    Insurer,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    RequestStatus,
    Tender,
    utcnow,
)
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    EngineDep,
    PagesDep,
    PathId,
    RequestOffer,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.errors import not_found
from web.core.flash import Flash, set_flash
from web.core.temporal import TemporalUnavailable
from web.messages import MessagingError, MessagingNotFound, insurer_thread_id, post_message
from web.offers.binding import (
    is_expired,
)
from web.offers.release import ExpiringOffer
from web.offers.release import expiring_offers as expiring_offers_of
from web.offers.routes import EXPIRING_PATH, edit_blocker, offer_parts, section_redirect
from web.offers.views import extension_action_id, extension_text, extension_times, text

router = APIRouter(tags=["offers"])


# ---------------------------------------------------------------- Verlängerung anfragen


@router.post("/requests/{request_id}/offers/{offer_id}/extension")
def request_extension(
    request_id: PathId,
    request: StaffRequest,
    offer_id: PathId,
    offer: RequestOffer,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One click: the prepared "Könnten Sie die Gültigkeit Ihres Angebots
    verlängern?" goes into the insurer's thread, and the insurer is emailed."""
    tender, insurer = offer_parts(db, offer)
    response = RedirectResponse(EXPIRING_PATH, status_code=303) if back == "ablaufend" else section_redirect(
        request_id
    )
    if edit_blocker(request, offer, tender) is not None:
        set_flash(response, settings, Flash("error", text("extension.not_possible")))
        return response
    account = db.get(Account, request.account_id)
    product = db.get(Product, request.product_id)
    assert account is not None and product is not None and tender.id is not None and offer.id is not None
    body = extension_text(request, product, account, offer, expired=is_expired(tender, offer, utcnow()))
    try:
        client = wait(temporal.get())
        thread_id = wait(asyncio.to_thread(insurer_thread_id, engine, tender.id))
        result = wait(post_message(
            engine=engine, client=client, settings=settings, thread_id=thread_id, author=Party.BACKOFFICE,
            user=login.user, tender=None, body=body, action_id=extension_action_id(offer.id),
        ))
    except TemporalUnavailable:
        set_flash(response, settings, Flash("error", i18n.t("error.temporal_unavailable")))
        return response
    except MessagingNotFound:
        raise not_found() from None
    except MessagingError as err:
        set_flash(response, settings, Flash("error", str(err)))
        return response
    key = "extension.sent" if result.created else "extension.again"
    set_flash(response, settings, Flash("success" if result.created else "info", text(key, insurer=insurer.name)))
    return response


# ---------------------------------------------------------------- Frühwarnung


@dataclass
class ExpiryRow(ExpiringOffer):
    """One line of ``/angebote/ablaufend``: the release module's early-warning
    line (also for offers already expired, with ``days_left`` 0) and what the
    table shows besides."""

    product: str
    policyholder: str
    expired: bool
    extension_requested_at: datetime | None


def _already_expired(db: Session, account_id: int) -> list[tuple[Offer, Tender, Request, Insurer]]:
    """Expired offers of open requests: the ones the guide's procedure is about."""
    rows = db.exec(
        select(Offer, Tender, Request, Insurer)
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Request, col(Request.id) == col(Offer.request_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Request.account_id == account_id)
        .where(Request.status == RequestStatus.OPEN)
        .where(col(Offer.active).is_(True))
        .where(Tender.status == TenderStatus.OFFER_EXPIRED)
        .order_by(col(Offer.valid_until), col(Offer.id))
    ).all()
    return [(offer, tender, request, insurer) for offer, tender, request, insurer in rows]


def expiry_rows(db: Session, account_id: int) -> tuple[list[ExpiryRow], list[ExpiryRow]]:
    """(expiring soon, already expired) for the early-warning page."""
    soon: list[ExpiringOffer] = expiring_offers_of(db, account_id)
    expired = _already_expired(db, account_id)
    requests = {item.request.id: item.request for item in soon} | {r.id: r for _, _, r, _ in expired}
    products = {p.id: p.name for p in db.exec(select(Product)).all()}
    holder_ids = {r.policyholder_id for r in requests.values()}
    holders = {
        h.id: h.name for h in db.exec(select(Policyholder).where(col(Policyholder.id).in_(holder_ids))).all()
    } if holder_ids else {}
    extensions = extension_times(
        db, [item.offer.id for item in soon if item.offer.id] + [o.id for o, _, _, _ in expired if o.id]
    )

    def row(offer: Offer, tender: Tender, request: Request, insurer: Insurer, days_left: int, gone: bool) -> ExpiryRow:
        return ExpiryRow(
            offer=offer, tender=tender, request=request, insurer=insurer,
            product=products.get(request.product_id, ""), policyholder=holders.get(request.policyholder_id, ""),
            expired=gone, days_left=days_left,
            extension_requested_at=extensions.get(offer.id) if offer.id is not None else None,
        )

    return (
        [row(i.offer, i.tender, i.request, i.insurer, i.days_left, False) for i in soon],
        [row(o, t, r, i, 0, True) for o, t, r, i in expired],
    )


@router.get(EXPIRING_PATH)
def expiring_page(http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin) -> Response:
    """Frühwarnung: offers that run out within the account's ``expiry_warning_days``,
    and the ones that already did, each with the one-click extension request."""
    account = db.get(Account, login.user.account_id)
    assert account is not None
    soon, expired = expiry_rows(db, login.user.account_id)
    return pages.render(
        http,
        "offers/expiring.html",
        {
            "soon": soon,
            "expired": expired,
            "warning_days": account.expiry_warning_days,
            "nav": "ablaufend",
            "page_title": "Ablaufende Angebote",
        },
        login=login,
    )

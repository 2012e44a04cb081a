"""Vergleich und Abschluss: the broker confirms one released offer and binds it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from sqlmodel import Session
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import (
    Policyholder,
    Product,
    Request,
    User,
)
from web.core import i18n
from web.core.access import is_staff
from web.core.bridge import wait
from web.core.deps import (
    CsrfLogin,
    CurrentLogin,
    EngineDep,
    PagesDep,
    PathId,
    RequestOffer,
    SessionDep,
    SettingsDep,
    TemporalDep,
    VisibleRequest,
)
from web.core.errors import forbidden, not_found
from web.core.flash import Flash, set_flash
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalUnavailable
from web.offers.binding import (
    AlreadyBound,
    BindingError,
    BindingNotAllowed,
    OfferChoice,
    bind_offer,
    broker_owns,
    offer_choices,
)
from web.offers.routes import section_redirect
from web.offers.views import text

router = APIRouter(tags=["offers"])


# ---------------------------------------------------------------- Abschluss (broker)


@dataclass
class BindPage:
    request: Request
    product: Product
    policyholder: Policyholder
    choice: OfferChoice
    #: Why binding is refused now (German), or None.
    refusal: str | None


def _bind_page(db: Session, user: User, request: Request, offer_id: int) -> BindPage:
    """The offer as the broker's comparison shows it, or 404 for anything he may not see."""
    if is_staff(user):
        raise forbidden()
    if not broker_owns(user, request):
        raise not_found()
    assert request.id is not None
    choice = next((c for c in offer_choices(db, request.id) if c.offer.id == offer_id), None)
    if choice is None:
        raise not_found()
    product = db.get(Product, request.product_id)
    policyholder = db.get(Policyholder, request.policyholder_id)
    assert product is not None and policyholder is not None
    return BindPage(request=request, product=product, policyholder=policyholder, choice=choice,
                    refusal=str(choice.refusal) if choice.refusal else None)


def _render_bind(
    http: HttpRequest, pages: Pages, login: Login, page: BindPage, *, error: str | None = None,
    status_code: int = 200,
) -> Response:
    return pages.render(
        http,
        "offers/bind.html",
        {
            "page": page,
            "error": error or page.refusal,
            "nav": "requests",
            "page_title": i18n.t("title.bind", number=page.request.number),
        },
        login=login,
        status_code=status_code,
    )


@router.get("/requests/{request_id}/offers/{offer_id}/bind")
def bind_confirm(
    request_id: PathId, request: VisibleRequest, offer_id: PathId, offer: RequestOffer,
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: CurrentLogin,
) -> Response:
    """The confirmation step: the terms once more, and one button."""
    if is_staff(login.user):
        raise forbidden()
    page = _bind_page(db, login.user, request, offer_id)
    return _render_bind(http, pages, login, page, status_code=409 if page.refusal else 200)


@router.post("/requests/{request_id}/offers/{offer_id}/bind")
def bind(
    request_id: PathId,
    request: VisibleRequest,
    offer_id: PathId,
    offer: RequestOffer,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: CsrfLogin,
) -> Response:
    """"Abschließen". The service decides (one binding per request, whoever
    clicks first); the loser of a race or a double click reads its German refusal."""
    if is_staff(login.user):
        raise forbidden()
    page = _bind_page(db, login.user, request, offer_id)
    try:
        client = wait(temporal.get())
        outcome = wait(bind_offer(
            engine=engine, client=client, settings=settings, offer_id=offer_id, broker_user=login.user
        ))
    except TemporalUnavailable:
        return _render_bind(http, pages, login, page, error=i18n.t("error.temporal_unavailable"), status_code=503)
    except BindingNotAllowed:
        raise not_found() from None
    except (AlreadyBound, BindingError) as err:
        db.expire_all()
        return _render_bind(http, pages, login, _bind_page(db, login.user, request, offer_id), error=str(err),
                            status_code=409)
    response = section_redirect(request_id)
    set_flash(response, settings, Flash("success", f"{text('bind.done')} {outcome.message}"))
    return response



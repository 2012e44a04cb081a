"""What the offer pages show: the staff table, the binding summary and the request page's
"Angebote" section."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from tenderdesk import formats
from tenderdesk.config import Settings
from tenderdesk.db.models import (
    Account,
    Binding,
    Document,
    DocumentKind,
    Insurer,
    Message,
    Offer,
    Product,
    Request,
    RequestStatus,
    Tender,
    User,
    utcnow,
)
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.access import is_staff
from web.core.sessions import Login
from web.offers.binding import (
    OfferChoice,
    broker_owns,
    is_expired,
)
from web.offers.comparison import Row, comparable_choices, comparison_rows

#: Tender states whose offer the pencil may change (the workflow's ``edit_offer`` rule).
EDITABLE = frozenset({TenderStatus.OFFERED, TenderStatus.OFFER_EXPIRED})


def text(key: str, **params: object) -> str:
    """A sentence of this module in the request's language (``offers.*`` in :mod:`web.core.i18n`)."""
    value = i18n.t(f"offers.{key}")
    return value.format(**params) if params else value


def extension_action_id(offer_id: int) -> str:
    """One extension request per offer version: a second click (or a second
    colleague) gets the first message back and nothing is sent twice. After an
    edit the new offer row may be asked about again."""
    return f"verlaengerung-angebot-{offer_id}"


def extension_text(request: Request, product: Product, account: Account, offer: Offer, *, expired: bool) -> str:
    """The prepared message of the guide's procedure for expired offers."""
    when = (
        f"ist am {formats.day(offer.valid_until)} abgelaufen"
        if expired
        else f"ist nur noch bis zum {formats.day(offer.valid_until)} gültig"
    )
    return (
        "Sehr geehrte Damen und Herren,\n\n"
        f"Ihr Angebot zur Anfrage {request.number} ({product.name}) über eine Jahresprämie von "
        f"{formats.money(offer.premium_cents)} {when}. Könnten Sie die Gültigkeit Ihres Angebots verlängern? "
        "Bitte nennen Sie uns das neue Gültigkeitsdatum; wir passen das Angebot dann für Sie an.\n\n"
        f"Vielen Dank und freundliche Grüße\nIhr Backoffice {account.name}"
    )


# ---------------------------------------------------------------- page model


@dataclass
class StaffOfferRow:
    """One line of the backoffice's "Angebote" table."""

    offer: Offer
    tender: Tender
    insurer: Insurer
    document: Document | None
    expired: bool
    #: Ends within the account's warning days (and is not expired yet).
    expiring: bool
    can_release: bool
    can_edit: bool
    can_request_extension: bool
    #: When the prepared extension message went to the insurer, if it did.
    extension_requested_at: datetime | None
    released_by: str = ""
    #: The offer the request was bound with.
    bound: bool = False

    @property
    def released(self) -> bool:
        return self.offer.released_at is not None


@dataclass
class BindingView:
    """The request's Abschluss, as everyone sees it."""

    binding: Binding
    offer: Offer
    insurer: Insurer
    bound_by: str
    cover_note: Document | None


@dataclass
class OffersSection:
    staff: bool
    open: bool
    need_release: bool
    warning_days: int
    rows: list[StaffOfferRow] = field(default_factory=list)
    choices: list[OfferChoice] = field(default_factory=list)
    binding: BindingView | None = None
    #: The broker may bind here (his own request); False for staff and others.
    broker_may_bind: bool = False
    cheapest_offer_id: int | None = None
    #: The comparison rows of the broker's offers (premium, sums, modules, deductible, …).
    comparison: list[Row] = field(default_factory=list)
    #: The broker has offers to compare: the PDF for the policyholder can be made.
    comparable: bool = False

    @property
    def releasable(self) -> bool:
        return any(row.can_release for row in self.rows)


def extension_times(db: Session, offer_ids: Sequence[int]) -> dict[int, datetime]:
    if not offer_ids:
        return {}
    wanted = {extension_action_id(i): i for i in offer_ids}
    rows = db.exec(
        select(Message.action_id, Message.created_at)
        .where(col(Message.action_id).in_(list(wanted)))
        .where(col(Message.visible).is_(True))
    ).all()
    return {wanted[action_id]: created_at for action_id, created_at in rows}


def _user_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.name for u in db.exec(select(User).where(col(User.id).in_(ids))).all() if u.id is not None}


def staff_rows(
    db: Session, request: Request, account: Account, *, bound_offer_id: int | None = None, now: datetime | None = None
) -> list[StaffOfferRow]:
    """Every active offer of the request, cheapest first, with what the backoffice
    may do with it. Once the request is closed, validity no longer matters and
    nothing is offered but the record."""
    now = now or utcnow()
    horizon = now + timedelta(days=account.expiry_warning_days)
    is_open = request.status == RequestStatus.OPEN
    rows = db.exec(
        select(Offer, Tender, Insurer)
        .join(Tender, col(Tender.id) == col(Offer.tender_id))
        .join(Insurer, col(Insurer.id) == col(Tender.insurer_id))
        .where(Offer.request_id == request.id)
        .where(col(Offer.active).is_(True))
        .order_by(col(Offer.premium_cents), col(Offer.id))
    ).all()
    offer_ids = [offer.id for offer, _, _ in rows if offer.id is not None]
    extensions = extension_times(db, offer_ids)
    names = _user_names(db, {offer.released_by_id for offer, _, _ in rows if offer.released_by_id is not None})
    result = []
    for offer, tender, insurer in rows:
        assert offer.id is not None
        expired = is_open and is_expired(tender, offer, now)
        editable = is_open and tender.status in EDITABLE
        expiring = is_open and not expired and aware(offer.valid_until) <= horizon
        result.append(
            StaffOfferRow(
                offer=offer,
                tender=tender,
                insurer=insurer,
                document=db.get(Document, offer.document_id) if offer.document_id else None,
                expired=expired,
                expiring=expiring,
                can_release=(
                    is_open and account.offers_need_release and offer.released_at is None
                    and not expired and not is_terminal(tender.status)
                ),
                can_edit=editable,
                can_request_extension=editable and (expired or expiring),
                extension_requested_at=extensions.get(offer.id),
                released_by=names.get(offer.released_by_id, "") if offer.released_by_id else "",
                bound=offer.id == bound_offer_id,
            )
        )
    return result


def aware(value: datetime) -> datetime:
    aware = value
    assert aware is not None
    return aware


def binding_view(db: Session, request_id: int) -> BindingView | None:
    binding = db.exec(select(Binding).where(Binding.request_id == request_id)).first()
    if binding is None:
        return None
    offer = db.get(Offer, binding.offer_id)
    tender = db.get(Tender, binding.tender_id)
    insurer = db.get(Insurer, tender.insurer_id) if tender else None
    bound_by = db.get(User, binding.bound_by_id)
    assert offer is not None and insurer is not None
    cover_note = db.get(Document, binding.cover_note_document_id) if binding.cover_note_document_id else None
    return BindingView(
        binding=binding, offer=offer, insurer=insurer, bound_by=bound_by.name if bound_by else "",
        cover_note=cover_note if cover_note is not None and cover_note.kind == DocumentKind.COVER_NOTE else None,
    )


def load_offers_section(db: Session, user: User, request: Request, account: Account) -> OffersSection:
    """What the section shows: the backoffice gets every active offer with its
    actions, a broker only what :func:`web.offers.binding.offer_choices` lets him see."""
    assert request.id is not None
    staff = is_staff(user)
    section = OffersSection(
        staff=staff,
        open=request.status == RequestStatus.OPEN,
        need_release=account.offers_need_release,
        warning_days=account.expiry_warning_days,
        binding=binding_view(db, request.id),
    )
    bound_offer_id = section.binding.offer.id if section.binding else None
    if staff:
        section.rows = staff_rows(db, request, account, bound_offer_id=bound_offer_id)
        # What the broker can compare: released (or, without Freigabe, all) valid offers, or the bound one.
        section.comparable = any(r.bound or (not r.expired and (r.released or not account.offers_need_release))
                                 for r in section.rows)
    else:
        # The bound offer first, then what can still be compared: valid offers, cheapest first.
        section.choices = comparable_choices(db, request.id)
        section.comparison = comparison_rows(section.choices, i18n.current_locale())
        section.comparable = any(c.bound or not c.expired for c in section.choices)
        section.broker_may_bind = broker_owns(user, request)
        bindable = [c for c in section.choices if c.can_bind]
        if len(bindable) > 1:
            section.cheapest_offer_id = min(bindable, key=lambda c: c.offer.premium_cents).offer.id
    return section


def offers_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """The "Angebote" section of the request page (``templates/offers/_offers.html``)."""
    return {"offers": load_offers_section(db, login.user, view.request, view.account)}

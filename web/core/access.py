"""Who may see and do what: roles and per-object checks in one place.

Rules:
- Backoffice and admin users see every request of their own account.
- A broker sees only the requests where ``Request.broker_id`` is his broker,
  only the offers the backoffice released (or all, if the account needs no
  release), and only documents meant for him.
- Tender actions (assign, add tenders, remind, withdraw, insurer view, system
  emails) belong to the backoffice.

Anything outside these rules is "not found" (404), never "forbidden" (403),
so IDs of other accounts cannot be probed.
"""

from __future__ import annotations

from sqlmodel import Session, select

from tenderdesk.db.models import (
    Account,
    Document,
    DocumentKind,
    Offer,
    Request,
    Role,
    Tender,
    User,
)
from web.core.errors import forbidden, not_found

STAFF_ROLES = frozenset({Role.BACKOFFICE, Role.ADMIN})


def is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


def require_staff(user: User) -> None:
    if not is_staff(user):
        raise forbidden()


def can_see_request(user: User, request: Request) -> bool:
    if request.account_id != user.account_id:
        return False
    if is_staff(user):
        return True
    return user.role == Role.BROKER and user.broker_id is not None and (
        request.broker_id == user.broker_id
    )


def load_request(db: Session, user: User, request_id: int) -> Request:
    """The request if this user may see it, else 404."""
    request = db.get(Request, request_id)
    if request is None or not can_see_request(user, request):
        raise not_found("error.request_not_found")
    return request


def load_tender(db: Session, request: Request, tender_id: int) -> Tender:
    """A tender of this request (the request was authorised already), else 404."""
    tender = db.get(Tender, tender_id)
    if tender is None or tender.request_id != request.id:
        raise not_found()
    return tender


def broker_sees_offer(account: Account, offer: Offer) -> bool:
    return not account.offers_need_release or offer.released_at is not None


def can_see_document(db: Session, user: User, account: Account, document: Document) -> bool:
    """Brokers get request documents, cover notes and released offers."""
    if is_staff(user):
        return True
    if document.kind in (DocumentKind.REQUEST, DocumentKind.COVER_NOTE):
        return True
    if document.kind == DocumentKind.OFFER:
        offers = db.exec(select(Offer).where(Offer.document_id == document.id)).all()
        return any(o.active and broker_sees_offer(account, o) for o in offers)
    return False

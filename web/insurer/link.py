"""Resolving an insurer link: the token's hash, the link, its tender and request,
or a LinkProblem page that says why the link is dead and whom to contact."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from sqlmodel import Session, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import (
    Account,
    InsurerContact,
    Request,
    RequestStatus,
    Tender,
    TenderLink,
    User,
    utcnow,
)
from tenderdesk.security.tokens import hash_token
from tenderdesk.states import TenderStatus, is_terminal
from web.core import i18n
from web.core.templating import Pages

#: ``secrets.token_urlsafe(32)`` is 43 characters; allow some slack, refuse junk early.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")

#: Headers of every insurer page; the security middleware adds the rest.
LINK_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


class LinkProblem(Exception):
    """The link cannot be used; carries what the page should say and whom to contact."""

    def __init__(
        self, status_code: int, title_key: str, reason: str = "", account: Account | None = None,
        contact_name: str | None = None,
    ) -> None:
        super().__init__(title_key)
        self.status_code = status_code
        self.title_key = title_key
        self.reason = reason
        self.account = account
        self.contact_name = contact_name


@dataclass
class LinkContext:
    link: TenderLink
    tender: Tender
    request: Request
    account: Account


def assignee_name(db: Session, request: Request) -> str | None:
    """The request's Bearbeiter by name (an active user only): the person the insurer may ask for."""
    if request.assignee_id is None:
        return None
    user = db.get(User, request.assignee_id)
    return user.name if user is not None and user.is_active else None


def contact_locale(db: Session, tender: Tender, request: Request) -> str:
    """The language of the insurer's contact for this product (German if unknown)."""
    locale = db.exec(
        select(InsurerContact.locale)
        .where(InsurerContact.insurer_id == tender.insurer_id)
        .where(InsurerContact.product_id == request.product_id)
    ).first()
    return i18n.normalise_locale(locale)


def resolve_link(db: Session, token: str) -> LinkContext:
    """The usable link for ``token``, or :class:`LinkProblem` saying why not.
    From here on the request speaks the contact's language: the insurer has
    no login whose language could decide."""
    if not TOKEN_SHAPE.match(token):
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    link = db.exec(select(TenderLink).where(TenderLink.token_hash == hash_token(token))).first()
    if link is None:
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    tender = db.get(Tender, link.tender_id)
    request = db.get(Request, tender.request_id) if tender else None
    account = db.get(Account, request.account_id) if request else None
    if tender is None or request is None or account is None:
        raise LinkProblem(404, "link.invalid", i18n.t("link.invalid_hint"))
    i18n.use_locale(contact_locale(db, tender, request))
    contact = assignee_name(db, request)
    if is_terminal(tender.status):
        raise LinkProblem(410, "link.ended", i18n.why_ended(tender.status), account, contact)
    if request.status != RequestStatus.OPEN:
        # Bound (or closed) a moment ago: the binding is closing this tender, and
        # nothing may reach it meanwhile (the workflow checks this too).
        raise LinkProblem(410, "link.ended", i18n.why_ended(TenderStatus.CLOSED), account, contact)
    if link.revoked_at is not None:
        raise LinkProblem(410, "link.revoked", "", account, contact)
    expires_at = link.expires_at
    if expires_at is None or expires_at <= utcnow():
        raise LinkProblem(410, "link.expired", "", account, contact)
    return LinkContext(link=link, tender=tender, request=request, account=account)


def render_link_problem(pages: Pages, http: HttpRequest, problem: LinkProblem) -> Response:
    return pages.render(
        http,
        "insurer/link_problem.html",
        {
            "title": i18n.t(problem.title_key),
            "reason": problem.reason,
            "account": problem.account,
            "contact_name": problem.contact_name,
            "page_title": i18n.t(problem.title_key),
        },
        status_code=problem.status_code,
        headers=LINK_HEADERS,
    )


def install_link_errors(app: FastAPI) -> None:
    @app.exception_handler(LinkProblem)
    async def _link_problem(http: HttpRequest, exc: LinkProblem) -> Response:
        return render_link_problem(http.app.state.pages, http, exc)

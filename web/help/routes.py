"""Hilfe & Kontakt: whom to ask, with the account's own contact details.

The guide ends with "Wenden Sie sich bei Fragen jederzeit an ...": the address
differs per account, so it is read from ``Account.contact_email`` rather than
written into the template.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import Account
from web.core import i18n
from web.core.deps import CurrentLogin, PagesDep, SessionDep

router = APIRouter(tags=["help"])


@router.get("/kontakt")
def contact_page(
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: CurrentLogin
) -> Response:
    account = db.get(Account, login.user.account_id)
    return pages.render(
        http,
        "help/contact.html",
        {"account": account, "nav": "kontakt", "page_title": i18n.t("title.contact")},
        login=login,
    )

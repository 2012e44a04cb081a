"""The two tender form pages' shared parts: "Termine ändern" (here) and
"Angebot hinzufügen" (:mod:`web.offers.add_offer`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.db.models import (
    Insurer,
    Request,
    RequestStatus,
    Tender,
)
from web.core import i18n
from web.core.flash import Flash
from web.core.forms import new_action_id
from web.core.sessions import Login
from web.core.templating import Pages


def insurer_name(db: Session, tender: Tender) -> str:
    insurer = db.get(Insurer, tender.insurer_id)
    return insurer.name if insurer else f"Gesellschaft {tender.insurer_id}"


def result_flash(insurer_name: str, message: str, changed: bool) -> Flash:
    """The workflow's answer, naming the insurer so a busy page stays clear."""
    return Flash("success" if changed else "info", f"{insurer_name}: {message}")


@dataclass
class TenderPage:
    """What the two tender form pages show: the tender, its insurer and the form's state."""

    request: Request
    tender: Tender
    insurer_name: str
    action_id: str = field(default_factory=new_action_id)
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    blocked: str = ""


def load_tender_page(db: Session, request: Request, tender: Tender) -> TenderPage:
    return TenderPage(request=request, tender=tender, insurer_name=insurer_name(db, tender))


def render_tender_page(
    http: HttpRequest, pages: Pages, login: Login, name: str, page: TenderPage, title: str,
    status_code: int = 200, **extra: Any,
) -> Response:
    return pages.render(
        http,
        f"tenders/{name}.html",
        {
            "page": page,
            "r": page.request,
            "t": page.tender,
            "nav": "requests",
            "page_title": f"{title} – {page.insurer_name}",
            **extra,
        },
        login=login,
        status_code=status_code,
    )


def blocked_reason(page: TenderPage, allowed: bool, key: str) -> str:
    if page.request.status != RequestStatus.OPEN:
        return i18n.t("request.not_open")
    if not allowed:
        return i18n.t(f"tender_actions.{key}", status=i18n.tender_status_label(page.tender.status))
    return ""


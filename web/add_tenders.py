""""+ Ausschreibung hinzufügen": pick insurers and start one tender workflow each.

The picker lists insurers in the guide's order: first the account's
recommended insurers for this product (star), then the others that have a
tender contact for the product, last the ones that are not relevant (no
contact for the product, or not reachable), which cannot be ticked. An
insurer with an open tender for this request is shown but disabled.
:func:`web.tenders.start_tenders` checks all of this again and refuses per
insurer; refusals are shown in German next to what was started.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session, col, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.models import (
    Insurer,
    InsurerContact,
    Product,
    Recommendation,
    ReferralReason,
    Request,
    RequestStatus,
    Tender,
)
from tenderdesk.states import TenderStatus, is_terminal
from web import i18n
from web.access import load_request
from web.deps import (
    EngineDep,
    PagesDep,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    TemporalDep,
)
from web.flash import Flash, set_flash
from web.requests import detail_redirect
from web.sessions import Login
from web.temporal import TemporalUnavailable
from web.tenders import TenderActionError, start_tenders

router = APIRouter(tags=["tenders"])

MAX_NOTE_CHARS = 2000


@dataclass
class InsurerChoice:
    insurer: Insurer
    contact: InsurerContact | None
    recommended: bool
    open_status: TenderStatus | None
    last_status: TenderStatus | None
    referral_reasons: list[str] = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        return self.insurer.reachable and self.contact is not None

    @property
    def selectable(self) -> bool:
        return self.relevant and self.open_status is None


@dataclass
class InsurerPicker:
    recommended: list[InsurerChoice]
    others: list[InsurerChoice]
    not_relevant: list[InsurerChoice]


def load_picker(db: Session, request: Request) -> InsurerPicker:
    contacts = {
        c.insurer_id: c
        for c in db.exec(
            select(InsurerContact).where(InsurerContact.product_id == request.product_id)
        ).all()
    }
    starred = set(
        db.exec(
            select(Recommendation.insurer_id)
            .where(Recommendation.account_id == request.account_id)
            .where(Recommendation.product_id == request.product_id)
        ).all()
    )
    reasons: dict[int, list[str]] = defaultdict(list)
    for insurer_id, reason in db.exec(
        select(ReferralReason.insurer_id, ReferralReason.reason)
        .where(ReferralReason.request_id == request.id)
        .order_by(col(ReferralReason.id))
    ).all():
        reasons[insurer_id].append(reason)
    open_status: dict[int, TenderStatus] = {}
    last_status: dict[int, TenderStatus] = {}
    for tender in db.exec(
        select(Tender).where(Tender.request_id == request.id).order_by(col(Tender.id))
    ).all():
        last_status[tender.insurer_id] = tender.status
        if not is_terminal(tender.status):
            open_status[tender.insurer_id] = tender.status
    picker = InsurerPicker(recommended=[], others=[], not_relevant=[])
    for insurer in db.exec(select(Insurer).order_by(col(Insurer.name))).all():
        assert insurer.id is not None
        choice = InsurerChoice(
            insurer=insurer,
            contact=contacts.get(insurer.id),
            recommended=insurer.id in starred,
            open_status=open_status.get(insurer.id),
            last_status=last_status.get(insurer.id),
            referral_reasons=reasons.get(insurer.id, []),
        )
        if not choice.relevant:
            picker.not_relevant.append(choice)
        elif choice.recommended:
            picker.recommended.append(choice)
        else:
            picker.others.append(choice)
    return picker


def _render_picker(
    http: HttpRequest, pages: PagesDep, db: Session, login: Login, request: Request, *,
    errors: list[str] | None = None, selected: list[int] | None = None, note: str = "",
    status_code: int = 200,
) -> Response:
    product = db.get(Product, request.product_id)
    return pages.render(
        http,
        "requests/add_tenders.html",
        {
            "request_row": request,
            "product": product,
            "picker": load_picker(db, request),
            "errors": errors or [],
            "selected": set(selected or []),
            "note": note,
            "max_note": MAX_NOTE_CHARS,
            "nav": "requests",
            "page_title": i18n.t("title.add_tenders", number=request.number),
        },
        login=login,
        status_code=status_code,
    )


@router.get("/requests/{request_id}/tenders/new")
def add_tenders_form(
    request_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin
) -> Response:
    request = load_request(db, login.user, request_id)
    if request.status != RequestStatus.OPEN:
        return _render_picker(
            http, pages, db, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    return _render_picker(http, pages, db, login, request)


def _refusal_text(insurer_names: dict[int, str], insurer_id: int, reason: str) -> str:
    name = insurer_names.get(insurer_id, f"#{insurer_id}")
    return reason if reason.startswith(name) else i18n.t("tenders.refused", insurer=name,
                                                          reason=reason)


@router.post("/requests/{request_id}/tenders")
async def add_tenders_submit(
    request_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    insurer_id: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    email_note: Annotated[str, Form()] = "",
) -> Response:
    request = load_request(db, login.user, request_id)
    selected = list(dict.fromkeys(insurer_id))
    note = email_note.strip()
    errors: list[str] = []
    if not selected:
        errors.append(i18n.t("tenders.none_selected"))
    if len(note) > MAX_NOTE_CHARS:
        errors.append(i18n.t("tenders.note_too_long", max=MAX_NOTE_CHARS))
    if request.status != RequestStatus.OPEN:
        errors.append(i18n.t("request.not_open"))
    if errors:
        return _render_picker(
            http, pages, db, login, request, errors=errors, selected=selected, note=note,
            status_code=422,
        )
    try:
        client = await temporal.get()
        outcome = await start_tenders(
            client=client,
            engine=engine,
            task_queue=settings.temporal_task_queue,
            request_id=request_id,
            insurer_ids=selected,
            actor_user_id=login.user.id,
            email_note=note,
            id_prefix=settings.workflow_id_prefix,
        )
    except TemporalUnavailable:
        return _render_picker(
            http, pages, db, login, request, errors=[i18n.t("error.temporal_unavailable")],
            selected=selected, note=note, status_code=503,
        )
    except TenderActionError as err:
        return _render_picker(
            http, pages, db, login, request, errors=[str(err)], selected=selected, note=note,
            status_code=422,
        )
    names = {
        i.id: i.name
        for i in db.exec(select(Insurer).where(col(Insurer.id).in_(selected))).all()
        if i.id is not None
    }
    refusals = [_refusal_text(names, iid, reason) for iid, reason in outcome.refused.items()]
    if not outcome.started:
        return _render_picker(
            http, pages, db, login, request, errors=refusals, selected=selected, note=note,
            status_code=422,
        )
    response = detail_redirect(request_id, "#tenders")
    set_flash(
        response,
        settings,
        Flash("success", i18n.t("tenders.started", count=len(outcome.started))),
        *(Flash("error", text) for text in refusals),
    )
    return response

"""The per-tender actions menu of the request page.

One-click actions (Erinnerung schicken, Anfrage nicht erfolgreich, In
Bearbeitung) are small POST forms behind a ``<details>`` confirmation. The two
that need input have their own page: "Angebot hinzufügen" (the backoffice
uploads an insurer's offer PDF on its behalf) and "Termine ändern" (move the
response deadline and/or the next reminder).

Every form carries an ``action_id`` generated when the page was rendered. The
workflow uses it as the update ID, so a double click or a resubmitted form
runs the action once and answers the second time with the first result. The
outcome comes back as a flash message on the request page (post/redirect/get);
invalid input is answered with the form again, a German message and a 4xx,
and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session, select
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.config import Settings
from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    Insurer,
    Offer,
    Party,
    Request,
    RequestStatus,
    Tender,
    as_utc,
    utcnow,
)
from web.core import i18n
from web.core.access import load_request, load_tender
from web.core.deps import (
    EngineDep,
    PagesDep,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    TemporalDep,
)
from web.core.errors import not_found
from web.core.flash import Flash, set_flash
from web.core.forms import ACTION_ID, BERLIN, FormValueError, end_of_day_utc, parse_date, today_berlin
from web.core.sessions import Login
from web.core.templating import Pages, fmt_date
from web.core.temporal import TemporalUnavailable
from web.core.uploads import size_mb
from web.offers.forms import (
    MAX_NOTES_CHARS,
    OfferPdf,
    OfferRefused,
    check_offer_form,
    read_offer_form,
    read_offer_request,
    stage_offer_pdf,
    submit_uploaded_offer,
)
from web.offers.release import auto_release_quietly
from web.requests.routes import (
    TENDER_ACTIONS,
    can_add_offer,
    can_reschedule,
    detail_redirect,
    render_request_page,
)
from web.tenders.service import TenderActionError, new_action_id, reschedule, send_action

router = APIRouter(tags=["tenders"])

#: A moved reminder goes out at this time (Berlin) on the chosen day.
REMINDER_TIME = time(9, 0)
#: Dates further out are typos (a tender does not wait a year for an answer).
MAX_AHEAD = timedelta(days=366)


def _insurer_name(db: Session, tender: Tender) -> str:
    insurer = db.get(Insurer, tender.insurer_id)
    return insurer.name if insurer else f"Gesellschaft {tender.insurer_id}"


def _result_flash(insurer_name: str, message: str, changed: bool) -> Flash:
    """The workflow's answer, naming the insurer so a busy page stays clear."""
    return Flash("success" if changed else "info", f"{insurer_name}: {message}")


# ------------------------------------------------------------------ one-click actions


@router.post("/requests/{request_id}/tenders/{tender_id}/actions/{action}")
async def tender_action(
    request_id: int,
    tender_id: int,
    action: str,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    action_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    if action not in TENDER_ACTIONS:
        raise not_found()
    request = load_request(db, login.user, request_id)
    tender = load_tender(db, request, tender_id)
    if not ACTION_ID.match(action_id):
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("error.action_id")], status_code=422
        )
    if request.status != RequestStatus.OPEN:
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    name = _insurer_name(db, tender)
    try:
        client = await temporal.get()
        result = await send_action(
            client, tender, action, Action(action_id=action_id, actor_user_id=login.user.id)
        )
    except TemporalUnavailable:
        set_flash(response, settings, Flash("error", i18n.t("error.temporal_unavailable")))
    except TenderActionError as err:
        set_flash(response, settings, Flash("error", f"{name}: {err}"))
    else:
        set_flash(response, settings, _result_flash(name, result.message_de, result.changed))
    return response


# ------------------------------------------------------------------ shared page bits


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


def _load_page(db: Session, login: Login, request_id: int, tender_id: int) -> TenderPage:
    request = load_request(db, login.user, request_id)
    tender = load_tender(db, request, tender_id)
    return TenderPage(request=request, tender=tender, insurer_name=_insurer_name(db, tender))


def _render(
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


def _blocked_reason(page: TenderPage, allowed: bool, key: str) -> str:
    if page.request.status != RequestStatus.OPEN:
        return i18n.t("request.not_open")
    if not allowed:
        return i18n.t(f"tender_actions.{key}", status=i18n.tender_status_label(page.tender.status))
    return ""


# ------------------------------------------------------------------ Termine ändern


def _iso(value: datetime | None) -> str:
    aware = as_utc(value)
    return aware.astimezone(BERLIN).date().isoformat() if aware else ""


def _berlin_day(value: datetime | None) -> date | None:
    aware = as_utc(value)
    return aware.astimezone(BERLIN).date() if aware else None


def reminder_time_utc(day: date) -> datetime:
    """The moment a reminder moved to ``day`` goes out: 09:00 in Germany, in UTC."""
    return datetime.combine(day, REMINDER_TIME, tzinfo=BERLIN).astimezone(UTC)


@dataclass
class ScheduleChange:
    deadline_at: datetime | None = None
    next_reminder_at: datetime | None = None


def parse_schedule(tender: Tender, values: dict[str, str], now: datetime) -> tuple[ScheduleChange, list[str]]:
    """Read "Termine ändern": German (TT.MM.JJJJ) or ISO dates. A field left
    empty or at its current day changes nothing; at least one must change."""
    change = ScheduleChange()
    errors: list[str] = []
    today = today_berlin(now)
    horizon = today + MAX_AHEAD
    raw_deadline = values.get("deadline", "").strip()
    if raw_deadline:
        try:
            day = parse_date(raw_deadline)
        except FormValueError:
            errors.append(i18n.t("tender_actions.schedule.deadline_invalid"))
        else:
            if day < today:
                errors.append(i18n.t("tender_actions.schedule.deadline_past"))
            elif day > horizon:
                errors.append(i18n.t("tender_actions.schedule.too_far"))
            elif day != _berlin_day(tender.deadline_at):
                change.deadline_at = end_of_day_utc(day)
    raw_reminder = values.get("next_reminder", "").strip()
    if raw_reminder:
        try:
            day = parse_date(raw_reminder)
        except FormValueError:
            errors.append(i18n.t("tender_actions.schedule.reminder_invalid"))
        else:
            if day <= today:
                errors.append(i18n.t("tender_actions.schedule.reminder_past"))
            elif day > horizon:
                errors.append(i18n.t("tender_actions.schedule.too_far"))
            elif day != _berlin_day(tender.next_reminder_at):
                change.next_reminder_at = reminder_time_utc(day)
    if errors:
        return change, errors
    deadline = change.deadline_at or as_utc(tender.deadline_at)
    if change.next_reminder_at and deadline and change.next_reminder_at >= deadline:
        errors.append(i18n.t("tender_actions.schedule.reminder_after_deadline", deadline=fmt_date(deadline)))
    if change.deadline_at is None and change.next_reminder_at is None and not errors:
        errors.append(i18n.t("tender_actions.schedule.nothing"))
    return change, errors


def _as_iso(raw: str) -> str:
    """A typed date as a date input shows it again (ISO); unreadable input stays as typed."""
    try:
        return parse_date(raw).isoformat()
    except FormValueError:
        return raw


def _schedule_defaults(tender: Tender) -> dict[str, str]:
    return {"deadline": _iso(tender.deadline_at), "next_reminder": _iso(tender.next_reminder_at)}


def _render_schedule(
    http: HttpRequest, pages: Pages, login: Login, page: TenderPage, status_code: int = 200
) -> Response:
    page.values = {k: _as_iso(v) for k, v in (page.values or _schedule_defaults(page.tender)).items()}
    return _render(
        http, pages, login, "tender_schedule", page, "Termine ändern", status_code,
        today=today_berlin(utcnow()).isoformat(),
    )


@router.get("/requests/{request_id}/tenders/{tender_id}/schedule")
def schedule_form(
    request_id: int, tender_id: int, http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin
) -> Response:
    page = _load_page(db, login, request_id, tender_id)
    page.blocked = _blocked_reason(page, can_reschedule(page.tender), "schedule.not_possible")
    return _render_schedule(http, pages, login, page, 409 if page.blocked else 200)


@router.post("/requests/{request_id}/tenders/{tender_id}/schedule")
async def schedule_submit(
    request_id: int,
    tender_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffCsrfLogin,
    action_id: Annotated[str, Form(max_length=64)] = "",
    deadline: Annotated[str, Form(max_length=40)] = "",
    next_reminder: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    page = _load_page(db, login, request_id, tender_id)
    page.values = {"deadline": deadline, "next_reminder": next_reminder}
    page.blocked = _blocked_reason(page, can_reschedule(page.tender), "schedule.not_possible")
    if page.blocked:
        return _render_schedule(http, pages, login, page, 409)
    if not ACTION_ID.match(action_id):
        page.errors = [i18n.t("error.action_id")]
        return _render_schedule(http, pages, login, page, 422)
    page.action_id = action_id
    change, page.errors = parse_schedule(page.tender, page.values, utcnow())
    if page.errors:
        return _render_schedule(http, pages, login, page, 422)
    try:
        client = await temporal.get()
        result = await reschedule(
            client, page.tender, deadline_at=change.deadline_at, next_reminder_at=change.next_reminder_at,
            user_id=login.user.id, action_id=action_id,
        )
    except TemporalUnavailable:
        page.errors = [i18n.t("error.temporal_unavailable")]
        return _render_schedule(http, pages, login, page, 503)
    except TenderActionError as err:
        page.errors = [str(err)]
        return _render_schedule(http, pages, login, page, 409)
    parts = []
    if change.deadline_at:
        parts.append(f"Antwortfrist {fmt_date(change.deadline_at)}")
    if change.next_reminder_at:
        parts.append(f"nächste Erinnerung {fmt_date(change.next_reminder_at)}")
    message = f"{result.message_de.rstrip('.')} ({', '.join(parts)})."
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    set_flash(response, settings, _result_flash(page.insurer_name, message, result.changed))
    return response


# ------------------------------------------------------------------ Angebot hinzufügen


def _render_offer(
    http: HttpRequest, pages: Pages, login: Login, page: TenderPage, settings: Settings, status_code: int = 200
) -> Response:
    if "valid_until" in page.values:
        page.values = {**page.values, "valid_until": _as_iso(page.values["valid_until"])}
    return _render(
        http, pages, login, "tender_offer", page, "Angebot hinzufügen", status_code,
        max_upload_mb=size_mb(settings.max_upload_bytes), max_notes=MAX_NOTES_CHARS,
    )


@router.get("/requests/{request_id}/tenders/{tender_id}/offer")
def offer_form(
    request_id: int,
    tender_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    settings: SettingsDep,
    login: StaffLogin,
) -> Response:
    page = _load_page(db, login, request_id, tender_id)
    page.blocked = _blocked_reason(page, can_add_offer(page.tender), "offer.not_possible")
    return _render_offer(http, pages, login, page, settings, 409 if page.blocked else 200)


def _offer_accepted(db: Session, tender: Tender, action_id: str) -> bool:
    offer = db.exec(select(Offer).where(Offer.action_id == action_id)).first()
    return offer is not None and offer.tender_id == tender.id and offer.active


@router.post("/requests/{request_id}/tenders/{tender_id}/offer")
async def offer_submit(
    request_id: int,
    tender_id: int,
    http: HttpRequest,
    pages: PagesDep,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    login: StaffLogin,
) -> Response:
    """The backoffice adds an insurer's offer (PDF + premium, sum insured,
    validity, notes) on its behalf. The form is parsed here, not by FastAPI,
    so the size limit holds before anything is spooled to disk; the CSRF token
    is therefore checked here too, right after parsing."""
    page = _load_page(db, login, request_id, tender_id)
    page.blocked = _blocked_reason(page, can_add_offer(page.tender), "offer.not_possible")
    try:
        form = await read_offer_request(http, settings, login.csrf_token)
    except OfferRefused as err:
        page.errors = [err.message]
        return _render_offer(http, pages, login, page, settings, err.status_code)
    pdf: OfferPdf | None = None
    try:
        sent = read_offer_form(form)
        page.values = sent.values
        if sent.action_id_ok and _offer_accepted(db, page.tender, sent.action_id):
            # The same form again after it went through (back button, second click).
            response = detail_redirect(request_id, f"#tender-{tender_id}")
            already = i18n.t("tender_actions.offer.already")
            set_flash(response, settings, Flash("info", f"{page.insurer_name}: {already}"))
            return response
        if page.blocked:
            return _render_offer(http, pages, login, page, settings, 409)
        offer_input, page.errors = check_offer_form(sent, file_required=True)
        if sent.action_id_ok:
            page.action_id = sent.action_id
        if page.errors or sent.file is None:
            return _render_offer(http, pages, login, page, settings, 422)
        try:
            pdf = await stage_offer_pdf(settings, sent.file)
        except OfferRefused as err:
            page.errors = [err.message]
            return _render_offer(http, pages, login, page, settings, err.status_code)
        try:
            client = await temporal.get()
        except TemporalUnavailable:
            page.errors = [i18n.t("error.temporal_unavailable")]
            return _render_offer(http, pages, login, page, settings, 503)
        try:
            result = await submit_uploaded_offer(
                db=db, engine=engine, settings=settings, client=client, tender=page.tender, offer=offer_input,
                pdf=pdf, by=Party.BACKOFFICE, user_id=login.user.id, action_id=sent.action_id,
            )
        except TenderActionError as err:
            page.errors = [str(err)]
            return _render_offer(http, pages, login, page, settings, 409)
        await auto_release_quietly(engine=engine, client=client, settings=settings, tender_id=tender_id)
        response = detail_redirect(request_id, f"#tender-{tender_id}")
        set_flash(response, settings, _result_flash(page.insurer_name, result.message_de, result.changed))
        return response
    finally:
        if pdf is not None:
            pdf.discard()
        await form.close()

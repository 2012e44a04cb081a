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

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk import formats
from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    RequestStatus,
    Tender,
    utcnow,
)
from web.core import i18n
from web.core.bridge import wait
from web.core.deps import (
    PagesDep,
    PathId,
    RequestTender,
    SessionDep,
    SettingsDep,
    StaffCsrfLogin,
    StaffLogin,
    StaffRequest,
    TemporalDep,
)
from web.core.errors import ActionRefused, not_found
from web.core.flash import Flash, set_flash
from web.core.forms import ACTION_ID, BERLIN, FormValueError, date_input_value, end_of_day_utc, parse_date, today_berlin
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalUnavailable
from web.requests import (
    TENDER_ACTIONS,
    can_reschedule,
    detail_redirect,
    render_request_page,
)
from web.tenders.pages import (
    TenderPage,
    blocked_reason,
    insurer_name,
    load_tender_page,
    render_tender_page,
    result_flash,
)
from web.tenders.service import TenderActionError, reschedule, send_action

router = APIRouter(tags=["tenders"])

#: A moved reminder goes out at this time (Berlin) on the chosen day.
REMINDER_TIME = time(9, 0)
#: Dates further out are typos (a tender does not wait a year for an answer).
MAX_AHEAD = timedelta(days=366)


# ------------------------------------------------------------------ one-click actions


@router.post("/requests/{request_id}/tenders/{tender_id}/actions/{action}")
def tender_action(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
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
    if not ACTION_ID.match(action_id):
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("error.action_id")], status_code=422
        )
    if request.status != RequestStatus.OPEN:
        return render_request_page(
            http, pages, db, settings, login, request, errors=[i18n.t("request.not_open")], status_code=409
        )
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    name = insurer_name(db, tender)
    try:
        client = wait(temporal.get())
        result = wait(send_action(
            client, tender, action, Action(action_id=action_id, actor_user_id=login.user.id)
        ))
    except TemporalUnavailable:
        set_flash(response, settings, Flash("error", i18n.t("error.temporal_unavailable")))
    except TenderActionError as err:
        set_flash(response, settings, Flash("error", f"{name}: {err}"))
    else:
        set_flash(response, settings, result_flash(name, i18n.outcome_text(result.code), result.changed))
    return response


# ------------------------------------------------------------------ shared page bits


# ------------------------------------------------------------------ Termine ändern


def _iso(value: datetime | None) -> str:
    aware = value
    return aware.astimezone(BERLIN).date().isoformat() if aware else ""


def _berlin_day(value: datetime | None) -> date | None:
    aware = value
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
    deadline = change.deadline_at or tender.deadline_at
    if change.next_reminder_at and deadline and change.next_reminder_at >= deadline:
        errors.append(i18n.t("tender_actions.schedule.reminder_after_deadline", deadline=formats.day(deadline)))
    if change.deadline_at is None and change.next_reminder_at is None and not errors:
        errors.append(i18n.t("tender_actions.schedule.nothing"))
    return change, errors


def _schedule_defaults(tender: Tender) -> dict[str, str]:
    return {"deadline": _iso(tender.deadline_at), "next_reminder": _iso(tender.next_reminder_at)}


def _render_schedule(
    http: HttpRequest, pages: Pages, login: Login, page: TenderPage, status_code: int = 200
) -> Response:
    page.values = {k: date_input_value(v) for k, v in (page.values or _schedule_defaults(page.tender)).items()}
    return render_tender_page(
        http, pages, login, "tender_schedule", page, i18n.t("title.schedule"), status_code,
        today=today_berlin(utcnow()).isoformat(),
    )


@router.get("/requests/{request_id}/tenders/{tender_id}/schedule")
def schedule_form(
    request_id: PathId, request: StaffRequest, tender_id: PathId, tender: RequestTender,
    http: HttpRequest, pages: PagesDep, db: SessionDep, login: StaffLogin,
) -> Response:
    page = load_tender_page(db, request, tender)
    page.blocked = blocked_reason(page, can_reschedule(page.tender), "schedule.not_possible")
    return _render_schedule(http, pages, login, page, 409 if page.blocked else 200)


@router.post("/requests/{request_id}/tenders/{tender_id}/schedule")
def schedule_submit(
    request_id: PathId,
    request: StaffRequest,
    tender_id: PathId,
    tender: RequestTender,
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
    page = load_tender_page(db, request, tender)
    page.values = {"deadline": deadline, "next_reminder": next_reminder}
    page.blocked = blocked_reason(page, can_reschedule(page.tender), "schedule.not_possible")
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
        client = wait(temporal.get())
        result = wait(reschedule(
            client, page.tender, deadline_at=change.deadline_at, next_reminder_at=change.next_reminder_at,
            user_id=login.user.id, action_id=action_id,
        ))
    except ActionRefused as err:
        page.errors = [str(err)]
        return _render_schedule(http, pages, login, page, err.status_code)
    parts = []
    if change.deadline_at:
        parts.append(i18n.t("tender_actions.schedule.deadline_part", date=formats.day(change.deadline_at)))
    if change.next_reminder_at:
        parts.append(i18n.t("tender_actions.schedule.reminder_part", date=formats.day(change.next_reminder_at)))
    message = f"{i18n.outcome_text(result.code).rstrip('.')} ({', '.join(parts)})."
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    set_flash(response, settings, result_flash(page.insurer_name, message, result.changed))
    return response


# ------------------------------------------------------------------ Angebot hinzufügen

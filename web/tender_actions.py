"""The per-tender actions menu: Erinnerung schicken, In Bearbeitung, Anfrage nicht erfolgreich.

Each button is a small POST form carrying an ``action_id`` generated when the
page was rendered. The workflow uses it as the update ID, so a double click
or a resubmitted form runs the action once and answers the second time with
the first result. The outcome comes back as a flash message on the request
page (post/redirect/get).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from tenderdesk.contracts import Action
from web import i18n
from web.access import load_request, load_tender
from web.deps import SessionDep, SettingsDep, StaffCsrfLogin, TemporalDep
from web.errors import not_found
from web.flash import Flash, set_flash
from web.requests import TENDER_ACTIONS, detail_redirect
from web.temporal import TemporalUnavailable
from web.tenders import TenderActionError, send_action

router = APIRouter(tags=["tenders"])

#: What :func:`web.tenders.new_action_id` produces; anything else is a forged form.
ACTION_ID = re.compile(r"^[0-9a-f]{32}$")


@router.post("/requests/{request_id}/tenders/{tender_id}/actions/{action}")
async def tender_action(
    request_id: int,
    tender_id: int,
    action: str,
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
    response = detail_redirect(request_id, f"#tender-{tender_id}")
    if not ACTION_ID.match(action_id):
        set_flash(response, settings, Flash("error", i18n.t("error.action_id")))
        return response
    try:
        client = await temporal.get()
        result = await send_action(
            client, tender, action, Action(action_id=action_id, actor_user_id=login.user.id)
        )
    except TemporalUnavailable:
        set_flash(response, settings, Flash("error", i18n.t("error.temporal_unavailable")))
    except TenderActionError as err:
        set_flash(response, settings, Flash("error", str(err)))
    else:
        flash = Flash("success" if result.changed else "info", result.message_de)
        set_flash(response, settings, flash)
    return response

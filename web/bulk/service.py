"""What a bulk action does, item by item.

Idempotency: the form carries one ``batch_id`` (made when the page was shown);
each tender's update ID is derived from it and the tender's ID. Temporal and the
workflow answer a repeated update ID with the first result, so a double click,
a reload of the result page or a second tab changes nothing, and the report
says again what the first click did.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session
from temporalio.client import Client

from tenderdesk.contracts import Action
from tenderdesk.db.models import Request, RequestStatus, User
from web.core import i18n
from web.core.errors import ActionRefused
from web.requests import set_assignee, staff_members
from web.tenders import TenderActionError, TenderTarget, UpdatePending, send_action

#: Updates in flight at once: enough to finish 50 tenders in about a second,
#: few enough not to crowd out the other users of this process.
PARALLEL = 8

Outcome = Literal["done", "unchanged", "refused"]


@dataclass
class BulkItem:
    """One line of the report."""

    request_id: int
    request_number: str
    name: str  # the insurer (tender actions) or the request number (assign)
    outcome: Outcome
    text: str


def item_action_id(batch_id: str, tender_id: int) -> str:
    """The update ID of one tender in a batch: the same batch, the same ID."""
    return hashlib.sha256(f"{batch_id}:{tender_id}".encode()).hexdigest()[:32]


async def _one(client: Client, gate: asyncio.Semaphore, target: TenderTarget, update: str, batch_id: str,
               user_id: int | None) -> BulkItem:
    tender = target.tender
    assert tender.id is not None
    action = Action(action_id=item_action_id(batch_id, tender.id), actor_user_id=user_id)
    async with gate:
        try:
            result = await send_action(client, tender, update, action)
        except UpdatePending as err:
            return BulkItem(tender.request_id, target.request_number, target.insurer_name, "unchanged", str(err))
        except TenderActionError as err:
            return BulkItem(tender.request_id, target.request_number, target.insurer_name, "refused", str(err))
    return BulkItem(tender.request_id, target.request_number, target.insurer_name,
                    "done" if result.changed else "unchanged", i18n.outcome_text(result.code))


async def run_tender_updates(
    client: Client, targets: Sequence[TenderTarget], update: str, *, batch_id: str, user_id: int | None
) -> list[BulkItem]:
    """Send ``update`` to every target, :data:`PARALLEL` at a time; one item per target."""
    gate = asyncio.Semaphore(PARALLEL)
    return list(await asyncio.gather(*(_one(client, gate, t, update, batch_id, user_id) for t in targets)))


def assign_requests(db: Session, user: User, request_ids: Sequence[int], assignee_id: int | None) -> list[BulkItem]:
    """Make ``assignee_id`` Bearbeiter of each request of the user's account; a
    request that has it already is reported unchanged and gets no timeline entry."""
    members = {m.id for m in staff_members(db, user.account_id)}
    assignee = db.get(User, assignee_id) if assignee_id in members else None
    if assignee is None:
        raise BulkRefused("requests.assign.invalid")
    items = []
    for request_id in dict.fromkeys(request_ids):
        request = db.get(Request, request_id)
        if request is None or request.account_id != user.account_id:
            items.append(BulkItem(request_id, "", str(request_id), "refused", i18n.t("error.request_not_found")))
        elif request.status != RequestStatus.OPEN:
            items.append(BulkItem(request_id, request.number, request.number, "refused", i18n.t("request.not_open")))
        elif request.assignee_id == assignee.id:
            items.append(BulkItem(request_id, request.number, request.number, "unchanged",
                                  i18n.t("requests.assign.same", name=assignee.name)))
        else:
            set_assignee(db, request, assignee, user)
            items.append(BulkItem(request_id, request.number, request.number, "done",
                                  i18n.t("requests.assign.other", name=assignee.name)))
    return items


class BulkRefused(ActionRefused):
    """The whole batch was refused before anything happened."""

    status_code = 422


__all__ = [
    "PARALLEL", "BulkItem", "BulkRefused", "assign_requests", "item_action_id", "run_tender_updates",
]

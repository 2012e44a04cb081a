"""Starting tenders: one TenderWorkflow per chosen insurer, with the rows it
projects into written first and removed again only when the start surely failed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from tenderdesk.contracts import TenderPlan
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Policyholder,
    Product,
    Request,
    RequestStatus,
    Tender,
)
from tenderdesk.ids import tender_workflow_id
from tenderdesk.states import TERMINAL
from web.core import i18n
from web.tenders.service import TenderActionError
from workflows.starts import plan_for, start_tender, tender_summary

log = logging.getLogger(__name__)


@dataclass
class StartOutcome:
    started: list[Tender]
    refused: dict[int, str]  # insurer_id -> reason, worded


def open_tender_insurers(session: Session, request_id: int) -> set[int]:
    rows = session.exec(
        select(Tender.insurer_id)
        .where(Tender.request_id == request_id)
        .where(col(Tender.status).not_in(list(TERMINAL)))
    ).all()
    return set(rows)


@dataclass
class _Planned:
    """A Tender row written before its workflow starts, and what the start needs."""

    tender: Tender
    insurer_name: str
    summary: str
    request_number: str = ""


async def start_tenders(
    *,
    client: Client,
    engine: Engine,
    task_queue: str,
    request_id: int,
    insurer_ids: Sequence[int],
    actor_user_id: int | None,
    email_note: str = "",
    id_prefix: str = "tender",
    email_notes: Mapping[int, str] | None = None,
    document_ids: Sequence[int] | None = None,
) -> StartOutcome:
    """Create one Tender row and one TenderWorkflow per insurer.

    Refuses (per insurer, with a reason naming it) what cannot be tendered: an
    insurer without a contact for the product, one that is not reachable, or
    one with an open tender for this request. Temporal's ID conflict policy
    makes the last check hold across every web process.

    ``email_notes`` gives each insurer its own note (the wizard's editable
    email); insurers missing from it get ``email_note``. ``document_ids`` are
    the documents the tender email attaches; ``None`` keeps the default (all
    request documents). The database work runs in a thread, so a slow database
    does not stall the event loop that serves every other page.
    """
    planned, refused, plan = await asyncio.to_thread(
        _plan_tenders, engine, request_id, insurer_ids, actor_user_id, email_note, id_prefix,
        email_notes, document_ids,
    )
    results = await asyncio.gather(
        *(_start_one(client, task_queue, p.tender, p.insurer_name, p.summary, plan, p.request_number)
          for p in planned)
    )
    started: list[Tender] = []
    for p, outcome in zip(planned, results, strict=True):
        if outcome is None:
            started.append(p.tender)
            continue
        refusal, delete = outcome
        if delete:
            await asyncio.to_thread(_delete, engine, p.tender)
        refused[p.tender.insurer_id] = refusal
    return StartOutcome(started=started, refused=refused)


def _plan_tenders(
    engine: Engine,
    request_id: int,
    insurer_ids: Sequence[int],
    actor_user_id: int | None,
    email_note: str,
    id_prefix: str,
    email_notes: Mapping[int, str] | None,
    document_ids: Sequence[int] | None,
) -> tuple[list[_Planned], dict[int, str], TenderPlan]:
    """Check every insurer and write the Tender rows of those that may be tendered."""
    refused: dict[int, str] = {}
    planned: list[_Planned] = []
    with session_scope(engine) as session:
        request = session.get(Request, request_id)
        if request is None:
            raise TenderActionError("error.request_not_found")
        if request.status != RequestStatus.OPEN:
            raise TenderActionError("tenders.error.request_closed")
        account = session.get(Account, request.account_id)
        product = session.get(Product, request.product_id)
        assert account is not None and product is not None
        chosen_documents = _checked_documents(session, request_id, document_ids)
        already = open_tender_insurers(session, request_id)
        for insurer_id in dict.fromkeys(insurer_ids):
            insurer = session.get(Insurer, insurer_id)
            contact = session.exec(
                select(InsurerContact)
                .where(InsurerContact.insurer_id == insurer_id)
                .where(InsurerContact.product_id == request.product_id)
            ).first()
            refusal = tender_refusal(insurer_id, insurer, contact, product.name, insurer_id in already)
            if refusal is not None:
                refused[insurer_id] = refusal
            else:
                assert insurer is not None and contact is not None
                note = email_notes.get(insurer_id, email_note) if email_notes is not None else email_note
                tender = Tender(
                    request_id=request_id,
                    insurer_id=insurer_id,
                    contact_email=contact.email,
                    workflow_id=tender_workflow_id(request_id, insurer_id, id_prefix),
                    email_note=note,
                    document_ids=list(chosen_documents) if chosen_documents is not None else [],
                    created_by_id=actor_user_id,
                )
                session.add(tender)
                summary = tender_summary(request.number, insurer_id)
                planned.append(_Planned(tender=tender, insurer_name=insurer.name, summary=summary,
                                        request_number=request.number))
        if planned and chosen_documents:
            _promote_staged(session, chosen_documents)
        session.flush()
        holder = session.get(Policyholder, request.policyholder_id)
        plan = plan_for(account, holder.state if holder else "")
    return planned, refused, plan


def _promote_staged(session: Session, document_ids: Sequence[int]) -> None:
    """Files staged in the wizard become request documents with the tender that
    sends them, in the same transaction as its row."""
    for document in session.exec(
        select(Document).where(col(Document.id).in_(list(document_ids)), Document.kind == DocumentKind.STAGED)
    ).all():
        document.kind = DocumentKind.REQUEST
        session.add(document)


def tender_refusal(
    insurer_id: int, insurer: Insurer | None, contact: InsurerContact | None, product_name: str,
    already_open: bool,
) -> str | None:
    """Why this insurer cannot be tendered for the request (a sentence naming
    it), or ``None``. The wizard shows the same sentences for forged picks."""
    if insurer is None:
        return i18n.t("tenders.refusal.unknown", id=insurer_id)
    if already_open:
        return i18n.t("tenders.refusal.already", insurer=insurer.name)
    if not insurer.reachable:
        return i18n.t("tenders.refusal.unreachable", insurer=insurer.name)
    if contact is None:
        return i18n.t("tenders.refusal.no_contact", insurer=insurer.name, product=product_name)
    return None


def _checked_documents(
    session: Session, request_id: int, document_ids: Sequence[int] | None
) -> list[int] | None:
    """The chosen documents, refused unless every one is a request document
    (or a staged upload) of this request: never an offer or a chat attachment."""
    if document_ids is None:
        return None
    wanted = list(dict.fromkeys(document_ids))
    found = set(
        session.exec(
            select(Document.id)
            .where(Document.request_id == request_id)
            .where(col(Document.kind).in_([DocumentKind.REQUEST, DocumentKind.STAGED]))
            .where(col(Document.id).in_(wanted))
        ).all()
    ) if wanted else set()
    if len(found) != len(wanted):
        raise TenderActionError("add_tenders.documents.foreign")
    return wanted


async def _start_one(
    client: Client, task_queue: str, tender: Tender, insurer_name: str, summary: str, plan: TenderPlan,
    request_number: str = "",
) -> tuple[str, bool] | None:
    """Start one workflow. ``None`` if it started; else a refusal naming the
    insurer and whether the row must go (only when another tender's workflow
    runs under this ID). After any other error the start may or may not have
    happened, so the row stays and the reconciler starts it (same ID)."""
    assert tender.id is not None
    try:
        await start_tender(
            client, task_queue=task_queue, workflow_id=tender.workflow_id, tender_id=tender.id,
            request_id=tender.request_id, insurer_id=tender.insurer_id, plan=plan, summary=summary,
            request_number=request_number,
        )
    except WorkflowAlreadyStartedError:
        return i18n.t("tenders.refusal.running", insurer=insurer_name), True
    except (RPCError, RuntimeError):  # RuntimeError: a lazy client that cannot connect
        log.exception("could not start tender workflow %s; the reconciler will", tender.workflow_id)
        return i18n.t("tenders.refusal.not_started", insurer=insurer_name), False
    return None


def _delete(engine: Engine, row: Any) -> None:
    with session_scope(engine) as session:
        obj = session.get(type(row), row.id)
        if obj is not None:
            session.delete(obj)

"""Message notices: tell the other side by email that someone wrote in a chat.

- to the backoffice (the request's assignee or, with nobody assigned, the
  account's contact address) when an insurer or the broker wrote;
- to the broker when the backoffice wrote or forwarded in his thread.

One System Email per message (key ``message:{id}``), rendered by
:mod:`tenderdesk.mail` and delivered by ``NotificationWorkflow``, so a retried
post never sends twice. The link points at the request's "Nachrichten" section.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from tenderdesk.config import Settings
from tenderdesk.db.models import Insurer, Message, Request, Tender, Thread, ThreadKind, User
from tenderdesk.mail.context import request_context
from tenderdesk.mail.render import MailKind, render_email
from web.core.notifications import QueuedEmail, queue_email

#: Thread label of the broker thread (insurer threads are labelled with the insurer's name).
BROKER_THREAD_LABEL = "Vermittler"
#: Anchor of the messages section on the request page; notification links point at it.
MESSAGES_ANCHOR = "#nachrichten"


def _context(session: Session, settings: Settings, message: Message) -> dict[str, Any]:
    return {
        **request_context(session, message.request_id),
        "link": f"{settings.base_url.rstrip('/')}/requests/{message.request_id}{MESSAGES_ANCHOR}",
        "has_attachment": message.document_id is not None,
    }


def _insurer_name(session: Session, thread: Thread) -> str:
    tender = session.get(Tender, thread.tender_id) if thread.tender_id is not None else None
    insurer = session.get(Insurer, tender.insurer_id) if tender is not None else None
    return insurer.name if insurer is not None else "Gesellschaft"


def backoffice_notice(engine: Engine, settings: Settings, message: Message, thread: Thread) -> QueuedEmail:
    with Session(engine) as session:
        ctx = _context(session, settings, message)
        request: Request = ctx["request"]
        assignee = session.get(User, request.assignee_id) if request.assignee_id else None
        if assignee is not None and not assignee.is_active:
            assignee = None
        if thread.kind == ThreadKind.INSURER:
            who = _insurer_name(session, thread)
            sender = f"der Gesellschaft {who}"
        else:
            who = BROKER_THREAD_LABEL
            sender = f"des Vermittlers {ctx['broker'].name} ({ctx['broker'].company})"
    rendered = render_email(MailKind.MESSAGE_BACKOFFICE, {
        **ctx, "assignee": assignee, "sender": sender, "subject": {"number": request.number, "who": who},
    })
    return QueuedEmail(
        key=f"message:{message.id}", kind=MailKind.MESSAGE_BACKOFFICE.value, rendered=rendered,
        to_addr=assignee.email if assignee is not None else ctx["account"].contact_email,
        request_id=message.request_id,
    )


def broker_notice(engine: Engine, settings: Settings, message: Message) -> QueuedEmail:
    with Session(engine) as session:
        ctx = _context(session, settings, message)
    rendered = render_email(MailKind.MESSAGE_BROKER, {
        **ctx, "forwarded": message.forwarded_from_id is not None,
        "subject": {"number": ctx["request"].number, "product": ctx["product"].name},
    })
    return QueuedEmail(
        key=f"message:{message.id}", kind=MailKind.MESSAGE_BROKER.value, rendered=rendered,
        to_addr=ctx["broker"].email, request_id=message.request_id,
    )


async def notify_backoffice(
    *, engine: Engine, client: Client, settings: Settings, message: Message, thread: Thread,
) -> None:
    """Tell the backoffice that an insurer or the broker wrote."""
    email = await asyncio.to_thread(backoffice_notice, engine, settings, message, thread)
    await queue_email(client=client, engine=engine, settings=settings, email=email)


async def notify_broker(*, engine: Engine, client: Client, settings: Settings, message: Message) -> None:
    """Tell the broker that the backoffice wrote (or forwarded) in his thread."""
    email = await asyncio.to_thread(broker_notice, engine, settings, message)
    await queue_email(client=client, engine=engine, settings=settings, email=email)


__all__ = ["BROKER_THREAD_LABEL", "MESSAGES_ANCHOR", "notify_backoffice", "notify_broker"]

"""Queue a System Email for durable delivery by ``NotificationWorkflow``.

Used for every email that is not part of a tender's own life: message notices
to brokers and backoffice, release notices, the password reset. The row is
written first (so it is listed at once, also if delivery fails), then a
workflow delivers it with retries. If Temporal cannot be reached the row stays
"pending" and is visible; nothing here raises for that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import SystemEmail
from tenderdesk.mail import outbox
from tenderdesk.mail.render import RenderedEmail
from web.core.temporal import TemporalConnector, TemporalUnavailable
from workflows.starts import start_notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedEmail:
    """A rendered email and where it belongs; ``key`` makes it one row, sent once."""

    key: str
    kind: str
    to_addr: str
    rendered: RenderedEmail
    request_id: int | None
    tender_id: int | None = None


def _record(engine: Engine, mail_from: str, email: QueuedEmail) -> SystemEmail:
    with session_scope(engine) as session:
        return outbox.record(
            session, key=email.key, kind=email.kind, to_addr=email.to_addr, subject=email.rendered.subject,
            body=email.rendered.text, mail_from=mail_from, request_id=email.request_id, tender_id=email.tender_id,
        )


async def queue_email(*, client: Client, engine: Engine, settings: Settings, email: QueuedEmail) -> SystemEmail:
    """Record the email under its key (idempotent) and start its delivery, unless
    the row is done already (a retried post must not start it again)."""
    row = await run_in_threadpool(_record, engine, settings.mail_from, email)
    assert row.id is not None
    if outbox.is_done(row):
        return row
    await start_delivery(temporal=client, settings=settings, system_email_id=row.id, kind=row.kind,
                         request_id=row.request_id)
    return row


async def start_delivery(
    *, temporal: Client | TemporalConnector, settings: Settings, system_email_id: int, kind: str,
    request_id: int | None = None,
) -> None:
    """Start the row's delivery workflow (once: an existing one is reused)."""
    where = f" zur Anfrage {request_id}" if request_id is not None else ""
    try:
        client = await temporal.get() if isinstance(temporal, TemporalConnector) else temporal
        await start_notification(
            client, task_queue=settings.temporal_task_queue, prefix=settings.workflow_id_prefix,
            system_email_id=system_email_id, summary=f"E-Mail #{system_email_id} ({kind}){where}",
        )
    except (RPCError, RuntimeError, TemporalUnavailable):  # RuntimeError: a lazy client that cannot connect
        # The row stays "pending"; the reconciler starts its delivery once Temporal answers.
        log.exception("could not start delivery of system email %s", system_email_id)

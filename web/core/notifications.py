"""Queue a System Email for durable delivery by ``NotificationWorkflow``.

Used for every email that is not part of a tender's own life: message notices
to brokers and backoffice, release notices. The row is written first (so the
request's "System Emails" list shows it at once, also if delivery fails), then
a workflow delivers it with retries.
"""

from __future__ import annotations

import logging
from email.utils import parseaddr

from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from tenderdesk.contracts import NotificationInput
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import SystemEmail

log = logging.getLogger(__name__)


async def queue_email(
    *,
    client: Client,
    engine: Engine,
    task_queue: str,
    id_prefix: str,
    mail_from: str,
    request_id: int,
    to_addr: str,
    subject: str,
    body: str,
    kind: str,
    key: str,
    tender_id: int | None = None,
) -> SystemEmail:
    """Record the email under ``key`` (idempotent) and start its delivery."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "tenderdesk.local"
    with session_scope(engine) as session:
        row = session.exec(select(SystemEmail).where(SystemEmail.idempotency_key == key)).first()
        if row is None:
            row = SystemEmail(
                idempotency_key=key,
                request_id=request_id,
                tender_id=tender_id,
                kind=kind,
                to_addr=to_addr,
                subject=subject,
                body_text=body,
                message_id_header=f"<{key.replace(':', '.')}@{domain}>",
            )
            session.add(row)
            session.flush()
    assert row.id is not None
    try:
        await client.start_workflow(
            "NotificationWorkflow",
            NotificationInput(system_email_id=row.id),
            id=f"{id_prefix}-mail-{row.id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"E-Mail #{row.id} ({kind}) zur Anfrage {request_id}",
        )
    except WorkflowAlreadyStartedError:
        pass
    except (RPCError, RuntimeError):  # RuntimeError: a lazy client that cannot connect
        # The row stays "pending" and is visible under System Emails.
        log.exception("could not start delivery of system email %s", row.id)
    return row

"""The Temporal worker: runs TenderWorkflow and its activities.

Start any number of these against one Temporal cluster and one database; each
polls the same task queue. ``python worker.py`` uses the settings from the
environment (see README).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.binding import BindingActivities
from activities.calendar import tender_dates_activity
from activities.email import EmailActivities
from activities.projection import ProjectionActivities
from activities.reconcile import ReconcileActivities
from tenderdesk import temporal_client
from tenderdesk.config import Settings, get_settings
from tenderdesk.db.engine import get_engine
from tenderdesk.logs import configure_logging
from workflows.binding import BindingWorkflow
from workflows.notification import NotificationWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.schedules import ensure_reconcile_schedule
from workflows.tender import TenderWorkflow

log = logging.getLogger("tenderdesk.worker")


def activities_for(engine: Engine, settings: Settings, client: Client | None = None) -> Sequence[Any]:
    """The bound activity methods, given their dependencies once. Closing tenders
    after a binding sends workflow updates, so it is registered only with a client."""
    emails = EmailActivities(engine, settings)
    binding = BindingActivities(engine, settings, client)
    projection = ProjectionActivities(engine)
    acts: list[Any] = [
        projection.project_tender, projection.request_is_open, emails.send_email, emails.deliver_system_email,
        binding.create_cover_note, binding.record_binding_email, tender_dates_activity,
    ]
    if client is not None:
        acts += [binding.close_tenders, ReconcileActivities(engine, settings, client).reconcile]
    return acts


def build_worker(client: Client, engine: Engine, settings: Settings, task_queue: str | None = None) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[TenderWorkflow, NotificationWorkflow, BindingWorkflow, ReconcileWorkflow],
        activities=activities_for(engine, settings, client),
        max_concurrent_activities=settings.worker_max_activities,
        max_concurrent_local_activities=settings.worker_max_local_activities,
        max_cached_workflows=settings.worker_max_cached_workflows,
        # On SIGTERM, running activities get this long to finish (an SMTP
        # exchange fits); what is still running then is retried elsewhere.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


def runtime_for(settings: Settings) -> Runtime | None:
    """With ``WORKER_METRICS_ADDRESS`` set, the Temporal SDK's own metrics
    (task latencies, slots, sticky cache, activity and workflow counts) are
    served there for Prometheus; otherwise the default runtime."""
    if not settings.worker_metrics_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.worker_metrics_address)))


async def connect(settings: Settings) -> Client:
    return await temporal_client.connect(settings, runtime=runtime_for(settings))


async def main() -> None:
    settings = get_settings()
    # Structured lines with the workflow and activity; no token or address in any.
    configure_logging(settings.log_format)
    # Activities do their database and file work in threads (asyncio.to_thread):
    # size that pool to the database pool instead of Python's default (6 on 2 cores).
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="activity")
    )
    client = await connect(settings)
    worker = build_worker(client, get_engine(settings.database_url), settings)
    await ensure_reconcile_schedule(
        client, prefix=settings.workflow_id_prefix, task_queue=settings.temporal_task_queue,
        every=timedelta(seconds=settings.reconcile_every_s),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling task queue %s at %s", settings.temporal_task_queue, settings.temporal_address)
    async with worker:
        await stop.wait()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
    # The worker has drained (graceful_shutdown_timeout) and logged its stop.
    # Skip interpreter finalization: the Temporal core's native threads can
    # still touch the GIL while Python tears down, which aborts with
    # "PyGILState_Release" (measured: 1 of 60 stops without this line, 0 of 60
    # with it; RELIABILITY.md).
    logging.shutdown()
    os._exit(0)

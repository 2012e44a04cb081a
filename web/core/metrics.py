"""Prometheus metrics of the web process (``prometheus-client``).

Per scrape, the database tells how many tenders are in each state, how many
System Emails are sent, failed, pending or retrying, and how many reminders
went out: those are facts of the whole system, the same whichever web process
answers. The process itself measures HTTP latency per route (the route's
template, ``/requests/{request_id}``, never a concrete ID) and how long
workflow updates take. No label ever holds a name, an address or a token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenderdesk.db.models import EmailStatus, SystemEmail, Tender
from tenderdesk.states import TenderStatus

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_LATENCY = Histogram(
    "tenderdesk_http_request_duration_seconds", "HTTP request latency by route template and method.",
    ("route", "method", "status"), buckets=LATENCY_BUCKETS, registry=None,
)
UPDATE_LATENCY = Histogram(
    "tenderdesk_workflow_update_duration_seconds", "Time a tender workflow update took, by update and outcome.",
    ("update", "outcome"), buckets=LATENCY_BUCKETS, registry=None,
)


class DatabaseCollector(Collector):
    """Tenders by state, emails by status and reminders sent, read at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The metric names without a query: registering must not touch the
        database (the app starts while it may still be unmigrated or down)."""
        yield GaugeMetricFamily("tenderdesk_tenders", "Tenders by state.", labels=("state",))
        yield GaugeMetricFamily("tenderdesk_emails", "System Emails by delivery status.", labels=("status",))
        yield CounterMetricFamily("tenderdesk_reminders", "Reminders sent to insurers.")

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with Session(self._engine) as session:
            tenders = dict(session.exec(select(Tender.status, func.count()).group_by(col(Tender.status))).all())
            emails = dict(session.exec(
                select(SystemEmail.status, func.count()).group_by(col(SystemEmail.status))).all())
            reminders = session.exec(select(func.coalesce(func.sum(Tender.reminders_sent), 0))).one()
        by_state = GaugeMetricFamily("tenderdesk_tenders", "Tenders by state.", labels=("state",))
        for state in TenderStatus:
            by_state.add_metric((state.value,), tenders.get(state, 0))
        yield by_state
        by_status = GaugeMetricFamily("tenderdesk_emails", "System Emails by delivery status.", labels=("status",))
        for status in EmailStatus:
            by_status.add_metric((status.value,), emails.get(status, 0))
        yield by_status
        yield CounterMetricFamily("tenderdesk_reminders", "Reminders sent to insurers.", value=int(reminders))


def registry_for(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(HTTP_LATENCY)
    registry.register(UPDATE_LATENCY)
    registry.register(DatabaseCollector(engine))
    return registry


def route_template(scope: Scope) -> str:
    """The matched route's template (``/requests/{request_id}``), never the raw
    path: for metric labels and the access log, so no ID or token gets in."""
    return getattr(scope.get("route"), "path", None) or (
        "/static" if scope["path"].startswith("/static/") else "other")


class HttpMetricsMiddleware:
    """Times every HTTP request and labels it with the matched route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            template = route_template(scope)
            HTTP_LATENCY.labels(template, scope["method"], str(status)).observe(time.perf_counter() - started)


__all__ = [
    "HTTP_LATENCY", "UPDATE_LATENCY", "DatabaseCollector", "HttpMetricsMiddleware", "registry_for", "route_template",
]

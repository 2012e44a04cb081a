"""/healthz, /readyz and /metrics on real parts, and the worker's Temporal SDK
metrics: what an operator's probes and Prometheus see."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import httpx
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import Settings
from tenderdesk.logs import ContextFilter, JsonFormatter
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.core.logging import access_log
from worker import build_worker, runtime_for

from ..conftest import Running, SmtpServer, free_port
from ..factories import make_world
from ..workflows.helpers import start, wait_status
from .conftest import MAIN_BACKOFFICE, client_for, first_request, logged_in


async def test_healthz_and_readyz_name_what_is_down(dev: Running, smtp_server: SmtpServer) -> None:
    app = create_app(dev.settings, dev.engine, temporal_client_factory=lambda: dev.client)
    async with client_for(app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok", "smtp": "ok"}}

    # SMTP down: 503, and only SMTP is named.
    closed = dev.settings.model_copy(update={"smtp_port": free_port()})
    app = create_app(closed, dev.engine, temporal_client_factory=lambda: dev.client)
    async with client_for(app) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"] == "ok" and checks["temporal"] == "ok" and checks["smtp"] != "ok"

    # Temporal unreachable: named too; the process itself is still alive.
    async def unreachable() -> Client:
        raise RuntimeError("connection refused")

    app = create_app(dev.settings, dev.engine, temporal_client_factory=unreachable)
    async with client_for(app) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["temporal"] != "ok"
        assert ready.json()["checks"]["smtp"] == "ok"


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
        if not labels and line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name}{labels} not in metrics")


async def test_metrics_count_tenders_emails_and_requests(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    tenders = await start(dev, world, n=2)
    for tender in tenders:
        await wait_status(dev, tender, TenderStatus.SENT)
    settings = dev.settings.model_copy(update={"metrics_token": "scrape-me"})
    app = create_app(settings, dev.engine, temporal_client_factory=lambda: dev.client)
    async with client_for(app) as http:
        await http.get("/login")
        await http.get("/requests/12345")  # a concrete ID never becomes a label
        assert (await http.get("/metrics")).status_code == 401
        scraped = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200
    text = scraped.text
    assert _sample(text, "tenderdesk_tenders", state="sent") == 2
    assert _sample(text, "tenderdesk_tenders", state="offered") == 0
    assert _sample(text, "tenderdesk_emails", status="sent") == 2
    assert _sample(text, "tenderdesk_reminders_total") == 0
    # (the histograms are per process, so earlier tests' requests count too)
    assert _sample(text, "tenderdesk_http_request_duration_seconds_count",
                   route="/login", method="GET", status="200") >= 1
    assert 'route="/requests/{request_id}"' in text and "12345" not in text
    assert "tenderdesk_workflow_update_duration_seconds" in text


async def test_worker_serves_temporal_sdk_metrics(dev_env: WorkflowEnvironment, dev: Running) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(worker_metrics_address=address, database_url=dev.settings.database_url)
    runtime = runtime_for(settings)
    assert runtime is not None
    client = await Client.connect(dev_env.client.service_client.config.target_host,
                                  namespace=dev_env.client.namespace, runtime=runtime)
    async with build_worker(client, dev.engine, dev.settings, task_queue=f"{dev.task_queue}-m"):
        for _ in range(50):
            try:
                body = httpx.get(f"http://{address}/metrics", timeout=2).text
            except httpx.HTTPError:
                body = ""
            if "temporal_" in body:
                break
            await asyncio.sleep(0.2)
    assert "temporal_" in body  # the SDK's own metric names


async def test_each_request_logs_one_json_line_with_its_ids_and_no_token(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    """The access line names the route template, the request ID the caller
    sent (answered back) and the Anfrage of the path; an insurer link's token
    never appears, and a caller's malformed ID is replaced."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    try:
        await logged_in(http, MAIN_BACKOFFICE)
        request = first_request(web_engine)
        page = await http.get(f"/requests/{request.id}", headers={"X-Request-ID": "support-4711"})
        assert page.status_code == 200 and page.headers["x-request-id"] == "support-4711"
        token = "Zq3" + "x" * 40
        await http.get(f"/t/{token}")
        forged = await http.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
        assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    finally:
        access_log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    page_line = next(line for line in lines if line.get("http_request_id") == "support-4711")
    assert page_line["msg"].startswith("GET /requests/{request_id} 200 ")
    assert page_line["request"] == request.id and page_line["logger"] == "tenderdesk.http"
    assert any(line["msg"].startswith("GET /t/{token} ") for line in lines)
    assert token not in stream.getvalue() and "@" not in stream.getvalue()

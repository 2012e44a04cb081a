"""``/healthz`` (the process answers), ``/readyz`` (database, Temporal and SMTP
answer; says which did not) and ``/metrics`` (Prometheus).

All three answer without a login and without any business data. ``/metrics``
requires ``Authorization: Bearer <METRICS_TOKEN>`` when that setting is set.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from tenderdesk.mail.smtp import probe
from web.core.deps import EngineDep, SettingsDep, TemporalDep
from web.core.temporal import TemporalConnector

router = APIRouter(tags=["ops"])

#: Each check gets this long; a hanging dependency is "not ready", not a hanging probe.
CHECK_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _database(engine: Engine) -> str:
    await asyncio.to_thread(_select_one, engine)
    return ""


async def _temporal(connector: TemporalConnector) -> str:
    client = await connector.get()
    healthy = await client.service_client.check_health(timeout=timedelta(seconds=2))
    return "" if healthy else "not serving"


async def _check(coro: Coroutine[Any, Any, str]) -> str:
    try:
        problem = await asyncio.wait_for(coro, CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    except Exception as err:  # noqa: BLE001 - a probe reports every failure by its type
        return type(err).__name__
    return str(problem)


@router.get("/readyz")
async def readyz(engine: EngineDep, temporal: TemporalDep, settings: SettingsDep) -> JSONResponse:
    """200 when the database, Temporal and the SMTP server all answer, else 503
    naming the one that did not (``{"checks": {"smtp": "ConnectionRefusedError", ...}}``)."""
    names = ("database", "temporal", "smtp")
    problems = await asyncio.gather(
        _check(_database(engine)), _check(_temporal(temporal)), _check(probe(settings, CHECK_TIMEOUT_S)),
    )
    checks = {name: problem or "ok" for name, problem in zip(names, problems, strict=True)}
    ready = not any(problems)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503, headers={"Cache-Control": "no-store"},
    )


@router.get("/metrics")
def metrics(http: HttpRequest, settings: SettingsDep) -> Response:
    token = settings.metrics_token
    if token and not hmac.compare_digest(http.headers.get("authorization", ""), f"Bearer {token}"):
        return Response("unauthorized\n", status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(http.app.state.metrics), media_type=CONTENT_TYPE_LATEST)

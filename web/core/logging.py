"""Structured, redacted logs of the web process.

Every request gets an ID (the caller's ``X-Request-ID`` if it is a plain
token, else a fresh one), echoed in the response so a user's report can be
found in the logs. :func:`bind_route_ids`, a dependency of every route, adds
the Anfrage, tender and offer IDs of the path. One access line per request
names the route's template (``/requests/{request_id}``), never the raw path,
so an insurer's ``/t/<token>`` cannot reach a log even before redaction; it
replaces uvicorn's access log (``--no-access-log``). The formatter and the
redaction live in :mod:`tenderdesk.logs`, shared with the worker.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenderdesk.logs import REDACTED, RedactingFilter, bound, configure_logging, log_context, redact
from web.core.metrics import route_template

#: uvicorn's loggers do not propagate to the root, so they get their own handlers' formatter.
ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error", "")
_CALLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Path parameters that name objects, and the log field each becomes.
_ROUTE_IDS = {"request_id": "request", "tender_id": "tender", "offer_id": "offer"}

access_log = logging.getLogger("tenderdesk.http")
RedactTokenFilter = RedactingFilter


def install_token_redaction(logger_names: tuple[str, ...] = ACCESS_LOGGERS, log_format: str = "json") -> None:
    """Structured lines without tokens or addresses on the access loggers, the
    root and their handlers (idempotent). Call it again after uvicorn
    (re)configures logging: the app's lifespan does."""
    configure_logging(log_format, logger_names)


class RequestIdMiddleware:
    """Binds a request ID for the request's log lines, answers it as
    ``X-Request-ID`` and writes one access line with the route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _CALLER_ID.fullmatch(offered) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        with bound(http_request_id=request_id):
            try:
                await self.app(scope, receive, sending)
            finally:
                access_log.info("%s %s %s %.0f ms", scope["method"], route_template(scope), status,
                                (time.perf_counter() - started) * 1000)


async def bind_route_ids(request: Request) -> None:
    """The Anfrage, tender and offer of the path on every log line of this
    request (an async dependency, so the value reaches the route's thread)."""
    ids = {field: int(value) for name, field in _ROUTE_IDS.items()
           if (value := request.path_params.get(name)) is not None and str(value).isdigit()}
    if ids:
        log_context.set({**log_context.get(), **ids})


__all__ = [
    "ACCESS_LOGGERS", "REDACTED", "RedactTokenFilter", "RequestIdMiddleware", "access_log", "bind_route_ids",
    "install_token_redaction", "redact",
]

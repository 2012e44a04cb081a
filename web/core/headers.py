"""Security headers on every response.

Pages load nothing from third parties and run no script, so a strict Content
Security Policy costs nothing and blunts any escaping mistake. Insurer link
pages carry their token in the URL: ``Referrer-Policy: no-referrer`` (sent on
every page, which is simplest and loses nothing) keeps it from leaking to any
site they link to. Dynamic pages are ``no-store`` because they show personal
data and must not survive in shared caches or the back button after logout.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenderdesk.config import get_settings
from web.core.i18n import t

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool, static_prefix: str = "/static/") -> None:
        self.app = app
        self.https = https
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith(self.static_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
                if not is_static:
                    headers.setdefault("Cache-Control", "no-store")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Form posts are small; only the offer upload may send more (it enforces its own limit).
DEFAULT_MAX_BODY = 1024 * 1024
#: Routes that take file uploads and enforce ``MAX_UPLOAD_BYTES`` themselves
#: while streaming (web/uploads.py); every other body is capped at 1 MB here.
UPLOAD_PATHS = re.compile(
    r"^(/t/[^/]+/(offer|question)"
    r"|/requests/\d+/tenders/preview"
    r"|/requests/\d+/tenders/\d+/offer"
    r"|/requests/\d+/offers/\d+/edit"
    r"|/requests/\d+/messages)$"
)

#: The insurer's offer upload parses the body itself and counts every chunk.
STREAMING_UPLOAD = re.compile(r"^/t/[^/]+/offer$")


class BodySizeLimitMiddleware:
    """Refuse oversized request bodies before any form parser buffers them.

    Starlette's form parser caps each field at 1 MB but not the number of
    fields times their size, and the login form is open to anyone. Browsers
    always send ``Content-Length`` with forms, so a body without one (chunked)
    is refused on these routes; the upload route counts chunked bodies itself.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY, upload_max_bytes: int = 0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Upload routes check each file against MAX_UPLOAD_BYTES while streaming;
        #: this outer cap (several files plus fields) stops a body that could
        #: only fill the disk before a route sees it.
        self.upload_max_bytes = upload_max_bytes or 5 * get_settings().max_upload_bytes + DEFAULT_MAX_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        upload = bool(UPLOAD_PATHS.match(path))
        if upload and STREAMING_UPLOAD.match(path):
            await self.app(scope, receive, send)  # counts chunked bodies itself
            return
        limit = self.upload_max_bytes if upload else self.max_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            response = PlainTextResponse(t("error.body_too_large"), status_code=413)
        elif chunked and not declared:
            response = PlainTextResponse(t("error.length_required"), status_code=411)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

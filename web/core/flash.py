"""One-time messages across a redirect (post/redirect/get).

After a form POST the browser is redirected, and the next page shows what
happened ("Die Erinnerung wird versendet."). The message travels in a short-
lived cookie signed with the app secret, not in the URL: a URL parameter
would let anyone craft a link that puts their words on our page, and it
would land in logs and browser history. A cookie also works on the insurer
pages, which have no session to store it in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from tenderdesk.config import Settings
from web.core.sessions import is_https

COOKIE = "td_flash"
#: Browsers drop cookies above ~4 KB; longer message lists are cut, not lost silently.
MAX_COOKIE_CHARS = 3000
MAX_TEXT_CHARS = 500

Level = Literal["success", "error", "info"]


@dataclass(frozen=True)
class Flash:
    level: Level
    text: str


def _sign(settings: Settings, payload: str) -> str:
    return hmac.new(
        settings.secret_key.encode("utf-8"), f"flash:{payload}".encode(), hashlib.sha256
    ).hexdigest()


def encode(settings: Settings, flashes: list[Flash]) -> str:
    items = [[f.level, f.text[:MAX_TEXT_CHARS]] for f in flashes]
    while True:
        raw = json.dumps(items, ensure_ascii=True, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")
        if len(payload) <= MAX_COOKIE_CHARS or len(items) <= 1:
            break
        items = items[:-2] + [["info", "…"]] if len(items) > 2 else items[:1]
    return f"{payload}.{_sign(settings, payload)}"


def decode(settings: Settings, value: str | None) -> list[Flash]:
    """The messages in a cookie value; an unsigned or malformed cookie yields none."""
    if not value or "." not in value:
        return []
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _sign(settings, payload)):
        return []
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        items = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return []
    result: list[Flash] = []
    for item in items if isinstance(items, list) else []:
        if (
            isinstance(item, list)
            and len(item) == 2
            and item[0] in ("success", "error", "info")
            and isinstance(item[1], str)
        ):
            result.append(Flash(level=item[0], text=item[1]))
    return result


def set_flash(response: Response, settings: Settings, *flashes: Flash) -> None:
    response.set_cookie(
        COOKIE,
        encode(settings, list(flashes)),
        max_age=120,
        path="/",
        httponly=True,
        secure=is_https(settings),
        samesite="lax",
    )


def pending(request: Request, settings: Settings) -> list[Flash]:
    return decode(settings, request.cookies.get(COOKIE))


def clear(request: Request, response: Response, settings: Settings) -> None:
    """Delete the cookie once its messages were shown."""
    if COOKIE in request.cookies:
        response.delete_cookie(
            COOKIE, path="/", httponly=True, secure=is_https(settings), samesite="lax"
        )

"""Extra context for the request page from the messaging, release and timeline
features, kept apart from :mod:`web.requests` so each feature owns its part of
the page (``templates/requests/_messages.html``, ``_timeline.html``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tenderdesk.settings import Settings
from web.sessions import Login


def request_page_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """Context keys the request page's feature sections need (none yet)."""
    return {}

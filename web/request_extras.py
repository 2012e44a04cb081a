"""Extra context for the request page from the messaging, offer/release and
timeline features, kept apart from :mod:`web.requests` so each feature owns its
part of the page (``templates/requests/_messages.html``, ``_offers.html``,
``_timeline.html``) and its own module."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tenderdesk.settings import Settings
from web.messages_ui import messaging_extras
from web.offers_ui import offers_extras
from web.sessions import Login


def request_page_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """Context keys the request page's feature sections need."""
    extras: dict[str, Any] = {}
    extras.update(messaging_extras(db, settings, login, view))
    extras.update(offers_extras(db, settings, login, view))
    return extras

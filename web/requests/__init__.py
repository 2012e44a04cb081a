"""The request page ("Anfrage"): overview, assignee, tenders, emails, documents, Verlauf.

Other features show the page through :func:`render_request_page` and come back
to it with :func:`detail_redirect`; the rest of this package is its own business."""

from web.requests.routes import detail_redirect, render_request_page, set_assignee
from web.requests.views import TENDER_ACTIONS, can_add_offer, can_reschedule, staff_members

__all__ = [
    "TENDER_ACTIONS", "can_add_offer", "can_reschedule", "detail_redirect", "render_request_page", "set_assignee",
    "staff_members",
]

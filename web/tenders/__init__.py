"""Tenders: the one gateway that starts tender workflows and sends them updates
(:mod:`.service`), the wizard that starts them, and their actions menu."""

from web.tenders.pages import (
    TenderPage,
    blocked_reason,
    insurer_name,
    load_tender_page,
    render_tender_page,
    result_flash,
)
from web.tenders.service import (
    OfferTerms,
    TenderActionError,
    UpdatePending,
    ask_question,
    decline,
    insurer_thread,
    refusal_status,
    send_action,
    set_update_timeout,
    submit_offer,
)
from web.tenders.start import start_tenders
from web.tenders.targets import TenderTarget, open_tenders, overdue_count, overdue_tenders

__all__ = [
    "OfferTerms", "TenderActionError", "TenderPage", "TenderTarget", "UpdatePending", "ask_question",
    "blocked_reason", "decline", "insurer_name", "insurer_thread", "load_tender_page", "open_tenders", "overdue_count",
    "overdue_tenders", "refusal_status", "render_tender_page", "result_flash", "send_action", "set_update_timeout",
    "start_tenders", "submit_offer",
]

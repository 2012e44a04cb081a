"""What the insurer's page shows for its tender, and the state of its forms."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlmodel import Session, col, select
from starlette.background import BackgroundTask
from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    Account,
    Broker,
    Document,
    DocumentKind,
    Insurer,
    Offer,
    Policyholder,
    Product,
    Request,
    Tender,
)
from tenderdesk.states import AWAITING_INSURER, TenderStatus, is_terminal
from web.core import i18n
from web.core.forms import BERLIN, new_action_id
from web.core.sessions import Login
from web.core.templating import Pages
from web.core.temporal import TemporalConnector
from web.core.uploads import size_mb
from web.insurer.link import LINK_HEADERS, assignee_name
from web.messages import (
    MAX_BODY_CHARS,
    ThreadView,
    threads_for,
)
from web.offers import (
    MAX_NOTES_CHARS,
    insurer_may_edit,
    terms_values,
)
from web.tenders import send_action

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000

#: The question is a message of the insurer's thread: the messaging module's limit.
MAX_QUESTION_CHARS = MAX_BODY_CHARS

#: Tender states in which an offer exists that its insurer may correct (the workflow's ``edit_offer`` rule).
CORRECTABLE = frozenset({TenderStatus.OFFERED, TenderStatus.OFFER_EXPIRED})

# ---------------------------------------------------------------- page model


@dataclass
class InsurerView:
    tender: Tender
    request: Request
    account: Account
    product: Product
    policyholder: Policyholder
    broker: Broker
    insurer: Insurer
    #: The request's Bearbeiter, if any: named as the insurer's contact.
    assignee_name: str | None
    documents: list[Document]
    #: The insurer's own thread, if anyone wrote in it yet.
    thread: ThreadView | None
    offer: Offer | None
    offer_document: Document | None
    preview: bool

    @property
    def can_ask(self) -> bool:
        status = self.tender.status
        return not self.preview and status != TenderStatus.QUEUED and not is_terminal(status)

    @property
    def can_offer(self) -> bool:
        return not self.preview and self.tender.status in AWAITING_INSURER

    @property
    def can_decline(self) -> bool:
        return not self.preview and self.tender.status in AWAITING_INSURER

    @property
    def offer_released(self) -> bool:
        return self.offer is not None and self.offer.released_at is not None

    @property
    def offer_correctable(self) -> bool:
        """The release module's rule, in the statuses the workflow edits offers in."""
        return (
            self.offer is not None
            and self.tender.status in CORRECTABLE
            and insurer_may_edit(self.offer, self.account)
        )

    @property
    def offer_valid_until_input(self) -> str:
        """The offer's last valid day (Berlin) as a date field's value, for the correction form."""
        valid_until = self.offer.valid_until if self.offer is not None else None
        return valid_until.astimezone(BERLIN).date().isoformat() if valid_until is not None else ""

    @property
    def offer_terms_values(self) -> dict[str, str]:
        """The offer's structured terms as the correction form shows them."""
        return terms_values(self.offer) if self.offer is not None else {}

    @property
    def can_correct(self) -> bool:
        return not self.preview and self.offer_correctable


@dataclass
class FormState:
    """What the forms show: fresh action IDs, earlier input and errors."""

    action_ids: dict[str, str] = field(
        default_factory=lambda: {name: new_action_id() for name in ("question", "offer", "edit", "decline")}
    )
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def tender_documents(db: Session, tender: Tender) -> list[Document]:
    """The documents the insurer was sent: those chosen for the tender, by default
    the request's own (the tender email attaches the same)."""
    query = select(Document).where(Document.request_id == tender.request_id)
    if tender.document_ids:
        query = query.where(col(Document.id).in_(tender.document_ids))
    else:
        query = query.where(col(Document.kind) == DocumentKind.REQUEST)
    return list(db.exec(query.order_by(col(Document.created_at), col(Document.id))).all())


def load_insurer_view(db: Session, tender: Tender, request: Request, *, preview: bool) -> InsurerView:
    account = db.get(Account, request.account_id)
    product = db.get(Product, request.product_id)
    policyholder = db.get(Policyholder, request.policyholder_id)
    broker = db.get(Broker, request.broker_id)
    insurer = db.get(Insurer, tender.insurer_id)
    assert account and product and policyholder and broker and insurer and request.id is not None
    threads = threads_for(db, request.id, tender)
    offer = db.get(Offer, tender.current_offer_id) if tender.current_offer_id else None
    offer_document = db.get(Document, offer.document_id) if offer and offer.document_id else None
    return InsurerView(
        tender=tender, request=request, account=account, product=product,
        policyholder=policyholder, broker=broker, insurer=insurer,
        assignee_name=assignee_name(db, request), documents=tender_documents(db, tender),
        thread=threads[0] if threads else None, offer=offer, offer_document=offer_document, preview=preview,
    )


def render_page(
    pages: Pages, http: HttpRequest, view: InsurerView, *, base_path: str, csrf_token: str,
    state: FormState | None = None, status_code: int = 200, login: Login | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    state = state or FormState()
    response = pages.render(
        http,
        "insurer/tender.html",
        {
            "view": view,
            "base_path": base_path,
            "link_csrf": csrf_token,
            "form": state,
            "max_upload_mb": size_mb(pages.settings.max_upload_bytes),
            "max_question": MAX_QUESTION_CHARS,
            "max_reason": MAX_REASON_CHARS,
            "max_notes": MAX_NOTES_CHARS,
            "page_title": i18n.t("title.tender", number=view.request.number),
        },
        login=login,
        status_code=status_code,
        headers=LINK_HEADERS,
    )
    response.background = background
    return response


async def record_first_view(connector: TemporalConnector, tender: Tender) -> None:
    """Tell the workflow the link was opened. Best effort: the page must not
    depend on it. The action ID is derived from the tender, so two first views
    at once still make one update."""
    try:
        client = await connector.get()
        await asyncio.wait_for(
            send_action(client, tender, "link_opened", Action(action_id=f"link-opened-{tender.id}")),
            timeout=10,
        )
    except Exception as err:  # ignored by design; logged without the token
        log.info("link_opened for tender %s not recorded: %s", tender.id, type(err).__name__)

"""What the API answers and takes, as pydantic models (and so in the OpenAPI schema).

Amounts are integer cents, times ISO 8601 in UTC, states the codes of
``tenderdesk.states`` (``sent``, ``offered``, …). Personal data of the
policyholder beyond the name is not exposed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from web.core.ids import MAX_ID

#: A database ID as the API takes it: positive and within the database's integer range.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestOut(_Out):
    id: int
    number: str
    status: str
    product: str
    trade: str
    broker: str
    policyholder: str
    created_at: datetime
    bound_at: datetime | None


class RequestPage(_Out):
    items: list[RequestOut]
    total: int
    limit: int
    offset: int


class TenderOut(_Out):
    id: int
    request_id: int
    insurer_id: int
    insurer: str
    status: str
    sent_at: datetime | None
    deadline_at: datetime | None
    next_reminder_at: datetime | None
    reminders_sent: int
    current_offer_id: int | None


class CoverModule(_Out):
    name: str
    sum_insured_cents: int


class OfferOut(_Out):
    id: int
    request_id: int
    tender_id: int
    insurer: str
    premium_cents: int
    sum_insured_cents: int | None
    deductible_cents: int | None
    commission_bp: int | None = Field(description="Courtage in basis points (1250 = 12,5 %)")
    cover_modules: list[CoverModule]
    exclusions: list[str]
    valid_until: datetime
    conditions_note: str
    released_at: datetime | None
    document_id: int | None


class DocumentOut(_Out):
    id: int
    request_id: int
    tender_id: int | None
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class MessageOut(_Out):
    id: int
    request_id: int
    thread: str = Field(description="`broker` or `insurer`")
    tender_id: int | None
    author: str
    body: str
    document_id: int | None
    created_at: datetime


class StartTendersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    insurer_ids: list[Id] = Field(min_length=1, max_length=50)
    note: str = Field(default="", max_length=2000)


class Refusal(_Out):
    insurer_id: int
    reason: str


class StartTendersOut(_Out):
    started: list[TenderOut]
    refused: list[Refusal]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=4000)
    tender_id: Id | None = Field(default=None, description="The insurer's tender; none: the broker thread")


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_ids: list[Id] = Field(min_length=1, max_length=50)


class ReleaseOut(_Out):
    released_offer_ids: list[int]
    already_released_offer_ids: list[int]


class ErrorOut(_Out):
    detail: str
    errors: list[dict[str, object]] | None = None

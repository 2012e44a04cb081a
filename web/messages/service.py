"""Posting and forwarding messages: through the tender workflow for insurer
threads, at once in the broker thread; one System Email to the other side."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from tenderdesk.config import Settings
from tenderdesk.contracts import Action
from tenderdesk.db.models import (
    Message,
    Party,
    Request,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.states import is_terminal
from web.core import i18n
from web.core.access import can_see_request
from web.messages.common import (
    EMPTY,
    MESSAGE_NOT_FOUND,
    NOT_OPENED,
    OPEN_FIRST,
    REQUEST_NOT_FOUND,
    THREAD_NOT_FOUND,
    Attachment,
    MessagingError,
    MessagingNotFound,
    MessagingPending,
    PostResult,
    Viewer,
    _audit_once,
    _check_action_id,
    _check_attachment,
    _clean_body,
    _create_message,
    _discard_pending,
    _duplicate,
    _forget_document,
    _insurer_closed_reason,
    _message_by_action,
    _require_staff,
    _set_visible,
    _staff_of,
    _store_attachment,
    _Upload,
    _viewer_for,
    _viewer_sees,
    thread_labels,
)
from web.messages.notices import notify_backoffice, notify_broker
from web.messages.threads import broker_thread, insurer_thread_id
from web.tenders import TenderActionError, UpdatePending, ask_question, send_action

log = logging.getLogger(__name__)

#: Longest message text; the insurer's question form uses the same limit.

# ---------------------------------------------------------------- posting


@dataclass(frozen=True)
class _Target:
    thread: Thread
    request: Request
    tender: Tender | None


def _resolve_target(
    engine: Engine, *, thread_id: int | None, request_id: int | None, author: Party, viewer: Viewer,
) -> _Target:
    with Session(engine, expire_on_commit=False) as session:
        if thread_id is not None:
            thread = session.get(Thread, thread_id)
        elif isinstance(viewer, Tender):
            thread = session.get(Thread, insurer_thread_id(engine, viewer.id))  # type: ignore[arg-type]
        elif request_id is not None:
            request = session.get(Request, request_id)
            if request is None or not (_staff_of(viewer, request) or can_see_request(viewer, request)):
                raise MessagingNotFound(REQUEST_NOT_FOUND)
            thread = broker_thread(session, request_id)
            if thread is None:
                raise MessagingError(NOT_OPENED if author == Party.BROKER else OPEN_FIRST)
        else:
            raise ValueError("thread_id or request_id is required")
        if thread is None:
            raise MessagingNotFound(THREAD_NOT_FOUND)
        request = session.get(Request, thread.request_id)
        if request is None or not _viewer_sees(viewer, thread, request):
            raise MessagingNotFound(THREAD_NOT_FOUND)
        tender = session.get(Tender, thread.tender_id) if thread.tender_id is not None else None
        return _Target(thread=thread, request=request, tender=tender)


async def post_message(
    *,
    engine: Engine,
    client: Client,
    settings: Settings,
    thread_id: int | None,
    author: Party,
    user: User | None,
    tender: Tender | None,
    body: str,
    attachment: Attachment | None = None,
    action_id: str,
    request_id: int | None = None,
) -> PostResult:
    """Post a message (text, an attachment, or both) to a thread.

    ``author`` names the side: ``INSURER`` with ``tender`` (from its link) and
    no ``user``; ``BACKOFFICE`` with a staff ``user``; ``BROKER`` with a broker
    ``user``. A broker (or the backoffice) may pass ``request_id`` instead of
    ``thread_id`` to mean the request's broker thread; until the backoffice
    opened it, a broker gets :data:`NOT_OPENED`. An insurer may pass
    ``thread_id=None`` to mean its own thread.

    Raises :class:`MessagingNotFound` for threads the caller may not see and
    :class:`MessagingError` (German) for refusals: empty message, file too
    large, tender ended, Temporal unreachable. A refused post stores nothing.
    The same ``action_id`` again returns the first message and sends nothing twice.
    """
    viewer = _viewer_for(author, user, tender)
    _check_action_id(action_id)
    target = await asyncio.to_thread(
        _resolve_target, engine, thread_id=thread_id, request_id=request_id, author=author, viewer=viewer
    )
    existing = await asyncio.to_thread(_message_by_action, engine, action_id)
    if existing is not None:
        _duplicate(existing, target.thread.id)  # type: ignore[arg-type]
    text = _clean_body(body)
    upload = _check_attachment(settings, attachment)
    if existing is None and not text and upload is None:
        raise MessagingError(EMPTY)
    user_id = user.id if user is not None else None
    if author == Party.INSURER:
        return await _post_as_insurer(engine, client, settings, target, existing, text, upload, action_id)
    if target.thread.kind == ThreadKind.INSURER:
        return await _post_to_insurer(
            engine, client, settings, target, existing, text, upload, action_id, user_id,
        )
    return await _post_in_broker_thread(
        engine, client, settings, target, existing, author, text, upload, action_id, user_id,
    )


async def _post_as_insurer(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    text: str, upload: _Upload | None, action_id: str,
) -> PostResult:
    """An insurer's question is a tender event: the workflow accepts it, sets
    "In Bearbeitung" and makes the message visible; then the backoffice is told."""
    tender = target.tender
    assert tender is not None
    if existing is not None and existing.visible:
        await notify_backoffice(engine=engine, client=client, settings=settings, message=existing, thread=target.thread)
        return PostResult(existing, False, i18n.t("messages.done.question_again"))
    if existing is None and is_terminal(tender.status):
        raise MessagingError(_insurer_closed_reason(tender))
    created_document: int | None = None
    document_id = existing.document_id if existing is not None else None
    if existing is None and upload is not None:
        document_id = created_document = await _store_attachment(
            engine, settings, upload, request_id=tender.request_id, tender_id=tender.id,
            party=Party.INSURER, user_id=None,
        )
    # ask_question refuses an empty text; an attachment alone is named instead.
    question = text or (f"Anhang: {upload.filename}" if upload else (existing.body if existing else ""))
    try:
        result = await ask_question(
            client, engine, tender, body=question, author=Party.INSURER, action_id=action_id,
            document_id=document_id,
        )
    except UpdatePending:
        raise MessagingPending() from None
    except TenderActionError as err:
        await asyncio.to_thread(_forget_document, engine, created_document)
        raise MessagingError(str(err)) from None
    message = await asyncio.to_thread(_message_by_action, engine, action_id)
    assert message is not None
    await notify_backoffice(engine=engine, client=client, settings=settings, message=message, thread=target.thread)
    return PostResult(message, existing is None, i18n.outcome_text(result.code))


async def _post_to_insurer(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    text: str, upload: _Upload | None, action_id: str, user_id: int | None,
    forwarded_from_id: int | None = None, document_id: int | None = None,
) -> PostResult:
    """Backoffice → insurer: pending message, ``notify_insurer``, then visible."""
    tender = target.tender
    assert tender is not None
    if existing is not None and existing.visible:
        return PostResult(existing, False, i18n.t("messages.done.again"))
    if existing is None and is_terminal(tender.status):
        raise MessagingError(_insurer_closed_reason(tender))
    created_document: int | None = None
    message = existing
    if message is None:
        if upload is not None:
            document_id = created_document = await _store_attachment(
                engine, settings, upload, request_id=tender.request_id, tender_id=tender.id,
                party=Party.BACKOFFICE, user_id=user_id,
            )
        pending, _ = await asyncio.to_thread(
            _create_message, engine, thread=target.thread, author=Party.BACKOFFICE, user_id=user_id, body=text,
            document_id=document_id, action_id=action_id, visible=False, forwarded_from_id=forwarded_from_id,
        )
        message = pending
        if message.visible:  # a concurrent duplicate already finished
            return PostResult(message, False, i18n.t("messages.done.again"))
    assert message.id is not None
    try:
        await send_action(
            client, tender, "notify_insurer", Action(action_id=f"message-{message.id}", actor_user_id=user_id)
        )
    except UpdatePending:
        raise MessagingPending() from None
    except TenderActionError as err:
        await asyncio.to_thread(_discard_pending, engine, message.id)
        await asyncio.to_thread(_forget_document, engine, created_document)
        raise MessagingError(str(err)) from None
    await asyncio.to_thread(_set_visible, engine, message.id)
    message.visible = True
    return PostResult(
        message, existing is None, i18n.t("messages.done.insurer_notified")
    )


async def _post_in_broker_thread(
    engine: Engine, client: Client, settings: Settings, target: _Target, existing: Message | None,
    author: Party, text: str, upload: _Upload | None, action_id: str, user_id: int | None,
) -> PostResult:
    """Backoffice ↔ broker: visible at once, the other side gets a System Email."""
    if existing is not None:
        message, created = existing, False
    else:
        document_id = None
        if upload is not None:
            document_id = await _store_attachment(
                engine, settings, upload, request_id=target.request.id,  # type: ignore[arg-type]
                tender_id=None, party=author, user_id=user_id,
            )
        message, created = await asyncio.to_thread(
            _create_message, engine, thread=target.thread, author=author, user_id=user_id, body=text,
            document_id=document_id, action_id=action_id, visible=True,
        )
        if not created:
            await asyncio.to_thread(_forget_document, engine, document_id)
    if author == Party.BROKER:
        await notify_backoffice(engine=engine, client=client, settings=settings, message=message, thread=target.thread)
        info = i18n.t("messages.done.to_backoffice")
    else:
        await notify_broker(engine=engine, client=client, settings=settings, message=message)
        info = i18n.t("messages.done.broker_notified")
    if not created:
        info = i18n.t("messages.done.again")
    return PostResult(message, created, info)


# ---------------------------------------------------------------- forwarding


def _load_forward(
    engine: Engine, message_id: int, target_thread_id: int, user: User,
) -> tuple[Message, Thread, _Target, dict[int, str]]:
    """The source message, its thread, the target and both thread labels, or a refusal."""
    with Session(engine, expire_on_commit=False) as session:
        source = session.get(Message, message_id)
        request = session.get(Request, source.request_id) if source is not None else None
        if source is None or request is None or not source.visible or not _staff_of(user, request):
            raise MessagingNotFound(MESSAGE_NOT_FOUND)
        thread = session.get(Thread, target_thread_id)
        if thread is None or thread.request_id != request.id:
            raise MessagingNotFound(THREAD_NOT_FOUND)
        if thread.id == source.thread_id:
            raise MessagingError("messages.error.same_thread")
        source_thread = session.get(Thread, source.thread_id)
        assert source_thread is not None
        labels = thread_labels(session, [source_thread, thread])
        tender = session.get(Tender, thread.tender_id) if thread.tender_id is not None else None
        return source, source_thread, _Target(thread=thread, request=request, tender=tender), labels


async def forward_message(
    *,
    engine: Engine,
    client: Client,
    settings: Settings,
    message_id: int,
    target_thread_id: int,
    user: User,
    action_id: str | None = None,
) -> PostResult:
    """Forward a visible message into another thread of the same request (backoffice only).

    The copy keeps the text and the same attachment (a reference to the same
    Document, not a second upload), records ``forwarded_from_id``, is authored
    by the forwarding backoffice user, and notifies the target side like a new
    message (broker: System Email; insurer: ``notify_insurer``). Forwarding the
    same message to the same thread twice is one forward (the default
    ``action_id`` derives from both); pass an ``action_id`` to forward again on
    purpose. Writes a ``message_forwarded`` AuditEvent.
    """
    _require_staff(user)
    source, source_thread, target, labels = await asyncio.to_thread(
        _load_forward, engine, message_id, target_thread_id, user
    )
    thread = target.thread
    action_id = action_id or f"forward-{message_id}-{target_thread_id}"
    _check_action_id(action_id)
    existing = await asyncio.to_thread(_message_by_action, engine, action_id)
    if existing is not None:
        _duplicate(existing, thread.id)  # type: ignore[arg-type]
    if thread.kind == ThreadKind.INSURER:
        result = await _post_to_insurer(
            engine, client, settings, target, existing, source.body, None, action_id, user.id,
            forwarded_from_id=source.id, document_id=source.document_id,
        )
    else:
        message, created = (existing, False) if existing is not None else await asyncio.to_thread(
            _create_message, engine, thread=thread, author=Party.BACKOFFICE, user_id=user.id, body=source.body,
            document_id=source.document_id, action_id=action_id, visible=True, forwarded_from_id=source.id,
        )
        await notify_broker(engine=engine, client=client, settings=settings, message=message)
        result = PostResult(
            message, created, i18n.t("messages.done.forwarded_broker")
        )
    await asyncio.to_thread(
        _audit_once, engine, key=f"message_forwarded:{result.message.id}", request_id=thread.request_id,
        tender_id=thread.tender_id or source_thread.tender_id, user_id=user.id, kind="message_forwarded",
        detail=f"{labels[source_thread.id]} → {labels[thread.id]}",  # type: ignore[index]
    )
    if result.created and thread.kind == ThreadKind.INSURER:
        result = PostResult(
            result.message, True, i18n.t("messages.done.forwarded_insurer")
        )
    return result


async def post_insurer_email(
    *, engine: Engine, client: Client, settings: Settings, tender: Tender, body: str,
    attachment: Attachment | None, action_id: str,
) -> PostResult:
    """An insurer's answer by email (:mod:`web.inbound`). While the tender runs
    it is a question to its workflow, exactly as from the link page; once the
    tender has ended the workflow takes nothing, and the email is kept in the
    thread all the same (visible, unprocessed, the backoffice is told), so no
    answer is lost. The same ``action_id`` (from the email's Message-ID) again
    changes nothing."""
    try:
        return await post_message(
            engine=engine, client=client, settings=settings, thread_id=None, author=Party.INSURER, user=None,
            tender=tender, body=body, attachment=attachment, action_id=action_id,
        )
    except MessagingPending:
        raise
    except MessagingError:
        current = await asyncio.to_thread(_current_tender, engine, tender.id)  # type: ignore[arg-type]
        if current is None or not is_terminal(current.status):
            raise
    viewer = _viewer_for(Party.INSURER, None, current)
    target = await asyncio.to_thread(
        _resolve_target, engine, thread_id=None, request_id=None, author=Party.INSURER, viewer=viewer)
    existing = await asyncio.to_thread(_message_by_action, engine, action_id)
    if existing is not None:
        return PostResult(existing, False, "")
    upload = _check_attachment(settings, attachment)
    document_id = None
    if upload is not None:
        document_id = await _store_attachment(engine, settings, upload, request_id=current.request_id,
                                              tender_id=current.id, party=Party.INSURER, user_id=None)
    message, created = await asyncio.to_thread(
        _create_message, engine, thread=target.thread, author=Party.INSURER, user_id=None,
        body=body or (f"Anhang: {upload.filename}" if upload else ""), document_id=document_id,
        action_id=action_id, visible=True)
    if created:
        await notify_backoffice(engine=engine, client=client, settings=settings, message=message, thread=target.thread)
    return PostResult(message, created, "")


def _current_tender(engine: Engine, tender_id: int) -> Tender | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(Tender, tender_id)

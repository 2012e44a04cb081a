"""The "Nachrichten" section of the request page: one panel per thread, the
thread to open first, and the text kept after a refused post."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from tenderdesk.config import Settings
from tenderdesk.db.models import Party, Request, ThreadKind, User
from web.core import i18n
from web.core.access import is_staff
from web.core.forms import new_action_id
from web.core.sessions import Login
from web.messages.common import (
    MAX_BODY_CHARS,
    NOT_OPENED,
    MessageView,
    MessagingError,
    ThreadView,
    log,
)
from web.messages.inbox import mark_read
from web.messages.threads import ensure_insurer_threads, threads_for

# ---------------------------------------------------------------- page model


@dataclass
class ThreadPanel:
    """One tab of the "Nachrichten" section."""

    #: ``thread-<id>``, or ``thread-vermittler`` for the not yet opened broker thread.
    key: str
    label: str
    thread: ThreadView | None
    #: Fresh for each rendering; kept after a refused post so a retry stays one message.
    action_id: str
    body: str = ""
    errors: list[str] = field(default_factory=list)
    #: Where a message of this thread may be forwarded: (thread id, label).
    forward_targets: list[tuple[int, str]] = field(default_factory=list)

    @property
    def messages(self) -> list[MessageView]:
        return self.thread.messages if self.thread else []

    @property
    def unread(self) -> int:
        return self.thread.unread if self.thread else 0

    @property
    def unprocessed(self) -> int:
        return sum(1 for m in self.messages if m.unprocessed)

    @property
    def is_broker(self) -> bool:
        return self.thread is None or self.thread.kind == ThreadKind.BROKER

    def newest(self, *, unread_only: bool) -> datetime | None:
        times = [m.created_at for m in self.messages if m.unread or not unread_only]
        return max(times) if times else None


@dataclass
class MessagingSection:
    staff: bool
    #: The viewer's side: messages by it are drawn as "own".
    own_party: Party
    panels: list[ThreadPanel]
    broker_thread_open: bool
    #: Key of the panel that starts open.
    selected: str
    #: The user may clear "unbearbeitet" (assignee, or anyone while unassigned).
    can_process: bool
    assignee_name: str | None
    max_body: int
    max_upload_mb: str
    not_opened_text: str

    @property
    def unread(self) -> int:
        return sum(p.unread for p in self.panels)

    @property
    def unprocessed(self) -> int:
        return sum(p.unprocessed for p in self.panels)


@dataclass
class Compose:
    """A refused post, so the re-rendered page keeps the text and shows the reason at its form."""

    key: str
    body: str
    action_id: str
    errors: list[str]


#: Set by a refused post while it re-renders the request page (same task, no
#: other way into :func:`messaging_extras`, whose signature the page fixes).
_compose: contextvars.ContextVar[Compose | None] = contextvars.ContextVar("tenderdesk_compose", default=None)


@contextmanager
def composing(state: Compose) -> Iterator[None]:
    token = _compose.set(state)
    try:
        yield
    finally:
        _compose.reset(token)


def _engine_of(db: Session) -> Engine:
    bind = db.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine


def _mb(size: int) -> str:
    mb = size / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}".replace(".", ",")


def party_of(user: User) -> Party:
    return Party.BACKOFFICE if is_staff(user) else Party.BROKER


def _panels(views: list[ThreadView], *, staff: bool) -> tuple[list[ThreadPanel], bool]:
    """One panel per visible thread; for the backoffice a placeholder "Vermittler"
    panel while the broker thread is not opened."""
    broker_open = any(v.kind == ThreadKind.BROKER for v in views)
    panels = [ThreadPanel(key=f"thread-{v.id}", label=v.label, thread=v, action_id=new_action_id()) for v in views]
    if not broker_open:
        panels.insert(0, ThreadPanel(key="thread-vermittler", label=i18n.party_label(Party.BROKER), thread=None,
                                     action_id=new_action_id()))
    if staff:
        writable = [(v.id, v.label) for v in views if v.can_write]
        for panel in panels:
            if panel.thread is not None:
                panel.forward_targets = [(tid, label) for tid, label in writable if tid != panel.thread.id]
    return panels, broker_open


def _selected(panels: list[ThreadPanel], compose: Compose | None) -> str:
    """The tab that starts open: a refused form, else the newest unread message,
    else the newest activity, else the first."""
    keys = {p.key for p in panels}
    if compose is not None and compose.key in keys:
        return compose.key
    for unread_only in (True, False):
        dated = [(p.newest(unread_only=unread_only), p.key) for p in panels]
        candidates = [(at, key) for at, key in dated if at is not None]
        if candidates:
            return max(candidates)[1]
    return panels[0].key if panels else ""


def messaging_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    """Context of the "Nachrichten" and "Verlauf" sections; marks the shown threads read."""
    user = login.user
    request: Request = view.request
    assert request.id is not None
    engine = _engine_of(db)
    staff = bool(view.staff)
    if staff:
        ensure_insurer_threads(db, engine, request.id)
    views = threads_for(db, request.id, user)
    panels, broker_open = _panels(views, staff=staff)
    compose = _compose.get()
    if compose is not None:
        for panel in panels:
            if panel.key == compose.key:
                panel.body, panel.action_id, panel.errors = compose.body, compose.action_id, compose.errors
    assignee_id = request.assignee_id
    section = MessagingSection(
        staff=staff,
        own_party=party_of(user),
        panels=panels,
        broker_thread_open=broker_open,
        selected=_selected(panels, compose),
        can_process=staff and (assignee_id is None or assignee_id == user.id),
        assignee_name=view.assignee.name if getattr(view, "assignee", None) is not None else None,
        max_body=MAX_BODY_CHARS,
        max_upload_mb=_mb(settings.max_upload_bytes),
        not_opened_text=i18n.t("messages.staff.not_opened") if staff else i18n.t(NOT_OPENED),
    )
    # Read after rendering data was taken: new messages show as "neu" this once;
    # only when someone looks (not for a live refresh of a hidden tab).
    for thread in views if getattr(view, "seen", True) else ():
        if thread.unread:
            try:
                mark_read(engine, thread.id, user)
            except MessagingError:  # lost access in between: nothing to mark
                log.info("thread %s not marked read for user %s", thread.id, user.id)
    return {"messaging": section}

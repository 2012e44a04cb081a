"""Messaging (Nachrichten): one thread per insurer and one with the broker."""

from web.messages.routes import FormProblem, message_attachment, read_message_form
from web.messages.service import (
    MAX_BODY_CHARS,
    AssigneeFilter,
    MessagesTab,
    MessagingError,
    MessagingNotFound,
    ThreadView,
    insurer_thread_id,
    messages_tab,
    post_message,
    threads_for,
    unread_count,
)

__all__ = [
    "AssigneeFilter", "FormProblem", "MAX_BODY_CHARS", "MessagesTab", "MessagingError", "MessagingNotFound",
    "ThreadView", "insurer_thread_id", "message_attachment", "messages_tab", "post_message",
    "read_message_form", "threads_for", "unread_count",
]

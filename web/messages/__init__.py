"""Messaging (Nachrichten): one thread per insurer and one with the broker."""

from web.messages.common import (
    MAX_BODY_CHARS,
    AssigneeFilter,
    MessagesTab,
    MessagingError,
    MessagingNotFound,
    ThreadView,
)
from web.messages.forms import FormProblem, read_message_form
from web.messages.inbox import messages_tab, unread_count
from web.messages.routes import message_attachment
from web.messages.service import post_insurer_email, post_message
from web.messages.threads import insurer_thread_id, threads_for

__all__ = [
    "AssigneeFilter", "FormProblem", "MAX_BODY_CHARS", "MessagesTab", "MessagingError", "MessagingNotFound",
    "ThreadView", "insurer_thread_id", "message_attachment", "messages_tab", "post_insurer_email", "post_message",
    "read_message_form", "threads_for", "unread_count",
]

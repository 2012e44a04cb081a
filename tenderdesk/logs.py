"""Keep credentials and personal data out of every log line, in every process.

Two things must never reach a log file or log shipping: an insurer's link
token (``/t/<token>``, also the password-reset token), which is a credential,
and an email address, which is personal data (an SMTP reply such as
``550 <name@firma.de> user unknown`` carries one, and so do tracebacks of
SMTP errors). :class:`RedactingFilter` rewrites the message, its arguments and
any formatted traceback before a handler writes them. It sits on the handlers
(a logger's own filters do not see records that propagate from its children),
installed by :func:`install_redaction` in the worker and the web app.

The same module makes the lines structured (``LOG_FORMAT=json``, the default):
one JSON object per line with the HTTP request's ID and the Anfrage, tender
and offer it is about (:data:`log_context`, bound by the web's middleware and
route dependency), or, in the worker, the workflow ID and activity from
Temporal's own context. Ops can then follow one click or one tender through
every process without a name or an address in the logs. IDs are numbers and
``tender-r12-i3``-style workflow IDs, which carry no personal data.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType

from temporalio import activity

#: ``/t/`` followed by the token segment (anything up to ``/``, ``?``, ``#``
#: or whitespace); ``/t/<token>/documents/3`` keeps its tail.
_TOKEN_PATH = re.compile(r"(/t/|/passwort-zuruecksetzen/)[^/?#\s\"'<>]+")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
REDACTED = "[redacted]"
REDACTED_ADDRESS = "[address]"


def redact(text: str) -> str:
    """``text`` without link tokens and email addresses."""
    return _EMAIL.sub(REDACTED_ADDRESS, _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text))


def _redact_arg(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(value if isinstance(value, str) else str(value))


class RedactingFilter(logging.Filter):
    """Rewrite the message, its arguments and its traceback; never drops a record.

    The arguments keep their shape (a tuple stays a tuple of as many items,
    numbers stay numbers), because formatters such as uvicorn's access log
    unpack them; each text argument is redacted on its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = redact(record.msg) if isinstance(record.msg, str) else record.msg
        args = record.args
        if isinstance(args, Mapping):
            args = {key: _redact_arg(value) for key, value in args.items()}
        elif isinstance(args, tuple):
            args = tuple(_redact_arg(value) for value in args)
        try:
            if args:
                str(template) % args
            record.msg, record.args = template, args
        except (TypeError, ValueError, KeyError):
            # The template itself held a redacted part next to a placeholder:
            # format first, then redact the whole message.
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):
                message = str(record.msg)
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(logger_names: tuple[str, ...] = ("",)) -> None:
    """Attach the filter to these loggers (``""`` is the root) and their handlers; idempotent.

    Call it after logging is configured (``basicConfig``, uvicorn's dictConfig):
    handlers created later do not have it.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        for target in [logger, *logger.handlers]:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())


#: Fields of the current HTTP request or job: ``http_request_id``, ``request``
#: (the Anfrage's ID), ``tender``, ``offer``. Set with :func:`bound`.
log_context: ContextVar[Mapping[str, str | int]] = ContextVar(
    "tenderdesk_log_context", default=MappingProxyType({}))

#: The record attributes every line carries when they are set.
CONTEXT_FIELDS = ("http_request_id", "request", "tender", "offer", "workflow_id", "activity", "attempt")


@contextmanager
def bound(**fields: str | int | None) -> Iterator[None]:
    """Add ``fields`` to every log line written inside the block (this task or
    thread and whatever it starts with a copied context)."""
    token = log_context.set({**log_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        log_context.reset(token)


class ContextFilter(logging.Filter):
    """Copy :data:`log_context` and, inside an activity, Temporal's workflow ID,
    activity type and attempt onto the record; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in log_context.get().items():
            setattr(record, key, value)
        if activity.in_activity():
            info = activity.info()
            record.workflow_id = info.workflow_id
            record.activity = info.activity_type
            record.attempt = info.attempt
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the
    context fields that are set, and a (redacted) traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line for a developer's terminal, with the context as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS
                           if getattr(record, key, None) is not None)
        return f"{text} [{context}]" if context else text


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: str = "json", logger_names: tuple[str, ...] = ("",),
                      level: int = logging.INFO) -> None:
    """Structured, redacted lines on every handler of these loggers (the root
    gets a stderr handler if it has none). Idempotent; call it again after a
    server (uvicorn) replaced its handlers."""
    formatter = formatter_for(log_format)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(level)
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())
    install_redaction(logger_names)


__all__ = [
    "CONTEXT_FIELDS", "REDACTED", "REDACTED_ADDRESS", "ContextFilter", "JsonFormatter", "RedactingFilter",
    "TextFormatter", "bound", "configure_logging", "formatter_for", "install_redaction", "log_context", "redact",
]

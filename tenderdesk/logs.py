"""Keep credentials and personal data out of every log line, in every process.

Two things must never reach a log file or log shipping: an insurer's link
token (``/t/<token>``, also the password-reset token), which is a credential,
and an email address, which is personal data (an SMTP reply such as
``550 <name@firma.de> user unknown`` carries one, and so do tracebacks of
SMTP errors). :class:`RedactingFilter` rewrites the message, its arguments and
any formatted traceback before a handler writes them. It sits on the handlers
(a logger's own filters do not see records that propagate from its children),
installed by :func:`install_redaction` in the worker and the web app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

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


__all__ = ["REDACTED", "REDACTED_ADDRESS", "RedactingFilter", "install_redaction", "redact"]

"""Keep insurer link tokens out of logs.

The token in ``/t/<token>`` is the insurer's only credential, and uvicorn's
access log prints every request path. A filter on the ``uvicorn.access``
logger (and on anything else we attach it to) rewrites the token segment to
``[redacted]`` before any handler formats the record, so neither files nor log
shipping ever see it.
"""

from __future__ import annotations

import logging
import re

#: ``/t/`` followed by the token segment (anything up to ``/``, ``?``, ``#``
#: or whitespace). Only the first segment after ``/t/`` is the token;
#: ``/t/<token>/documents/3`` keeps its tail.
_TOKEN_PATH = re.compile(r"(/t/|/passwort-zuruecksetzen/)[^/?#\s\"']+")
REDACTED = "[redacted]"

ACCESS_LOGGERS = ("uvicorn.access",)


def redact(text: str) -> str:
    """``text`` with every ``/t/<token>`` and reset-link token replaced."""
    return _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactTokenFilter(logging.Filter):
    """Rewrite the message and its arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(val) if isinstance(val, str) else val for key, val in record.args.items()}
        return True


def install_token_redaction(logger_names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Attach the filter to the access loggers and their handlers (idempotent).

    On the logger it covers records logged there; on the handlers it also
    covers records that propagate from child loggers, which logger filters
    do not see. Call it again after uvicorn (re)configures logging: the app's
    lifespan does.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            if not any(isinstance(f, RedactTokenFilter) for f in target.filters):
                target.addFilter(RedactTokenFilter())

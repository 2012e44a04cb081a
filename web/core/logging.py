"""Keep insurer link tokens and email addresses out of the web process's logs.

uvicorn's access log prints every request path, and ``/t/<token>`` is the
insurer's only credential. The filter itself lives in :mod:`tenderdesk.logs`
(the worker uses it too); here it is attached to uvicorn's access logger and
the root logger, after uvicorn has configured its handlers.
"""

from __future__ import annotations

from tenderdesk.logs import REDACTED, RedactingFilter, install_redaction, redact

#: uvicorn's access logger does not propagate to the root, so it needs its own filter.
ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error", "")

RedactTokenFilter = RedactingFilter


def install_token_redaction(logger_names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Attach the filter to the access loggers, the root and their handlers (idempotent).
    Call it again after uvicorn (re)configures logging: the app's lifespan does."""
    install_redaction(logger_names)


__all__ = ["ACCESS_LOGGERS", "REDACTED", "RedactTokenFilter", "install_token_redaction", "redact"]

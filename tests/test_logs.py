"""The log redaction keeps records formattable (uvicorn's access log unpacks
its five arguments) while no link token or email address gets through."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from tenderdesk.logs import RedactingFilter

TOKEN = "Zq3" + "x" * 40


def _record(msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, None)


def test_access_log_records_keep_their_shape_and_lose_the_token() -> None:
    record = _record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "POST", f"/t/{TOKEN}/offer", "1.1", 303))
    assert RedactingFilter().filter(record)
    line = AccessFormatter(fmt='%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert line.startswith('127.0.0.1:5000 - "POST /t/[redacted]/offer HTTP/1.1" 303')
    assert TOKEN not in line


def test_addresses_in_arguments_and_in_the_template_are_redacted() -> None:
    record = _record("mail to %s refused: %r", ("kontakt@versicherer.example", ValueError("x@y.example")))
    RedactingFilter().filter(record)
    text = record.getMessage()
    assert "@" not in text and "[address]" in text


def test_a_template_whose_placeholder_sits_in_a_token_path_is_formatted_first() -> None:
    record = _record("/t/%s opened", (TOKEN,))
    RedactingFilter().filter(record)
    assert record.getMessage() == "/t/[redacted] opened"

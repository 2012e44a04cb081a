"""The log redaction keeps records formattable (uvicorn's access log unpacks
its five arguments) while no link token or email address gets through."""

from __future__ import annotations

import json
import logging

import pytest
from temporalio.testing import ActivityEnvironment
from uvicorn.logging import AccessFormatter

from tenderdesk.logs import ContextFilter, JsonFormatter, RedactingFilter, TextFormatter, bound, formatter_for

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


def test_json_lines_carry_the_context_and_nothing_personal() -> None:
    record = _record("offer for %s stored", ("makler@firma.example",))
    RedactingFilter().filter(record)
    with bound(http_request_id="abc123", request=12, tender=34):
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "offer for [address] stored"
    assert (line["http_request_id"], line["request"], line["tender"]) == ("abc123", 12, 34)
    assert "offer" not in line and line["level"] == "INFO"
    assert TextFormatter().format(record).endswith("[http_request_id=abc123 request=12 tender=34]")


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        formatter_for("xml")


def test_inside_an_activity_the_line_names_the_workflow_and_attempt() -> None:
    def log_inside() -> dict[str, object]:
        record = _record("projected", ())
        ContextFilter().filter(record)
        return dict(json.loads(JsonFormatter().format(record)))

    line = ActivityEnvironment().run(log_inside)
    assert line["workflow_id"] == "test" and line["activity"] == "unknown" and line["attempt"] == 1

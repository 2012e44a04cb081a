"""Pure helpers of the web layer: amounts, dates, filenames, log redaction,
throttle, flash signing."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from tenderdesk.settings import Settings
from web import flash
from web.documents import content_disposition, safe_filename
from web.forms import FormValueError, end_of_day_utc, parse_date, parse_eur_cents
from web.logging import RedactTokenFilter, install_token_redaction, redact
from web.throttle import LoginThrottle

TOKEN = "q1w2e3r4t5z6u7i8o9p0-_ASDFGHJKLyxcvbnm12345"


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("1.234,56", 123456), ("1234,56", 123456), ("1234", 123400), ("1.234", 123400),
        ("1234.56", 123456), ("1234.5", 123450), ("1.234.567,8", 123456780), (" 99 € ", 9900),
        ("0,01", 1), ("3.000.000", 300000000), ("1 234,56 EUR", 123456),
    ],
)
def test_parse_eur_cents(raw: str, cents: int) -> None:
    assert parse_eur_cents(raw) == cents


@pytest.mark.parametrize(
    "raw", ["", "abc", "-5", "12,345", "1,234.56", "1.23.4", "1.2345,00", "12.345.67", "1e5", "1,2,3"]
)
def test_parse_eur_cents_refuses(raw: str) -> None:
    with pytest.raises(FormValueError):
        parse_eur_cents(raw)


def test_parse_date() -> None:
    assert parse_date("31.12.2026") == date(2026, 12, 31)
    assert parse_date("2026-12-31") == date(2026, 12, 31)
    assert parse_date("1.2.2027") == date(2027, 2, 1)
    for bad in ("31.02.2026", "2026/12/31", "morgen", "12.2026"):
        with pytest.raises(FormValueError):
            parse_date(bad)
    assert end_of_day_utc(date(2026, 7, 1)).isoformat() == "2026-07-01T21:59:59+00:00"


def test_safe_filename_and_disposition() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\temp\\Angebot.pdf") == "Angebot.pdf"
    assert safe_filename('a"b;c\r\n.pdf') == "a_b_c__.pdf"
    assert safe_filename("...") == "dokument"
    assert safe_filename("x" * 300 + ".pdf").endswith(".pdf")
    assert len(safe_filename("x" * 300 + ".pdf")) == 120
    header = content_disposition("Prämie Übersicht.pdf")
    assert header == (
        'attachment; filename="Pramie Ubersicht.pdf"; '
        "filename*=UTF-8''Pr%C3%A4mie%20%C3%9Cbersicht.pdf"
    )


def test_access_log_token_is_redacted() -> None:
    assert redact(f"/t/{TOKEN}") == "/t/[redacted]"
    assert redact(f"/t/{TOKEN}/documents/3?x=1") == "/t/[redacted]/documents/3?x=1"
    assert redact("/requests/5") == "/requests/5"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/t/{TOKEN}", "1.1", 200), None,
    )
    assert RedactTokenFilter().filter(record)
    assert TOKEN not in record.getMessage() and "/t/[redacted]" in record.getMessage()


def test_install_is_idempotent_and_covers_handlers() -> None:
    logger = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install_token_redaction()
        install_token_redaction()
        assert sum(isinstance(f, RedactTokenFilter) for f in logger.filters) == 1
        assert sum(isinstance(f, RedactTokenFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_uvicorn_access_log_line_has_no_token(caplog: pytest.LogCaptureFixture) -> None:
    install_token_redaction()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/t/{TOKEN}", "1.1", 200
        )
    assert TOKEN not in caplog.text and "/t/[redacted]" in caplog.text


def test_throttle_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after_s("A@x.example") == 0
        throttle.record_failure("a@X.example ")
    assert throttle.retry_after_s("a@x.example") == pytest.approx(60)
    assert throttle.retry_after_minutes("a@x.example") == 1
    now[0] += 61
    assert throttle.retry_after_s("a@x.example") == 0
    throttle.record_failure("a@x.example")
    throttle.reset("a@x.example")
    assert throttle.retry_after_s("a@x.example") == 0


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=10)
    for n in range(50):
        throttle.record_failure(f"user{n}@x.example")
    assert len(throttle._failures) <= 10


def test_flash_cookie_is_signed() -> None:
    settings = Settings(secret_key="s", _env_file=None)  # type: ignore[call-arg]
    value = flash.encode(settings, [flash.Flash("success", "Gespeichert – ü")])
    assert flash.decode(settings, value) == [flash.Flash("success", "Gespeichert – ü")]
    payload, _, sig = value.rpartition(".")
    assert flash.decode(settings, payload + "." + "0" * len(sig)) == []
    other = Settings(secret_key="t", _env_file=None)  # type: ignore[call-arg]
    assert flash.decode(other, value) == []
    many = [flash.Flash("error", "x" * 400) for _ in range(30)]
    assert len(flash.encode(settings, many)) < 4000


def test_every_message_key_used_in_web_exists() -> None:
    """``i18n.t("...")`` with a literal key must find it (a typo would be a 500)."""
    import re
    from pathlib import Path

    from web import i18n

    used: set[str] = set()
    for path in Path(i18n.__file__).parent.glob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text("utf-8")))
    for template in (Path(i18n.__file__).parents[1] / "templates").rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", template.read_text("utf-8")))
    assert used, "the scan found nothing"
    assert used <= set(i18n.MESSAGES["de"]), used - set(i18n.MESSAGES["de"])
    from web.dashboard import COLUMNS, TABS
    from web.requests import TENDER_ACTIONS

    keys = {f"column.{c}" for c in COLUMNS} | {f"tab.{t}" for t in TABS}
    keys |= {f"action.{a}" for a in TENDER_ACTIONS}
    assert keys <= set(i18n.MESSAGES["de"])

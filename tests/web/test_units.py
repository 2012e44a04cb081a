"""Pure helpers of the web layer: amounts, dates, filenames, log redaction,
throttle (on a real database), flash signing."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine
from tenderdesk.db.models import Account, LoginAttempt, PasswordReset, Role, User
from web.auth.throttle import Backoff, Limit, LoginThrottle, Verdict
from web.core import flash
from web.core.downloads import content_disposition, safe_filename
from web.core.forms import FormValueError, end_of_day_utc, parse_date, parse_eur_cents
from web.core.logging import RedactTokenFilter, install_token_redaction, redact

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
    reset = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/passwort-zuruecksetzen/{TOKEN}", "1.1", 200), None,
    )
    assert RedactTokenFilter().filter(reset)
    assert TOKEN not in reset.getMessage() and "/passwort-zuruecksetzen/[redacted]" in reset.getMessage()


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


@pytest.fixture
def throttle_db(engine: Engine) -> Engine:
    """A migrated SQLite file and a PostgreSQL database in turn: the throttle is
    nothing but queries on ``LoginAttempt`` and must mean the same on both."""
    return engine


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_throttle_backs_off_per_account_and_address(throttle_db: Engine) -> None:
    """Issue 8: a slowdown that doubles, not a lock: the owner is never shut out for long."""
    clock = Clock()
    throttle = LoginThrottle(pair_backoff=Backoff(3, timedelta(minutes=15), first=timedelta(seconds=10),
                                                  cap=timedelta(seconds=40)), clock=clock)
    with Session(throttle_db) as db:
        for _ in range(3):
            assert throttle.begin_login(db, email="A@x.example", address="10.0.0.1").allowed
            clock.advance(1)
        refused = throttle.begin_login(db, email=" a@X.example ", address="10.0.0.1")
        assert not refused.allowed and refused.retry_after_s == pytest.approx(9)
        assert len(db.exec(select(LoginAttempt)).all()) == 3  # a refused try leaves no row behind
        # Another address is not slowed by this one's failures.
        assert throttle.begin_login(db, email="a@x.example", address="10.0.0.2").allowed
        waits = []
        for _ in range(4):
            clock.advance(100)
            assert throttle.begin_login(db, email="a@x.example", address="10.0.0.1").allowed
            waits.append(throttle.begin_login(db, email="a@x.example", address="10.0.0.1").retry_after_s)
        assert waits == [20, 40, 40, 40]  # doubling up to the cap
        throttle.login_succeeded(db, email="A@X.EXAMPLE")
        assert db.exec(select(LoginAttempt)).all() == []


def test_throttle_slows_guessing_spread_over_addresses(throttle_db: Engine) -> None:
    clock = Clock()
    throttle = LoginThrottle(account_backoff=Backoff(4, timedelta(minutes=15)), clock=clock)
    with Session(throttle_db) as db:
        for n in range(4):
            assert throttle.begin_login(db, email="a@x.example", address=f"10.0.0.{n}").allowed
            assert throttle.failure_starts_backoff(db, email="a@x.example", address=f"10.0.0.{n}") == (n == 3)
        assert not throttle.begin_login(db, email="a@x.example", address="10.9.9.9").allowed
        clock.advance(31)
        assert throttle.begin_login(db, email="a@x.example", address="10.9.9.9").allowed


def test_throttle_window_per_address(throttle_db: Engine) -> None:
    clock = Clock()
    throttle = LoginThrottle(address_limit=Limit(4, timedelta(minutes=15)), clock=clock)
    with Session(throttle_db) as db:
        for n in range(4):
            assert throttle.begin_login(db, email=f"user{n}@x.example", address="10.0.0.1").allowed
        refused = throttle.begin_login(db, email="fresh@x.example", address="10.0.0.1")
        assert not refused.allowed and refused.minutes == 15
        assert throttle.begin_login(db, email="fresh@x.example", address="10.0.0.9").allowed
        # Reset requests are counted apart from logins.
        assert throttle.begin_reset_request(db, email="user0@x.example", address="10.0.0.9").allowed
        assert throttle.begin_login(db, email="other@x.example", address="10.0.0.9").allowed


def test_throttle_reset_rules(throttle_db: Engine) -> None:
    clock = Clock()
    throttle = LoginThrottle(reset_address_limit=Limit(2, timedelta(minutes=15)),
                             reset_account_limit=Limit(2, timedelta(minutes=15)), clock=clock)
    with Session(throttle_db) as db:
        assert throttle.begin_reset_request(db, email="a@x.example", address="10.0.0.1").allowed
        assert throttle.begin_reset_request(db, email="b@x.example", address="10.0.0.1").allowed
        assert not throttle.begin_reset_request(db, email="c@x.example", address="10.0.0.1").allowed
        # Login failures from that address are not affected.
        assert throttle.begin_login(db, email="a@x.example", address="10.0.0.1").allowed

        account = Account(name="Pool")
        db.add(account)
        db.commit()
        user = User(account_id=account.id, email="a@x.example", name="A", role=Role.BACKOFFICE,  # type: ignore[arg-type]
                    password_hash="-")
        db.add(user)
        db.commit()
        user_id = user.id
        assert user_id is not None
        assert throttle.reset_email_allowed(db, user_id=user_id)
        for _ in range(2):
            db.add(PasswordReset(user_id=user_id, token_hash=f"h{clock.now.timestamp()}", created_at=clock.now,
                                 expires_at=clock.now + timedelta(minutes=30)))
            db.commit()
            clock.advance(1)
        assert not throttle.reset_email_allowed(db, user_id=user_id)
        clock.advance(15 * 60)
        assert throttle.reset_email_allowed(db, user_id=user_id)


def test_throttle_is_shared_by_two_engines(throttle_db: Engine) -> None:
    """Two throttles on two connection pools (as in two processes) count together."""
    other = make_engine(throttle_db.url.render_as_string(hide_password=False))
    try:
        spread = Backoff(5, timedelta(minutes=15))
        first, second = LoginThrottle(account_backoff=spread), LoginThrottle(account_backoff=spread)
        with Session(throttle_db) as db1, Session(other) as db2:
            for n in range(5):
                throttle, db = (first, db1) if n % 2 else (second, db2)
                assert throttle.begin_login(db, email="a@x.example", address=f"10.0.0.{n}").allowed
            assert not first.begin_login(db1, email="a@x.example", address="10.0.1.1").allowed
            assert not second.begin_login(db2, email="a@x.example", address="10.0.1.2").allowed
    finally:
        other.dispose()


def test_throttle_drops_old_rows(throttle_db: Engine) -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    with Session(throttle_db) as db:
        for n in range(30):
            throttle.begin_login(db, email=f"u{n}@x.example", address=f"10.0.{n}.1")
        clock.advance(16 * 60)
        throttle.begin_login(db, email="late@x.example", address="10.9.9.9")
        assert [row.email for row in db.exec(select(LoginAttempt)).all()] == ["late@x.example"]


@pytest.mark.parametrize(("seconds", "minutes"), [(0.2, 1), (60, 1), (61, 2), (899.5, 15)])
def test_verdict_minutes_round_up(seconds: float, minutes: int) -> None:
    assert Verdict(allowed=False, retry_after_s=seconds).minutes == minutes


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
    """``i18n.t("...")`` with a literal key must find it (a typo would show the key)."""
    import re

    from web.core import i18n

    used: set[str] = set()
    for path in Path(i18n.__file__).parents[1].rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text("utf-8")))
    for template in (Path(i18n.__file__).parents[2] / "templates").rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", template.read_text("utf-8")))
    assert used, "the scan found nothing"
    known = {key for key in used if i18n.t(key, "de") != key}
    assert used == known, used - known
    from web.dashboard.query import COLUMNS, TABS
    from web.requests.views import TENDER_ACTIONS

    keys = {f"column.{c}" for c in COLUMNS} | {f"tab.{t}" for t in TABS}
    keys |= {f"action.{a}" for a in TENDER_ACTIONS}
    assert all(i18n.t(key, "de") != key for key in keys)

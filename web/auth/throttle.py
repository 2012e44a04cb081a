"""Throttling of login and "Passwort vergessen" attempts, shared by every web process.

Every attempt is a ``LoginAttempt`` row, written before the password is
checked and counted including itself, so the limits hold across processes and
under bursts; the rule and proxy setup are in ARCHITECTURE.md, "Login and throttling"."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select
from starlette.requests import Request

from tenderdesk.db.models import LoginAttempt, PasswordReset, utcnow
from tenderdesk.db.types import UTCDateTime

RESET_PREFIX = "reset:"
MAX_ADDRESS_CHARS = 100
MAX_EMAIL_CHARS = 320


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` within ``window``."""

    attempts: int
    window: timedelta


@dataclass(frozen=True)
class Backoff:
    """After ``free`` failures within ``window``, the next try must wait
    ``first``, doubling with every further failure, at most ``cap``.

    A slowdown, not a lock: nobody can shut an owner out for long by failing
    his password, and guessing stays slow."""

    free: int
    window: timedelta
    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=15)

    def wait_s(self, failures: int, last: datetime | None, now: datetime) -> float:
        if failures < self.free or last is None:
            return 0.0
        delay = min(self.first * 2 ** (failures - self.free), self.cap)
        return max(0.0, (last + delay - now).total_seconds())


@dataclass(frozen=True)
class Verdict:
    """The answer for one attempt: go ahead, or wait ``retry_after_s``."""

    allowed: bool
    retry_after_s: float = 0.0

    @property
    def minutes(self) -> int:
        """Whole minutes to wait, at least one, for the user-facing message."""
        return max(1, math.ceil(self.retry_after_s / 60))


WINDOW = timedelta(minutes=15)
#: One account from one address: the owner mistyping, or one guesser.
PAIR_BACKOFF = Backoff(5, WINDOW)
#: One account from anywhere: guessing spread over many addresses.
ACCOUNT_BACKOFF = Backoff(50, WINDOW)
#: One address, any accounts: trying many accounts.
ADDRESS_LIMIT = Limit(20, WINDOW)
RESET_ACCOUNT_LIMIT = Limit(3, WINDOW)
RESET_ADDRESS_LIMIT = Limit(10, WINDOW)


def client_address(request: Request) -> str:
    """The address the per-address limits count; see the module docstring about proxies."""
    host = request.client.host if request.client else ""
    return (host or "unknown")[:MAX_ADDRESS_CHARS]


def account_key(email: str) -> str:
    return email.strip().casefold()[:MAX_EMAIL_CHARS]


class LoginThrottle:
    """Counts attempts in the ``LoginAttempt`` table; holds no state of its own."""

    def __init__(
        self,
        *,
        pair_backoff: Backoff = PAIR_BACKOFF,
        account_backoff: Backoff = ACCOUNT_BACKOFF,
        address_limit: Limit = ADDRESS_LIMIT,
        reset_account_limit: Limit = RESET_ACCOUNT_LIMIT,
        reset_address_limit: Limit = RESET_ADDRESS_LIMIT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pair_backoff = pair_backoff
        self.account_backoff = account_backoff
        self.address_limit = address_limit
        self.reset_account_limit = reset_account_limit
        self.reset_address_limit = reset_address_limit
        self._clock = clock
        self._keep = max(
            limit.window
            for limit in (pair_backoff, account_backoff, address_limit, reset_account_limit, reset_address_limit)
        )

    # ------------------------------------------------------------------ login
    def begin_login(self, db: Session, *, email: str, address: str) -> Verdict:
        """Record an attempt for ``email`` from ``address`` and say whether it may
        proceed. If it may, the row counts as a failure until :meth:`login_succeeded`.

        The row is written first and the failures before it counted after, so
        concurrent attempts see each other: a burst cannot slip past the backoff."""
        key = account_key(email)
        address = address[:MAX_ADDRESS_CHARS]
        now = self._clock()
        db.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < now - self._keep))  # type: ignore[call-overload]
        row = LoginAttempt(email=key, address=address, at=now)
        db.add(row)
        db.commit()
        # One query for all three rules (a login is on the path a burst competes for).
        at, email_col, address_col = col(LoginAttempt.at), col(LoginAttempt.email), col(LoginAttempt.address)
        pair_since = now - self.pair_backoff.window
        account_since = now - self.account_backoff.window
        address_since = now - self.address_limit.window
        in_pair = and_(email_col == key, address_col == address, at > pair_since)
        in_account = and_(email_col == key, at > account_since)
        in_address = and_(address_col == address, not_(email_col.startswith(RESET_PREFIX)), at > address_since)
        counts = db.execute(
            sa_select(
                func.count().filter(in_pair), func.max(type_coerce(case((in_pair, at)), UTCDateTime())),
                func.count().filter(in_account), func.max(type_coerce(case((in_account, at)), UTCDateTime())),
                func.count().filter(in_address),
            ).where(or_(email_col == key, address_col == address), col(LoginAttempt.id) != row.id,
                    at > now - self._keep)
        ).one()
        pair_n, pair_last, account_n, account_last, address_n = counts
        waits = [
            self.pair_backoff.wait_s(int(pair_n), pair_last, now),
            self.account_backoff.wait_s(int(account_n), account_last, now),
        ]
        if int(address_n) >= self.address_limit.attempts:
            waits.append(self._wait_s(db, self._login_rows_from(address), self.address_limit, now))
        wait = max(waits)
        if wait <= 0:
            return Verdict(allowed=True)
        db.delete(row)
        db.commit()
        return Verdict(allowed=False, retry_after_s=wait)

    def failure_starts_backoff(self, db: Session, *, email: str, address: str) -> bool:
        """Whether the failure just recorded is the one that starts slowing this
        account down (from this address, or from everywhere): the moment to tell
        its owner, once per episode."""
        key = account_key(email)
        since_pair = self._clock() - self.pair_backoff.window
        since_account = self._clock() - self.account_backoff.window
        pair = and_(col(LoginAttempt.email) == key, col(LoginAttempt.address) == address[:MAX_ADDRESS_CHARS])
        return (
            self._count(db, pair, since_pair) == self.pair_backoff.free
            or self._count(db, col(LoginAttempt.email) == key, since_account) == self.account_backoff.free
        )

    def login_succeeded(self, db: Session, *, email: str) -> None:
        """The password was right: forget this account's failures (and its reserved row)."""
        db.exec(delete(LoginAttempt).where(col(LoginAttempt.email) == account_key(email)))  # type: ignore[call-overload]
        db.commit()

    # ------------------------------------------------------------ reset requests
    def begin_reset_request(self, db: Session, *, email: str, address: str) -> Verdict:
        """Record a "Passwort vergessen" request and apply the per-address limit."""
        key = RESET_PREFIX + account_key(email)
        return self._attempt(db, key, address, [(self._reset_rows_from(address), self.reset_address_limit)])

    def reset_email_allowed(self, db: Session, *, user_id: int) -> bool:
        """Whether another reset email may go to this user: counts the links actually
        sent (``PasswordReset`` rows), so every email that does go out reaches the
        owner and a flood of requests cannot keep the owner's own request muted."""
        since = self._clock() - self.reset_account_limit.window
        stmt = (
            select(func.count())
            .select_from(PasswordReset)
            .where(PasswordReset.user_id == user_id, col(PasswordReset.created_at) > since)
        )
        return int(db.exec(stmt).one()) < self.reset_account_limit.attempts

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _login_rows_from(address: str) -> ColumnElement[bool]:
        return and_(col(LoginAttempt.address) == address, not_(col(LoginAttempt.email).startswith(RESET_PREFIX)))

    @staticmethod
    def _reset_rows_from(address: str) -> ColumnElement[bool]:
        return and_(col(LoginAttempt.address) == address, col(LoginAttempt.email).startswith(RESET_PREFIX))

    def _attempt(
        self, db: Session, key: str, address: str, rules: list[tuple[ColumnElement[bool], Limit]]
    ) -> Verdict:
        now = self._clock()
        db.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < now - self._keep))  # type: ignore[call-overload]
        row = LoginAttempt(email=key, address=address[:MAX_ADDRESS_CHARS], at=now)
        db.add(row)
        db.commit()
        over = [(where, limit) for where, limit in rules if self._count(db, where, now - limit.window) > limit.attempts]
        if not over:
            return Verdict(allowed=True)
        db.delete(row)
        db.commit()
        wait = max(self._wait_s(db, where, limit, now) for where, limit in over)
        return Verdict(allowed=False, retry_after_s=wait)

    def _before(
        self, db: Session, where: ColumnElement[bool], row: LoginAttempt, window: timedelta
    ) -> tuple[int, datetime | None]:
        """Failures matching ``where`` in the window other than ``row``, and the latest of them."""
        stmt = select(func.count(), func.max(LoginAttempt.at)).where(
            where, col(LoginAttempt.at) > row.at - window, col(LoginAttempt.id) != row.id
        )
        count, last = db.exec(stmt).one()
        return int(count), last

    @staticmethod
    def _count(db: Session, where: ColumnElement[bool], since: datetime) -> int:
        stmt = select(func.count()).select_from(LoginAttempt).where(where, col(LoginAttempt.at) > since)
        return int(db.exec(stmt).one())

    @staticmethod
    def _wait_s(db: Session, where: ColumnElement[bool], limit: Limit, now: datetime) -> float:
        """Seconds until fewer than ``limit.attempts`` rows remain in the window: when
        the ``attempts``-th newest row leaves it."""
        stmt = (
            select(LoginAttempt.at)
            .where(where, col(LoginAttempt.at) > now - limit.window)
            .order_by(col(LoginAttempt.at).desc())
            .offset(limit.attempts - 1)
            .limit(1)
        )
        at = db.exec(stmt).first()
        if at is None:
            return 0.0
        return max(0.0, (at + limit.window - now).total_seconds())

"""Login throttling: at most N failed logins per email address in a window.

Kept in this process's memory on purpose for the first slice: the data model
has no table for failed attempts yet. Limitation: each web process counts on
its own, so with W processes an attacker gets up to W x N tries per window,
and a restart forgets the count. Argon2id keeps each try slow regardless. A
table of recent failures (or a shared cache) will lift this once added.

Counting is per email address, not per client IP: behind a proxy the IP is
not trustworthy without configuration, and the goal is to protect accounts.
The lockout is the same for known and unknown addresses, so it tells an
attacker nothing about which exist.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(email: str) -> str:
        return email.strip().casefold()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after_s(self, email: str) -> float:
        """Seconds until the next attempt is allowed; 0 if allowed now."""
        key = self.key(email)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[0] + self.window_s - now)

    def retry_after_minutes(self, email: str) -> int:
        return max(1, math.ceil(self.retry_after_s(email) / 60))

    def record_failure(self, email: str) -> None:
        key = self.key(email)
        with self._lock:
            now = self._clock()
            if key not in self._failures and len(self._failures) >= self._max_keys:
                self._evict(now)
            self._failures.setdefault(key, deque()).append(now)

    def reset(self, email: str) -> None:
        with self._lock:
            self._failures.pop(self.key(email), None)

    def _evict(self, now: float) -> None:
        """Bound memory under a flood of made-up addresses: drop stale keys,
        then the oldest ones."""
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= self._max_keys:
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]

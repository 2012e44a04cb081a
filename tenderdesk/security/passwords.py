"""Password hashing for user logins.

Passwords are low-entropy secrets chosen by people, so unlike random tokens
(:mod:`tenderdesk.security.tokens`, plain SHA-256) they need a slow, memory-hard hash:
Argon2id, the OWASP recommendation, via argon2-cffi. The encoded hash carries
its own salt and parameters, so :func:`needs_rehash` can tell after login when
a stored hash was made with older parameters and should be replaced.
"""

from __future__ import annotations

import os

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

#: Set only by the test suite (tests/conftest.py): the test run hashes hundreds
#: of passwords, and the real cost would dominate its time. Hashes keep their
#: parameters, so a cheap hash is still verified, and needs_rehash() upgrades
#: it at the next login of a process without the variable.
TEST_FAST_HASH_ENV = "TENDERDESK_TEST_FAST_HASH"

#: OWASP's Password Storage Cheat Sheet, first Argon2id option: 19 MiB, two
#: passes, one lane. RFC 9106's 64 MiB and four lanes cost about four times the
#: CPU and three times the memory per login; in a burst of offers on two cores
#: that held logins at several seconds, and 64 MiB a try is a cheap lever for a
#: flood of logins. These parameters are OWASP's floor, not below it.
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19 * 1024
OWASP_PARALLELISM = 1

# One module-level hasher: it is stateless and thread-safe.
_HASHER = (
    PasswordHasher.from_parameters(profiles.CHEAPEST)
    if os.environ.get(TEST_FAST_HASH_ENV) == "1"
    else PasswordHasher(time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB, parallelism=OWASP_PARALLELISM)
)


def hash_password(pw: str) -> str:
    """Return the encoded Argon2id hash (``$argon2id$v=19$...``) of ``pw``."""
    return _HASHER.hash(pw)


def verify_password(hash: str, pw: str) -> bool:
    """True if ``pw`` matches ``hash``; False for a wrong password or a malformed hash."""
    try:
        return _HASHER.verify(hash, pw)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:
    """True if ``hash`` was made with other parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(hash)
    except (InvalidHashError, ValueError):
        return True


__all__ = ["hash_password", "needs_rehash", "verify_password"]

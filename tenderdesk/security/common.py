"""Common passwords, refused wherever a password is set.

The shipped list (``common_passwords.txt``) holds the bases that breach
statistics show again and again. A password is common when, lower-cased and
stripped of digits, punctuation and spaces at both ends, it is one of those
bases or a repetition of one; or when it is made of one repeated character or
of a run along the keyboard or the digits ("1234567890ab", "aaaaaaaaaaaa").
This catches the usual dressing of a weak password (``Passwort1234``,
``Sommer2024!!``) without a megabyte list, and it works offline.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

LIST_FILE = Path(__file__).with_name("common_passwords.txt")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_ROWS = ("1234567890", "qwertzuiop", "qwertyuiop", "asdfghjkl", "yxcvbnm", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=1)
def common_bases() -> frozenset[str]:
    lines = LIST_FILE.read_text("utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _is_repetition(core: str, bases: frozenset[str]) -> bool:
    for size in range(1, len(core) // 2 + 1):
        unit = core[:size]
        if len(core) % size == 0 and unit * (len(core) // size) == core and (size == 1 or unit in bases):
            return True
    return False


def _is_keyboard_run(text: str) -> bool:
    lowered = text.lower()
    return any(lowered in row or lowered in row[::-1] for row in _ROWS) if len(lowered) >= 4 else False


def is_common(password: str) -> bool:
    """Whether ``password`` is a common one dressed up (see the module docstring)."""
    lowered = password.strip().casefold()
    core = _EDGES.sub("", lowered)
    bases = common_bases()
    if not core:  # only digits and symbols: "123456789012", "!!!!!!!!!!!!"
        digits = re.sub(r"\D", "", lowered)
        return _is_repetition(lowered, bases) or (len(digits) >= 6 and _is_keyboard_run(digits[:10]))
    if core in bases or _is_repetition(core, bases) or _is_keyboard_run(core):
        return True
    # Leetspeak and spaces ("P@ssw0rt 2024"): compare once more without them.
    plain = core.translate(str.maketrans("@0134$5!", "aoieassi")).replace(" ", "")
    return plain in bases or _is_repetition(plain, bases)

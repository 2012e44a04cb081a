"""Parsing object ids from forms and query strings.

``str.isdigit`` accepts characters like "²" that ``int`` rejects, and ids
beyond the database's integer range crash the driver; one parser for every
id a user can type or forge keeps both out.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def parse_id(text: str | None) -> int | None:
    """The positive id in ``text``, or None if it is not one."""
    value = (text or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None

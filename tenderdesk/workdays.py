"""German business days (Werktage) for reminders and deadlines.

A tender sent on Thursday before Easter with "Erinnerung nach 3 Tagen" should
not remind the insurer on Easter Monday, and a 14-day answer period should not
end on a Sunday. So whole-day offsets of the account's plan count business
days: Monday to Friday without the public holidays of the policyholder's
Bundesland (the ``holidays`` package keeps the table, so a new holiday needs a
package update, not code). Reminders go out at :data:`REMINDER_TIME` in
Germany; a deadline runs to the end of its day there.

Offsets shorter than a day, or not whole days, stay exact durations: that is
what the demo's "fast timers" and the tests use.

This runs in an activity (``activities/calendar.py``), never in workflow code:
the computed dates are recorded in the workflow's history, so a new holiday
table never changes how a running tender replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from tenderdesk.formats import BERLIN

DAY_S = 86400.0
#: When an automatic reminder goes out, German time (as "Termine ändern" does).
REMINDER_TIME = time(9, 0)
END_OF_DAY = time(23, 59, 59)
#: The Bundesländer (ISO 3166-2:DE codes without "DE-").
STATES: frozenset[str] = frozenset(code for code in holidays.Germany.subdivisions if len(code) == 2)


@lru_cache(maxsize=128)
def public_holidays(state: str, year: int) -> frozenset[date]:
    """Public holidays of ``state`` (nationwide ones only if it is unknown) in ``year``."""
    return frozenset(holidays.Germany(subdiv=state if state in STATES else None, years=year))


def is_business_day(day: date, state: str) -> bool:
    return day.weekday() < 5 and day not in public_holidays(state, day.year)


def add_business_days(start: date, count: int, state: str) -> date:
    """The ``count``-th business day after ``start`` (``start`` itself never counts)."""
    day, counted = start, 0
    while counted < count:
        day += timedelta(days=1)
        if is_business_day(day, state):
            counted += 1
    return day


def whole_days(offset_s: float) -> int | None:
    """``3 * 86400`` → 3; anything shorter than a day or not whole days → None."""
    if offset_s >= DAY_S and offset_s % DAY_S == 0:
        return int(offset_s // DAY_S)
    return None


@dataclass(frozen=True)
class TenderDates:
    reminders: list[datetime]
    deadline_at: datetime


def tender_dates(
    sent_at: datetime, reminder_offsets_s: Sequence[float], response_deadline_s: float, state: str
) -> TenderDates:
    """The reminder times and the answer deadline of a tender sent at ``sent_at``."""
    sent_day = sent_at.astimezone(BERLIN).date()

    def at(offset_s: float, clock: time) -> datetime:
        days = whole_days(offset_s)
        if days is None:
            return sent_at + timedelta(seconds=offset_s)
        local = datetime.combine(add_business_days(sent_day, days, state), clock, tzinfo=BERLIN)
        return local.astimezone(UTC)

    return TenderDates(
        reminders=[at(offset, REMINDER_TIME) for offset in reminder_offsets_s],
        deadline_at=at(response_deadline_s, END_OF_DAY),
    )


__all__ = [
    "DAY_S", "REMINDER_TIME", "STATES", "TenderDates", "add_business_days", "is_business_day", "public_holidays",
    "tender_dates", "whole_days",
]

"""German business days: weekends and the Bundesland's public holidays (holidays package)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tenderdesk.formats import BERLIN
from tenderdesk.workdays import add_business_days, is_business_day, tender_dates, whole_days

DAY = 86400.0


def test_holidays_follow_the_policyholders_bundesland() -> None:
    assert not is_business_day(date(2026, 4, 6), "HH")  # Ostermontag everywhere
    assert not is_business_day(date(2026, 10, 31), "HH")  # Reformationstag in Hamburg (a Saturday anyway)
    assert not is_business_day(date(2026, 6, 4), "BY") and is_business_day(date(2026, 6, 4), "HH")  # Fronleichnam
    assert not is_business_day(date(2026, 1, 6), "BY") and is_business_day(date(2026, 1, 6), "NI")  # Drei Könige
    assert not is_business_day(date(2026, 10, 3), "")  # nationwide holidays even without a Bundesland
    assert not is_business_day(date(2026, 12, 5), "HH")  # a Saturday


def test_counting_skips_weekends_and_holidays() -> None:
    # Thursday before Easter 2026: Good Friday, the weekend and Easter Monday do not count.
    assert add_business_days(date(2026, 4, 2), 1, "HH") == date(2026, 4, 7)
    assert add_business_days(date(2026, 4, 2), 3, "HH") == date(2026, 4, 9)
    # Wednesday before Fronleichnam: in Bavaria Thursday is off, in Hamburg not.
    assert add_business_days(date(2026, 6, 3), 1, "BY") == date(2026, 6, 5)
    assert add_business_days(date(2026, 6, 3), 1, "HH") == date(2026, 6, 4)


def test_tender_dates_go_out_at_nine_and_run_to_the_end_of_the_day() -> None:
    sent = datetime(2026, 4, 2, 14, 30, tzinfo=UTC)  # Gründonnerstag, 16:30 in Hamburg
    dates = tender_dates(sent, [3 * DAY, 7 * DAY], 14 * DAY, "HH")
    local = [r.astimezone(BERLIN) for r in dates.reminders]
    assert [(d.date(), d.hour, d.minute) for d in local] == [(date(2026, 4, 9), 9, 0), (date(2026, 4, 15), 9, 0)]
    deadline = dates.deadline_at.astimezone(BERLIN)
    assert (deadline.date(), deadline.hour, deadline.minute) == (date(2026, 4, 24), 23, 59)


def test_short_offsets_stay_exact_durations() -> None:
    assert whole_days(60.0) is None and whole_days(1.5 * DAY) is None and whole_days(2 * DAY) == 2
    sent = datetime(2026, 4, 3, 10, 0, tzinfo=UTC)
    dates = tender_dates(sent, [60.0], 300.0, "HH")
    assert dates.reminders == [datetime(2026, 4, 3, 10, 1, tzinfo=UTC)]
    assert dates.deadline_at == datetime(2026, 4, 3, 10, 5, tzinfo=UTC)

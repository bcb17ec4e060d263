"""Working days: weekends and configured holidays do not count (Art. 12–14 notice periods)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from node.calendar import WorkingCalendar


def test_seven_working_days_after_a_monday_is_the_wednesday_of_the_next_week() -> None:
    assert WorkingCalendar().add_working_days(date(2026, 11, 23), 7) == date(2026, 12, 2)


def test_a_holiday_pushes_the_deadline_by_a_day() -> None:
    calendar = WorkingCalendar(holidays=frozenset({date(2026, 11, 25)}))
    assert calendar.add_working_days(date(2026, 11, 23), 7) == date(2026, 12, 3)


def test_a_friday_plus_one_working_day_is_monday() -> None:
    assert WorkingCalendar().add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)


def test_working_days_between_skips_weekends_and_holidays() -> None:
    calendar = WorkingCalendar(holidays=frozenset({date(2026, 12, 1)}))
    assert calendar.working_days_between(date(2026, 11, 23), date(2026, 12, 2)) == 6


def test_the_local_date_is_vietnam_time() -> None:
    # 18:00 UTC on Friday is 01:00 on Saturday in Hanoi.
    assert WorkingCalendar().local_date(datetime(2026, 11, 27, 18, 0, tzinfo=UTC)) == date(2026, 11, 28)


def test_from_config_reads_holiday_dates_and_names_a_bad_key() -> None:
    calendar = WorkingCalendar.from_config({"dates": ["2027-01-01", date(2027, 2, 16)]})
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert not calendar.is_working_day(date(2027, 2, 16))
    with pytest.raises(ValueError, match=r"holidays\.dates\[0\]"):
        WorkingCalendar.from_config({"dates": ["1st of May"]})


def test_the_earliest_start_after_a_notice_is_local_midnight() -> None:
    start = WorkingCalendar().earliest_after(datetime(2026, 11, 23, 3, 0, tzinfo=UTC), 7)
    assert start == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 2 Dec 00:00 in Hanoi

"""Working days in Vietnam (UTC+7, no DST): weekends and a configurable holiday list excluded.

The notice periods of seed 000 Art. 12–14 are counted in working days: a maintenance
suspension is announced at least 7 working days ahead, and data held back during an
incident is reconciled within 1 working day after the repair. "N working days after
day D" is the N-th working day strictly after D.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

__all__ = ["VIETNAM", "WorkingCalendar"]

VIETNAM = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Saturdays and Sundays (ISO weekdays 6 and 7) and `holidays` are not working days."""

    holidays: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({6, 7})
    zone: timezone = VIETNAM

    def __post_init__(self) -> None:
        if not all(1 <= d <= 7 for d in self.weekend) or len(self.weekend) > 6:
            raise ValueError("weekend days are ISO weekdays 1..7, at least one day a week is a working day")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> WorkingCalendar:
        """From node.yaml `holidays:` — `{dates: [2026-01-01, ...], weekend: [6, 7]}`.

        Raises ValueError naming the key (the caller adds the file).
        """
        raw_dates = section.get("dates") or ()
        if not isinstance(raw_dates, list | tuple):
            raise ValueError("holidays.dates: must be a list of dates (YYYY-MM-DD)")
        holidays = set()
        for index, item in enumerate(raw_dates):
            if isinstance(item, datetime):
                item = item.date()
            if not isinstance(item, date):
                try:
                    item = date.fromisoformat(str(item))
                except ValueError:
                    raise ValueError(f"holidays.dates[{index}]: not a date (YYYY-MM-DD): {item!r}") from None
            holidays.add(item)
        weekend = section.get("weekend", (6, 7))
        if not isinstance(weekend, list | tuple) or not all(isinstance(d, int) for d in weekend):
            raise ValueError("holidays.weekend: must be a list of ISO weekdays (1 = Monday .. 7 = Sunday)")
        return cls(holidays=frozenset(holidays), weekend=frozenset(weekend))

    def local_date(self, moment: datetime) -> date:
        if moment.tzinfo is None:
            raise ValueError("a moment must carry its time zone")
        return moment.astimezone(self.zone).date()

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day strictly after `day` (count ≥ 1), or `day` itself for 0."""
        if count < 0:
            raise ValueError("count must not be negative")
        current = day
        remaining = count
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days `end` lies after `start`."""
        if end <= start:
            return 0
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(n)))

    def earliest_after(self, moment: datetime, working_days: int) -> datetime:
        """The first moment (local midnight) on the `working_days`-th working day after `moment`'s day."""
        day = self.add_working_days(self.local_date(moment), working_days)
        return datetime.combine(day, time(0), self.zone).astimezone(UTC)

    def end_of_working_days(self, moment: datetime, working_days: int) -> datetime:
        """The end (local midnight after) of the `working_days`-th working day after `moment`'s day."""
        day = self.add_working_days(self.local_date(moment), working_days)
        return datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)

    def holidays_in(self, days: Iterable[date]) -> tuple[date, ...]:
        return tuple(sorted(d for d in days if d in self.holidays))

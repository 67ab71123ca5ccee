"""The working-day calendar every service counts with (工作日).

One calendar for the whole platform: a period one service computes (a publicity
period in announcement, a refund deadline in bidding, a supervisor's time to
accept a complaint in credit) must end on the same day whichever service counts
it. Working days are Monday to Friday, less the statutory holidays, plus the
adjusted working weekends (调休) of the State Council's annual notice
(国务院办公厅关于放假安排的通知). The dates are data: ``calendar.yaml`` beside this
module, unless a deployment's rules file (GGZY_RULES_FILE) has a ``calendar:``
section of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

CALENDAR_FILE = Path(__file__).with_name("calendar.yaml")


class Calendar(BaseModel):
    """Working days: Monday to Friday, less holidays, plus adjusted working weekends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days_between(self, start: date, end: date) -> int:
        """Working days from ``start`` to ``end``, both included."""
        days = (end - start).days + 1
        return sum(self.is_working_day(start + timedelta(d)) for d in range(max(days, 0)))

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The moment ``n`` working days after ``start`` (same time of day)."""
        at, added = start, 0
        while added < n:
            at += timedelta(days=1)
            added += self.is_working_day(at.date())
        return at


@cache
def platform_calendar(path: Path = CALENDAR_FILE) -> Calendar:
    """The platform's calendar file."""
    return Calendar.model_validate(yaml.safe_load(path.read_text("utf-8")) or {})


def calendar_of(rules_file: Mapping[str, Any]) -> Calendar:
    """The ``calendar:`` section of a rules file, or the platform's when it has none."""
    section = rules_file.get("calendar")
    return platform_calendar() if section is None else Calendar.model_validate(section)

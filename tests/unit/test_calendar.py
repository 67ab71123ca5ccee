"""The platform's one working-day calendar (contracts/calendar.py): every service that
counts working days counts them the same way."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.calendar import calendar_of, platform_calendar
from contracts.categories import Category
from services.announcement.rules import load_rules
from services.bidding.domain.rules import load

NATIONAL_DAY = date(2026, 10, 1)
ADJUSTED_SATURDAY = date(2026, 10, 10)  # 调休: a working Saturday


def test_the_platform_calendar_has_the_holidays_and_adjusted_weekends_of_its_file() -> None:
    cal = platform_calendar()
    assert not cal.is_working_day(NATIONAL_DAY)
    assert cal.is_working_day(ADJUSTED_SATURDAY)
    assert not cal.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert cal.is_working_day(date(2026, 10, 12))


def test_a_rules_file_with_its_own_calendar_section_uses_it() -> None:
    own = calendar_of({"calendar": {"holidays": ["2026-12-01"]}})
    assert not own.is_working_day(date(2026, 12, 1))
    assert own.is_working_day(NATIONAL_DAY)
    assert calendar_of({}) == platform_calendar()


def test_bidding_and_announcement_count_working_days_on_the_same_calendar() -> None:
    """A procurement publicity of 1 working day (政采条例43) started on 30 September ends
    after the National Day holidays (1-7 October), as bidding's calendar counts it."""
    assert load().calendar == platform_calendar()
    start = datetime(2026, 9, 30, 9, tzinfo=UTC)
    publicity = load_rules()[Category.PROCUREMENT].publicity
    assert publicity.unit == "working_days" and publicity.value == 1
    assert publicity.end(start) == datetime(2026, 10, 8, 9, tzinfo=UTC)
    assert publicity.end(start) == load().calendar.add_working_days(start, 1)

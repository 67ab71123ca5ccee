"""Announcement's rules per category, as data: publicity periods and their sources. Pure.

Numbers live in ``rules.yaml`` beside this module (or the file GGZY_RULES_FILE
names), each with the article it comes from; nothing here hard-codes a period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from contracts.calendar import Calendar, calendar_of
from contracts.categories import Category
from ggzy.runtime.errors import rules_for

RULES_FILE = Path(__file__).with_name("rules.yaml")
UNITS = {"seconds": timedelta(seconds=1), "minutes": timedelta(minutes=1),
         "hours": timedelta(hours=1), "days": timedelta(days=1)}


@dataclass(frozen=True)
class Period:
    """A period of a rule (a publicity period, a time to answer) and its legal source."""

    value: float
    unit: str
    source: str
    calendar: Calendar = field(default_factory=Calendar)

    def end(self, start: datetime) -> datetime:
        """The moment the period that starts at ``start`` ends."""
        if self.unit != "working_days":
            return start + UNITS[self.unit] * self.value
        return self.calendar.add_working_days(start, math.ceil(self.value))


@dataclass(frozen=True)
class CategoryRules:
    """Announcement's rules of one category."""

    publicity: Period  # 中标候选人公示期 (条例54)
    objection_answer: Period | None = None  # time to answer an objection (条例54)
    result_announcement: Period | None = None  # result announced within (政采条例43)
    complaint_within: Period | None = None  # an objection unanswered in time: the objector
    #                                          may complain within this (条例60; 政府采购法55)


def load_rules(path: Path = RULES_FILE) -> dict[Category, CategoryRules]:
    """The rules per category in ``path``: this service's own file, or a platform-wide rule
    file (GGZY_RULES_FILE) whose categories have a ``publicity`` entry."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    calendar = calendar_of(raw)
    known = {c.value for c in Category}
    return {Category(name): CategoryRules(
                publicity=_period(spec["publicity"], calendar),
                objection_answer=_optional(spec.get("objection_answer"), calendar),
                result_announcement=_optional(spec.get("result_announcement"), calendar),
                complaint_within=_optional(spec.get("complaint_within"), calendar))
            for name, spec in raw.items() if name in known and "publicity" in spec}


def _period(spec: Mapping[str, Any], calendar: Calendar) -> Period:
    if spec["unit"] not in (*UNITS, "working_days"):
        raise ValueError(f"unknown unit {spec['unit']!r} in a period rule")
    if float(spec["value"]) <= 0:
        raise ValueError("a period must be positive")
    return Period(float(spec["value"]), str(spec["unit"]), str(spec["source"]), calendar)


def _optional(spec: Mapping[str, Any] | None, calendar: Calendar) -> Period | None:
    return None if spec is None else _period(spec, calendar)


def rules_of(rules: Mapping[Category, CategoryRules], category: Category) -> CategoryRules:
    """The rules of ``category``; a specific refusal when none are configured."""
    return rules_for(rules, category, "announcement")



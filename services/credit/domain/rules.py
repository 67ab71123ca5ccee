"""The credit rules as data: scoring models per subject kind and collusion thresholds.

Loaded like bidding's rule book (pydantic models, cached per path): the
service's ``rules.yaml`` unless GGZY_RULES_FILE names a platform-wide file with a
``credit:`` section. Every number carries its source article (国办发〔2015〕63号:
provinces set their own scoring models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.calendar import Calendar, calendar_of, platform_calendar
from contracts.categories import Category
from contracts.credit import ComplaintMatter, SubjectKind
from ggzy.runtime.errors import DomainError, rules_for

RULES_FILE = Path(__file__).resolve().parent.parent / "rules.yaml"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Base(_Rule):
    value: int = Field(ge=0, le=1000)
    article: str


class Deduction(_Rule):
    """Points one record of a kind takes off the score, and for how long (有效期)."""

    points: int = Field(ge=0, le=1000)
    article: str
    days: int = Field(default=0, ge=0, le=3650, description="Days a record of the kind "
                      "counts in the score from the day it was made (0: until revoked).")
    days_article: str = ""
    repair_after_days: int | None = Field(
        default=None, ge=0, le=3650, description="Days from the record after which its "
        "subject may apply for its repair (信用修复申请; 0: at once; none: a record of the "
        "kind is not repaired by application).")
    repair_article: str = ""

    @model_validator(mode="after")
    def _period_cited(self) -> Deduction:
        if self.days and not self.days_article:
            raise ValueError("a record's period (days) needs its source (days_article)")
        if self.repair_after_days is not None and not self.repair_article:
            raise ValueError("a repair's waiting time needs its source (repair_article)")
        if self.repair_after_days is not None and self.days \
                and self.repair_after_days >= self.days:
            raise ValueError("repair_after_days must be shorter than the record's period")
        return self


class Level(_Rule):
    """A credit level: earned at or above ``min``, with its incentives."""

    level: str = Field(min_length=1, max_length=4)
    min: int = Field(ge=0, le=1000)
    deposit_reduction_pct: int = Field(default=0, ge=0, le=100)
    article: str


class Ban(_Rule):
    """A market ban (or expert blacklisting) and its period."""

    days: int = Field(ge=1, le=3650)
    article: str


class ScoringModel(_Rule):
    """One subject kind's scoring model (信用评价模型)."""

    base: Base
    deductions: dict[str, Deduction]
    levels: list[Level] = Field(min_length=1)
    level_bans: dict[str, Ban] = Field(default_factory=dict)
    serious_bans: dict[str, Ban] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _levels_descend(self) -> ScoringModel:
        mins = [lv.min for lv in self.levels]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("levels must be listed highest first with distinct minimums")
        if mins[-1] != 0:
            raise ValueError("the lowest level must start at 0 so every score has a level")
        names = {lv.level for lv in self.levels}
        unknown = set(self.level_bans) - names
        if unknown:
            raise ValueError(f"level_bans name unknown levels {sorted(unknown)}")
        return self


class Period(_Rule):
    """A period of the complaint rules, in days or working days, and its source."""

    value: int = Field(ge=1, le=365)
    unit: Literal["days", "working_days"]
    source: str = Field(min_length=1)


class FilingPeriod(Period):
    """The time to file, and the complainant's date it runs from."""

    counted_from: Literal["known_on", "objection_answered_on"]


class ObjectionFirst(_Rule):
    """The matters a complaint may only follow an objection (异议/质疑) about."""

    matters: frozenset[ComplaintMatter]
    source: str = Field(min_length=1)


class SuspensionLimit(_Rule):
    """The longest a suspension ordered while handling a complaint may last (0: no limit)."""

    value: int = Field(ge=0, le=365)
    unit: Literal["days", "working_days"]
    source: str = Field(min_length=1)


class ComplaintRules(_Rule):
    """One category's complaint rules (条例60-62; 政府采购法52-57)."""

    file_within: FilingPeriod
    objection_first: ObjectionFirst
    accept_within: Period
    decide_within: Period
    suspend_at_most: SuspensionLimit


class RestrictionBasis(_Rule):
    """A legal basis whose law fixes how long a restriction on it lasts (e.g. 条例67第2款:
    取消其1年至2年内参加依法必须进行招标的项目的投标资格): whom and which trade types it
    restricts, and the shortest and longest period, in years from the first day."""

    subject_kind: SubjectKind
    categories: list[Category] = Field(min_length=1)
    min_years: int = Field(ge=0, le=10)
    max_years: int | None = Field(default=None, ge=1, le=10)  # None: no longest
    article: str = Field(min_length=1)


def _years_on(start: date, years: int) -> date:
    """The last day of ``years`` years whose first day is ``start``: the day before it, in
    the year ``years`` on, or that month's last day where it has no such day (民法典第201条:
    开始的当日不计入; 第202条: 到期月的对应日为期间的最后一日；没有对应日的，月末日为最后一日)."""
    before = start - timedelta(days=1)
    try:
        return before.replace(year=before.year + years)
    except ValueError:  # 29 February into a common year: the month's last day
        return before.replace(year=before.year + years, day=28)


def check_basis(bases: Mapping[str, RestrictionBasis], name: str, kind: SubjectKind,
                categories: Sequence[Category], start: date, end: date) -> RestrictionBasis:
    """The basis ``name`` of a restriction, checked: it restricts this kind of subject, in
    these trade types, for a period within the law's range; a specific refusal otherwise."""
    basis = bases.get(name)
    if basis is None:
        raise DomainError("unknown_basis", f"no restriction basis {name!r}: one of "
                          f"{sorted(bases)}", known=sorted(bases))
    if basis.subject_kind is not kind:
        raise DomainError("basis_not_for_subject", f"{name} restricts an "
                          f"{basis.subject_kind.value}, not an {kind.value} ({basis.article})",
                          article=basis.article)
    outside = sorted(c.value for c in categories if c not in basis.categories)
    if outside:
        raise DomainError("basis_categories", f"{name} does not cover {outside} "
                          f"({basis.article})", article=basis.article, outside=outside)
    shortest = _years_on(start, basis.min_years) if basis.min_years else start
    longest = _years_on(start, basis.max_years) if basis.max_years else None
    if end < shortest or (longest is not None and end > longest):
        span = f"{basis.min_years}-{basis.max_years}" if basis.max_years \
            else f"at least {basis.min_years}"
        raise DomainError("restriction_period_out_of_range", f"a restriction on {name} lasts "
                          f"{span} years: from {start} it ends between {shortest} and "
                          f"{longest or 'any later day'} ({basis.article})",
                          article=basis.article, shortest_end=shortest.isoformat(),
                          longest_end=longest.isoformat() if longest else None)
    return basis


class CreditRules(BaseModel):
    """Everything the credit service reads from its rules file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: ScoringModel
    expert: ScoringModel
    collusion: dict[str, Any] = Field(default_factory=dict)
    complaints: dict[Category, ComplaintRules] = Field(default_factory=dict)
    restriction_bases: dict[str, RestrictionBasis] = Field(default_factory=dict)
    calendar: Calendar = Field(default_factory=platform_calendar)

    def model_for(self, kind: SubjectKind) -> ScoringModel:
        return self.entity if kind is SubjectKind.ENTITY else self.expert

    def complaints_of(self, category: Category) -> ComplaintRules:
        """The complaint rules of ``category``; a specific refusal when it has none."""
        return rules_for(self.complaints, category, "complaint")


@cache
def load(path: Path = RULES_FILE) -> CreditRules:
    """The credit rules in ``path``, or in the service's own file when it has none."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text("utf-8")) or {}
    if "credit" not in raw and path != RULES_FILE:
        return load(RULES_FILE)
    return CreditRules.model_validate({**raw["credit"], "calendar": calendar_of(raw)})

"""Timeline rules of a tender (招标时限): issue, sale, deadline, modification, deposit,
the evaluation's time and place; and who may bid (the invitation list).

Days are calendar days measured moment to moment (a deadline 20 days after the
issue means at least 20 × 24 hours later); working days, where a category's
rule says so, are counted on the rules' calendar. Each violation names its
article, the required and the actual value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from contracts.calendar import Calendar
from ggzy.runtime.errors import DomainError
from services.bidding.domain.rules import CategoryRules, Rule, after


class RuleViolation(DomainError):
    """A legal rule the request breaks; ``article`` cites it."""

    def __init__(self, code: str, rule: Rule, message: str, **details: Any) -> None:
        super().__init__(code, f"{message} ({rule.source})", article=rule.source, **details)
        self.article = rule.source


class TimelineInvalid(DomainError):
    """Every rule a tender's timeline breaks."""

    def __init__(self, violations: list[RuleViolation]) -> None:
        first = violations[0]
        super().__init__(first.code, first.message,
                         violations=[{"code": v.code, "message": v.message,
                                      "article": v.article} for v in violations])
        self.violations = violations


@dataclass(frozen=True)
class Evaluation:
    """When and where a section is evaluated (评标时间、地点), as its tender states it.

    ``at`` None: when the committee is drawn, at the opening record. Kept in the tender's
    state (``evaluation_schedule``, by section), told to the drawn experts only
    (ExpertsDrawn)."""

    at: datetime | None
    venue: str
    remote: bool = False  # 远程异地评标 (异地评审): each expert at the venue of its place

    def to_state(self) -> dict[str, Any]:
        return {"at": None if self.at is None else self.at.astimezone(UTC).isoformat(),
                "venue": self.venue,
                "remote": self.remote}

    @classmethod
    def of_state(cls, raw: Mapping[str, Any]) -> Evaluation:
        at = raw.get("at")
        return cls(None if at is None else datetime.fromisoformat(at), str(raw["venue"]),
                   bool(raw.get("remote", False)))


def validate_timeline(rules: CategoryRules, cal: Calendar, *, issued_at: datetime,
                      sale_start: datetime, sale_end: datetime,
                      bid_deadline: datetime, budget_fen: int,
                      evaluations: Mapping[str, Evaluation] | None = None) -> None:
    """Raise TimelineInvalid with every violated rule, or return. The documents' period
    binds a budget of at least ``documents_to_deadline_from_fen`` (e.g. a single source's
    publicity above the open-tender threshold, 政采条例38); each section's ``evaluations``
    come after the opening record and, where the category limits how early experts are
    drawn (198号文第14条), not too long after it."""
    found: list[RuleViolation] = []
    for code, plan in (evaluations or {}).items():
        found.extend(evaluation_violations(rules, cal, code, plan, bid_deadline))
    earliest = after(rules.documents_to_deadline, issued_at, cal)
    if budget_fen < rules.documents_to_deadline_from_fen.value:
        earliest = issued_at
    if bid_deadline < earliest:
        found.append(RuleViolation(
            "deadline_too_early", rules.documents_to_deadline,
            f"the bid deadline must be at least {rules.documents_to_deadline.n} days after the "
            f"documents are issued: not before {earliest.isoformat()}",
            earliest=earliest.isoformat()))
    if sale_start < issued_at or sale_end <= sale_start:
        found.append(RuleViolation("sale_period_invalid", rules.sale_period,
                                   "documents must be on sale from the issue, for a period"))
    elif not _long_enough(rules.sale_period, cal, sale_start, sale_end):
        found.append(RuleViolation(
            "sale_period_too_short", rules.sale_period,
            f"documents must be on sale for at least {rules.sale_period.n} "
            f"{rules.sale_period.unit.replace('_', ' ')}"))
    if sale_end > bid_deadline:
        found.append(RuleViolation("sale_after_deadline", rules.sale_period,
                                   "the sale must end by the bid deadline"))
    if found:
        raise TimelineInvalid(found)


def evaluation_violations(rules: CategoryRules, cal: Calendar, section: str,
                          plan: Evaluation, bid_deadline: datetime) -> list[RuleViolation]:
    """What a section's stated evaluation time breaks. The committee is drawn at the
    opening record, when the decryption window ends (20号令): the evaluation cannot begin
    before it (``evaluation_before_opening``). Where experts may be drawn no earlier than
    ``draw_before_evaluation`` before the evaluation (政府采购评审专家管理办法第14条: 2
    working days; a remote evaluation, 异地评审, and the methods the rule excepts are
    exempt), the evaluation begins within that long of the opening record
    (``evaluation_too_late``)."""
    if plan.at is None:  # at the draw: always in time
        return []
    drawn = decryption_end(rules, cal, bid_deadline)
    if plan.at < drawn:
        return [RuleViolation(
            "evaluation_before_opening", rules.decryption_window,
            f"section {section}: the evaluation begins after the opening record, when the "
            f"committee is drawn (the bid deadline plus the decryption window): not before "
            f"{drawn.isoformat()}", section=section, earliest=drawn.isoformat())]
    limit = rules.draw_before_evaluation
    latest = after(limit, drawn, cal)
    if limit.value > 0 and not plan.remote and plan.at > latest:
        return [RuleViolation(
            "evaluation_too_late", limit,
            f"section {section}: experts are drawn at the opening record, no earlier than "
            f"{limit.n} {limit.unit.replace('_', ' ')} before the evaluation: it begins by "
            f"{latest.isoformat()} (or is a remote evaluation)", section=section,
            latest=latest.isoformat())]
    return []


def _long_enough(rule: Rule, cal: Calendar, start: datetime, end: datetime) -> bool:
    if rule.unit == "working_days":
        return cal.working_days_between(start.date(), end.date()) >= rule.n
    return end >= after(rule, start, cal)


def deadline_after_modification(rules: CategoryRules, *, modified_at: datetime,
                                deadline: datetime, affects_bids: bool) -> datetime:
    """The bid deadline after a clarification or modification (法23; 条例21).

    One that may affect the bids must come at least 15 days before the deadline;
    otherwise the deadline moves to 15 days after it. Never silently accepted.
    """
    if modified_at >= deadline:
        raise RuleViolation("modification_after_deadline", rules.modification_notice,
                            "the bid deadline has passed: the documents cannot change")
    if not affects_bids:
        return deadline
    return max(deadline, after(rules.modification_notice, modified_at, Calendar()))


def validate_invitations(rules: CategoryRules, invited: Sequence[str],
                         owners: Collection[str | None]) -> None:
    """The invitation list a method calls for (rule ``invitation_list``): none for an open
    tender (法16: anyone registered bids), at least ``minimum_invitees`` distinct others
    than the tenderee and its agency where a list is given or required (法17: 邀请招标
    三个以上; 政府采购法29, 38, 40; single source: its one supplier, 政府采购法31)."""
    mode, least = rules.invitation_list, rules.minimum_invitees
    if not invited:
        if mode.n >= 2:
            raise RuleViolation("invitation_required", mode, f"this method invites its "
                                f"bidders: name at least {least.n} in invited")
        return
    if mode.n == 0:
        raise RuleViolation("invitation_not_allowed", mode, "an open tender takes no "
                            "invitation list: every registered bidder may bid")
    if len(set(invited)) != len(invited):
        raise DomainError("invitee_repeated", "each invitee is named once")
    if set(invited) & set(owners):
        raise DomainError("invitee_is_owner", "the tenderee and its agency are not invited")
    if len(invited) < least.n:
        raise RuleViolation("too_few_invitees", least, f"{len(invited)} invited: at least "
                            f"{least.n} are required", invited=len(invited), minimum=least.n)


def validate_deposit(rules: CategoryRules, estimated_price_fen: int, deposit_fen: int) -> None:
    """A bid deposit may not exceed 2% of the estimated price (条例26)."""
    cap = estimated_price_fen * rules.deposit_cap_percent.value / 100
    if deposit_fen > cap:
        raise RuleViolation("deposit_over_cap", rules.deposit_cap_percent,
                            f"the deposit may not exceed {rules.deposit_cap_percent.value:g}% "
                            f"of the estimated price ({int(cap)} fen)", cap_fen=int(cap))


def committee_shape(rules: CategoryRules, budget_fen: int, size: int,
                    experts: int) -> None:
    """An evaluation committee: odd, at least the minimum, experts >= 2/3 (法37)."""
    minimum = (rules.committee_large_budget if budget_fen >= rules.large_budget_fen.value
               else rules.committee_minimum)
    if size < minimum.n or size % 2 == 0:
        raise RuleViolation("committee_size", minimum,
                            f"the committee needs an odd number of at least {minimum.n} "
                            f"members, not {size}")
    share = Fraction(rules.expert_share.value).limit_denominator(12)  # 0.6667 -> 2/3
    if experts < size * share:
        raise RuleViolation("committee_expert_share", rules.expert_share,
                            f"at least two thirds of the committee must be drawn experts "
                            f"({experts} of {size})")


def contract_due(rules: CategoryRules, cal: Calendar, awarded_at: datetime) -> datetime:
    """The contract must be signed within 30 days of the award (法46)."""
    return after(rules.contract_within, awarded_at, cal)


def decryption_end(rules: CategoryRules, cal: Calendar, deadline: datetime) -> datetime:
    """Until when bidders may reveal their keys at opening (20号令)."""
    return after(rules.decryption_window, deadline, cal)

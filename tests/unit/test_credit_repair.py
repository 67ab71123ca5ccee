"""Credit repair by application (信用修复申请; 失信行为纠正后的信用信息修复管理办法, unverified):
the subject applies after its record's waiting time, a supervisor decides; approved, the
record stops counting and the account is scored again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.credit import CreditChanged, CreditRepairDecided, SubjectKind
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, NotFound
from ggzy.testing.data import new_uscc
from services.credit.domain import records, repair
from services.credit.domain.records import Record, Restriction
from services.credit.domain.rules import Deduction, load

MODEL = load().entity
NOW = datetime(2026, 5, 1, 10, tzinfo=UTC)
TODAY = NOW.date()
RID = "contract_overdue:T1:S1"


def _applied(state: dict[str, Any], change: Change) -> dict[str, Any]:
    out = records.opened_with(state, change)
    for path in change.unset:
        out.pop(path, None)
    return out


def _with_record() -> dict[str, Any]:
    acc = records.new_account(SubjectKind.ENTITY, new_uscc(), MODEL)
    rec = Record(RID, "contract_overdue", "ContractOverdue", {"tender_id": "T1"})
    return _applied(acc, records.add_record(acc, MODEL, rec, NOW))


def _apply(state: dict[str, Any], days_later: int) -> Change:
    return repair.apply_for_repair(state, MODEL, RID, correction="已签订合同并整改",
                                   by="bidder-1", today=TODAY + timedelta(days=days_later),
                                   now=NOW + timedelta(days=days_later))


def test_an_application_before_the_waiting_time_is_refused_with_the_first_day() -> None:
    wait = MODEL.deductions["contract_overdue"].repair_after_days
    assert wait == 90  # the rules' default: the shortest publicity period of a general record
    with pytest.raises(Conflict) as refused:
        _apply(_with_record(), wait - 1)
    assert refused.value.code == "repair_too_early"
    assert refused.value.details["earliest"] == (TODAY + timedelta(days=wait)).isoformat()


def test_an_approved_repair_stops_the_record_counting_and_rescores() -> None:
    s = _with_record()
    assert s["score"] == 85
    s = _applied(s, _apply(s, 90))
    assert s["records"][RID]["repair"]["status"] == repair.PENDING and s["score"] == 85
    with pytest.raises(Conflict, match="pending"):
        _apply(s, 91)  # one application at a time
    change = repair.decide_repair(s, MODEL, RID, approve=True, reason="整改到位",
                                  by="supervisor-1", now=NOW + timedelta(days=95))
    s = _applied(s, change)
    assert s["score"] == 100 and s["records"][RID]["repaired"] == 1
    assert s["records"][RID]["repair"]["status"] == repair.APPROVED
    assert "next_record_expiry" not in s  # the repaired record no longer ages
    decided, event = [o.event for o in change.events]
    assert isinstance(decided, CreditRepairDecided) and decided.approved
    assert (decided.record_id, decided.record_kind) == (RID, "contract_overdue")
    assert isinstance(event, CreditChanged)
    assert (event.reason, event.record_id, event.score) == ("record_repaired", RID, 100)
    with pytest.raises(Conflict) as again:
        _apply(s, 100)
    assert again.value.code == "record_not_counting"


def test_a_refused_repair_keeps_the_record_and_may_be_applied_for_again() -> None:
    s = _with_record()
    s = _applied(s, _apply(s, 90))
    change = repair.decide_repair(s, MODEL, RID, approve=False, reason="整改材料不全",
                                  by="supervisor-1", now=NOW + timedelta(days=92))
    (decided,) = [o.event for o in change.events]  # the applicant is told; no re-score
    assert isinstance(decided, CreditRepairDecided) and not decided.approved
    assert decided.reason == "整改材料不全"
    s = _applied(s, change)
    assert s["score"] == 85 and s["records"][RID]["repair"]["reason"] == "整改材料不全"
    assert _applied(s, _apply(s, 93))["records"][RID]["repair"]["status"] == repair.PENDING


def test_a_decision_needs_a_pending_application_and_the_record_must_exist() -> None:
    s = _with_record()
    with pytest.raises(Conflict) as none:
        repair.decide_repair(s, MODEL, RID, approve=True, reason="x", by="s", now=NOW)
    assert none.value.code == "no_repair_pending"
    with pytest.raises(NotFound):
        repair.apply_for_repair(s, MODEL, "nope", correction="x", by="b", today=TODAY,
                                now=NOW)


def test_a_restrictions_penalty_record_is_not_repaired_by_application() -> None:
    """A supervisor's decision (处罚决定) is revoked or runs out; no application repairs it."""
    acc = records.new_account(SubjectKind.ENTITY, new_uscc(), MODEL)
    r = Restriction("R-1", "bidding", ["construction"], TODAY, TODAY, "深建罚〔2026〕7号", "串通")
    s = _applied(acc, records.add_restriction(acc, MODEL, r, NOW))
    with pytest.raises(Conflict) as refused:
        repair.apply_for_repair(s, MODEL, "R-1", correction="x", by="b",
                                today=TODAY + timedelta(days=3000), now=NOW)
    assert refused.value.code == "repair_not_by_application"


def test_a_waiting_time_needs_its_source_and_ends_before_the_period() -> None:
    with pytest.raises(ValueError, match="repair_article"):
        Deduction(points=5, article="a", repair_after_days=90)
    with pytest.raises(ValueError, match="shorter"):
        Deduction(points=5, article="a", days=90, days_article="b", repair_after_days=90,
                  repair_article="c")
    assert Deduction(points=5, article="a", repair_after_days=0,
                     repair_article="c").repair_after_days == 0  # at once

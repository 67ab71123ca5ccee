"""Objections to the tender documents and the suspension they cause (pure decisions).

Construction: filed >= 10 days before the deadline, answered within 3 days, the
tendering suspended until the answer (条例22). Procurement: a question (质疑) within
7 working days of the end of the sale, answered within 7 working days, no suspension
(政采法52, 53, 57; 94号令第10条). Bidders get back the time they had left.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.bidding import (
    TenderObjectionAnswered,
    TenderObjectionFiled,
    TenderResumed,
    TenderSuspended,
)
from contracts.categories import Category
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError, Forbidden, NotFound
from ggzy.testing.data import new_uscc
from services.bidding.domain import objections, tender
from services.bidding.domain.rules import load

BOOK = load()
CONSTRUCTION = BOOK.for_category(Category.CONSTRUCTION)
PROCUREMENT = BOOK.for_category(Category.PROCUREMENT)
CAL = BOOK.calendar
ISSUED = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
DEADLINE = ISSUED + timedelta(days=25)
RNG = random.Random(22)
TENDEREE, AGENCY, OBJECTOR = (new_uscc(RNG) for _ in range(3))


def _state(category: str = "construction") -> dict[str, Any]:
    return {"tender_id": "1124ABCDEFGHIJKLM001", "category": category, "status": "open",
            "tenderee_uscc": TENDEREE, "agency_uscc": AGENCY,
            "sale_end": (ISSUED + timedelta(days=7)).isoformat(),
            "bid_deadline": DEADLINE.isoformat(), "deadline_ms": tender.ms(DEADLINE),
            "section_state": {}, "audit": []}


def _apply(state: dict[str, Any], change: Change) -> dict[str, Any]:
    """``change`` applied as the store would ($set dotted paths, then $unset)."""
    out = {**state}
    for path, value in change.set.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[leaf] = value
    for path in change.unset:
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node.pop(leaf, None)
    return out


def _events(change: Change) -> list[Any]:
    return [out.event for out in change.events]


def _file(state: dict[str, Any], at: datetime, oid: str = "o1", rules: Any = CONSTRUCTION,
          who: str = OBJECTOR) -> Change:
    return objections.file(state, rules, CAL, objection_id=oid, objector=who,
                           text="资格条件排斥潜在投标人", now=at, source="10.0.0.8")


def test_an_objection_suspends_the_tender_until_the_answer_tiaoli22() -> None:
    """条例22: 作出答复前，应当暂停招标投标活动; the answer is due in 3 days."""
    at = DEADLINE - timedelta(days=12)
    change = _file(_state(), at)
    filed, suspended = _events(change)
    assert isinstance(filed, TenderObjectionFiled) and filed.suspends
    assert filed.answer_due == at + timedelta(days=3) and "第22条" in filed.article
    assert isinstance(suspended, TenderSuspended) and suspended.reason == "objection"
    assert OBJECTOR not in suspended.model_dump_json()  # the notice's source names no one
    state = _apply(_state(), change)
    assert state["audit"][-1]["action"] == "object"
    assert state["audit"][-1]["source"] == "10.0.0.8"
    with pytest.raises(Conflict) as refused:  # bids neither taken nor withdrawn
        tender.refuse_after_deadline(state, at + timedelta(hours=1), CONSTRUCTION)
    assert refused.value.code == "tender_suspended"
    assert "第22条" in refused.value.details["article"]


def test_a_suspended_tender_does_not_close_at_its_deadline() -> None:
    state = _apply(_state(), _file(_state(), DEADLINE - timedelta(days=11)))
    assert tender.close(state, CONSTRUCTION, CAL, {}, DEADLINE + timedelta(seconds=2)) \
        == Change()


def test_an_objection_less_than_10_days_before_the_deadline_is_refused_tiaoli22() -> None:
    with pytest.raises(DomainError) as refused:
        _file(_state(), DEADLINE - timedelta(days=9, hours=23))
    assert refused.value.code == "objection_too_late"
    assert "第22条" in refused.value.details["article"]
    _file(_state(), DEADLINE - timedelta(days=10))  # exactly 10 days before: taken


def test_the_tenderee_and_its_agency_answer_but_do_not_object() -> None:
    for who in (TENDEREE, AGENCY):
        with pytest.raises(Forbidden):
            _file(_state(), ISSUED + timedelta(days=1), who=who)


def test_no_objection_here_after_the_deadline() -> None:
    with pytest.raises(Conflict) as refused:
        _file({**_state(), "status": "closed"}, DEADLINE - timedelta(days=12))
    assert refused.value.code == "tender_closed"


def test_the_answer_resumes_and_gives_back_the_time_left() -> None:
    """Suspended 12 days before the deadline, answered 2 days later: the deadline moves by
    the 2 days the bidders lost (suspension_restores_time)."""
    filed_at = DEADLINE - timedelta(days=12)
    state = _apply(_state(), _file(_state(), filed_at))
    answered_at = filed_at + timedelta(days=2)
    change = objections.answer(state, CONSTRUCTION, objection_id="o1", text="不予修改",
                               actor="tenderee-user", now=answered_at)
    answered, resumed = _events(change)
    assert isinstance(answered, TenderObjectionAnswered) and not answered.late
    assert answered.objector_uscc == OBJECTOR  # the answer goes to the objector
    assert isinstance(resumed, TenderResumed)
    assert resumed.previous_deadline == DEADLINE
    assert resumed.bid_deadline == DEADLINE + timedelta(days=2)
    after = _apply(state, change)
    assert "suspensions" not in after and "suspended" not in after
    assert after["deadline_ms"] == tender.ms(DEADLINE + timedelta(days=2))
    tender.refuse_after_deadline(after, answered_at + timedelta(hours=1), CONSTRUCTION)
    assert after["objections"]["o1"]["status"] == "answered"


def test_an_answer_after_3_days_is_late_and_still_resumes() -> None:
    filed_at = DEADLINE - timedelta(days=12)
    state = _apply(_state(), _file(_state(), filed_at))
    change = objections.answer(state, CONSTRUCTION, objection_id="o1", text="迟复",
                               actor="t", now=filed_at + timedelta(days=3, minutes=1))
    answered, resumed = _events(change)
    assert answered.late and isinstance(resumed, TenderResumed)


def test_the_tender_resumes_only_when_every_objection_is_answered() -> None:
    t1, t2 = DEADLINE - timedelta(days=15), DEADLINE - timedelta(days=14)
    state = _apply(_state(), _file(_state(), t1, "o1"))
    second = _file(state, t2, "o2")
    assert [type(e) for e in _events(second)] == [TenderObjectionFiled]  # already suspended
    state = _apply(state, second)
    first_answer = objections.answer(state, CONSTRUCTION, objection_id="o1", text="a",
                                     actor="t", now=t2 + timedelta(hours=1))
    assert [type(e) for e in _events(first_answer)] == [TenderObjectionAnswered]
    state = _apply(state, first_answer)
    assert list(state["suspensions"]) == ["objection-o2"]
    last = objections.answer(state, CONSTRUCTION, objection_id="o2", text="b", actor="t",
                             now=t2 + timedelta(days=1))
    resumed = _events(last)[-1]
    assert isinstance(resumed, TenderResumed) and resumed.suspended_at == t1
    # 15 days were left at t1; resumed a day and an hour later: the deadline moves as much
    assert resumed.bid_deadline == t2 + timedelta(days=1) + timedelta(days=15)


def test_an_objection_is_answered_once() -> None:
    state = _apply(_state(), _file(_state(), DEADLINE - timedelta(days=12)))
    state = _apply(state, objections.answer(state, CONSTRUCTION, objection_id="o1",
                                            text="a", actor="t", now=DEADLINE
                                            - timedelta(days=11)))
    with pytest.raises(Conflict) as again:
        objections.answer(state, CONSTRUCTION, objection_id="o1", text="b", actor="t",
                          now=DEADLINE - timedelta(days=10))
    assert again.value.code == "objection_answered"
    with pytest.raises(NotFound):
        objections.answer(state, CONSTRUCTION, objection_id="nope", text="b", actor="t",
                          now=DEADLINE - timedelta(days=10))


def test_a_procurement_question_does_not_suspend_and_has_7_working_days_zhengcaifa52() -> None:
    """政采法52: within 7 working days (from the end of the sale); 政采法53: answered in 7
    working days; 政采法57: only a supervisor suspends."""
    state = _state("procurement")
    sale_end = datetime.fromisoformat(state["sale_end"])  # Monday 9 November
    change = _file(state, sale_end + timedelta(days=2), rules=PROCUREMENT)
    (filed,) = _events(change)
    assert not filed.suspends and "第53条" in filed.article
    assert filed.answer_due == CAL.add_working_days(sale_end + timedelta(days=2), 7)
    after = _apply(state, change)
    tender.refuse_after_deadline(after, sale_end + timedelta(days=3), PROCUREMENT)  # bids go on
    with pytest.raises(DomainError) as late:
        _file(state, CAL.add_working_days(sale_end, 7) + timedelta(minutes=1),
              rules=PROCUREMENT)
    assert late.value.code == "objection_too_late"
    assert "第52条" in late.value.details["article"]


def test_objectors_are_named_only_to_the_owners() -> None:
    state = _apply(_state(), _file(_state(), DEADLINE - timedelta(days=12)))
    assert objections.visible(state, "91000000000000000X", owner=False) == []
    (mine,) = objections.visible(state, OBJECTOR, owner=False)
    assert mine["objection_id"] == "o1" and mine["status"] == "pending"
    assert [o["objector_uscc"] for o in objections.visible(state, None, owner=True)] \
        == [OBJECTOR]


@given(left_h=st.integers(min_value=240, max_value=2000),
       paused_h=st.integers(min_value=0, max_value=500))
def test_bidders_never_get_less_time_than_they_had_left(left_h: int, paused_h: int) -> None:
    """Whatever the suspension's length, the time left at its start is restored, and the
    deadline never moves earlier."""
    filed_at = DEADLINE - timedelta(hours=left_h)
    state = _apply(_state(), _file(_state(), filed_at))
    resumed_at = filed_at + timedelta(hours=paused_h)
    resumed = _events(objections.answer(state, CONSTRUCTION, objection_id="o1", text="a",
                                        actor="t", now=resumed_at))[-1]
    assert resumed.bid_deadline - resumed_at >= timedelta(hours=left_h)
    assert resumed.bid_deadline >= DEADLINE


# suspensions ordered while a complaint is handled (条例62; 政府采购法57) -------------------
SEC = "1124ABCDEFGHIJKLM001001"


def _at_publicity() -> dict[str, Any]:
    winner = {"rank": 1, "bid_id": "b1", "bidder_uscc": OBJECTOR, "bidder_name": "甲",
              "price_fen": 100, "score": "1"}
    return {**_state(), "status": "closed", "section_state": {SEC: {
        "status": "publicity", "candidates": [winner], "seed": "s" * 64,
        "committee": ["EXP-000000000001"]}}}


def test_a_complaint_suspension_defers_the_award_until_it_resumes_tiaoli62() -> None:
    state = _at_publicity()
    at = DEADLINE + timedelta(days=5)
    ordered = objections.complaint_suspension(state, "CP-1", "实施条例第62条", at)
    assert [type(e) for e in _events(ordered)] == [TenderSuspended]
    state = _apply(state, ordered)
    assert objections.complaint_suspension(state, "CP-1", "实施条例第62条", at) == Change()
    deferred = tender.award(state, CONSTRUCTION, CAL, SEC, upheld=False, names=[], now=at)
    assert _events(deferred) == [] and deferred.set["audit"][-1]["action"] == "award_deferred"
    state = _apply(state, deferred)
    assert state["section_state"][SEC]["award_waits"] == {"upheld": False}
    resumed = objections.end_complaint_suspension(state, CONSTRUCTION, "CP-1", "decided",
                                                  at + timedelta(days=9))
    (event,) = _events(resumed)
    assert isinstance(event, TenderResumed)
    assert event.bid_deadline == DEADLINE  # closed already: no deadline to give back
    state = _apply(state, resumed)
    awarded = tender.award(state, CONSTRUCTION, CAL, SEC, upheld=False, names=[], now=at)
    assert [type(e).__name__ for e in _events(awarded)] == ["Awarded"]
    assert f"section_state.{SEC}.award_waits" in awarded.unset
    assert objections.end_complaint_suspension(state, CONSTRUCTION, "CP-1", "lifted",
                                               at) == Change()


def test_no_contract_is_recorded_while_suspended_tiaoli62() -> None:
    state = _at_publicity()
    state["section_state"][SEC].update(status="awarded", winner={"bidder_uscc": OBJECTOR})
    state = _apply(state, objections.complaint_suspension(state, "CP-2", "实施条例第62条",
                                                          DEADLINE))
    with pytest.raises(Conflict) as refused:
        tender.sign_contract(state, CONSTRUCTION, SEC, 100, "t", DEADLINE)
    assert refused.value.code == "tender_suspended"
    assert "第62条" in refused.value.details["article"]


def test_an_objection_and_a_complaint_suspension_both_end_before_it_resumes() -> None:
    filed_at = DEADLINE - timedelta(days=12)
    state = _apply(_state(), _file(_state(), filed_at))
    state = _apply(state, objections.complaint_suspension(state, "CP-3", "实施条例第62条",
                                                          filed_at + timedelta(hours=1)))
    answered = objections.answer(state, CONSTRUCTION, objection_id="o1", text="a", actor="t",
                                 now=filed_at + timedelta(days=1))
    assert [type(e) for e in _events(answered)] == [TenderObjectionAnswered]
    state = _apply(state, answered)
    with pytest.raises(Conflict):
        tender.refuse_after_deadline(state, filed_at + timedelta(days=1), CONSTRUCTION)
    resumed = _events(objections.end_complaint_suspension(
        state, CONSTRUCTION, "CP-3", "lifted", filed_at + timedelta(days=4)))[-1]
    assert resumed.bid_deadline == DEADLINE + timedelta(days=4)


# a suspension stops the sections' periods too (条例62: 暂停招标投标活动) -------------------
def _running(status: str, end: datetime) -> dict[str, Any]:
    state = _at_publicity()
    field = {"decrypting": "decrypt_end_ms", "awarded": "contract_due_ms"}[status]
    state["section_state"][SEC].update(status=status, winner={"bidder_uscc": OBJECTOR},
                                       **{field: tender.ms(end)})
    return state


@pytest.mark.parametrize(("status", "period", "field"), [
    ("decrypting", "decryption", "decrypt_end_ms"),
    ("awarded", "contract", "contract_due_ms")])
def test_a_running_period_gets_back_the_time_it_had_left_tiaoli62(
        status: str, period: str, field: str) -> None:
    """Suspended with 2 hours of the decryption window (or of the contract's 30 days) left,
    resumed 3 days later: it ends 2 hours after the resumption, not in the past (a bidder
    unable to reveal would lose its bid; a winner unable to sign, its credit)."""
    at = DEADLINE + timedelta(days=1)
    state = _running(status, at + timedelta(hours=2))
    state = _apply(state, objections.complaint_suspension(state, "CP-4", "实施条例第62条", at))
    resumed_at = at + timedelta(days=3)
    change = objections.end_complaint_suspension(state, CONSTRUCTION, "CP-4", "decided",
                                                 resumed_at)
    (event,) = _events(change)
    assert isinstance(event, TenderResumed)
    (clock,) = event.clocks
    assert (clock.section_code, clock.period.value) == (SEC, period)
    assert clock.previous_end == at + timedelta(hours=2)
    assert clock.end == resumed_at + timedelta(hours=2)
    after = _apply(state, change)
    assert after["section_state"][SEC][field] == tender.ms(resumed_at + timedelta(hours=2))


def test_a_period_that_had_ended_does_not_move() -> None:
    """The window had closed before the suspension (its timer not yet fired): nothing to
    give back, so no clock is listed and the section opens at once on resuming."""
    at = DEADLINE + timedelta(days=1)
    state = _running("decrypting", at - timedelta(minutes=1))
    state = _apply(state, objections.complaint_suspension(state, "CP-5", "实施条例第62条", at))
    (event,) = _events(objections.end_complaint_suspension(
        state, CONSTRUCTION, "CP-5", "lifted", at + timedelta(days=1)))
    assert event.clocks == []


def test_while_suspended_no_section_opens_scores_declines_or_falls_overdue() -> None:
    at = DEADLINE + timedelta(days=1)
    decrypting = _running("decrypting", at + timedelta(hours=1))
    decrypting = _apply(decrypting, objections.complaint_suspension(
        decrypting, "CP-6", "实施条例第62条", at))
    assert tender.open_section(decrypting, CONSTRUCTION, SEC, [], None,
                               at + timedelta(hours=2)) == Change()
    evaluating = _at_publicity()
    evaluating["section_state"][SEC].update(status="evaluating", sheets={})
    evaluating = _apply(evaluating, objections.complaint_suspension(
        evaluating, "CP-7", "实施条例第62条", at))
    with pytest.raises(Conflict) as no_score:
        tender.record_scores(evaluating, SEC, "EXP-000000000001", {}, at)
    assert no_score.value.code == "tender_suspended"
    awarded = _running("awarded", at + timedelta(days=30))
    awarded["section_state"][SEC]["candidates"][0]["bidder_uscc"] = OBJECTOR
    awarded["section_state"][SEC]["winner"] = awarded["section_state"][SEC]["candidates"][0]
    awarded = _apply(awarded, objections.complaint_suspension(
        awarded, "CP-8", "实施条例第62条", at))
    assert tender.contract_overdue(awarded, SEC, at + timedelta(days=31)) == Change()
    with pytest.raises(Conflict) as no_decline:
        tender.decline_award(awarded, CONSTRUCTION, CAL, SEC, OBJECTOR, "不签", [], at)
    assert no_decline.value.code == "tender_suspended"


def test_a_contract_period_moved_by_a_suspension_is_not_overdue_at_its_old_end() -> None:
    at = DEADLINE + timedelta(days=1)
    state = _running("awarded", at + timedelta(days=30))
    state["section_state"][SEC]["winner"] = state["section_state"][SEC]["candidates"][0]
    state = _apply(state, objections.complaint_suspension(state, "CP-9", "实施条例第62条", at))
    state = _apply(state, objections.end_complaint_suspension(
        state, CONSTRUCTION, "CP-9", "decided", at + timedelta(days=10)))
    assert tender.contract_overdue(state, SEC, at + timedelta(days=30, minutes=1)) == Change()
    (overdue,) = _events(tender.contract_overdue(state, SEC, at + timedelta(days=40)))
    assert type(overdue).__name__ == "ContractOverdue"


# objections to an opening (条例44: 在开标现场提出，招标人应当当场作出答复，并制作记录) ----
def _opened(at: datetime) -> dict[str, Any]:
    state = _at_publicity()
    state["section_state"][SEC].update(
        status="evaluating", opened_ms=tender.ms(at),
        lines=[{"bidder_uscc": OBJECTOR, "bid_id": "b1", "status": "valid"}])
    return state


def _object_to_opening(state: dict[str, Any], at: datetime, who: str = OBJECTOR) -> Change:
    return objections.file_at_opening(state, CONSTRUCTION, section=SEC, objection_id="p1",
                                      objector=who, text="唱标价格与投标文件不符", now=at)


def test_an_objection_to_the_opening_is_taken_at_the_opening_and_answered_there_tiaoli44(
        ) -> None:
    opened = DEADLINE + timedelta(hours=1)
    state = _opened(opened)
    change = _object_to_opening(state, opened + timedelta(minutes=10))
    (filed,) = _events(change)  # it suspends nothing
    assert isinstance(filed, TenderObjectionFiled)
    assert filed.matter.value == "opening" and filed.section_code == SEC
    assert not filed.suspends and "第44条" in filed.article
    assert filed.answer_due == opened + timedelta(minutes=40)  # 当场: the rule's 30 minutes
    state = _apply(state, change)
    assert state["audit"][-1]["action"] == "object_opening"  # 制作记录
    (seen,) = objections.visible(state, OBJECTOR, owner=False)
    assert seen["matter"] == "opening" and seen["section_code"] == SEC
    answered = objections.answer(state, CONSTRUCTION, objection_id="p1", text="复核唱标无误",
                                 actor="t", now=opened + timedelta(minutes=50))
    (event,) = _events(answered)
    assert isinstance(event, TenderObjectionAnswered)
    assert event.matter.value == "opening" and event.late and "第44条" in event.article


def test_an_opening_is_objected_to_only_by_its_bidders_and_only_at_the_opening() -> None:
    opened = DEADLINE + timedelta(hours=1)
    with pytest.raises(Forbidden) as stranger:
        _object_to_opening(_opened(opened), opened, who=new_uscc(RNG))
    assert stranger.value.code == "not_a_bidder"
    with pytest.raises(DomainError) as late:
        _object_to_opening(_opened(opened), opened + timedelta(minutes=31))
    assert late.value.code == "objection_too_late"
    assert "第44条" in late.value.details["article"]
    unopened = _at_publicity()
    unopened["section_state"][SEC]["status"] = "decrypting"
    with pytest.raises(Conflict) as early:
        _object_to_opening(unopened, opened)
    assert early.value.code == "not_opened"

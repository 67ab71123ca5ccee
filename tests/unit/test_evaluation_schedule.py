"""The evaluation's time and place (评标时间、地点): stated by the tender, validated against
its timeline, moved with its deadline, and told with the draw to the drawn experts only.

The committee is drawn at the opening record (the end of the decryption window, 20号令),
so the evaluation cannot begin before it; in procurement experts are drawn no earlier than
2 working days before the evaluation (政府采购评审专家管理办法, 财库〔2016〕198号第14条), so
the evaluation begins within 2 working days of the opening record unless it is remote
(异地评审) or the method is excepted (竞争性谈判、竞争性磋商).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.bidding import BidderLine, ExpertsDrawn, ProcurementMethod, TenderPublished
from contracts.categories import Category
from ggzy.testing.data import new_uscc
from services.bidding.api import (
    SectionIn,
    TenderIn,
    public_view,
    schedule_of,
    schedule_view,
    to_event,
)
from services.bidding.domain import objections, tender
from services.bidding.domain.rules import load
from services.bidding.domain.timeline import (
    Evaluation,
    TimelineInvalid,
    evaluation_violations,
    validate_timeline,
)
from tests.unit.test_objections import _apply, _events

BOOK = load()
CAL = BOOK.calendar
CONSTRUCTION = BOOK.for_category(Category.CONSTRUCTION)
PROCUREMENT = BOOK.for_category(Category.PROCUREMENT)
RNG = random.Random(37)
TENDEREE = new_uscc(RNG)
BIDDERS = [new_uscc(RNG) for _ in range(3)]
ISSUED = datetime(2026, 11, 2, 1, tzinfo=UTC)  # a Monday, 09:00 in Beijing
FRIDAY = datetime(2026, 11, 27, 1, tzinfo=UTC)  # the bid deadline: Friday 09:00 in Beijing
OPENED = FRIDAY + timedelta(minutes=60)  # the opening record: the decryption window's end
TID = "1124ABCDEFGHIJKLM001"
SEC, SEC2 = f"{TID}001", f"{TID}002"
VENUE = "示例市公共资源交易中心第3评标室"


def _violations(rules: Any, at: datetime | None, remote: bool = False) -> list[str]:
    return [v.code for v in evaluation_violations(rules, CAL, SEC, Evaluation(at, VENUE, remote),
                                                  FRIDAY)]


def test_the_evaluation_begins_after_the_opening_record_20hao_ling() -> None:
    """The committee is drawn when the decryption window ends: not before."""
    assert CONSTRUCTION.decryption_window.value == 60  # minutes
    assert _violations(CONSTRUCTION, OPENED - timedelta(minutes=1)) == [
        "evaluation_before_opening"]
    assert _violations(CONSTRUCTION, FRIDAY) == ["evaluation_before_opening"]
    assert _violations(CONSTRUCTION, OPENED) == []
    assert _violations(CONSTRUCTION, None) == []  # left to the draw: always in time


def test_procurement_draws_no_earlier_than_2_working_days_before_the_evaluation_198hao14() -> None:
    """Opening record Friday 10:00: the evaluation begins by Tuesday 10:00 (Monday and
    Tuesday are the 2 working days; the weekend does not count)."""
    tuesday = OPENED + timedelta(days=4)
    assert _violations(PROCUREMENT, tuesday) == []
    assert _violations(PROCUREMENT, tuesday + timedelta(minutes=1)) == ["evaluation_too_late"]
    (violation,) = evaluation_violations(PROCUREMENT, CAL, SEC, Evaluation(
        tuesday + timedelta(minutes=1), VENUE), FRIDAY)
    assert "198号" in violation.article and "第14条" in violation.article
    assert violation.details["latest"] == tuesday.isoformat()
    assert violation.details["section"] == SEC


def test_a_remote_evaluation_and_negotiation_or_consultation_are_excepted_198hao14() -> None:
    late = OPENED + timedelta(days=10)
    assert _violations(PROCUREMENT, late, remote=True) == []  # 异地评审
    for method in (ProcurementMethod.COMPETITIVE_NEGOTIATION,
                   ProcurementMethod.COMPETITIVE_CONSULTATION):
        rules = BOOK.for_tender(Category.PROCUREMENT, method.value)
        assert _violations(rules, late) == []
    assert _violations(BOOK.for_tender(Category.PROCUREMENT, "inquiry"), late) == [
        "evaluation_too_late"]


def test_construction_sets_no_national_limit_on_how_long_after() -> None:
    assert CONSTRUCTION.draw_before_evaluation.value == 0
    assert _violations(CONSTRUCTION, OPENED + timedelta(days=30)) == []


def test_the_schedule_is_reported_with_every_other_timeline_violation() -> None:
    with pytest.raises(TimelineInvalid) as err:
        validate_timeline(CONSTRUCTION, CAL, issued_at=ISSUED, sale_start=ISSUED,
                          sale_end=ISSUED + timedelta(days=2), bid_deadline=FRIDAY,
                          budget_fen=1, evaluations={SEC: Evaluation(FRIDAY, VENUE)})
    codes = [v["code"] for v in err.value.details["violations"]]
    assert codes == ["evaluation_before_opening", "sale_period_too_short"]
    validate_timeline(CONSTRUCTION, CAL, issued_at=ISSUED, sale_start=ISSUED,
                      sale_end=ISSUED + timedelta(days=6), bid_deadline=FRIDAY, budget_fen=1,
                      evaluations={SEC: Evaluation(OPENED, VENUE)})


def _body(**kw: Any) -> TenderIn:
    sections = kw.pop("sections", [{}, {}])
    return TenderIn.model_validate({
        "project_code": TID[:17], "tender_no": 1, "project_name": "示例教学楼",
        "category": "construction", "region_code": "440300", "tenderee_uscc": TENDEREE,
        "sections": [{"name": f"{i + 1}标段", "estimated_price_fen": 1_000_000,
                      "deposit_fen": 0, **s} for i, s in enumerate(sections)],
        "issued_at": ISSUED.isoformat(), "sale_start": ISSUED.isoformat(),
        "sale_end": (ISSUED + timedelta(days=6)).isoformat(),
        "bid_deadline": FRIDAY.isoformat(), "expert_mix": {"A01": 5}, **kw})


def test_a_section_states_its_own_else_the_tenders_else_the_defaults() -> None:
    at = OPENED + timedelta(hours=2)
    body = _body(evaluation_at=at.isoformat(), evaluation_remote=True,
                 sections=[{}, {"evaluation_venue": "第5评标室", "evaluation_remote": False,
                                "evaluation_at": (at + timedelta(days=1)).isoformat()}])
    event = to_event(body, "城投")
    assert "evaluation_at" not in event.model_dump()["sections"][0]  # not in the event
    schedule = schedule_of(body, event, "平台评标区")
    assert schedule_view(schedule) == {
        SEC: {"evaluation_at": at.isoformat(), "evaluation_venue": "平台评标区",
              "evaluation_remote": True},
        SEC2: {"evaluation_at": (at + timedelta(days=1)).isoformat(),
               "evaluation_venue": "第5评标室", "evaluation_remote": False}}
    plain = _body()
    assert schedule_view(schedule_of(plain, to_event(plain, "城投"), "平台评标区"))[SEC] == {
        "evaluation_at": None, "evaluation_venue": "平台评标区", "evaluation_remote": False}


def test_a_naive_evaluation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SectionIn.model_validate({"name": "x", "estimated_price_fen": 1, "deposit_fen": 0,
                                  "evaluation_at": "2026-11-27T10:00:00"})


def _published(schedule: dict[str, Evaluation]) -> dict[str, Any]:
    event = TenderPublished(
        tender_id=TID, project_code=TID[:17], project_name="示例教学楼",
        category=Category.CONSTRUCTION, region_code="440300", tenderee_uscc=TENDEREE,
        tenderee_name="城投", method="open_tender", evaluation="lowest_evaluated_price",
        state_funded=True, sections=[{"section_code": SEC, "name": "一标段",
                                      "estimated_price_fen": 1, "deposit_fen": 0},
                                     {"section_code": SEC2, "name": "二标段",
                                      "estimated_price_fen": 1, "deposit_fen": 0}],
        issued_at=ISSUED, sale_start=ISSUED, sale_end=ISSUED + timedelta(days=6),
        bid_deadline=FRIDAY)
    extra = {"expert_mix": {"A01": 5},
             tender.SCHEDULE: {code: p.to_state() for code, p in schedule.items()}}
    state, change = tender.publish(event, "tenderee-user", extra)
    assert change.set["audit"][0]["data"][tender.SCHEDULE] == extra[tender.SCHEDULE]
    assert state["evaluation"] == "lowest_evaluated_price"  # the method stays as published
    return {**state, **change.set}


def test_the_public_view_shows_no_schedule() -> None:
    state = _published({SEC: Evaluation(OPENED + timedelta(hours=1), VENUE)})
    shown = json.dumps(public_view(state), ensure_ascii=False)
    assert VENUE not in shown and tender.SCHEDULE not in shown
    assert public_view(state)["evaluation"] == "lowest_evaluated_price"


def _opened(state: dict[str, Any], code: str, at: datetime) -> ExpertsDrawn | None:
    lines = [BidderLine(bid_id=f"{code}:{u}", bidder_uscc=u, bidder_name=u, price_fen=100 + n,
                        status="valid") for n, u in enumerate(BIDDERS)]
    state = {**state, "status": "closed", "section_state": {
        **state["section_state"], code: {"status": "decrypting", "decrypt_end_ms": tender.ms(at)}}}
    draw = {"committee": ["EXP-1", "EXP-2", "EXP-3", "EXP-4", "EXP-5"], "seed": "s",
            "commitment": "c"}
    change = tender.open_section(state, CONSTRUCTION, code, lines, draw, at)
    drawn = [o.event for o in change.events if isinstance(o.event, ExpertsDrawn)]
    assert change.set["audit"][-1]["data"].get("evaluation_at") == (
        tender.iso(drawn[0].evaluation_at) if drawn and drawn[0].evaluation_at else None)
    return drawn[0] if drawn else None


def test_the_draw_tells_the_stated_time_and_place() -> None:
    at = OPENED + timedelta(hours=3)
    state = _published({SEC: Evaluation(at, VENUE), SEC2: Evaluation(None, "远程", True)})
    drawn = _opened(state, SEC, OPENED)
    assert drawn is not None
    assert (drawn.evaluation_at, drawn.evaluation_venue, drawn.evaluation_remote) == (
        at, VENUE, False)
    other = _opened(state, SEC2, OPENED)  # no time stated: the evaluation follows the draw
    assert other is not None
    assert (other.evaluation_at, other.evaluation_venue, other.evaluation_remote) == (
        OPENED, "远程", True)


def test_a_draw_later_than_the_stated_time_tells_its_own_time() -> None:
    state = _published({SEC: Evaluation(OPENED, VENUE)})
    late = OPENED + timedelta(minutes=7)
    drawn = _opened(state, SEC, late)
    assert drawn is not None and drawn.evaluation_at == late


def test_a_tender_published_before_the_schedule_tells_none() -> None:
    state = _published({})
    state.pop(tender.SCHEDULE)
    drawn = _opened(state, SEC, OPENED)
    assert drawn is not None
    assert (drawn.evaluation_at, drawn.evaluation_venue, drawn.evaluation_remote) == (
        None, None, False)


def test_a_postponed_deadline_moves_the_evaluation_by_as_much_fa23() -> None:
    at = OPENED + timedelta(hours=3)
    state = _published({SEC: Evaluation(at, VENUE), SEC2: Evaluation(None, VENUE)})
    modified = FRIDAY - timedelta(days=10)  # 10 days before: the deadline moves 5 days
    change = tender.modify(state, CONSTRUCTION, modification_id="m1", summary="工程量清单",
                           affects_bids=True, actor="tenderee-user", now=modified)
    after = _apply(state, change)
    moved = datetime.fromisoformat(after["bid_deadline"]) - FRIDAY
    assert moved == timedelta(days=5)
    assert Evaluation.of_state(after[tender.SCHEDULE][SEC]).at == at + moved
    assert after[tender.SCHEDULE][SEC2]["at"] is None  # left to the draw
    assert after[tender.SCHEDULE][SEC]["venue"] == VENUE
    unchanged = tender.modify(state, CONSTRUCTION, modification_id="m2", summary="错别字",
                              affects_bids=False, actor="tenderee-user", now=modified)
    assert not any(k.startswith(tender.SCHEDULE) for k in unchanged.set)


def test_a_resumed_tender_moves_the_evaluation_with_its_deadline_tiaoli22() -> None:
    at = OPENED + timedelta(hours=3)
    state = _published({SEC: Evaluation(at, VENUE)})
    filed_at = FRIDAY - timedelta(days=12)
    state = _apply(state, objections.file(state, CONSTRUCTION, CAL, objection_id="o1",
                                          objector=BIDDERS[0], text="资格条件", now=filed_at))
    change = objections.answer(state, CONSTRUCTION, objection_id="o1", text="不予修改",
                               actor="tenderee-user", now=filed_at + timedelta(days=2))
    after = _apply(state, change)
    assert after["bid_deadline"] == tender.iso(FRIDAY + timedelta(days=2))
    assert Evaluation.of_state(after[tender.SCHEDULE][SEC]).at == at + timedelta(days=2)


def test_a_decryption_window_moved_by_a_suspension_moves_its_evaluation_tiaoli62() -> None:
    """Suspended with 20 minutes of SEC's window left, resumed a day later: SEC is drawn a
    day later, so its evaluation moves a day; SEC2, already drawn, keeps what its experts
    were told."""
    at = OPENED + timedelta(hours=3)
    state = _published({SEC: Evaluation(at, VENUE), SEC2: Evaluation(at, VENUE)})
    state = {**state, "status": "closed", "section_state": {
        SEC: {"status": "decrypting", "decrypt_end_ms": tender.ms(OPENED)},
        SEC2: {"status": "evaluating", "committee": ["EXP-1"]}}}
    since = OPENED - timedelta(minutes=20)
    state = _apply(state, objections.complaint_suspension(state, "CP-1", "实施条例第62条", since))
    change = objections.end_complaint_suspension(state, CONSTRUCTION, "CP-1", "lifted",
                                                 since + timedelta(days=1))
    (resumed,) = _events(change)
    after = _apply(state, change)
    assert [c.section_code for c in resumed.clocks] == [SEC]
    assert Evaluation.of_state(after[tender.SCHEDULE][SEC]).at == at + timedelta(days=1)
    assert Evaluation.of_state(after[tender.SCHEDULE][SEC2]).at == at

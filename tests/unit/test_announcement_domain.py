"""Which events become notices, what a notice may show, and how publicity periods run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.announcement import NoticeType
from contracts.bidding import (
    Awarded,
    BidderLine,
    BidsOpened,
    BidSubmitted,
    BidWithdrawn,
    Candidate,
    ContractSigned,
    EvaluationCompleted,
    ExpertsDrawn,
    Section,
    TenderFailed,
    TenderModified,
    TenderObjectionFiled,
    TenderPublished,
    TenderResumed,
    TenderSuspended,
)
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.errors import Conflict, DomainError, NotFound
from ggzy.testing.data import new_uscc
from services.announcement import domain
from services.announcement.domain import TenderFacts, check_public, draft, notice_id
from services.announcement.rules import Period, load_rules

TID, SEC = "1124ABCDEFGHIJKLM001", "1124ABCDEFGHIJKLM001001"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
RULES = load_rules()
WORKS = TenderFacts("示例学校教学楼工程", Category.CONSTRUCTION, "440300")
GOODS = TenderFacts("示例医院设备采购", Category.PROCUREMENT, "440300")


def _candidate(rank: int = 1, name: str = "甲建设公司") -> Candidate:
    return Candidate(rank=rank, bid_id=f"b{rank}", bidder_uscc=new_uscc(), bidder_name=name,
                     price_fen=123_456_78, score="95.50")


def _notice(**state: Any) -> dict[str, Any]:
    end = int((NOW + timedelta(days=3)).timestamp() * 1000)
    return {"publicity_status": domain.OPEN, "publicity_end_ms": end, "objections": {},
            "objection_upheld": 0, **state}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# which events are public -------------------------------------------------------------
def test_confidential_events_are_never_notices() -> None:
    """20号令: nothing about bids before the opening; 法37: no committee before the award."""
    for event in (
        BidSubmitted(tender_id=TID, section_code=SEC, bid_id="b", digest="d" * 64,
                     bidder_uscc=new_uscc(), received_at=NOW),
        BidWithdrawn(tender_id=TID, section_code=SEC, bid_id="b", bidder_uscc=new_uscc()),
        ExpertsDrawn(tender_id=TID, section_code=SEC, expert_ids=["EXP-1"], commitment="c"),
    ):
        assert draft(event, WORKS, RULES[Category.CONSTRUCTION], NOW) is None


def test_a_notice_carrying_a_confidential_field_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        check_public({"BID_OPEN_RECORDS": [{"BIDDER_NAME": "甲", "digest": "ab"}]})
    assert err.value.code == "confidential_field"
    check_public({"EXPERT_NAMES": ["王五"], "WIN_BIDDER_NAME": "甲"})


def test_tender_notice_gives_sections_dates_and_amounts_in_yuan() -> None:
    event = TenderPublished(
        tender_id=TID, project_code=TID[:17], project_name=WORKS.project_name,
        category=Category.CONSTRUCTION, region_code="440300", tenderee_uscc=new_uscc(),
        tenderee_name="示例市教育局", method="open_tender", evaluation="lowest_evaluated_price",
        state_funded=True, sections=[Section(section_code=SEC, name="施工",
                                             estimated_price_fen=10**9, deposit_fen=10**6)],
        issued_at=NOW, sale_start=NOW, sale_end=NOW + timedelta(days=5),
        bid_deadline=NOW + timedelta(days=20))
    notice = draft(event, WORKS, None, NOW)
    assert notice is not None and notice.notice_type == NoticeType.TENDER
    assert notice.title == "示例学校教学楼工程招标公告"
    [section] = notice.content["BID_SECTIONS"]
    assert section["CONTRACT_RECKON_PRICE"] == "10000000.00" and section["PRICE_UNIT"] == "元"
    assert notice.content["BID_OPEN_TIME"] == (NOW + timedelta(days=20)).isoformat()
    assert draft(event, GOODS, None, NOW).title == "示例学校教学楼工程采购公告"  # type: ignore[union-attr]


def test_modification_notice_cites_the_rule_that_postponed_the_deadline() -> None:
    """法23; 条例21: a change affecting bids less than 15 days before moves the deadline."""
    event = TenderModified(tender_id=TID, modification_id="m1", summary="工期由300日改为280日",
                           affects_bids=True, modified_at=NOW, previous_deadline=NOW,
                           bid_deadline=NOW + timedelta(days=15), postponed_by_rule=True)
    notice = draft(event, WORKS, None, NOW)
    assert notice is not None and notice.notice_type == NoticeType.MODIFICATION
    assert "招标投标法第23条" in notice.content["LEGAL_BASIS"]
    assert notice.content["NOTICE_CONTENT"] == "工期由300日改为280日"


def test_a_modification_corrects_the_tender_notice_87号令第27条() -> None:
    """The modification corrects the tender notice (更正公告, 87号令第27条; 法23): which
    fields it changes there, from the value in force to the new one; none when only the
    documents were clarified."""
    moved = TenderModified(tender_id=TID, modification_id="m1", summary="截止时间顺延",
                           affects_bids=True, modified_at=NOW, previous_deadline=NOW,
                           bid_deadline=NOW + timedelta(days=15), postponed_by_rule=True)
    notice = draft(moved, GOODS, None, NOW)
    assert notice is not None and notice.corrects is NoticeType.TENDER
    assert notice.title == "示例医院设备采购更正公告"  # procurement's name for it
    assert [(c.field, c.before, c.after) for c in notice.changes] == [
        (f, NOW.isoformat(), (NOW + timedelta(days=15)).isoformat())
        for f in ("BID_DOC_REFER_END_TIME", "BID_OPEN_TIME")]
    same = moved.model_copy(update={"bid_deadline": NOW, "postponed_by_rule": False})
    clarified = draft(same, WORKS, None, NOW)
    assert clarified is not None and clarified.changes == ()
    assert clarified.title.endswith("澄清修改公告")


def test_suspension_and_resumption_notices_never_name_the_objector_tiaoli22() -> None:
    """条例22: the suspension is public (暂停公告) and so is the resumption with its deadline
    (恢复公告); the objection itself, which names its objector, is no notice."""
    objector = new_uscc()
    filed = TenderObjectionFiled(tender_id=TID, objection_id="o1", objector_uscc=objector,
                                 text="排斥潜在投标人", filed_at=NOW, answer_due=NOW,
                                 suspends=True, article="实施条例第22条")
    assert draft(filed, WORKS, None, NOW) is None
    suspended = draft(TenderSuspended(tender_id=TID, reason="objection", reference="o1",
                                      suspended_at=NOW, article="实施条例第22条"),
                      WORKS, None, NOW)
    resumed = draft(TenderResumed(tender_id=TID, resumed_at=NOW + timedelta(days=2),
                                  suspended_at=NOW, previous_deadline=NOW + timedelta(days=12),
                                  bid_deadline=NOW + timedelta(days=14),
                                  article="实施条例第22条"), WORKS, None, NOW)
    assert suspended is not None and suspended.notice_type == NoticeType.SUSPENSION
    assert suspended.title.endswith("暂停公告") and "暂停" in suspended.content[
        "SUSPEND_REASON_TEXT"]
    assert resumed is not None and resumed.notice_type == NoticeType.RESUMPTION
    assert resumed.content["BID_OPEN_TIME"] == (NOW + timedelta(days=14)).isoformat()
    assert objector not in str(suspended.content) + str(resumed.content)


def test_opening_record_names_bidders_with_exact_prices_in_yuan() -> None:
    """20号令: at the opening, bidders' names and prices are published."""
    bidder = new_uscc()
    event = BidsOpened(tender_id=TID, section_code=SEC, opened_at=NOW, lines=[
        BidderLine(bid_id="b", bidder_uscc=bidder, bidder_name="甲", price_fen=100050,
                   status="valid"),
        BidderLine(bid_id="c", bidder_uscc=new_uscc(), bidder_name="乙", price_fen=None,
                   status="revoked")])
    notice = draft(event, WORKS, None, NOW)
    assert notice is not None and notice.notice_type == NoticeType.OPENING
    assert notice.title == "示例学校教学楼工程开标记录"
    first, second = notice.content["BID_OPEN_RECORDS"]
    assert first == {"BIDDER_NAME": "甲", "BIDDER_CODE": bidder, "BID_PRICE": "1000.50",
                     "PRICE_UNIT": "元", "CURRENCY_CODE": "156", "BID_STATUS": "valid"}
    assert second["BID_PRICE"] is None and second["BID_STATUS"] == "revoked"
    assert "bid_id" not in str(notice.content)


def test_candidates_are_publicised_for_three_days_with_how_to_object() -> None:
    """条例54: candidates publicised for at least 3 days; objections during the period."""
    event = EvaluationCompleted(tender_id=TID, section_code=SEC, reported_at=NOW,
                                method="lowest_evaluated_price",
                                candidates=[_candidate(2, "乙"), _candidate(1, "甲")])
    notice = draft(event, WORKS, RULES[Category.CONSTRUCTION], NOW)
    assert notice is not None and notice.publicity_end == NOW + timedelta(days=3)
    c = notice.content
    assert [x["BIDDER_NAME"] for x in c["WIN_CANDIDATES"]] == ["甲", "乙"]
    assert c["WIN_CANDIDATES"][0]["SCORE"] == "95.50"
    assert c["PUBLICITY_START_TIME"] == NOW.isoformat()
    assert c["PUBLICITY_END_TIME"] == (NOW + timedelta(days=3)).isoformat()
    assert "第54条" in c["PUBLICITY_BASIS"] and "异议" in c["OBJECTION_METHOD"]


def test_candidates_cannot_be_publicised_without_a_configured_period() -> None:
    event = EvaluationCompleted(tender_id=TID, section_code=SEC, reported_at=NOW,
                                method="lowest_evaluated_price", candidates=[_candidate()])
    with pytest.raises(DomainError) as err:
        draft(event, TenderFacts("x", Category.LAND, "440300"), None, NOW)
    assert err.value.code == "category_without_rules"


def test_result_names_the_winner_and_the_committee_from_the_award() -> None:
    """法37: committee names stay secret until the award; 政采条例43 publishes them then."""
    winner = _candidate()
    event = Awarded(tender_id=TID, section_code=SEC, winner=winner, awarded_at=NOW,
                    contract_due=NOW + timedelta(days=30), committee=["王五", "赵六"],
                    draw_seed="s" * 64)
    notice = draft(event, WORKS, RULES[Category.CONSTRUCTION], NOW)
    assert notice is not None and notice.notice_type == NoticeType.RESULT
    assert notice.content["WIN_BIDDER_NAME"] == "甲建设公司"
    assert notice.content["WIN_BID_PRICE"] == "123456.78"
    assert notice.content["EXPERT_NAMES"] == ["王五", "赵六"]
    assert "s" * 64 not in str(notice.content)  # the seed is bidding's to show, not a notice's


def test_procurement_result_is_due_within_two_working_days_of_the_award() -> None:
    """政采条例43: the result is announced within 2 working days (weekends do not count)."""
    friday = datetime(2026, 3, 6, 17, tzinfo=UTC)
    event = Awarded(tender_id=TID, section_code=SEC, winner=_candidate(), awarded_at=friday,
                    contract_due=friday + timedelta(days=30), committee=["王五"], draw_seed="x")
    notice = draft(event, GOODS, RULES[Category.PROCUREMENT], friday + timedelta(days=4))
    assert notice is not None and notice.title == "示例医院设备采购中标（成交）结果公告"
    assert notice.content["ANNOUNCEMENT_DUE_TIME"] == datetime(2026, 3, 10, 17,
                                                               tzinfo=UTC).isoformat()
    assert notice.content["ANNOUNCED_ON_TIME"] is True
    assert "第43条" in notice.content["ANNOUNCEMENT_BASIS"]


def test_contract_notice_names_the_winner_known_from_the_award() -> None:
    uscc = new_uscc()
    facts = TenderFacts(WORKS.project_name, Category.CONSTRUCTION, "440300",
                        {SEC: {"name": "甲建设公司", "code": uscc}})
    event = ContractSigned(tender_id=TID, section_code=SEC, winner_uscc=uscc,
                           price_fen=9_050_000_00, signed_at=NOW)
    notice = draft(event, facts, None, NOW)
    assert notice is not None and notice.notice_type == NoticeType.CONTRACT
    assert notice.content["WIN_BIDDER_NAME"] == "甲建设公司"
    assert notice.content["CONTRACT_AMOUNT"] == "9050000.00"


def test_failure_notice_gives_the_reason_and_its_article() -> None:
    """条例44: fewer than 3 bidders, no opening; the tender is re-tendered (流标)."""
    event = TenderFailed(tender_id=TID, section_code=SEC, reason="fewer_than_minimum_bids",
                         article="招标投标法实施条例第44条", valid_bids=2)
    notice = draft(event, WORKS, None, NOW)
    assert notice is not None and notice.notice_type == NoticeType.FAILURE
    assert notice.content["LEGAL_BASIS"] == "招标投标法实施条例第44条"
    assert "少于3个" in notice.content["FAILURE_REASON_TEXT"]
    assert notice.content["VALID_BID_COUNT"] == 2


def test_notice_id_is_derived_from_the_source_event() -> None:
    eid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert notice_id(TID, NoticeType.OPENING, SEC, eid) == notice_id(
        TID, NoticeType.OPENING, SEC, eid) == f"{TID}:opening:{SEC}:0f8fad5bd9cb"
    assert notice_id(TID, NoticeType.TENDER, None, eid).startswith(f"{TID}:tender:-:")


def test_search_text_holds_the_title_and_the_values_not_the_field_names() -> None:
    text = domain.searchable(domain.Draft(NoticeType.RESULT, SEC, "某工程中标结果公告",
                                          {"WIN_BIDDER_NAME": "甲建设公司", "X": [1, None]}))
    assert "某工程中标结果公告" in text and "甲建设公司" in text
    assert "WIN_BIDDER_NAME" not in text and "None" not in text


# rules -------------------------------------------------------------------------------
def test_publicity_periods_come_from_the_rules_file_with_their_article() -> None:
    """条例54: at least 3 days; 政采条例43: a procurement result stands 1 working day."""
    assert RULES[Category.CONSTRUCTION].publicity.value == 3
    assert RULES[Category.CONSTRUCTION].publicity.unit == "days"
    assert "第54条" in RULES[Category.CONSTRUCTION].publicity.source
    assert RULES[Category.PROCUREMENT].publicity.unit == "working_days"
    assert "第43条" in RULES[Category.PROCUREMENT].publicity.source


def test_a_platform_rule_file_can_shorten_the_period_for_demos_and_tests() -> None:
    rules = load_rules(Path("deploy/rules-demo.yaml"))
    assert rules[Category.CONSTRUCTION].publicity.unit == "seconds"


def test_working_days_skip_weekends_and_holidays_and_count_adjusted_weekends() -> None:
    cal = Calendar(holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
                   working_weekends=frozenset({date(2026, 10, 10)}))
    one = Period(1, "working_days", "x", cal)
    assert one.end(datetime(2026, 3, 6, 9, tzinfo=UTC)).date() == date(2026, 3, 9)  # Fri->Mon
    assert one.end(datetime(2026, 9, 30, 9, tzinfo=UTC)).date() == date(2026, 10, 5)
    assert one.end(datetime(2026, 10, 9, 9, tzinfo=UTC)).date() == date(2026, 10, 10)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
       st.integers(min_value=1, max_value=15))
def test_a_working_day_period_ends_on_a_working_day_after_exactly_n_of_them(
        start: datetime, n: int) -> None:
    end = Period(n, "working_days", "x").end(start)
    days = [start.date() + timedelta(d) for d in range(1, (end.date() - start.date()).days + 1)]
    assert end.weekday() < 5 and sum(d.weekday() < 5 for d in days) == n


# publicity and objections (条例54) ----------------------------------------------------
def test_an_objection_is_taken_only_during_the_publicity_period() -> None:
    """条例54: objections to the evaluation result are raised during the publicity."""
    sets = domain.file_objection(_notice(), "o1", "B", "评分有误", _ms(NOW), None)
    assert sets["objections.o1"]["status"] == "pending"
    after = _ms(NOW + timedelta(days=3, seconds=1))
    for state, at in ((_notice(), after), (_notice(publicity_status=domain.ENDED), _ms(NOW))):
        with pytest.raises(DomainError) as err:
            domain.file_objection(state, "o2", "B", "晚了", at, None)
        assert err.value.code == "publicity_ended"
    with pytest.raises(DomainError) as err:
        domain.file_objection({"publicity_status": domain.NO_PUBLICITY}, "o3", "B", "x", 0, None)
    assert err.value.code == "no_publicity"


def test_the_period_does_not_end_while_an_objection_awaits_its_answer() -> None:
    """条例54: before the answer, the tendering activities are paused (no award)."""
    pending = _notice(objections={"o1": {"status": "pending"}})
    assert domain.end_of_period(pending) == {"publicity_status": domain.AWAITING_DECISION}
    assert domain.end_of_period(_notice()) == {"publicity_status": domain.ENDED}
    assert domain.end_of_period(_notice(publicity_status=domain.ENDED)) == {}


def test_deciding_the_last_pending_objection_after_the_period_ends_the_publicity() -> None:
    waiting = _notice(publicity_status=domain.AWAITING_DECISION,
                      objections={"o1": {"status": "pending"}})
    late = _ms(NOW + timedelta(days=4))
    sets = domain.decide_objection(waiting, "o1", True, "sup", late)
    assert sets["publicity_status"] == domain.ENDED and domain.upheld(waiting, sets)
    early = domain.decide_objection(_notice(objections={"o1": {"status": "pending"}}), "o1",
                                    False, "sup", _ms(NOW))
    assert "publicity_status" not in early and not domain.upheld(_notice(), early)


def test_an_objection_is_decided_once() -> None:
    decided = _notice(objections={"o1": {"status": "dismissed"}})
    with pytest.raises(Conflict):
        domain.decide_objection(decided, "o1", True, "sup", _ms(NOW))
    with pytest.raises(NotFound):
        domain.decide_objection(decided, "nope", True, "sup", _ms(NOW))


def test_a_pending_objection_is_marked_overdue_once_at_its_due_time_article_54() -> None:
    """条例54: 3日内作出答复. Marked once, only when still pending and due; the publicity's
    status stays (the award waits for the answer)."""
    due = _ms(NOW + timedelta(days=3))
    pending = _notice(objections={"o1": {"status": "pending", "answer_due_ms": due}})
    assert domain.objection_overdue(pending, "o1", due - 1) == {}
    assert domain.objection_overdue(pending, "o1", due) == {"objections.o1.overdue_ms": due}
    marked = _notice(objections={"o1": {"status": "pending", "answer_due_ms": due,
                                        "overdue_ms": due}})
    assert domain.objection_overdue(marked, "o1", due + 5) == {}
    decided = _notice(objections={"o1": {"status": "dismissed", "answer_due_ms": due}})
    assert domain.objection_overdue(decided, "o1", due + 5) == {}
    assert domain.objection_overdue(pending, "nope", due + 5) == {}
    no_due = _notice(objections={"o1": {"status": "pending", "answer_due_ms": None}})
    assert domain.objection_overdue(no_due, "o1", due + 5) == {}

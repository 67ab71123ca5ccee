"""Complaints to the supervising department (投诉): the time to file and its steps.
Pure logic of services/credit/domain/complaints.py, on the shipped rules.yaml."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.categories import Category
from contracts.credit import ComplaintMatter
from ggzy.runtime.errors import Conflict, DomainError
from services.credit.domain import complaints as c
from services.credit.domain.rules import load

RULES = load()
CAL = RULES.calendar
CONSTRUCTION = RULES.complaints_of(Category.CONSTRUCTION)
PROCUREMENT = RULES.complaints_of(Category.PROCUREMENT)
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


def test_construction_allows_10_days_from_knowing_article_60() -> None:
    """条例60: 自知道或者应当知道之日起10日内 (the day known not counted)."""
    known = TODAY - timedelta(days=10)
    c.check_filing(CONSTRUCTION, CAL, ComplaintMatter.OTHER, known, None, TODAY)
    with pytest.raises(DomainError) as exc:
        c.check_filing(CONSTRUCTION, CAL, ComplaintMatter.OTHER, known - timedelta(days=1),
                       None, TODAY)
    assert _code(exc) == "complaint_too_late"
    assert exc.value.details["last_day"] == (TODAY - timedelta(days=1)).isoformat()


@pytest.mark.parametrize("matter", ["tender_documents", "opening", "evaluation_result"])
def test_matters_of_articles_22_44_54_need_an_objection_first(matter: str) -> None:
    """条例60 second paragraph."""
    with pytest.raises(DomainError) as exc:
        c.check_filing(CONSTRUCTION, CAL, ComplaintMatter(matter), TODAY, None, TODAY)
    assert _code(exc) == "objection_first"


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=30))
def test_the_objection_wait_is_not_counted_article_60(before: int, waited: int) -> None:
    """The last day moves by exactly the days the objection waited for its answer."""
    known = date(2026, 3, 2)
    filed = known + timedelta(days=before)
    objection = c.Objection("O", filed, filed + timedelta(days=waited))
    assert c.last_filing_day(CONSTRUCTION, CAL, known, objection) \
        == known + timedelta(days=10 + waited)


def test_procurement_counts_15_working_days_from_the_answer_law_55() -> None:
    """政府采购法55: 15 working days after the answer; National Day holidays (1-7 October
    2026, contracts/calendar.yaml) and weekends do not count, the adjusted Saturday does."""
    answered = date(2026, 9, 30)
    last = c.last_filing_day(PROCUREMENT, CAL, answered, c.Objection("Q", answered, answered))
    assert CAL.working_days_between(answered + timedelta(days=1), last) == 15
    assert last == date(2026, 10, 27)  # 8, 9, 10 (Sat), 12-16, 19-23, 26, 27 October
    with pytest.raises(DomainError) as exc:
        c.last_filing_day(PROCUREMENT, CAL, answered, None)
    assert _code(exc) == "objection_answer_required"


def test_procurement_needs_its_question_first_for_every_matter() -> None:
    """政府采购法52, 55: 先质疑后投诉."""
    with pytest.raises(DomainError) as exc:
        c.check_filing(PROCUREMENT, CAL, ComplaintMatter.OTHER, TODAY, None, TODAY)
    assert _code(exc) == "objection_first"


def test_dates_after_today_are_refused() -> None:
    with pytest.raises(DomainError) as exc:
        c.check_filing(CONSTRUCTION, CAL, ComplaintMatter.OTHER, TODAY + timedelta(days=1),
                       None, TODAY)
    assert _code(exc) == "known_on_in_future"
    with pytest.raises(DomainError) as exc:
        c.check_filing(CONSTRUCTION, CAL, ComplaintMatter.OPENING, TODAY,
                       c.Objection("O", TODAY, TODAY - timedelta(days=1)), TODAY)
    assert _code(exc) == "objection_answered_before_filed"


def _filed(**body: object) -> dict[str, object]:
    state, event = c.filed("CP-1", {"tender_id": "T", "matter": "other", "facts": "f" * 10,
                                    "known_on": TODAY, "respondent_uscc": None, **body},
                           "construction", "91110108551385082Q", CONSTRUCTION, CAL, NOW)
    assert event.acceptance_due == datetime(2026, 11, 25, 10, tzinfo=UTC)  # 3 working days
    return state


def _apply(state: dict[str, object], change: c.Change) -> dict[str, object]:
    return {**state, **change.set}


def test_steps_run_filed_accepted_decided_once_each_article_61() -> None:
    state = _filed(respondent_uscc="914403001922038216")
    with pytest.raises(Conflict) as exc:
        c.decide(state, True, "D1", "r", False, "sup", NOW)
    assert exc.value.code == "complaint_not_accepted"
    accepted = c.accept(state, True, "", "sup", CONSTRUCTION, CAL, NOW)
    [event] = accepted.events
    assert event.event.decision_due == CAL.add_working_days(NOW, 30)  # type: ignore[attr-defined]
    state = _apply(state, accepted)
    assert c.accept(state, True, "", "sup", CONSTRUCTION, CAL, NOW).events == []
    with pytest.raises(Conflict):
        c.accept(state, False, "no", "sup", CONSTRUCTION, CAL, NOW)
    state = _apply(state, c.decide(state, True, "D1", "成立", False, "sup", NOW))
    assert c.decide(state, True, "D1", "成立", False, "sup", NOW).events == []
    [(uscc, record)] = c.records_of(state)
    assert uscc == "914403001922038216" and record.kind == "complaint_upheld"
    assert record.record_id == "complaint:CP-1"


def test_a_false_complaint_is_recorded_on_the_complainant_and_cannot_be_upheld() -> None:
    state = _apply(_filed(), c.accept(_filed(), True, "", "sup", CONSTRUCTION, CAL, NOW))
    with pytest.raises(DomainError) as exc:
        c.decide(state, True, "D2", "x", True, "sup", NOW)
    assert _code(exc) == "false_complaint_upheld"
    state = _apply(state, c.decide(state, False, "D2", "伪造", True, "sup", NOW))
    [(uscc, record)] = c.records_of(state)
    assert uscc == "91110108551385082Q" and record.kind == "false_complaint"
    dismissed = _apply(_filed(), c.accept(_filed(), True, "", "sup", CONSTRUCTION, CAL, NOW))
    dismissed = _apply(dismissed, c.decide(dismissed, False, "D3", "不成立", False, "sup", NOW))
    assert c.records_of(dismissed) == []


def test_categories_without_complaint_rules_are_refused_by_name() -> None:
    with pytest.raises(DomainError) as exc:
        RULES.complaints_of(Category.LAND)
    assert _code(exc) == "category_without_rules"


def test_an_accepted_complaints_handling_may_suspend_the_tender_article_62() -> None:
    """条例62: 必要时，行政监督部门可以责令暂停招标投标活动 (construction: no limit); only
    while the complaint is handled, once; the decision lifts it."""
    state = _filed()
    with pytest.raises(Conflict) as early:
        c.order_suspension(state, "需调查", "sup", CONSTRUCTION, CAL, NOW)
    assert early.value.code == "complaint_not_accepted"
    state = _apply(state, c.accept(state, True, "", "sup", CONSTRUCTION, CAL, NOW))
    ordered = c.order_suspension(state, "需调查", "sup", CONSTRUCTION, CAL, NOW)
    [event] = [out.event for out in ordered.events]
    assert isinstance(event, c.TenderSuspensionOrdered) and event.until is None
    assert "第62条" in event.article and event.tender_id == "T"
    state = _apply(state, ordered)
    assert c.order_suspension(state, "again", "sup", CONSTRUCTION, CAL, NOW).events == []
    decided = c.decide(state, False, "X号", "不成立", False, "sup", NOW)
    assert [type(out.event).__name__ for out in decided.events] == [
        "ComplaintDecided", "TenderSuspensionLifted"]
    assert decided.events[1].event.cause == "decided"  # type: ignore[attr-defined]


def test_a_procurement_suspension_lasts_at_most_30_days_law_57() -> None:
    """政府采购法57: 暂停时间最长不得超过三十日; the supervisor may lift it earlier."""
    state = _filed()
    state = _apply(state, c.accept(state, True, "", "sup", PROCUREMENT, CAL, NOW))
    ordered = c.order_suspension(state, "需调查", "sup", PROCUREMENT, CAL, NOW)
    [event] = [out.event for out in ordered.events]
    assert event.until == NOW + timedelta(days=30)  # type: ignore[attr-defined]
    assert "第57条" in event.article  # type: ignore[attr-defined]
    state = _apply(state, ordered)
    lifted = c.lift_suspension(state, "sup", NOW + timedelta(days=3))
    assert lifted.events[0].event.cause == "lifted"  # type: ignore[attr-defined]
    state = {**state, "suspension": {**state["suspension"],  # type: ignore[dict-item]
                                     "lifted_at": (NOW + timedelta(days=3)).isoformat()}}
    with pytest.raises(Conflict) as again:
        c.lift_suspension(state, "sup", NOW + timedelta(days=4))
    assert again.value.code == "not_suspended"
    assert [type(out.event).__name__ for out in c.decide(
        state, True, "Y号", "成立", False, "sup", NOW).events] == ["ComplaintDecided"]


def test_an_unanswered_objection_counts_from_its_due_day_law_55_article_60() -> None:
    """政府采购法55: 未在规定的时间内作出答复的，可以在答复期满后十五个工作日内投诉; 条例60:
    the answer's period (to its due day) is not counted."""
    filed, due = date(2026, 11, 2), date(2026, 11, 11)
    unanswered = c.Objection("Q", filed, None, due)
    last = c.last_filing_day(PROCUREMENT, CAL, filed, unanswered)
    assert CAL.working_days_between(due + timedelta(days=1), last) == 15
    with pytest.raises(DomainError) as exc:  # neither answered nor overdue yet
        c.last_filing_day(PROCUREMENT, CAL, filed, c.Objection("Q", filed, None))
    assert _code(exc) == "objection_answer_required"
    known = date(2026, 11, 1)
    assert c.last_filing_day(CONSTRUCTION, CAL, known, c.Objection("O", filed, None, due)) \
        == known + timedelta(days=10 + (due - filed).days)

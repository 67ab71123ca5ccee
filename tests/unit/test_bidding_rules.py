"""Tender rules as data, each citing its article (../shared/RULES.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from contracts.categories import Category
from ggzy.runtime.errors import DomainError
from services.bidding.domain.rules import RULES_FILE, load
from services.bidding.domain.timeline import (
    RuleViolation,
    TimelineInvalid,
    committee_shape,
    deadline_after_modification,
    validate_deposit,
    validate_invitations,
    validate_timeline,
)

BOOK = load()
CONSTRUCTION = BOOK.for_category(Category.CONSTRUCTION)
PROCUREMENT = BOOK.for_category(Category.PROCUREMENT)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
BUDGET = 500_000_000  # 5,000,000 yuan: above the open-tender threshold (政采条例38)


def test_refuses_deadline_less_than_20_days_after_issue() -> None:
    """招标投标法第24条: at least 20 days from issue to the bid deadline."""
    with pytest.raises(TimelineInvalid) as err:
        validate_timeline(CONSTRUCTION, BOOK.calendar, issued_at=T0, sale_start=T0,
                          sale_end=T0 + timedelta(days=6), bid_deadline=T0 + timedelta(days=19),
                          budget_fen=BUDGET)
    assert err.value.code == "deadline_too_early"
    assert "第24条" in err.value.details["violations"][0]["article"]
    validate_timeline(CONSTRUCTION, BOOK.calendar, issued_at=T0, sale_start=T0,
                      sale_end=T0 + timedelta(days=6), bid_deadline=T0 + timedelta(days=20),
                      budget_fen=BUDGET)


def test_procurement_sale_period_counts_working_days() -> None:
    """政府采购法实施条例第31条: documents on sale for at least 5 working days."""
    friday = T0 + timedelta(days=4)
    with pytest.raises(TimelineInvalid) as err:  # Fri..Wed = 4 working days
        validate_timeline(PROCUREMENT, BOOK.calendar, issued_at=friday, sale_start=friday,
                          sale_end=friday + timedelta(days=5), bid_deadline=T0 + timedelta(30),
                          budget_fen=BUDGET)
    assert err.value.code == "sale_period_too_short"
    validate_timeline(PROCUREMENT, BOOK.calendar, issued_at=friday, sale_start=friday,
                      sale_end=friday + timedelta(days=6), bid_deadline=T0 + timedelta(30),
                      budget_fen=BUDGET)


def test_holidays_do_not_count_as_working_days() -> None:
    assert not BOOK.calendar.is_working_day(date(2026, 10, 1))
    assert BOOK.calendar.is_working_day(date(2026, 10, 10))  # an adjusted Saturday (调休)


def test_every_violation_is_reported_at_once() -> None:
    with pytest.raises(TimelineInvalid) as err:
        validate_timeline(CONSTRUCTION, BOOK.calendar, issued_at=T0, sale_start=T0,
                          sale_end=T0 + timedelta(days=2), bid_deadline=T0 + timedelta(days=1),
                          budget_fen=BUDGET)
    codes = {v["code"] for v in err.value.details["violations"]}
    assert codes == {"deadline_too_early", "sale_period_too_short", "sale_after_deadline"}


def test_modification_10_days_before_deadline_postpones_deadline() -> None:
    """招标投标法第23条; 实施条例第21条: 15 days' notice, else the deadline moves."""
    deadline = T0 + timedelta(days=30)
    modified = deadline - timedelta(days=10)
    assert deadline_after_modification(CONSTRUCTION, modified_at=modified, deadline=deadline,
                                       affects_bids=True) == modified + timedelta(days=15)
    assert deadline_after_modification(CONSTRUCTION, modified_at=modified, deadline=deadline,
                                       affects_bids=False) == deadline


@given(st.integers(min_value=0, max_value=40 * 24 * 3600 - 1))
def test_postponed_deadline_always_leaves_the_required_notice(seconds_before: int) -> None:
    deadline = T0 + timedelta(days=40)
    modified = deadline - timedelta(seconds=seconds_before + 1)
    new = deadline_after_modification(CONSTRUCTION, modified_at=modified, deadline=deadline,
                                      affects_bids=True)
    assert new >= deadline and new - modified >= timedelta(days=15)


def test_modification_after_the_deadline_is_refused() -> None:
    with pytest.raises(RuleViolation):
        deadline_after_modification(CONSTRUCTION, modified_at=T0, deadline=T0,
                                    affects_bids=False)


def test_deposit_over_two_percent_is_refused() -> None:
    """实施条例第26条: a bid deposit of at most 2% of the estimated price."""
    validate_deposit(CONSTRUCTION, 1_000_000_00, 2_000_000)
    with pytest.raises(RuleViolation) as err:
        validate_deposit(CONSTRUCTION, 1_000_000_00, 2_000_001)
    assert err.value.code == "deposit_over_cap" and err.value.details["cap_fen"] == 2_000_000


def test_committee_is_odd_at_least_five_and_seven_for_large_procurement() -> None:
    """招标投标法第37条; 87号令第47条 (large budgets, unverified default)."""
    committee_shape(CONSTRUCTION, 10**12, 5, 5)
    for size in (4, 6):
        with pytest.raises(RuleViolation):
            committee_shape(CONSTRUCTION, 10**6, size, size)
    with pytest.raises(RuleViolation) as err:
        committee_shape(PROCUREMENT, 10_000_000_00, 5, 5)
    assert err.value.code == "committee_size"
    with pytest.raises(RuleViolation) as share:
        committee_shape(CONSTRUCTION, 10**6, 5, 3)
    assert share.value.code == "committee_expert_share"
    committee_shape(CONSTRUCTION, 10**6, 9, 6)  # exactly two thirds is lawful


def test_a_category_without_rules_is_refused_specifically() -> None:
    with pytest.raises(DomainError) as err:
        BOOK.for_category(Category.MEDICAL)
    assert err.value.code == "category_without_rules"


# procurement methods (政府采购法26) and what each changes ------------------------------
def test_construction_is_tendered_openly_or_by_invitation_only_law_10() -> None:
    """招标投标法第10条: 招标分为公开招标和邀请招标; a procurement method is refused."""
    invited = BOOK.for_tender(Category.CONSTRUCTION, "invited_tender")
    assert invited == CONSTRUCTION.model_copy(update={"invitation_list": invited.invitation_list})
    assert invited.invitation_list.n == 2  # only what the method names changes: its list
    with pytest.raises(DomainError) as err:
        BOOK.for_tender(Category.CONSTRUCTION, "inquiry")
    assert err.value.code == "method_not_allowed"
    assert "第10条" in err.value.details["article"]
    assert err.value.details["allowed"] == ["invited_tender", "open_tender"]


def test_competitive_consultation_needs_10_days_not_20() -> None:
    """财库〔2014〕214号第10条: 10 days from the documents to the first response."""
    rules = BOOK.for_tender(Category.PROCUREMENT, "competitive_consultation")
    assert rules.documents_to_deadline.n == 10 and "214号" in rules.documents_to_deadline.source
    timeline = {"issued_at": T0, "sale_start": T0, "sale_end": T0 + timedelta(days=7),
                "bid_deadline": T0 + timedelta(days=12)}
    validate_timeline(rules, BOOK.calendar, budget_fen=BUDGET, **timeline)
    with pytest.raises(TimelineInvalid) as err:  # an open tender needs 20 (政府采购法35)
        validate_timeline(BOOK.for_tender(Category.PROCUREMENT, "open_tender"), BOOK.calendar,
                          **timeline, budget_fen=BUDGET)
    assert err.value.code == "deadline_too_early"


def test_inquiry_is_one_unchangeable_price_and_the_lowest_wins_law_40() -> None:
    rules = BOOK.for_tender(Category.PROCUREMENT, "inquiry")
    assert rules.one_price.value == 1 and "第40条" in rules.one_price.source
    assert rules.lowest_price_only.value == 1
    assert PROCUREMENT.one_price.value == 0  # an open tender's bid may change (87号令)
    assert rules.minimum_bidders == PROCUREMENT.minimum_bidders  # unchanged rules stay


def test_suppliers_need_three_clean_years_and_bidders_under_the_tender_law_none() -> None:
    """政府采购法第22条(五); 政府采购法实施条例第19条; 评标委员会和评标方法暂行规定12(四)."""
    assert PROCUREMENT.clean_record_years.value == 3
    assert "第22条" in PROCUREMENT.clean_record_years.source
    assert BOOK.for_tender(Category.CONSTRUCTION, "open_tender").clean_record_years.value == 0
    for category in (Category.CONSTRUCTION, Category.PROCUREMENT):
        rule = BOOK.for_tender(category, "open_tender").expert_penalty_recusal
        assert rule.value == 1 and rule.source


def test_single_source_opens_with_its_one_supplier_after_5_working_days() -> None:
    """政府采购法第39条; 政府采购法实施条例第38条: publicised >= 5 working days."""
    rules = BOOK.for_tender(Category.PROCUREMENT, "single_source")
    assert rules.minimum_bidders.n == 1
    friday = T0 + timedelta(days=4)
    with pytest.raises(TimelineInvalid):  # Fri + 5 calendar days is 3 working days
        validate_timeline(rules, BOOK.calendar, issued_at=friday, sale_start=friday,
                          sale_end=friday + timedelta(hours=1),
                          bid_deadline=friday + timedelta(days=5), budget_fen=BUDGET)
    validate_timeline(rules, BOOK.calendar, issued_at=friday, sale_start=friday,
                      sale_end=friday + timedelta(hours=1),
                      bid_deadline=friday + timedelta(days=7), budget_fen=BUDGET)



def test_single_source_below_the_open_tender_threshold_has_no_publicity_政采条例38() -> None:
    """政府采购法实施条例第38条: the 5 working days' publicity binds a single source whose
    budget reaches the open-tender threshold (4,000,000 yuan here, configurable); below it
    the supplier may respond at once. Other methods keep their period whatever the budget."""
    rules = BOOK.for_tender(Category.PROCUREMENT, "single_source")
    assert rules.documents_to_deadline_from_fen.value == 400_000_000
    assert "第38条" in rules.documents_to_deadline_from_fen.source
    friday = T0 + timedelta(days=4)
    soon = {"issued_at": friday, "sale_start": friday, "sale_end": friday + timedelta(hours=1),
            "bid_deadline": friday + timedelta(days=1)}
    validate_timeline(rules, BOOK.calendar, budget_fen=399_999_999, **soon)
    with pytest.raises(TimelineInvalid) as err:
        validate_timeline(rules, BOOK.calendar, budget_fen=400_000_000, **soon)
    assert err.value.code == "deadline_too_early"
    open_tender = BOOK.for_tender(Category.PROCUREMENT, "open_tender")
    assert open_tender.documents_to_deadline_from_fen.value == 0
    with pytest.raises(TimelineInvalid):
        validate_timeline(open_tender, BOOK.calendar, budget_fen=1, **{
            **soon, "sale_end": friday + timedelta(days=8)})


def test_a_method_rule_naming_no_tender_rule_is_refused_when_loaded(tmp_path: Path) -> None:
    raw = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    raw["procurement"]["methods"]["rules"]["inquiry"]["single_price"] = \
        raw["procurement"]["one_price"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    with pytest.raises(ValueError, match="single_price"):
        load(path)


# who may bid: the invitation list (法16, 17; 政府采购法29, 31, 38, 40) ---------------------
INVITEES = ["91440300MA5F0000X1", "91440300MA5F0000X2", "91440300MA5F0000X3"]
OWNERS = {"TENDEREE", None}


def test_an_invited_tender_names_at_least_three_invitees_fa17() -> None:
    invited = BOOK.for_tender(Category.CONSTRUCTION, "invited_tender")
    with pytest.raises(RuleViolation) as none:
        validate_invitations(invited, [], OWNERS)
    assert none.value.code == "invitation_required" and "第17条" in none.value.article
    with pytest.raises(RuleViolation) as two:
        validate_invitations(invited, INVITEES[:2], OWNERS)
    assert two.value.code == "too_few_invitees" and "第17条" in two.value.article
    assert two.value.details["minimum"] == 3
    validate_invitations(invited, INVITEES, OWNERS)
    with pytest.raises(DomainError) as again:
        validate_invitations(invited, [*INVITEES, INVITEES[0]], OWNERS)
    assert again.value.code == "invitee_repeated"
    with pytest.raises(DomainError) as own:
        validate_invitations(invited, [*INVITEES, "TENDEREE"], OWNERS)
    assert own.value.code == "invitee_is_owner"


def test_an_open_tender_takes_no_list_and_some_methods_may_take_one() -> None:
    """法16: an open tender invites anyone; an inquiry (政府采购法40) may name its suppliers
    or invite by notice (74号令12); single source names its one supplier (第31条)."""
    with pytest.raises(RuleViolation) as open_list:
        validate_invitations(CONSTRUCTION, INVITEES, OWNERS)
    assert open_list.value.code == "invitation_not_allowed" and "第16条" in open_list.value.article
    validate_invitations(CONSTRUCTION, [], OWNERS)
    inquiry = BOOK.for_tender(Category.PROCUREMENT, "inquiry")
    validate_invitations(inquiry, [], OWNERS)
    validate_invitations(inquiry, INVITEES, OWNERS)
    with pytest.raises(RuleViolation):
        validate_invitations(inquiry, INVITEES[:2], OWNERS)
    single = BOOK.for_tender(Category.PROCUREMENT, "single_source")
    validate_invitations(single, INVITEES[:1], OWNERS)
    with pytest.raises(RuleViolation) as unnamed:
        validate_invitations(single, [], OWNERS)
    assert unnamed.value.code == "invitation_required"


def test_a_bid_from_outside_the_invitation_list_is_refused() -> None:
    from ggzy.runtime.errors import Forbidden
    from services.bidding.domain import tender

    invited = BOOK.for_tender(Category.CONSTRUCTION, "invited_tender")
    tender.refuse_uninvited({"invited": INVITEES}, INVITEES[1], invited)
    tender.refuse_uninvited({"invited": []}, "ANYONE", CONSTRUCTION)  # open: anyone
    with pytest.raises(Forbidden) as refused:
        tender.refuse_uninvited({"invited": INVITEES}, "ANYONE", invited)
    assert refused.value.code == "not_invited" and "第17条" in refused.value.details["article"]

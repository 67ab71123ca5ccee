"""Restrictions whose length the law fixes (条例67第2款: 取消其1年至2年内参加依法必须进行招标的
项目的投标资格; 条例68第2款: 1年至3年; 政府采购法第77条: 在一至三年内禁止参加政府采购活动):
a supervisor naming the basis has the period, the subject and the trade types checked."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.categories import Category
from contracts.credit import SubjectKind
from ggzy.runtime.errors import DomainError
from services.credit.domain.rules import check_basis, load

BASES = load().restriction_bases
C, P = Category.CONSTRUCTION, Category.PROCUREMENT
START = date(2026, 12, 3)


def _check(name: str, end: date, kind: SubjectKind = SubjectKind.ENTITY,
           categories: tuple[Category, ...] = (C,), start: date = START) -> str:
    try:
        check_basis(BASES, name, kind, list(categories), start, end)
    except DomainError as err:
        return err.code
    return "ok"


def test_a_collusion_ban_lasts_one_to_two_years_tiaoli67() -> None:
    assert "第67条" in BASES["bid_collusion"].article
    assert (BASES["bid_collusion"].min_years, BASES["bid_collusion"].max_years) == (1, 2)
    assert _check("bid_collusion", date(2027, 12, 2)) == "ok"  # exactly one year
    assert _check("bid_collusion", date(2028, 12, 2)) == "ok"  # exactly two
    assert _check("bid_collusion", date(2027, 12, 1)) == "restriction_period_out_of_range"
    assert _check("bid_collusion", date(2028, 12, 3)) == "restriction_period_out_of_range"


def test_fraud_and_procurement_misconduct_last_one_to_three_years_tiaoli68_zcf77() -> None:
    assert _check("bid_fraud", date(2029, 12, 2)) == "ok"
    assert _check("bid_fraud", date(2029, 12, 3)) == "restriction_period_out_of_range"
    assert "第77条" in BASES["procurement_misconduct"].article
    assert _check("procurement_misconduct", date(2029, 12, 2), categories=(P,)) == "ok"
    assert _check("procurement_misconduct", date(2029, 12, 2), categories=(P, C)) == \
        "basis_categories"  # 政府采购法77 bans from procurement only
    assert _check("bid_collusion", date(2027, 12, 2), categories=(P,)) == "basis_categories"


def test_a_period_ends_on_the_corresponding_day_or_the_months_last_minfadian202() -> None:
    """民法典第201条, 第202条: a ban decided on 28 February 2028 (its first day the 29th)
    runs a year to 28 February 2029; one whose first day is 1 March 2028 (decided on the
    29th, which 2029 does not have) to the month's last day, 28 February 2029."""
    leap = date(2028, 2, 29)
    assert _check("bid_collusion", date(2029, 2, 28), start=leap) == "ok"
    assert _check("bid_collusion", date(2029, 2, 27), start=leap) == \
        "restriction_period_out_of_range"
    assert _check("bid_collusion", date(2029, 2, 28), start=date(2028, 3, 1)) == "ok"
    assert _check("bid_collusion", date(2029, 2, 27), start=date(2028, 3, 1)) == \
        "restriction_period_out_of_range"


def test_the_refusals_name_the_basis() -> None:
    assert _check("bid_collusion", date(2027, 12, 2), kind=SubjectKind.EXPERT) == \
        "basis_not_for_subject"
    assert _check("no_such_basis", date(2027, 12, 2)) == "unknown_basis"
    with pytest.raises(DomainError) as err:
        check_basis(BASES, "bid_collusion", SubjectKind.ENTITY, [C], START, date(2027, 1, 1))
    assert err.value.details["shortest_end"] == "2027-12-02"
    assert err.value.details["longest_end"] == "2028-12-02"
    assert "第67条" in err.value.details["article"]

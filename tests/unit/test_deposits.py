"""Bid deposits: exact payment (条例26), refunds by the rule's days (条例35, 57)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ggzy.runtime.errors import DomainError
from ggzy.testing.data import new_uscc
from services.bidding.domain import deposits
from services.bidding.domain.rules import load

BOOK = load()
CONSTRUCTION = BOOK.categories[next(iter(BOOK.categories))]
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
RNG = random.Random(26)


def _bid(n: int, amount: int = 20_000_00) -> dict[str, object]:
    return {"_id": f"T:001:{n}", "bidder_uscc": new_uscc(RNG),
            "deposit": {"payer_account": f"6222{n:08d}", "amount_fen": amount}}


def test_a_section_with_a_deposit_refuses_a_bid_without_one_条例26() -> None:
    with pytest.raises(DomainError) as err:
        deposits.check_deposit(20_000_00, None)
    assert err.value.code == "deposit_required"


def test_a_deposit_of_another_amount_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        deposits.check_deposit(20_000_00, {"payer_account": "62220001", "amount_fen": 19_999_99})
    assert err.value.code == "deposit_amount_mismatch"
    assert err.value.details["required_fen"] == 20_000_00


def test_no_deposit_is_needed_where_none_is_asked() -> None:
    deposits.check_deposit(0, None)
    deposits.check_deposit(20_000_00, {"payer_account": "62220001", "amount_fen": 20_000_00})


def test_refunds_fall_due_after_the_rules_days_条例57() -> None:
    items = deposits.refunds(CONSTRUCTION, BOOK.calendar, [_bid(1), _bid(2)], AT)
    assert [i.action for i in items] == ["refund", "refund"]
    assert CONSTRUCTION.deposit_refund.value == 5
    assert all(i.due == AT + timedelta(days=5) for i in items)
    assert items[0].payer_account == "622200000001" and items[0].amount_fen == 20_000_00


def test_a_revoked_bids_deposit_is_withheld_条例35() -> None:
    items = deposits.refunds(CONSTRUCTION, BOOK.calendar, [_bid(1), _bid(2)], AT,
                             revoked=frozenset({"T:001:2"}))
    assert [(i.action, i.due) for i in items] == [("refund", AT + timedelta(days=5)),
                                                  ("withheld", None)]
    assert "第35条" in items[1].article


def test_bids_without_a_deposit_schedule_nothing() -> None:
    items = deposits.refunds(CONSTRUCTION, BOOK.calendar, [{"_id": "x", "bidder_uscc": "y"}], AT)
    assert items == [] and deposits.scheduled("T", "001", "failed", items, AT) == []


def test_a_credit_level_reduction_lowers_what_a_bid_must_pay() -> None:
    """守信激励 (国办发〔2015〕63号): level A pays half the deposit, or anything up to it all."""
    assert deposits.required(20_000_00, 50) == 10_000_00
    assert deposits.required(3, 50) == 1  # rounded down to the fen
    for amount in (10_000_00, 15_000_00, 20_000_00):
        deposits.check_deposit(20_000_00, {"payer_account": "62220001", "amount_fen": amount}, 50)
    for amount in (9_999_99, 20_000_01):
        with pytest.raises(DomainError) as err:
            deposits.check_deposit(20_000_00, {"payer_account": "62220001",
                                               "amount_fen": amount}, 50)
        assert err.value.code == "deposit_amount_mismatch"
        assert (err.value.details["required_fen"], err.value.details["max_fen"]) == (
            10_000_00, 20_000_00)
    with pytest.raises(DomainError) as err:
        deposits.check_deposit(20_000_00, {"payer_account": "62220001", "amount_fen": 10_000_00})
    assert err.value.code == "deposit_amount_mismatch"  # without a reduction: all of it
    deposits.check_deposit(20_000_00, None, 100)  # waived entirely


def test_a_credit_reduction_matters_only_where_a_bid_pays_less_than_the_section_asks() -> None:
    """A reduction lowers the least a bid pays, never the most: a bid paying the whole
    deposit is accepted whatever its bidder's reduction, so the reduction is not read."""
    paid = {"payer_account": "62220001", "amount_fen": 20_000_00}
    assert not deposits.reduction_matters(20_000_00, paid)
    assert not deposits.reduction_matters(0, None)
    assert deposits.reduction_matters(20_000_00, None)
    assert deposits.reduction_matters(20_000_00, {**paid, "amount_fen": 10_000_00})
    assert deposits.reduction_matters(20_000_00, {**paid, "amount_fen": 30_000_00})
    for reduction in (0, 50, 100):  # what skipping the read relies on
        deposits.check_deposit(20_000_00, paid, reduction)
        deposits.check_deposit(0, None, reduction)

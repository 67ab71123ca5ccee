"""When the losers' deposits are refunded: from the award in procurement (政府采购法实施条例
第33条: 中标通知书发出之日起5个工作日内退还未中标供应商的投标保证金), from the contract in
construction (招标投标法实施条例第57条: 书面合同签订后5日内, every deposit)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from contracts.bidding import Candidate, DepositRefund, DepositRefundsScheduled
from contracts.categories import Category
from ggzy.testing.data import new_uscc
from services.bidding.domain import deposits, tender
from services.bidding.domain.rules import load

BOOK = load()
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
TID, SEC = "1124ABCDEFGHIJKLM001", "1124ABCDEFGHIJKLM001001"
RNG = random.Random(33)


def _publicity(category: Category) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    bids = [{"_id": f"b{r}", "bidder_uscc": new_uscc(RNG),
             "deposit": {"payer_account": f"6222{r:08d}", "amount_fen": 10_000_00}}
            for r in range(1, 4)]
    ranked = [Candidate(rank=r, bid_id=f"b{r}", bidder_uscc=bids[r - 1]["bidder_uscc"],
                        bidder_name=f"投标人{r}", price_fen=100_000_00 + r, score=str(90 - r))
              for r in range(1, 4)]
    section = {"status": "publicity", "candidates": [c.model_dump(mode="json") for c in ranked],
               "seed": "s" * 64, "committee": []}
    state: dict[str, Any] = {"tender_id": TID, "category": category.value,
             "section_state": {SEC: section}, "audit": []}
    return state, bids


def _award(category: Category) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    rules = BOOK.for_tender(category, "open_tender")
    state, bids = _publicity(category)

    def losers(winner_bid: str) -> list[DepositRefund]:
        return deposits.refunds(rules, BOOK.calendar,
                                [b for b in bids if b["_id"] != winner_bid], NOW)
    change = tender.award(state, rules, BOOK.calendar, SEC, upheld=False, names=[], now=NOW,
                          losers=losers)
    return change, state, bids


def _scheduled(change: Any) -> list[DepositRefundsScheduled]:
    return [o.event for o in change.events if isinstance(o.event, DepositRefundsScheduled)]


def test_procurement_refunds_the_losers_from_the_award_and_the_winner_from_the_contract(
        ) -> None:
    change, state, bids = _award(Category.PROCUREMENT)
    [at_award] = _scheduled(change)
    assert at_award.trigger == "awarded"
    assert [r.bid_id for r in at_award.refunds] == ["b2", "b3"]  # not the winner's
    assert all("第33条" in r.article and r.due is not None and r.due > NOW
               for r in at_award.refunds)
    assert change.set[f"section_state.{SEC}.refunded_at_award"] == ["b2", "b3"]
    awarded = {**state["section_state"][SEC], "status": "awarded",
               "winner": change.set[f"section_state.{SEC}.winner"],
               "refunded_at_award": ["b2", "b3"]}
    rules = BOOK.for_tender(Category.PROCUREMENT, "open_tender")
    every = deposits.refunds(rules, BOOK.calendar, bids, NOW)
    signed = tender.sign_contract({**state, "section_state": {SEC: awarded}}, rules, SEC,
                                  100_000_01, "t", NOW, every)
    [at_contract] = _scheduled(signed)
    assert at_contract.trigger == "contract_signed"
    assert [r.bid_id for r in at_contract.refunds] == ["b1"]  # each deposit refunded once


def test_construction_refunds_every_deposit_from_the_contract_only() -> None:
    change, _, _ = _award(Category.CONSTRUCTION)
    assert _scheduled(change) == []
    assert f"section_state.{SEC}.refunded_at_award" not in change.set
    assert BOOK.for_tender(Category.CONSTRUCTION, "open_tender") \
        .losers_refund_at_award.value == 0
    assert "第57条" in BOOK.for_tender(Category.CONSTRUCTION,
                                      "open_tender").losers_refund_at_award.source

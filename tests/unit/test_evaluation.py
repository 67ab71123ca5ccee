"""Evaluation arithmetic (评标): lowest price and comprehensive scoring (87号令55)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ggzy.runtime.errors import DomainError
from services.bidding.domain.evaluation import (
    OpenedBid,
    ScoreSheet,
    evaluate,
    price_score,
)

EXPERTS = ["E1", "E2", "E3", "E4", "E5"]


def sheets(bids: list[OpenedBid], points: int = 50, noncompliant: dict[str, int] | None = None
           ) -> list[ScoreSheet]:
    bad = noncompliant or {}
    return [ScoreSheet(e, b.bid_id, Decimal(points), i >= bad.get(b.bid_id, 0))
            for b in bids for i, e in enumerate(EXPERTS)]


prices = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=12)


@given(prices, st.integers(min_value=1, max_value=100))
def test_lowest_valid_price_gets_the_full_price_weight_and_scores_are_monotone(
        values: list[int], weight: int) -> None:
    """87号令55: price score = lowest valid bid / this bid × price weight."""
    lowest = min(values)
    w = Decimal(weight)
    assert price_score(lowest, lowest, w) == w
    ordered = sorted(values)
    scores = [price_score(v, lowest, w) for v in ordered]
    assert scores == sorted(scores, reverse=True)  # a lower price never scores lower
    assert all(Decimal(0) <= s <= w for s in scores)


@given(prices)
def test_report_ranks_at_most_three_candidates(values: list[int]) -> None:
    """条例53: at most 3 ranked candidates."""
    bids = [OpenedBid(f"b{i}", v, i) for i, v in enumerate(values)]
    for comprehensive in (False, True):
        ranked = evaluate(bids, sheets(bids), EXPERTS, comprehensive=comprehensive)
        assert len(ranked) == min(3, len(bids))
        assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))


def test_lowest_price_ranks_by_price_then_earlier_receipt() -> None:
    bids = [OpenedBid("a", 900, 2), OpenedBid("b", 800, 3), OpenedBid("c", 800, 1)]
    ranked = evaluate(bids, sheets(bids), EXPERTS, comprehensive=False)
    assert [r.bid_id for r in ranked] == ["c", "b", "a"]


def test_comprehensive_scoring_adds_the_experts_average_points() -> None:
    bids = [OpenedBid("a", 1000, 1), OpenedBid("b", 800, 2)]
    sh = [ScoreSheet(e, "a", Decimal(70), True) for e in EXPERTS]
    sh += [ScoreSheet(e, "b", Decimal(40), True) for e in EXPERTS]
    ranked = evaluate(bids, sh, EXPERTS, comprehensive=True, price_weight=Decimal(30))
    assert [(r.bid_id, r.score) for r in ranked] == [("a", Decimal("94.00")),
                                                     ("b", Decimal("70.00"))]


def test_a_replaced_experts_scores_are_void() -> None:
    bids = [OpenedBid("a", 1000, 1), OpenedBid("b", 1000, 2)]
    sh = [*sheets(bids), ScoreSheet("OLD", "b", Decimal(100), True)]
    ranked = evaluate(bids, sh, EXPERTS, comprehensive=True)
    assert ranked[0].score == ranked[1].score  # the replaced expert's 100 does not count


def test_bid_most_experts_find_noncompliant_is_invalid() -> None:
    bids = [OpenedBid("a", 500, 1), OpenedBid("b", 900, 2)]
    ranked = evaluate(bids, sheets(bids, noncompliant={"a": 3}), EXPERTS, comprehensive=False)
    assert [r.bid_id for r in ranked] == ["b"]


def test_missing_score_sheet_is_refused_by_name() -> None:
    bids = [OpenedBid("a", 500, 1)]
    with pytest.raises(DomainError) as err:
        evaluate(bids, sheets(bids)[:-1], EXPERTS, comprehensive=False)
    assert err.value.code == "missing_scores" and err.value.details["experts"] == ["E5"]

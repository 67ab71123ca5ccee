"""Prices in a regular pattern or abnormally close (条例40(四)), judged against chance. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import compress, repeat
from operator import eq, gt, is_not
from typing import Any, cast

from contracts.bidding import BidFingerprint
from contracts.credit import RiskIndicator
from services.credit.domain.collusion.chance import Chance
from services.credit.domain.collusion.config import CollusionConfig
from services.credit.domain.collusion.findings import ARTICLES, Finding
from services.credit.domain.collusion.runs import (
    _close_groups,
    _equal_difference_runs,
    _equal_ratio_runs,
    _Run,
)
from services.credit.domain.collusion.shared import _columns, _picked
from services.credit.domain.fingerprints import columns_of

_RATIO_PLACES = Decimal("0.00000001")
_PCT_PLACES = Decimal("0.0001")


def price_findings(prints: Sequence[BidFingerprint], config: CollusionConfig) -> list[Finding]:
    """Prices with a regular pattern or abnormally close (条例40(四)).

    Only bids with a positive price count. Prices are sorted (ascending, ties by
    bid id) and only runs of *consecutive* sorted prices are patterns, each of
    at least ``min_pattern_bids`` bids of at least two different bidders:

    - equal differences: every step between neighbours exceeds
      ``equal_difference_tolerance_fen`` and all steps lie within that
      tolerance of each other (tolerance 0: an exact arithmetic progression);
    - equal ratios: every ratio between neighbours exceeds 1 by more than
      ``equal_ratio_tolerance`` and all ratios lie within it of each other;
    - abnormal closeness: max/min - 1 <= ``closeness_pct`` %.

    Progression runs are greedy and maximal: a run extends while it can and the
    next one starts at the price where it broke (with tolerance 0 these are
    exactly the maximal runs of equal steps, sharing at most an end price).
    Closeness groups are disjoint: from the lowest price not yet grouped, take
    every price within ``closeness_pct`` of it. One finding per set of bids,
    listing every pattern it matches. O(n log n) for the sort, O(n) after.

    A pattern hidden by an honest price in between is not seen (finding every
    progression among all subsets is quadratic).

    Chance makes patterns too: among 50 honest prices some three are within
    0.5% of each other almost always. So a run counts only when chance would
    rarely make it (:func:`chance`): below ``pattern_alpha``, counted over
    every place in the section where such a run could have appeared
    (Bonferroni). The yardstick is the section's own spacing of prices, and
    at least ``honest_spread_pct`` % of the lowest price spread over its bids,
    so three colluders alone in a section are judged against how far honest
    prices usually lie apart, not against each other.
    """
    cols = _columns(columns_of(prints), frozenset())
    return _price_findings(cols.prices, cols.bid_ids, cols.bidders, config)


def _price_findings(prices: Sequence[int | None], bid_ids: Sequence[str],
                    bidders: Sequence[str], config: CollusionConfig) -> list[Finding]:
    """:func:`price_findings` of bids given as columns."""
    order, ordered = _price_order(prices, bid_ids, bidders)
    article = ARTICLES[RiskIndicator.PRICE_PATTERN]
    found = []
    for (first, last), matched in _price_runs(ordered, config).items():
        bids = order[first:last + 1]
        named = _picked(bidders, bids)
        if len(named) > 1:
            details = {k: v for d in matched.values() for k, v in d.items()}
            evidence = {"patterns": sorted(matched), **details,
                        "bid_ids": [bid_ids[b] for b in bids],
                        "prices_fen": ordered[first:last + 1]}
            found.append(Finding(RiskIndicator.PRICE_PATTERN, article, named, evidence))
    return found


def _price_order(prices: Sequence[int | None], bid_ids: Sequence[str],
                 bidders: Sequence[str]) -> tuple[list[int], list[int]]:
    """The positions of the positive prices sorted by (price, bid id, bidder), and the prices.

    Sorted by price alone (no tuple per bid), then each run of equal prices,
    which is rare, by bid id and bidder.
    """
    held = cast(Sequence[int], prices)  # at the positions in order: ints
    priced = list(compress(range(len(prices)), map(is_not, prices, repeat(None))))
    order = list(compress(priced, map(gt, map(held.__getitem__, priced), repeat(0))))
    order.sort(key=held.__getitem__)
    ordered = list(map(held.__getitem__, order))
    for m in compress(range(len(ordered) - 1), map(eq, ordered, ordered[1:])):
        if m and ordered[m - 1] == ordered[m]:
            continue  # inside a run of equal prices already sorted
        end = m + 1
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[m]:
            end += 1
        order[m:end + 1] = sorted(order[m:end + 1], key=lambda i: (bid_ids[i], bidders[i]))
    return order, ordered


def _price_runs(prices: Sequence[int], config: CollusionConfig
                ) -> dict[_Run, dict[str, dict[str, Any]]]:
    """Each run of sorted prices with the patterns it matches and their figures."""
    odds = Chance(prices, config)
    patterns: dict[_Run, dict[str, dict[str, Any]]] = {}
    for pattern, found in (("equal_difference", _equal_differences(prices, config, odds)),
                           ("equal_ratio", _equal_ratios(prices, config, odds)),
                           ("closeness", _closeness(prices, config, odds))):
        for run, figures in found.items():
            patterns.setdefault(run, {})[pattern] = figures
    return patterns


def _equal_differences(prices: Sequence[int], config: CollusionConfig, odds: Chance
                       ) -> dict[_Run, dict[str, Any]]:
    """The runs of equal differences chance would rarely make, with their steps."""
    tol = config.equal_difference_tolerance_fen
    # runs too short to be rare are not even looked for: the shortest rare run of a
    # window at least this wide (a ratio's window grows with the price), less one
    # against rounding; every run found is still judged by itself below
    shortest = odds.shortest_rare(2 * tol + 1) - 1
    found: dict[_Run, dict[str, Any]] = {}
    for first, last in _equal_difference_runs(prices, tol, max(config.min_pattern_bids, shortest)):
        if odds.rare(c := odds.equal_steps(first, last, 2 * tol + 1)):
            found[first, last] = {
                "steps_fen": [prices[m + 1] - prices[m] for m in range(first, last)],
                "difference_chance": _odds(c)}
    return found


def _equal_ratios(prices: Sequence[int], config: CollusionConfig, odds: Chance
                  ) -> dict[_Run, dict[str, Any]]:
    """The runs of equal ratios chance would rarely make, with their ratios."""
    ratio_tol = float(config.equal_ratio_tolerance)
    shortest = odds.shortest_rare(2 * ratio_tol * (prices[0] if prices else 0) + 1) - 1
    k = max(config.min_pattern_bids, shortest)
    found: dict[_Run, dict[str, Any]] = {}
    for first, last in _equal_ratio_runs(prices, config.equal_ratio_tolerance, k):
        width = 2 * ratio_tol * prices[first] + 1
        if odds.rare(c := odds.equal_steps(first, last, width)):
            found[first, last] = {"ratios": [
                str((Decimal(prices[m + 1]) / prices[m]).quantize(_RATIO_PLACES))
                for m in range(first, last)], "ratio_chance": _odds(c)}
    return found


def _closeness(prices: Sequence[int], config: CollusionConfig, odds: Chance
               ) -> dict[_Run, dict[str, Any]]:
    """The groups of close prices chance would rarely make, with their spread."""
    found: dict[_Run, dict[str, Any]] = {}
    for first, last in _close_groups(prices, config.closeness_pct, config.min_pattern_bids):
        low, high = prices[first], prices[last]
        if odds.rare(c := odds.close(first, last)):
            found[first, last] = {
                "spread_pct": str((Decimal(high - low) * 100 / low).quantize(_PCT_PLACES)),
                "closeness_chance": _odds(c)}
    return found


def _odds(chance: float) -> str:
    """The chance as evidence: a short decimal string (stable in the finding's id)."""
    return f"{chance:.2e}"

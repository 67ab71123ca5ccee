"""Evaluation (评标): lowest evaluated price or comprehensive scoring, exact arithmetic.

Comprehensive scoring (87号令55): price score = lowest valid price / this price ×
price weight; the other points are the average of the experts' points. Scores
are Decimals rounded half-up to 2 places at the end of each step. A replaced
expert's sheets are void; a bid most experts find non-compliant is invalid;
the report ranks at most the rule's number of candidates (条例53).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ggzy.runtime.errors import DomainError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OpenedBid:
    """A bid as opened: its price and its order of receipt."""

    bid_id: str
    price_fen: int
    sequence: int


@dataclass(frozen=True)
class ScoreSheet:
    """One expert's view of one bid: non-price points and compliance."""

    expert_id: str
    bid_id: str
    points: Decimal
    compliant: bool


@dataclass(frozen=True)
class Ranked:
    """A ranked bid of the report."""

    rank: int
    bid_id: str
    price_fen: int
    score: Decimal


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _sheets_by_bid(bids: Iterable[OpenedBid], sheets: Iterable[ScoreSheet],
                   experts: Iterable[str]) -> dict[str, list[ScoreSheet]]:
    active = set(experts)
    by_bid: dict[str, list[ScoreSheet]] = {b.bid_id: [] for b in bids}
    for sheet in sheets:
        if sheet.expert_id in active and sheet.bid_id in by_bid:
            by_bid[sheet.bid_id].append(sheet)
    for bid_id, got in by_bid.items():
        missing = active - {s.expert_id for s in got}
        if missing:
            raise DomainError("missing_scores", f"bid {bid_id} lacks scores of {sorted(missing)}",
                              bid_id=bid_id, experts=sorted(missing))
    return by_bid


def evaluate(bids: list[OpenedBid], sheets: Iterable[ScoreSheet], experts: Iterable[str], *,
             comprehensive: bool, price_weight: Decimal = Decimal(30),
             max_candidates: int = 3) -> list[Ranked]:
    """Rank the valid bids; ``experts`` are the sitting members (replaced ones left out)."""
    if comprehensive and not Decimal(0) < price_weight <= Decimal(100):
        raise DomainError("invalid_weights", "the price weight must be within (0, 100]")
    by_bid = _sheets_by_bid(bids, sheets, experts)
    valid = [b for b in bids
             if sum(s.compliant for s in by_bid[b.bid_id]) * 2 > len(by_bid[b.bid_id])]
    if not valid:
        return []
    if not comprehensive:  # 最低评标价法: lowest price first, earlier receipt on a tie
        order = sorted(valid, key=lambda b: (b.price_fen, b.sequence))
        return [Ranked(i + 1, b.bid_id, b.price_fen, Decimal(b.price_fen))
                for i, b in enumerate(order[:max_candidates])]
    lowest = min(b.price_fen for b in valid)
    scored = [(total_score(b, lowest, by_bid[b.bid_id], price_weight), b) for b in valid]
    scored.sort(key=lambda sb: (-sb[0], sb[1].price_fen, sb[1].sequence))
    return [Ranked(i + 1, b.bid_id, b.price_fen, s)
            for i, (s, b) in enumerate(scored[:max_candidates])]


def price_score(price_fen: int, lowest_fen: int, weight: Decimal) -> Decimal:
    """87号令55: (lowest valid price / this price) × price weight."""
    if price_fen <= 0:
        return _q(weight)
    return _q(Decimal(lowest_fen) / Decimal(price_fen) * weight)


def total_score(bid: OpenedBid, lowest_fen: int, sheets: list[ScoreSheet],
                weight: Decimal) -> Decimal:
    """Price score plus the experts' average non-price points."""
    average = _q(sum((s.points for s in sheets), Decimal(0)) / len(sheets))
    return price_score(bid.price_fen, lowest_fen, weight) + average


def winner(ranked: list[Ranked], *, state_funded: bool,
           declined: Mapping[str, bool] | None = None) -> Ranked | None:
    """The winner: first-ranked where state funded (条例55), skipping those who declined."""
    declined = declined or {}
    for candidate in ranked:
        if not declined.get(candidate.bid_id):
            return candidate
        if state_funded:
            continue
    return None

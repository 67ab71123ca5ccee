"""The auction's record and what every part of a sale reads of it (拍卖/挂牌): the
statuses, times as integers, offers (报价) by paddle (竞买号), the outcome, and the guards
every offer passes.

An auction document holds what was announced, the secret base price (底价), the
current end ``end_ms`` (the durable timer compares integers), the offers (by
paddle number only), the bidders' paddles (private) and, once closed, the
result. Status: ``open`` -> (listing with a bidder who goes on) ``live`` -> ``closed``.

The core of the package: it imports none of its other modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.bidding import AuctionCloseReason, AuctionMethod
from ggzy.runtime.errors import Conflict, Forbidden
from services.bidding.domain.rules import AuctionRules

State = dict[str, Any]
OPEN, LIVE, CLOSED = "open", "live", "closed"
PENDING, QUALIFIED, REJECTED = "pending", "qualified", "rejected"
CONFIRMED, OVERDUE = "confirmed", "overdue"
SIGNED, HELD, VOID = "signed", "held", "void"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def span_ms(span: timedelta) -> int:
    """A period in milliseconds, the unit of ``end_ms`` and ``start_ms``."""
    return int(span.total_seconds() * 1000)


@dataclass(frozen=True)
class Offer:
    """One accepted offer: who by paddle only, how much, when, in which order."""

    no: int
    paddle: int
    price_fen: int
    at_ms: int


@dataclass(frozen=True)
class Outcome:
    """How an auction or listing ends."""

    reason: AuctionCloseReason
    article: str
    top: Offer | None
    base_price_met: bool | None

    @property
    def sold(self) -> bool:
        return self.reason is AuctionCloseReason.SOLD


def offers_of(state: Mapping[str, Any]) -> list[Offer]:
    return [Offer(**o) for o in state.get("offers", [])]


def top_of(offers: list[Offer]) -> Offer | None:
    """The best offer: the highest; on a tie the earliest (39号令第21条)."""
    return min(offers, key=lambda o: (-o.price_fen, o.at_ms, o.no), default=None)


def minimum_offer(state: Mapping[str, Any]) -> int:
    """The lowest acceptable offer: the starting price, then the top plus one increment
    (one-shot offers: always the listing price, whatever was offered)."""
    if state["method"] == AuctionMethod.ONE_SHOT:
        return int(state["starting_price_fen"])
    top = top_of(offers_of(state))
    return int(state["starting_price_fen"]) if top is None else (
        top.price_fen + int(state["increment_fen"]))


def paddle_of(state: Mapping[str, Any], bidder: str) -> int | None:
    mine = state.get("bidders", {}).get(bidder)
    return None if mine is None else int(mine["paddle"])


def paddle_for(state: Mapping[str, Any], rules: AuctionRules, bidder: str,
               name: str) -> dict[str, Any]:
    """The bidder's entry with its paddle (竞买号) for an offer: its own, or the next
    number where any registered bidder may offer; a sale with a deposit gives paddles at
    the qualification review only."""
    bidders: Mapping[str, Any] = state.get("bidders", {})
    mine: dict[str, Any] | None = bidders.get(bidder)
    if mine is None:
        if state.get("deposit_fen"):  # paddles come from the qualification review
            raise Forbidden("not_qualified", "this sale takes offers from qualified "
                            "applicants only: apply with the deposit first",
                            article=rules.qualification.source)
        mine = {"paddle": len(bidders) + 1, "name": name}
    return mine


def refuse_outside_bidding(state: Mapping[str, Any], now_ms: int) -> None:
    """Refuse an offer before the start, at or after the end, or once closed."""
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    if now_ms < int(state["start_ms"]):
        raise Conflict("bidding_not_open", "offers open at the announced start",
                       start_at=state["start_at"])
    if now_ms >= int(state["end_ms"]):
        raise Conflict("bidding_ended", "bidding has ended; the result follows")


def needs_count(rules: AuctionRules, method: AuctionMethod | str) -> bool:
    """An auction (not a listing) of a category with a least number of bidders."""
    return rules.minimum_bidders.value > 0 and method == AuctionMethod.AUCTION


def too_few_bidders(state: Mapping[str, Any], rules: AuctionRules) -> bool:
    """An auction short of the category's least number of qualified bidders (e.g. 矿业权
    拍卖竞买人不得少于3人): it takes no offer and closes without sale at its end."""
    return (needs_count(rules, state["method"]) and state["status"] == OPEN
            and len(state.get("bidders", {})) < rules.minimum_bidders.n)

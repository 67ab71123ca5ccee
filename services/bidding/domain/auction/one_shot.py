"""One-shot offers (网络竞价-一次报价, property): one sealed offer per buyer, never changed,
no event and no public count before the end; the close ranks and publishes them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from contracts.bidding import AuctionCloseReason, AuctionMethod, AuctionOfferLine
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain.auction.model import (
    CLOSED,
    Offer,
    Outcome,
    at,
    offers_of,
    paddle_for,
    paddle_of,
    refuse_outside_bidding,
)
from services.bidding.domain.rules import AuctionRules


# one-shot offers (网络竞价-一次报价; 32号令第22条, unverified) ----------------------------
def sealed(state: Mapping[str, Any]) -> bool:
    """One-shot offers before the close: nobody may learn any offer, who made one, nor how
    many there are (as sealed bids, 20号令), by any read, event or notice."""
    return bool(state["method"] == AuctionMethod.ONE_SHOT and state["status"] != CLOSED)


def own_offer(state: Mapping[str, Any], bidder: str) -> Offer | None:
    """``bidder``'s offer in this round, if it made one (its own to know)."""
    paddle = paddle_of(state, bidder)
    return next((o for o in offers_of(state) if o.paddle == paddle), None)


def offer_id_of(state: Mapping[str, Any], bidder: str) -> str | None:
    """The id of ``bidder``'s offer (given by its request, so a retry finds it)."""
    mine = state.get("bidders", {}).get(bidder) or {}
    return None if mine.get("offer_id") is None else str(mine["offer_id"])


def one_shot_offer(state: Mapping[str, Any], rules: AuctionRules, *, bidder: str, name: str,
                   price_fen: int, seen_offers: int | None, now_ms: int,
                   offer_id: str) -> Change:
    """A buyer's one sealed offer (一次报价): at least the listing price, before the end,
    never changed, withdrawn or made twice; the same request again (its ``offer_id``, at
    the same price) changes nothing. No event: nothing about it leaves the sale's record
    before the close, and no refusal tells anything of the others' offers."""
    article = rules.one_shot_result.source
    made = own_offer(state, bidder)
    if made is not None and offer_id_of(state, bidder) == offer_id:
        if made.price_fen != price_fen:
            raise Conflict("offer_id_reused", "this offer_id names your offer at another "
                           "price: an offer cannot be changed", article=article)
        return Change()  # a retry of the offer made
    if seen_offers is not None:
        raise DomainError("offers_sealed", "one-shot offers are sealed until the end: there "
                          "is no count of offers to condition on (omit seen_offers)",
                          article=article)
    refuse_outside_bidding(state, now_ms)
    if made is not None:
        raise Conflict("offer_already_made", "a one-shot offer (一次报价) is made once and "
                       "cannot be changed or withdrawn", price_fen=made.price_fen,
                       offered_at=at(made.at_ms).isoformat(), article=article)
    least = int(state["starting_price_fen"])
    if price_fen < least:
        raise DomainError("offer_too_low", f"an offer is at least the listing price, {least} "
                          "fen", minimum_offer_fen=least, article=article)
    mine = paddle_for(state, rules, bidder, name)
    offers = state.get("offers", [])
    new = Offer(no=len(offers) + 1, paddle=int(mine["paddle"]), price_fen=price_fen,
                at_ms=now_ms)
    return Change(set={"offers": [*offers, asdict(new)],
                       f"bidders.{bidder}": {**mine, "offer_id": offer_id}})


def one_shot_ranking(offers: list[Offer]) -> list[Offer]:
    """The highest first; equal prices in the order received (the order the sale's record
    took them, which no replica's clock can reorder)."""
    return sorted(offers, key=lambda o: (-o.price_fen, o.no))


def decide_one_shot(offers: list[Offer], base_price_fen: int | None,
                    rules: AuctionRules) -> Outcome:
    """At the end: the highest offer wins; among equal highest the earliest, where the rule
    says so (one_shot_tie_earliest), else no sale; no valid offer, no sale."""
    article = rules.one_shot_result.source
    ranked = one_shot_ranking(offers)
    if not ranked:
        return Outcome(AuctionCloseReason.NO_VALID_OFFER, article, None, None)
    top = ranked[0]
    met = None if base_price_fen is None else top.price_fen >= base_price_fen
    if met is False:
        return Outcome(AuctionCloseReason.BELOW_BASE_PRICE, rules.base_price.source, top, False)
    if len(ranked) > 1 and ranked[1].price_fen == top.price_fen:
        tie = rules.one_shot_tie_earliest
        reason = AuctionCloseReason.SOLD if tie.value else AuctionCloseReason.TIED_OFFERS
        return Outcome(reason, f"{article}; {tie.source}", top, met)
    return Outcome(AuctionCloseReason.SOLD, article, top, met)


def offer_lines(state: Mapping[str, Any]) -> list[AuctionOfferLine]:
    """Every one-shot offer as the close publishes it: ranked, with who and how much."""
    by_paddle = {int(b["paddle"]): (uscc, b) for uscc, b in state.get("bidders", {}).items()}
    return [AuctionOfferLine(rank=rank, paddle=o.paddle, bidder_uscc=by_paddle[o.paddle][0],
                             bidder_name=str(by_paddle[o.paddle][1].get("name")
                                             or by_paddle[o.paddle][0]),
                             price_fen=o.price_fen, offered_at=at(o.at_ms))
            for rank, o in enumerate(one_shot_ranking(offers_of(state)), 1)]

"""Offers during bidding (报价): the increment over the top, the extension and the calls that
move the end, and a listing's bidders who go on to live bidding (现场竞价)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from contracts.bidding import AuctionMethod, OfferAccepted
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain.auction.model import (
    LIVE,
    OPEN,
    Offer,
    at,
    minimum_offer,
    offers_of,
    paddle_for,
    refuse_outside_bidding,
    span_ms,
    too_few_bidders,
    top_of,
)
from services.bidding.domain.auction.one_shot import one_shot_offer
from services.bidding.domain.rules import AuctionRules, duration


# offers ------------------------------------------------------------------------------
def offer(state: Mapping[str, Any], rules: AuctionRules, *, bidder: str, name: str,
          price_fen: int, seen_offers: int | None, now_ms: int,
          offer_id: str | None = None) -> Change:
    """Accept an offer that beats the top by an increment; the end moves by the rules.
    One-shot offers: ``one_shot_offer``."""
    if state["method"] == AuctionMethod.ONE_SHOT:
        return one_shot_offer(state, rules, bidder=bidder, name=name, price_fen=price_fen,
                              seen_offers=seen_offers, now_ms=now_ms,
                              offer_id=offer_id or f"{bidder}:{now_ms}")
    if state["method"] == AuctionMethod.AGREEMENT:
        raise Conflict("no_offers", "a sale by agreement (协议出让) takes no offers",
                       article=rules.agreement_publicity.source)
    refuse_outside_bidding(state, now_ms)
    if too_few_bidders(state, rules):
        raise Conflict("too_few_bidders", f"the auction needs at least "
                       f"{rules.minimum_bidders.n} qualified bidders and has "
                       f"{len(state.get('bidders', {}))}: it closes without sale",
                       article=rules.minimum_bidders.source)
    offers = offers_of(state)
    top = top_of(offers)
    mine = state.get("bidders", {}).get(bidder)
    if seen_offers is not None and seen_offers != len(offers):
        raise Conflict("stale_offer", "the top offer has changed since you looked",
                       offers=len(offers), minimum_offer_fen=minimum_offer(state))
    if top is not None and mine is not None and top.paddle == mine["paddle"]:
        raise Conflict("already_top", "you hold the top offer")
    least = minimum_offer(state)
    if price_fen < least:
        raise DomainError("offer_too_low", f"the lowest acceptable offer is {least} fen",
                          minimum_offer_fen=least, article=rules.increment_max_percent.source)
    mine = paddle_for(state, rules, bidder, name)
    new = Offer(no=len(offers) + 1, paddle=mine["paddle"], price_fen=price_fen, at_ms=now_ms)
    end = _end_after_offer(state, rules, now_ms)
    event = OfferAccepted(auction_id=state["auction_id"], offer_no=new.no, paddle=new.paddle,
                          price_fen=price_fen, offered_at=at(now_ms), ends_at=at(end),
                          extended=end != int(state["end_ms"]))
    return Change(set={"offers": [*state.get("offers", []), asdict(new)], "end_ms": end,
                       f"bidders.{bidder}": mine},
                  events=[Outgoing(event, Category(state["category"]))])


def _end_after_offer(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> int:
    """Calls restart (auction, live bidding); a late offer extends online bidding."""
    end = int(state["end_ms"])
    if state["method"] == AuctionMethod.AUCTION or state["status"] == LIVE:
        return max(end, now_ms + span_ms(rules.countdown))
    window = span_ms(duration(rules.extension_window))
    if state["method"] == AuctionMethod.ONLINE_BIDDING and window and end - now_ms <= window:
        return max(end, now_ms + span_ms(duration(rules.extension)))
    return end


def go_on(state: Mapping[str, Any], rules: AuctionRules, bidder: str, now_ms: int) -> Change:
    """A bidder of a listing wants to go on at its end (表示愿意继续竞价)."""
    refuse_outside_bidding(state, now_ms)
    if state["method"] != AuctionMethod.LISTING or state["status"] != OPEN:
        raise Conflict("not_a_listing", "only a listing in its listing period can go live",
                       article=rules.listing_result.source)
    mine = state.get("bidders", {}).get(bidder)
    if mine is None:
        raise Forbidden("not_a_bidder", "only a bidder with an offer (and a paddle) may go on")
    going = sorted({*state.get("going_on", []), int(mine["paddle"])})
    return Change(set={"going_on": going})

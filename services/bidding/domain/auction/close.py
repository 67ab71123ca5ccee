"""The end of bidding: live bidding after a listing, or the close with its outcome, the
public result (成交公示) and the confirmation or contract it starts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import (
    AuctionClosed,
    AuctionCloseReason,
    AuctionMethod,
    AuctionOfferLine,
    ListingWentLive,
)
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from services.bidding.domain.auction.agreement import agreed_outcome
from services.bidding.domain.auction.model import (
    CLOSED,
    LIVE,
    OPEN,
    PENDING,
    Offer,
    Outcome,
    at,
    minimum_offer,
    ms,
    offers_of,
    span_ms,
    too_few_bidders,
    top_of,
)
from services.bidding.domain.auction.one_shot import decide_one_shot, offer_lines
from services.bidding.domain.rules import AuctionRules, after


# the end: live bidding or the result ------------------------------------------------
def decide(offers: list[Offer], base_price_fen: int | None, rules: AuctionRules,
           by_calls: bool) -> Outcome:
    """The result: the best offer wins if it meets the base price; else no sale.

    ``by_calls``: an auction or live bidding (the calls ended it, 39号令第16条); else the
    end of a listing or online bidding (39号令第21条; 32号令第22条)."""
    article = (rules.calls if by_calls else rules.listing_result).source
    top = top_of(offers)
    if top is None:
        return Outcome(AuctionCloseReason.NO_VALID_OFFER, article, None, None)
    met = None if base_price_fen is None else top.price_fen >= base_price_fen
    if met is False:
        return Outcome(AuctionCloseReason.BELOW_BASE_PRICE, rules.base_price.source, top, False)
    return Outcome(AuctionCloseReason.SOLD, article, top, met)


def at_end(state: Mapping[str, Any], rules: AuctionRules, now_ms: int, cal: Calendar) -> Change:
    """At the (possibly moved) end: a listing with a bidder who goes on turns live from the
    top plus one increment (39号令第21条); otherwise the auction closes, once."""
    if state["status"] == CLOSED or now_ms < int(state["end_ms"]):
        return Change()
    offers = offers_of(state)
    category = Category(state["category"])
    if state["method"] == AuctionMethod.LISTING and state["status"] == OPEN and offers \
            and state.get("going_on"):
        end = now_ms + span_ms(rules.countdown)
        top = top_of(offers)
        assert top is not None
        event = ListingWentLive(auction_id=state["auction_id"], top_price_fen=top.price_fen,
                                minimum_offer_fen=minimum_offer(state), ends_at=at(end),
                                article=rules.listing_result.source)
        return Change(set={"status": LIVE, "end_ms": end}, events=[Outgoing(event, category)])
    if state["method"] == AuctionMethod.AGREEMENT:
        agreed = agreed_outcome(state, rules, now_ms)
        return Change() if agreed is None else _closed(state, agreed, 0, now_ms, category,
                                                       rules, cal)
    if state["method"] == AuctionMethod.ONE_SHOT:  # the end is fixed: no extension
        outcome = decide_one_shot(offers, state.get("base_price_fen"), rules)
        return _closed(state, outcome, len(offers), now_ms, category, rules, cal,
                       offer_lines(state))
    by_calls = state["method"] == AuctionMethod.AUCTION or state["status"] == LIVE
    outcome = (Outcome(AuctionCloseReason.TOO_FEW_BIDDERS, rules.minimum_bidders.source, None,
                       None) if too_few_bidders(state, rules)
               else decide(offers, state.get("base_price_fen"), rules, by_calls))
    return _closed(state, outcome, len(offers), now_ms, category, rules, cal)


def _closed(state: Mapping[str, Any], outcome: Outcome, n: int, now_ms: int,
            category: Category, rules: AuctionRules, cal: Calendar,
            lines: list[AuctionOfferLine] | None = None) -> Change:
    top = outcome.top
    agreed = state["method"] == AuctionMethod.AGREEMENT
    winner: tuple[str | None, Mapping[str, Any]] = next(
        ((uscc, b) for uscc, b in state.get("bidders", {}).items()
         if top is not None and outcome.sold and b["paddle"] == top.paddle), (None, {}))
    event = AuctionClosed(
        auction_id=state["auction_id"], category=category, sold=outcome.sold,
        reason=outcome.reason, article=outcome.article, offers=n,
        winning_paddle=top.paddle if top and outcome.sold else None,
        price_fen=top.price_fen if top else None, winner_uscc=winner[0],
        winner_name=winner[1].get("name"), base_price_met=outcome.base_price_met,
        closed_at=at(now_ms), offer_lines=lines or [],
        **(publicity_fields(rules, cal, at(now_ms)) if outcome.sold and not agreed
           and not rules.result_publicity_after_contract.value else {}))
    sets: dict[str, Any] = {"status": CLOSED}
    if agreed and outcome.sold and winner[0] is not None and rules.contract_within.value > 0:
        # publicised before: the contract follows at once (以协议方式出让的, 参照签订出让合同)
        due = after(rules.contract_within, at(now_ms), cal)
        event = event.model_copy(update={"contract_due": due})
        sets["contract"] = {"status": PENDING, "winner": winner[0], "due_ms": ms(due),
                            "due": due.isoformat()}
    elif outcome.sold and winner[0] is not None and rules.confirmation_within.value > 0:
        due = after(rules.confirmation_within, at(now_ms), cal)
        event = event.model_copy(update={"confirmation_due": due})
        sets["confirmation"] = {"status": PENDING, "winner": winner[0], "due_ms": ms(due),
                                "due": due.isoformat()}
    sets["result"] = {k: v for k, v in event.model_dump(mode="json").items()
                      if k in RESULT_FIELDS}
    return Change(set=sets, events=[Outgoing(event, category)])


def publicity_fields(rules: AuctionRules, cal: Calendar, start: datetime) -> dict[str, Any]:
    """The publicity period of a sale's result (成交公示), if the category has one."""
    period = rules.result_publicity
    if period.value <= 0:
        return {}
    return {"publicity_end": after(period, start, cal), "publicity_article": period.source}


# What the public may read of a result: never the base price (only whether it was met).
RESULT_FIELDS = ("sold", "reason", "article", "offers", "winning_paddle", "price_fen",
                 "base_price_met", "closed_at", "publicity_end", "confirmation_due",
                 "contract_due")

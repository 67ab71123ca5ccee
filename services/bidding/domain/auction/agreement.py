"""Sales by agreement (协议出让): the terms their announcement must give (a named buyer,
the government's consent, a publicity period, an agreed price above the floors) and their
conclusion at the end of the publicity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from contracts.bidding import AuctionCloseReason, AuctionPublished
from contracts.calendar import Calendar
from ggzy.runtime.errors import DomainError
from services.bidding.domain.auction.model import Offer, Outcome
from services.bidding.domain.auction.objections import pending_objections
from services.bidding.domain.rules import AuctionRules, after


def check_agreement(rules: AuctionRules, e: AuctionPublished, cal: Calendar) -> None:
    """A sale by agreement (协议出让): one named buyer, the government's consent, no offers
    (so no end, no deposit), concluded at the end of its publicity."""
    article = rules.agreement_publicity.source
    if e.buyer_uscc is None or not (e.approval_no or "").strip():
        raise DomainError("agreement_terms_required", "a sale by agreement names its buyer "
                          "(buyer_uscc) and the people's government's consent (approval_no)",
                          article=article)
    if e.buyer_uscc == e.seller_uscc:
        raise DomainError("seller_cannot_buy", "the seller may not buy its own sale")
    if e.end_at is not None or e.deposit_fen or e.applications_close_at is not None:
        raise DomainError("agreement_takes_no_offers", "a sale by agreement has no bidding "
                          "period, deposit or applications: start_at is the end of its "
                          "publicity", article=article)
    if e.start_at < after(rules.agreement_publicity, e.announced_at, cal):
        raise DomainError("publicity_too_short", "a sale by agreement concludes only after "
                          "its publicity period", article=article)


def check_agreed_price(rules: AuctionRules, e: AuctionPublished, base: int | None) -> None:
    """The agreed price of a land sale by agreement: at least the rule's share of the
    benchmark land price (协议出让最低价, 21号令第5条) and not below the secret base price
    set collectively (第11条; both unverified). Told to the seller, who set them."""
    floor = rules.agreement_price_floor_percent
    if floor.value > 0:
        if e.benchmark_price_fen is None:
            raise DomainError("benchmark_price_required", "a sale by agreement of this "
                              "category gives the parcel's benchmark land price "
                              "(benchmark_price_fen)", article=floor.source)
        least = math.ceil(e.benchmark_price_fen * floor.value / 100)
        if e.starting_price_fen < least:
            raise DomainError("price_below_agreement_floor", f"the agreed price may not be "
                              f"below {floor.value:g}% of the benchmark land price "
                              f"({least} fen)", minimum_price_fen=least, article=floor.source)
        if base is not None and base < least:
            raise DomainError("base_price_below_agreement_floor", "the base price may not be "
                              f"below the least price of a sale by agreement ({least} fen)",
                              minimum_price_fen=least, article=floor.source)
    if base is not None and e.starting_price_fen < base:
        raise DomainError("price_below_base", "the agreed price may not be below the base "
                          "price (底价)", article=rules.base_price.source)


def agreed_outcome(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> Outcome | None:
    """The end of a sale by agreement's publicity: concluded with its buyer at its price,
    unless an objection was upheld; while one waits for its answer, it waits too (交易中止,
    矿业权交易规则第27条: the answer concludes it), ``None``."""
    if pending_objections(state):
        return None
    article = rules.agreement_publicity.source
    if "upheld" in (state.get("objections") or {}).values():
        return Outcome(AuctionCloseReason.OBJECTION_UPHELD, article, None, None)
    agreed = Offer(no=0, paddle=1, price_fen=int(state["starting_price_fen"]), at_ms=now_ms)
    return Outcome(AuctionCloseReason.SOLD, article, agreed, None)

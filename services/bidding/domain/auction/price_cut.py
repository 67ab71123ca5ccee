"""A price cut (降价): a new disclosure at a lower price, with the approving unit's consent
below the rule's share of the appraisal; an unsold sale reopens with it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import AuctionMethod, AuctionPublished, AuctionRepriced
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain.auction.applications import settlement
from services.bidding.domain.auction.model import CLOSED, LIVE, OPEN, REJECTED, ms
from services.bidding.domain.auction.one_shot import sealed
from services.bidding.domain.auction.publication import (
    check_applications,
    check_schedule,
    first_end,
)
from services.bidding.domain.rules import AuctionRules


# a price cut (降价) ------------------------------------------------------------------
def reprice(state: Mapping[str, Any], rules: AuctionRules, *, price_fen: int,
            start: datetime, end: datetime | None, now: datetime, cal: Calendar,
            applications_close_at: datetime | None = None,
            approval_no: str | None = None) -> Change:
    """Cut the price: allowed with no offer in this round, and only after a new disclosure
    (32号令第18条); below 90% of the appraisal only with the approving unit's written
    consent (same article); an unsold auction reopens with it."""
    _refuse_price_cut(state, rules, price_fen, now, approval_no)
    published = {k: v for k, v in state.items() if k in AuctionPublished.model_fields}
    e = AuctionPublished.model_validate({**published, "starting_price_fen": price_fen,
                                         "announced_at": now, "start_at": start, "end_at": end,
                                         "applications_close_at": applications_close_at})
    # a new disclosure; the appraisal floor binds the first price only
    check_schedule(rules, e, cal)
    check_applications(rules, e)
    event = AuctionRepriced(auction_id=state["auction_id"],
                            previous_price_fen=int(state["starting_price_fen"]),
                            starting_price_fen=price_fen, announced_at=now, start_at=start,
                            end_at=end, article=rules.price_cut.source,
                            approval_no=approval_no)
    sets = {"starting_price_fen": price_fen, "announced_at": now.isoformat(),
            "start_at": start.isoformat(), "end_at": end.isoformat() if end else None,
            "start_ms": ms(start), "end_ms": first_end(e, rules), "status": OPEN,
            "offers": [], "going_on": []}
    events = [Outgoing(event, Category(state["category"]))]
    if state.get("deposit_fen"):
        # A new disclosure is a new round of applications: deposits not yet settled (the
        # sale had not closed) are refunded, and bidders apply and are reviewed again.
        sets.update(applicants={}, bidders={}, applications_close_at=(
            applications_close_at.isoformat() if applications_close_at else None))
        held = [(u, a) for u, a in (state.get("applicants") or {}).items()
                if a["status"] != REJECTED]
        if held and state["status"] != CLOSED:
            events.append(Outgoing(settlement(state, rules, cal, held, None, now),
                                   Category(state["category"])))
    return Change(set=sets, unset=["result"], events=events)


def _refuse_price_cut(state: Mapping[str, Any], rules: AuctionRules, price_fen: int,
                      now: datetime, approval_no: str | None) -> None:
    """Refuse a cut the category does not allow, one of a sale with offers (or sealed
    ones), a price not lower, or one below the approval floor without its consent."""
    if not rules.price_cut.value or state["method"] == AuctionMethod.AGREEMENT:
        raise DomainError("price_cut_not_allowed", "this category (or a sale by agreement) "
                          "does not allow price cuts", article=rules.price_cut.source)
    sold = state.get("result", {}).get("sold")
    if sealed(state) and ms(now) >= int(state["start_ms"]):
        # refused whether or not offers were made: the answer may not tell the seller
        raise Conflict("offers_sealed", "the price of a sale by one-shot offers is not cut "
                       "while its offers are sealed (from the start to the close)",
                       article=rules.one_shot_result.source)
    if state["status"] == LIVE or sold or (state["status"] == OPEN and state.get("offers")):
        raise Conflict("offers_made", "the price may be cut only before any offer or after no "
                       "sale", article=rules.price_cut.source)
    if price_fen >= int(state["starting_price_fen"]):
        raise DomainError("not_a_price_cut", "the new price must be lower",
                          starting_price_fen=state["starting_price_fen"])
    floor = rules.price_cut_approval_below_percent
    appraised = state.get("appraised_fen")
    if floor.value > 0 and appraised and price_fen * 100 < appraised * floor.value \
            and not approval_no:
        raise DomainError("approval_required", f"a price below {floor.value:g}% of the "
                          f"appraised value ({appraised * floor.value / 100:.0f} fen) needs "
                          f"the approving unit's written consent: give approval_no "
                          f"({floor.source})", article=floor.source)

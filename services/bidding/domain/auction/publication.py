"""The announcement of an auction or listing (公告): the checks of the category's rules
(method, schedule, prices, applications) and the sale's first state."""

from __future__ import annotations

from contracts.bidding import AuctionMethod, AuctionPublished
from contracts.calendar import Calendar
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import DomainError
from services.bidding.domain.auction.agreement import check_agreed_price, check_agreement
from services.bidding.domain.auction.model import OPEN, State, ms, needs_count
from services.bidding.domain.rules import AuctionRules, after


# publication -------------------------------------------------------------------------
def validate(rules: AuctionRules, e: AuctionPublished, base_price_fen: int | None,
             base_decision: str | None, cal: Calendar) -> None:
    """Refuse an announcement the category's rules do not allow, naming the article."""
    if e.method not in rules.methods:
        raise DomainError("method_not_allowed", f"{e.method.value} is not a method of "
                          f"{e.category.value}", allowed=sorted(m.value for m in rules.methods))
    if e.method is AuctionMethod.AGREEMENT:
        check_agreement(rules, e, cal)
        check_agreed_price(rules, e, base_price_fen)
    elif e.buyer_uscc is not None or e.approval_no is not None \
            or e.benchmark_price_fen is not None:
        raise DomainError("buyer_by_agreement_only", "only a sale by agreement (协议出让) "
                          "names its buyer and the government's consent",
                          article=rules.agreement_publicity.source)
    else:
        check_schedule(rules, e, cal)
    _check_prices(rules, e, base_price_fen, base_decision)
    check_applications(rules, e)


def check_schedule(rules: AuctionRules, e: AuctionPublished, cal: Calendar) -> None:
    """The announcement period, the bidding period and the increment the rules allow
    (at publication and at a price cut's new disclosure)."""
    if e.start_at < after(rules.announce_before, e.announced_at, cal):
        raise DomainError("announcement_too_short", "offers may open only after the "
                          "announcement period", article=rules.announce_before.source)
    if e.method is AuctionMethod.AUCTION:
        if e.end_at is not None:
            raise DomainError("auction_has_no_end", "an auction ends after the calls, not at a "
                              "set time", article=rules.calls.source)
    elif e.end_at is None or e.end_at < after(rules.listing_period, e.start_at, cal):
        raise DomainError("listing_too_short", "the listing / bidding period is shorter than "
                          "the rule", article=rules.listing_period.source)
    if e.method is AuctionMethod.ONE_SHOT and e.increment_fen:
        raise DomainError("one_shot_takes_no_increment", "one-shot offers (一次报价) take one "
                          "offer per buyer of at least the listing price: no increment",
                          article=rules.one_shot_result.source)
    if e.increment_fen * 100 > e.starting_price_fen * rules.increment_max_percent.value:
        raise DomainError("increment_too_large", "the increment exceeds the rule's share of "
                          "the starting price", article=rules.increment_max_percent.source)


def check_applications(rules: AuctionRules, e: AuctionPublished) -> None:
    """A sale with a deposit takes applications until a set time within bidding, so the
    seller can review each applicant before it offers (qualification rule)."""
    if not e.deposit_fen:
        if needs_count(rules, e.method):
            raise DomainError("applications_required", f"an auction of {e.category.value} "
                              f"takes place with at least {rules.minimum_bidders.n} qualified "
                              "bidders, counted from the applications: give deposit_fen and "
                              "applications_close_at", article=rules.minimum_bidders.source)
        if e.applications_close_at is not None:
            raise DomainError("applications_without_deposit", "applications close only for a "
                              "sale with a deposit", article=rules.qualification.source)
        return
    close = e.applications_close_at
    last = e.end_at or e.start_at  # an auction's applicants are known before it starts
    if close is None or close <= e.announced_at or close > last:
        raise DomainError("applications_close_at_invalid", "a sale with a deposit needs "
                          "applications_close_at after the announcement and no later than "
                          f"{'the end of bidding' if e.end_at else 'the start'}",
                          article=rules.qualification.source)
    if e.deposit_fen > e.starting_price_fen:
        raise DomainError("deposit_above_price", "the deposit may not exceed the starting "
                          "price", article=rules.qualification.source)


def _check_prices(rules: AuctionRules, e: AuctionPublished, base: int | None,
                  decision: str | None) -> None:
    floor = rules.first_price_of_appraised_percent.value
    if floor > 0:
        if e.appraised_fen is None:
            raise DomainError("appraisal_required", "the appraised value is required",
                              article=rules.first_price_of_appraised_percent.source)
        if e.starting_price_fen * 100 < e.appraised_fen * floor:
            raise DomainError("price_below_appraisal", "the first listing price may not be "
                              "below the appraised value",
                              article=rules.first_price_of_appraised_percent.source)
    if rules.base_price.value and (base is None or not (decision or "").strip()):
        raise DomainError("base_price_required", "a base price set by a collective decision "
                          "(with its record number) is required", article=rules.base_price.source)


def publish(e: AuctionPublished, rules: AuctionRules, base_price_fen: int | None,
            base_decision: str | None) -> tuple[State, Change]:
    """The first state of an announced auction or listing, and its event."""
    bidders = {} if e.buyer_uscc is None else {  # by agreement: the buyer, named
        e.buyer_uscc: {"paddle": 1, "name": e.buyer_name or e.buyer_uscc}}
    state: State = {**e.model_dump(mode="json"), "status": OPEN, "start_ms": ms(e.start_at),
                    "end_ms": first_end(e, rules), "base_price_fen": base_price_fen,
                    "base_price_decision": base_decision, "offers": [], "bidders": bidders,
                    "going_on": []}
    return state, Change(events=[Outgoing(e, e.category)])


def first_end(e: AuctionPublished, rules: AuctionRules) -> int:
    """The first end ``end_ms`` of an announced (or repriced) sale."""
    if e.method is AuctionMethod.AGREEMENT:  # concluded at the end of its publicity
        return ms(e.start_at)
    if e.end_at is None:  # an auction: the calls run from the opening
        return ms(e.start_at + rules.countdown)
    return ms(e.end_at)

"""Auctions and listings (拍卖/挂牌) as pure decisions: state in, change and events out.

An auction document holds what was announced, the secret base price (底价), the
current end ``end_ms`` (the durable timer compares integers), the offers (报价, by
paddle number only), the bidders' paddles (竞买号, private) and, once closed, the
result. Status: ``open`` -> (listing with a bidder who goes on) ``live`` -> ``closed``.

One-shot offers (网络竞价-一次报价, property) use the same offers and paddles, but are
sealed until the close: one offer per buyer, never changed, no event and no public
count before the end (``sealed``); the close ranks and publishes them all.

Articles of 39号令 (land), 32号令 (property) and the mining rules (矿业权交易规则) are
unverified; each rule's source says so (rules.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.bidding import (
    AuctionClosed,
    AuctionCloseReason,
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionDeposit,
    AuctionDepositsSettled,
    AuctionMethod,
    AuctionOfferLine,
    AuctionPublished,
    AuctionRepriced,
    AuctionResultAnnulled,
    ListingWentLive,
    OfferAccepted,
)
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain.rules import AuctionRules, Rule, after, duration

State = dict[str, Any]
OPEN, LIVE, CLOSED = "open", "live", "closed"


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


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


# publication -------------------------------------------------------------------------
def validate(rules: AuctionRules, e: AuctionPublished, base_price_fen: int | None,
             base_decision: str | None, cal: Calendar) -> None:
    """Refuse an announcement the category's rules do not allow, naming the article."""
    if e.method not in rules.methods:
        raise DomainError("method_not_allowed", f"{e.method.value} is not a method of "
                          f"{e.category.value}", allowed=sorted(m.value for m in rules.methods))
    if e.method is AuctionMethod.AGREEMENT:
        _check_agreement(rules, e, cal)
        _check_agreed_price(rules, e, base_price_fen)
    elif e.buyer_uscc is not None or e.approval_no is not None \
            or e.benchmark_price_fen is not None:
        raise DomainError("buyer_by_agreement_only", "only a sale by agreement (协议出让) "
                          "names its buyer and the government's consent",
                          article=rules.agreement_publicity.source)
    else:
        _check_schedule(rules, e, cal)
    _check_prices(rules, e, base_price_fen, base_decision)
    _check_applications(rules, e)


def _check_agreement(rules: AuctionRules, e: AuctionPublished, cal: Calendar) -> None:
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


def _check_agreed_price(rules: AuctionRules, e: AuctionPublished, base: int | None) -> None:
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


def _check_schedule(rules: AuctionRules, e: AuctionPublished, cal: Calendar) -> None:
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


def _check_applications(rules: AuctionRules, e: AuctionPublished) -> None:
    """A sale with a deposit takes applications until a set time within bidding, so the
    seller can review each applicant before it offers (qualification rule)."""
    if not e.deposit_fen:
        if _needs_count(rules, e.method):
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
                    "end_ms": _first_end(e, rules), "base_price_fen": base_price_fen,
                    "base_price_decision": base_decision, "offers": [], "bidders": bidders,
                    "going_on": []}
    return state, Change(events=[Outgoing(e, e.category)])


def _first_end(e: AuctionPublished, rules: AuctionRules) -> int:
    if e.method is AuctionMethod.AGREEMENT:  # concluded at the end of its publicity
        return ms(e.start_at)
    if e.end_at is None:  # an auction: the calls run from the opening
        return ms(e.start_at + rules.countdown)
    return ms(e.end_at)


def _needs_count(rules: AuctionRules, method: AuctionMethod | str) -> bool:
    """An auction (not a listing) of a category with a least number of bidders."""
    return rules.minimum_bidders.value > 0 and method == AuctionMethod.AUCTION


def too_few_bidders(state: Mapping[str, Any], rules: AuctionRules) -> bool:
    """An auction short of the category's least number of qualified bidders (e.g. 矿业权
    拍卖竞买人不得少于3人): it takes no offer and closes without sale at its end."""
    return (_needs_count(rules, state["method"]) and state["status"] == OPEN
            and len(state.get("bidders", {})) < rules.minimum_bidders.n)


# offers ------------------------------------------------------------------------------
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


def _refuse_outside_bidding(state: Mapping[str, Any], now_ms: int) -> None:
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    if now_ms < int(state["start_ms"]):
        raise Conflict("bidding_not_open", "offers open at the announced start",
                       start_at=state["start_at"])
    if now_ms >= int(state["end_ms"]):
        raise Conflict("bidding_ended", "bidding has ended; the result follows")


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
    _refuse_outside_bidding(state, now_ms)
    if too_few_bidders(state, rules):
        raise Conflict("too_few_bidders", f"the auction needs at least "
                       f"{rules.minimum_bidders.n} qualified bidders and has "
                       f"{len(state.get('bidders', {}))}: it closes without sale",
                       article=rules.minimum_bidders.source)
    offers = offers_of(state)
    top = top_of(offers)
    bidders: dict[str, Any] = dict(state.get("bidders", {}))
    mine = bidders.get(bidder)
    if seen_offers is not None and seen_offers != len(offers):
        raise Conflict("stale_offer", "the top offer has changed since you looked",
                       offers=len(offers), minimum_offer_fen=minimum_offer(state))
    if top is not None and mine is not None and top.paddle == mine["paddle"]:
        raise Conflict("already_top", "you hold the top offer")
    least = minimum_offer(state)
    if price_fen < least:
        raise DomainError("offer_too_low", f"the lowest acceptable offer is {least} fen",
                          minimum_offer_fen=least, article=rules.increment_max_percent.source)
    if mine is None:
        if state.get("deposit_fen"):  # paddles come from the qualification review
            raise Forbidden("not_qualified", "this sale takes offers from qualified "
                            "applicants only: apply with the deposit first",
                            article=rules.qualification.source)
        mine = {"paddle": len(bidders) + 1, "name": name}
    new = Offer(no=len(offers) + 1, paddle=mine["paddle"], price_fen=price_fen, at_ms=now_ms)
    end = _end_after_offer(state, rules, now_ms)
    event = OfferAccepted(auction_id=state["auction_id"], offer_no=new.no, paddle=new.paddle,
                          price_fen=price_fen, offered_at=at(now_ms), ends_at=at(end),
                          extended=end != int(state["end_ms"]))
    return Change(set={"offers": [*state.get("offers", []), asdict(new)], "end_ms": end,
                       f"bidders.{bidder}": mine},
                  events=[Outgoing(event, Category(state["category"]))])


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
    _refuse_outside_bidding(state, now_ms)
    if made is not None:
        raise Conflict("offer_already_made", "a one-shot offer (一次报价) is made once and "
                       "cannot be changed or withdrawn", price_fen=made.price_fen,
                       offered_at=at(made.at_ms).isoformat(), article=article)
    least = int(state["starting_price_fen"])
    if price_fen < least:
        raise DomainError("offer_too_low", f"an offer is at least the listing price, {least} "
                          "fen", minimum_offer_fen=least, article=article)
    bidders: dict[str, Any] = dict(state.get("bidders", {}))
    mine = bidders.get(bidder)
    if mine is None:
        if state.get("deposit_fen"):  # paddles come from the qualification review
            raise Forbidden("not_qualified", "this sale takes offers from qualified "
                            "applicants only: apply with the deposit first",
                            article=rules.qualification.source)
        mine = {"paddle": len(bidders) + 1, "name": name}
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


def _end_after_offer(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> int:
    """Calls restart (auction, live bidding); a late offer extends online bidding."""
    end = int(state["end_ms"])
    if state["method"] == AuctionMethod.AUCTION or state["status"] == LIVE:
        return max(end, now_ms + _ms(rules.countdown))
    window = _ms(duration(rules.extension_window))
    if state["method"] == AuctionMethod.ONLINE_BIDDING and window and end - now_ms <= window:
        return max(end, now_ms + _ms(duration(rules.extension)))
    return end


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def go_on(state: Mapping[str, Any], rules: AuctionRules, bidder: str, now_ms: int) -> Change:
    """A bidder of a listing wants to go on at its end (表示愿意继续竞价)."""
    _refuse_outside_bidding(state, now_ms)
    if state["method"] != AuctionMethod.LISTING or state["status"] != OPEN:
        raise Conflict("not_a_listing", "only a listing in its listing period can go live",
                       article=rules.listing_result.source)
    mine = state.get("bidders", {}).get(bidder)
    if mine is None:
        raise Forbidden("not_a_bidder", "only a bidder with an offer (and a paddle) may go on")
    going = sorted({*state.get("going_on", []), int(mine["paddle"])})
    return Change(set={"going_on": going})


# applications and deposits (竞买申请、竞买保证金) ---------------------------------------
PENDING, QUALIFIED, REJECTED = "pending", "qualified", "rejected"


def apply(state: Mapping[str, Any], rules: AuctionRules, *, bidder: str, name: str,
          account: str, paid_fen: int, now_ms: int) -> Change:
    """An application with its deposit, before applications close; the same one again
    changes nothing."""
    deposit = int(state.get("deposit_fen") or 0)
    if not deposit:
        raise Conflict("no_applications", "this sale takes offers from any registered bidder")
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    if now_ms >= ms(datetime.fromisoformat(str(state["applications_close_at"]))):
        raise Conflict("applications_closed", "applications have closed",
                       applications_close_at=state["applications_close_at"])
    if paid_fen < deposit:
        raise DomainError("deposit_required", f"the deposit is {deposit} fen",
                          deposit_fen=deposit, article=rules.qualification.source)
    held = state.get("applicants", {}).get(bidder)
    if held is not None:
        if held["status"] == PENDING and held["account"] == account:
            return Change()
        if held["status"] != PENDING:
            raise Conflict("application_reviewed", f"your application is {held['status']}",
                           status=held["status"])
    entry = {"status": PENDING, "name": name, "account": account, "paid_fen": paid_fen,
             "applied_ms": now_ms}
    return Change(set={f"applicants.{bidder}": entry})


def review(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar, *, bidder: str,
           qualified: bool, reason: str, now: datetime) -> Change:
    """The seller's qualification review: a qualified applicant gets its paddle (竞买号);
    a rejected one its deposit back within the rule's period."""
    held = state.get("applicants", {}).get(bidder)
    if held is None:
        raise DomainError("no_application", f"{bidder} has not applied")
    status = QUALIFIED if qualified else REJECTED
    if held["status"] == status:
        return Change()
    if held["status"] != PENDING:
        raise Conflict("application_reviewed", f"the application is {held['status']}",
                       status=held["status"])
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    sets: dict[str, Any] = {f"applicants.{bidder}.status": status,
                            f"applicants.{bidder}.reason": reason}
    events: list[Outgoing] = []
    if qualified:
        paddle = len(state.get("bidders", {})) + 1
        sets[f"bidders.{bidder}"] = {"paddle": paddle, "name": held["name"]}
    else:
        events.append(Outgoing(_settled(state, rules, cal, [(bidder, held)], None, now),
                               Category(state["category"])))
    return Change(set=sets, events=events)


def _settled(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar,
             deposits: list[tuple[str, Mapping[str, Any]]], winner: str | None,
             now: datetime) -> AuctionDepositsSettled:
    due = after(rules.deposit_refund, now, cal)
    return AuctionDepositsSettled(auction_id=state["auction_id"], settled_at=now, deposits=[
        AuctionDeposit(bidder_uscc=uscc, payer_account=a["account"], amount_fen=a["paid_fen"],
                       action="to_price" if uscc == winner else "refund",
                       due=None if uscc == winner else due, article=rules.deposit_refund.source)
        for uscc, a in deposits])


def settle_deposits(state: Mapping[str, Any], change: Change, rules: AuctionRules,
                    cal: Calendar, now: datetime) -> Change:
    """When ``change`` closes the sale: every qualified applicant's deposit is refunded,
    but the winner's, which counts towards the price (39号令, unverified)."""
    if change.set.get("status") != CLOSED:
        return change
    held = [(u, a) for u, a in (state.get("applicants") or {}).items()
            if a["status"] == QUALIFIED]
    if held:
        closed = next(o.event for o in change.events if isinstance(o.event, AuctionClosed))
        winner = closed.winner_uscc if closed.sold else None
        change.events.append(Outgoing(_settled(state, rules, cal, held, winner, now),
                                      Category(state["category"])))
    return change


def paddle_of(state: Mapping[str, Any], bidder: str) -> int | None:
    mine = state.get("bidders", {}).get(bidder)
    return None if mine is None else int(mine["paddle"])


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
        end = now_ms + _ms(rules.countdown)
        top = top_of(offers)
        assert top is not None
        event = ListingWentLive(auction_id=state["auction_id"], top_price_fen=top.price_fen,
                                minimum_offer_fen=minimum_offer(state), ends_at=at(end),
                                article=rules.listing_result.source)
        return Change(set={"status": LIVE, "end_ms": end}, events=[Outgoing(event, category)])
    if state["method"] == AuctionMethod.AGREEMENT:
        return _agreed(state, rules, now_ms, category, cal)
    if state["method"] == AuctionMethod.ONE_SHOT:  # the end is fixed: no extension
        outcome = decide_one_shot(offers, state.get("base_price_fen"), rules)
        return _closed(state, outcome, len(offers), now_ms, category, rules, cal,
                       offer_lines(state))
    by_calls = state["method"] == AuctionMethod.AUCTION or state["status"] == LIVE
    outcome = (Outcome(AuctionCloseReason.TOO_FEW_BIDDERS, rules.minimum_bidders.source, None,
                       None) if too_few_bidders(state, rules)
               else decide(offers, state.get("base_price_fen"), rules, by_calls))
    return _closed(state, outcome, len(offers), now_ms, category, rules, cal)


def _agreed(state: Mapping[str, Any], rules: AuctionRules, now_ms: int, category: Category,
            cal: Calendar) -> Change:
    """The end of a sale by agreement's publicity: concluded with its buyer at its price,
    unless an objection was upheld; while one waits for its answer, it waits too (交易中止,
    矿业权交易规则第27条: the answer concludes it)."""
    if pending_objections(state):
        return Change()
    article = rules.agreement_publicity.source
    if "upheld" in (state.get("objections") or {}).values():
        outcome = Outcome(AuctionCloseReason.OBJECTION_UPHELD, article, None, None)
    else:
        agreed = Offer(no=0, paddle=1, price_fen=int(state["starting_price_fen"]), at_ms=now_ms)
        outcome = Outcome(AuctionCloseReason.SOLD, article, agreed, None)
    return _closed(state, outcome, 0, now_ms, category, rules, cal)


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
        **(_publicity(rules, cal, at(now_ms)) if outcome.sold and not agreed
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


def _publicity(rules: AuctionRules, cal: Calendar, start: datetime) -> dict[str, Any]:
    """The publicity period of a sale's result (成交公示), if the category has one."""
    period = rules.result_publicity
    if period.value <= 0:
        return {}
    return {"publicity_end": after(period, start, cal), "publicity_article": period.source}


# What the public may read of a result: never the base price (only whether it was met).
RESULT_FIELDS = ("sold", "reason", "article", "offers", "winning_paddle", "price_fen",
                 "base_price_met", "closed_at", "publicity_end", "confirmation_due",
                 "contract_due")


# the confirmation (成交确认书) -----------------------------------------------------------
CONFIRMED, OVERDUE = "confirmed", "overdue"
SIGNED, HELD, VOID = "signed", "held", "void"


def confirm(state: Mapping[str, Any], rules: AuctionRules, bidder: str, now_ms: int,
            cal: Calendar) -> Change:
    """The winner signs the confirmation before it is due; signing again changes nothing.
    Where the category asks a sale contract (出让合同) next, its due time starts."""
    held = state.get("confirmation")
    if held is None:
        raise Conflict("no_confirmation", "this sale asks no confirmation, or is not sold",
                       article=rules.confirmation_within.source)
    if bidder != held["winner"]:
        raise Forbidden("not_the_winner", "only the winner signs the confirmation")
    if held["status"] == CONFIRMED:
        return Change()
    if held["status"] == VOID:
        raise Conflict("result_annulled", "the result was annulled on an upheld objection",
                       article=rules.result_publicity.source)
    if held["status"] == OVERDUE or now_ms >= int(held["due_ms"]):
        raise Conflict("confirmation_overdue", "the confirmation was due at "
                       f"{held['due']}", due=held["due"],
                       article=rules.confirmation_within.source)
    sets: dict[str, Any] = {"confirmation.status": CONFIRMED, "confirmation.at_ms": now_ms}
    due = None
    if rules.contract_within.value > 0:
        # from the later of the confirmation and the result's publicity end
        due = after(rules.contract_within, max(at(now_ms), _publicity_end(state) or at(0)), cal)
        sets["contract"] = {"status": PENDING, "winner": bidder, "due_ms": ms(due),
                            "due": due.isoformat()}
    event = AuctionConfirmed(auction_id=state["auction_id"], winner_uscc=bidder,
                             price_fen=int(state["result"]["price_fen"]),
                             confirmed_at=at(now_ms), article=rules.confirmation_within.source,
                             contract_due=due)
    if rules.result_publicity_after_contract.value:
        # the confirmation is the 产权交易合同: the result is publicised from it, with what
        # 32号令第29条 names (评估结果, 转让底价, 交易价格; unverified)
        publicity = _publicity(rules, cal, at(now_ms))
        event = event.model_copy(update={
            **publicity, "appraised_fen": state.get("appraised_fen"),
            "listing_price_fen": int(state["starting_price_fen"])})
        if publicity:
            sets["result.publicity_end"] = publicity["publicity_end"].isoformat()
    return Change(set=sets, events=[Outgoing(event, Category(state["category"]))])


def _publicity_end(state: Mapping[str, Any]) -> datetime | None:
    end = (state.get("result") or {}).get("publicity_end")
    return None if end is None else datetime.fromisoformat(str(end))


def confirmation_due(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> Change:
    """At the due time: a winner that has not signed loses the sale and its deposit
    (竞买保证金不予退还), once."""
    held = state.get("confirmation")
    if held is None or held["status"] != PENDING or now_ms < int(held["due_ms"]):
        return Change()
    return Change(set={"confirmation.status": OVERDUE}, events=_lapsed(
        state, AuctionConfirmationOverdue, held, rules.confirmation_within.source, now_ms))


def _lapsed(state: Mapping[str, Any], kind: type[AuctionConfirmationOverdue]
            | type[AuctionContractOverdue], held: Mapping[str, Any], article: str,
            now_ms: int) -> list[Outgoing]:
    """A winner that did not sign (``held``: the confirmation or the contract) in time:
    the event of ``kind`` and, where it paid one, its deposit forfeited."""
    winner = held["winner"]
    category = Category(state["category"])
    applied = (state.get("applicants") or {}).get(winner)
    forfeited = int(applied["paid_fen"]) if applied else 0
    events = [Outgoing(kind(auction_id=state["auction_id"], winner_uscc=winner,
                            due=at(int(held["due_ms"])), deposit_forfeited_fen=forfeited,
                            article=article), category)]
    if applied:
        events.append(Outgoing(AuctionDepositsSettled(
            auction_id=state["auction_id"], settled_at=at(now_ms), deposits=[AuctionDeposit(
                bidder_uscc=winner, payer_account=applied["account"], amount_fen=forfeited,
                action="forfeit", due=None, article=article)]), category))
    return events


# the contract (出让合同; 39号令第21条, 矿业权交易规则第26条, unverified) ----------------------
def pending_objections(state: Mapping[str, Any]) -> list[str]:
    """Objections to the publicised result still waiting for the seller's answer."""
    return sorted(oid for oid, status in (state.get("objections") or {}).items()
                  if status == PENDING)


def sign_contract(state: Mapping[str, Any], rules: AuctionRules, *, contract_no: str,
                  price_fen: int, now_ms: int, cal: Calendar) -> Change:
    """The seller records the sale contract signed with the winner: after the confirmation
    and the result's publicity, with no objection waiting (矿业权交易规则第27条: 交易中止),
    at the deal price, before it is due. The same contract again changes nothing."""
    held = state.get("contract")
    if held is None:
        raise Conflict("no_contract", "this sale asks no separate contract, or its "
                       "confirmation is not signed", article=rules.contract_within.source)
    if held["status"] == SIGNED:
        if held.get("contract_no") == contract_no and int(held["price_fen"]) == price_fen:
            return Change()
        raise Conflict("contract_signed", "the contract is already recorded",
                       contract_no=held.get("contract_no"))
    if held["status"] == VOID:
        raise Conflict("result_annulled", "the result was annulled on an upheld objection",
                       article=rules.result_publicity.source)
    if held["status"] == OVERDUE or (held["status"] == PENDING
                                     and now_ms >= int(held["due_ms"])):
        raise Conflict("contract_overdue", f"the contract was due at {held['due']}",
                       due=held["due"], article=rules.contract_within.source)
    end = _publicity_end(state)
    if end is not None and now_ms < ms(end):
        raise Conflict("publicity_running", "the contract follows the end of the result's "
                       "publicity", publicity_end=end.isoformat(),
                       article=rules.result_publicity.source)
    waiting = pending_objections(state)
    if waiting:
        raise Conflict("objection_pending", "an objection to the result waits for the "
                       "seller's answer: the sale is suspended until then", objections=waiting,
                       article=rules.contract_within.source)
    deal = int(state["result"]["price_fen"])
    if price_fen != deal:
        raise DomainError("contract_price_mismatch", f"the contract price must be the deal "
                          f"price, {deal} fen", deal_price_fen=deal,
                          article=rules.contract_within.source)
    event = AuctionContractSigned(auction_id=state["auction_id"], winner_uscc=held["winner"],
                                  contract_no=contract_no, price_fen=price_fen,
                                  signed_at=at(now_ms), article=rules.contract_within.source)
    sets: dict[str, Any] = {"contract.status": SIGNED, "contract.contract_no": contract_no,
                            "contract.price_fen": price_fen, "contract.at_ms": now_ms}
    period = rules.agreement_result_publicity
    if state["method"] == AuctionMethod.AGREEMENT and period.value > 0:
        # 协议出让结果 publicised from the contract (21号令第14条, unverified)
        end = after(period, at(now_ms), cal)
        event = event.model_copy(update={"publicity_end": end,
                                         "publicity_article": period.source})
        sets["result.publicity_end"] = end.isoformat()
    return Change(set=sets, events=[Outgoing(event, Category(state["category"]))])


def contract_due(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> Change:
    """At the due time: an unsigned contract forfeits the winner's deposit (定金不予退还),
    once; while an objection waits, the sale is suspended instead (its answer restarts
    the time: ``objection_answered``)."""
    held = state.get("contract")
    if held is None or held["status"] != PENDING or now_ms < int(held["due_ms"]):
        return Change()
    if pending_objections(state):
        return Change(set={"contract.status": HELD})
    return Change(set={"contract.status": OVERDUE}, events=_lapsed(
        state, AuctionContractOverdue, held, rules.contract_within.source, now_ms))


# objections to the publicised result (成交公示期内的异议) --------------------------------
def _result_publicity_rule(state: Mapping[str, Any], rules: AuctionRules) -> Rule:
    """The period the sale's result is publicised under: a sale by agreement's from its
    contract (21号令第14条) where the category has one, else the result's (成交公示)."""
    if state["method"] == AuctionMethod.AGREEMENT and rules.agreement_result_publicity.value:
        return rules.agreement_result_publicity
    return rules.result_publicity


def _winner(state: Mapping[str, Any]) -> str | None:
    """The sold result's winner (by its paddle; the public result names none)."""
    paddle = (state.get("result") or {}).get("winning_paddle")
    return next((uscc for uscc, b in (state.get("bidders") or {}).items()
                 if paddle is not None and b["paddle"] == paddle), None)


def objection_filed(state: Mapping[str, Any], objection_id: str) -> Change:
    """An objection to the sale's result notice: the contract waits for its answer."""
    if objection_id in (state.get("objections") or {}):
        return Change()
    return Change(set={f"objections.{objection_id}": PENDING})


def objection_answered(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar, *,
                       objection_id: str, upheld: bool, answer: str, now: datetime) -> Change:
    """The seller's answer. Upheld: the result does not stand (成交结果无效); any
    confirmation or contract on it falls and the winner's deposit is refunded, once.
    Dismissed: a contract held by the objections gets its full time again."""
    status = "upheld" if upheld else "dismissed"
    if (state.get("objections") or {}).get(objection_id) == status:
        return Change()
    sets: dict[str, Any] = {f"objections.{objection_id}": status}
    result = state.get("result") or {}
    winner = _winner(state)
    confirmation = state.get("confirmation") or {}
    contract = state.get("contract") or {}
    events: list[Outgoing] = []
    category = Category(state["category"])
    lapsed = OVERDUE in (confirmation.get("status"), contract.get("status"))  # fell already
    if upheld and result.get("sold") and winner is not None and not lapsed \
            and not state.get("annulled"):
        annulled = AuctionResultAnnulled(
            auction_id=state["auction_id"], winner_uscc=winner,
            price_fen=int(result["price_fen"]), objection_id=objection_id, reason=answer,
            annulled_at=now, contract_signed=contract.get("status") == SIGNED,
            article=_result_publicity_rule(state, rules).source)
        events.append(Outgoing(annulled, category))
        applied = (state.get("applicants") or {}).get(winner)
        if applied:  # counted towards the price, it goes back to the winner
            events.append(Outgoing(_settled(state, rules, cal, [(winner, applied)], None, now),
                                   category))
        sets["annulled"] = {"objection_id": objection_id, "at": now.isoformat()}
        if confirmation:
            sets["confirmation.status"] = VOID
        if contract:
            sets["contract.status"] = VOID
    elif not upheld and (state.get("contract") or {}).get("status") == HELD \
            and pending_objections(state) == [objection_id]:
        due = after(rules.contract_within, now, cal)
        sets.update({"contract.status": PENDING, "contract.due_ms": ms(due),
                     "contract.due": due.isoformat()})
    return Change(set=sets, events=events)


# a price cut (降价) ------------------------------------------------------------------
def reprice(state: Mapping[str, Any], rules: AuctionRules, *, price_fen: int,
            start: datetime, end: datetime | None, now: datetime, cal: Calendar,
            applications_close_at: datetime | None = None,
            approval_no: str | None = None) -> Change:
    """Cut the price: allowed with no offer in this round, and only after a new disclosure
    (32号令第18条); below 90% of the appraisal only with the approving unit's written
    consent (same article); an unsold auction reopens with it."""
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
    published = {k: v for k, v in state.items() if k in AuctionPublished.model_fields}
    e = AuctionPublished.model_validate({**published, "starting_price_fen": price_fen,
                                         "announced_at": now, "start_at": start, "end_at": end,
                                         "applications_close_at": applications_close_at})
    # a new disclosure; the appraisal floor binds the first price only
    _check_schedule(rules, e, cal)
    _check_applications(rules, e)
    event = AuctionRepriced(auction_id=state["auction_id"],
                            previous_price_fen=int(state["starting_price_fen"]),
                            starting_price_fen=price_fen, announced_at=now, start_at=start,
                            end_at=end, article=rules.price_cut.source,
                            approval_no=approval_no)
    sets = {"starting_price_fen": price_fen, "announced_at": now.isoformat(),
            "start_at": start.isoformat(), "end_at": end.isoformat() if end else None,
            "start_ms": ms(start), "end_ms": _first_end(e, rules), "status": OPEN,
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
            events.append(Outgoing(_settled(state, rules, cal, held, None, now),
                                   Category(state["category"])))
    return Change(set=sets, unset=["result"], events=events)

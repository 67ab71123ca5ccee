"""Auctions and listings (拍卖/挂牌) as pure decisions, each citing its rule.

39号令 = 招标拍卖挂牌出让国有建设用地使用权规定 (land); 32号令 = 企业国有资产交易监督
管理办法 (property). Their article numbers are unverified (rules.yaml says so).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.base import Message
from contracts.bidding import (
    AuctionClosed,
    AuctionCloseReason,
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionDepositsSettled,
    AuctionMethod,
    AuctionPublished,
    AuctionRepriced,
    AuctionResultAnnulled,
    ListingWentLive,
)
from contracts.categories import Category
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from ggzy.testing.data import new_uscc
from services.bidding.domain import auction
from services.bidding.domain.auction import Offer, decide
from services.bidding.domain.rules import AuctionRules, load

BOOK = load()
LAND = BOOK.for_auctions(Category.LAND)
PROPERTY = BOOK.for_auctions(Category.PROPERTY)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
SELLER, A, B = "914403001922038216", "91110108551385082Q", new_uscc(random.Random(7))


def _event(**kw: Any) -> AuctionPublished:
    data: dict[str, Any] = dict(
        auction_id="2026ABCDEFGHIJKLM001", project_code="2026ABCDEFGHIJKLM", name="宗地A-01",
        category=Category.LAND, region_code="440300", seller_uscc=SELLER,
        seller_name="示例市自然资源局",
        method=AuctionMethod.LISTING, starting_price_fen=100_000_00, increment_fen=1_000_00,
        has_base_price=True, announced_at=T0, start_at=T0 + timedelta(days=20),
        end_at=T0 + timedelta(days=30), countdown_s=90, extension_window_s=0)
    data.update(kw)
    return AuctionPublished(**data)


def _state(rules: AuctionRules = LAND, base: int | None = 120_000_00, **kw: Any) -> dict[str, Any]:
    state, _ = auction.publish(_event(**kw), rules, base, "2026-集体决策-07")
    return state


def _validate(rules: AuctionRules, e: AuctionPublished, base: int | None,
              decision: str | None) -> None:
    auction.validate(rules, e, base, decision, BOOK.calendar)


def _at_end(state: dict[str, Any], rules: AuctionRules, now_ms: int) -> Change:
    return auction.at_end(state, rules, now_ms, BOOK.calendar)


def _reprice(state: dict[str, Any], rules: AuctionRules, **kw: Any) -> Change:
    return auction.reprice(state, rules, cal=BOOK.calendar, **kw)


def _ms(at: datetime) -> int:
    return auction.ms(at)


def _apply(state: dict[str, Any], change: Any) -> dict[str, Any]:
    new = dict(state)
    for key, value in change.set.items():
        if key.startswith("bidders."):
            new["bidders"] = {**new["bidders"], key.split(".", 1)[1]: value}
        else:
            new[key] = value
    for key in change.unset:
        new.pop(key, None)
    return new


def _offer(state: dict[str, Any], bidder: str, price: int, at: datetime,
           rules: AuctionRules = LAND, seen: int | None = None) -> dict[str, Any]:
    return _apply(state, auction.offer(state, rules, bidder=bidder, name=bidder, price_fen=price,
                                       seen_offers=seen, now_ms=_ms(at)))


OPENED = T0 + timedelta(days=20, hours=1)
E = TypeVar("E", bound=Message)


def _event_of(change: Change, kind: type[E]) -> E:
    event = change.events[0].event
    assert isinstance(event, kind)
    return event


def _closed(change: Change) -> AuctionClosed:
    return _event_of(change, AuctionClosed)


# publication (rule validation) --------------------------------------------------------
def test_land_announcement_at_least_20_days_before_39号令第10条() -> None:
    with pytest.raises(DomainError) as err:
        _validate(LAND, _event(start_at=T0 + timedelta(days=19)), 1, "d")
    assert err.value.code == "announcement_too_short"
    assert "39号令第10条" in err.value.details["article"]
    assert "unverified" in err.value.details["article"]
    _validate(LAND, _event(), 120_000_00, "2026-集体决策-07")


def test_land_listing_at_least_10_days_39号令第20条() -> None:
    with pytest.raises(DomainError) as err:
        _validate(LAND, _event(end_at=T0 + timedelta(days=29)), 1, "d")
    assert err.value.code == "listing_too_short" and "第20条" in err.value.details["article"]


def test_land_needs_a_collectively_decided_base_price_39号令第12条() -> None:
    for base, decision in ((None, "d"), (1, "  "), (1, None)):
        with pytest.raises(DomainError) as err:
            _validate(LAND, _event(), base, decision)
        assert err.value.code == "base_price_required" and "第12条" in err.value.details["article"]


def test_an_auction_has_no_set_end_it_ends_after_the_calls() -> None:
    with pytest.raises(DomainError) as err:
        _validate(LAND, _event(method=AuctionMethod.AUCTION), 1, "d")
    assert err.value.code == "auction_has_no_end"
    state = _state(method=AuctionMethod.AUCTION, end_at=None)
    assert state["end_ms"] - state["start_ms"] == 90_000  # 3 calls of 30 s


def test_property_is_not_sold_by_land_methods() -> None:
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, _event(category=Category.PROPERTY), None, None)
    assert err.value.code == "method_not_allowed"


def test_property_disclosure_counts_20_working_days_32号令第13条() -> None:
    """Weekends do not count (holidays are not modelled): 20 working days from a Monday
    are 4 weeks, so the 26th calendar day is too early and the 28th is fine."""
    base = dict(category=Category.PROPERTY, method=AuctionMethod.ONLINE_BIDDING,
                appraised_fen=100_000_00)
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, _event(**base, start_at=T0 + timedelta(days=26),
                                          end_at=T0 + timedelta(days=27)), None, None)
    assert err.value.code == "announcement_too_short" and "第13条" in err.value.details["article"]
    _validate(PROPERTY, _event(**base, start_at=T0 + timedelta(days=28),
                                      end_at=T0 + timedelta(days=29)), None, None)


def test_property_first_listing_price_not_below_appraisal_32号令第12条() -> None:
    base = dict(category=Category.PROPERTY, method=AuctionMethod.ONLINE_BIDDING,
                start_at=T0 + timedelta(days=28), end_at=T0 + timedelta(days=29))
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, _event(**base, appraised_fen=100_000_01), None, None)
    assert err.value.code == "price_below_appraisal" and "第12条" in err.value.details["article"]
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, _event(**base), None, None)
    assert err.value.code == "appraisal_required"


def test_refuses_an_increment_above_the_rule_share_of_the_price() -> None:
    with pytest.raises(DomainError) as err:
        _validate(LAND, _event(increment_fen=10_000_01), 1, "d")
    assert err.value.code == "increment_too_large"


def test_auction_rules_must_be_coherent_and_sourced() -> None:
    raw = LAND.model_dump()
    broken: dict[str, Any]
    for broken in ({"calls": {**raw["calls"], "value": 0}},
                   {"call_interval": {**raw["call_interval"], "value": 0}},
                   {"extension_window": {**raw["extension_window"], "value": 5}},
                   {"increment_max_percent": {**raw["increment_max_percent"], "value": 0}},
                   {"listing_period": {**raw["listing_period"], "value": -1}},
                   {"announce_before": {**raw["announce_before"], "source": " "}},
                   {"methods": []}):
        with pytest.raises(ValidationError):
            AuctionRules.model_validate({**raw, **broken})


def test_every_auction_rule_cites_its_source_and_land_says_unverified() -> None:
    for rules in (LAND, PROPERTY):
        for _, rule in rules:
            if hasattr(rule, "source"):
                assert rule.source.strip()
    assert "39号令" in LAND.announce_before.source and "unverified" in LAND.calls.source
    assert LAND.calls.n == 3 and LAND.listing_period.n == 10 and LAND.announce_before.n == 20


# offers ------------------------------------------------------------------------------
def test_offers_open_at_the_start_and_must_beat_the_top_by_an_increment() -> None:
    state = _state()
    with pytest.raises(Conflict) as early:
        _offer(state, A, 100_000_00, T0 + timedelta(days=19))
    assert early.value.code == "bidding_not_open"
    with pytest.raises(DomainError) as low:
        _offer(state, A, 99_999_99, OPENED)
    assert low.value.code == "offer_too_low"
    assert low.value.details["minimum_offer_fen"] == 100_000_00
    state = _offer(state, A, 100_000_00, OPENED)
    with pytest.raises(DomainError) as low:
        _offer(state, B, 100_999_99, OPENED + timedelta(seconds=1))
    assert low.value.code == "offer_too_low"
    assert low.value.details["minimum_offer_fen"] == 101_000_00
    state = _offer(state, B, 101_000_00, OPENED + timedelta(seconds=1))
    assert [(o.paddle, o.price_fen) for o in auction.offers_of(state)] == [
        (1, 100_000_00), (2, 101_000_00)]


def test_a_stale_offer_is_refused_with_its_code() -> None:
    state = _offer(_state(), A, 100_000_00, OPENED)
    with pytest.raises(Conflict) as err:
        _offer(state, B, 105_000_00, OPENED, seen=0)
    assert err.value.code == "stale_offer" and err.value.details["offers"] == 1
    assert auction.offers_of(_offer(state, B, 105_000_00, OPENED, seen=1))[-1].paddle == 2


def test_the_top_bidder_cannot_raise_itself_and_keeps_its_paddle() -> None:
    state = _offer(_offer(_state(), A, 100_000_00, OPENED), B, 101_000_00, OPENED)
    with pytest.raises(Conflict) as err:
        _offer(state, B, 102_000_00, OPENED)
    assert err.value.code == "already_top"
    state = _offer(state, A, 102_000_00, OPENED)
    assert auction.paddle_of(state, A) == 1 and auction.paddle_of(state, B) == 2


def test_offer_events_name_the_paddle_never_the_bidder() -> None:
    change = auction.offer(_state(), LAND, bidder=A, name="竞买人甲", price_fen=100_000_00,
                           seen_offers=None, now_ms=_ms(OPENED))
    dumped = change.events[0].event.model_dump_json()
    assert A not in dumped and "竞买人甲" not in dumped and '"paddle":1' in dumped


# the close decision ------------------------------------------------------------------
def test_auction_sells_after_three_calls_with_no_higher_offer_39号令第16条() -> None:
    state = _state(method=AuctionMethod.AUCTION, end_at=None)
    start = T0 + timedelta(days=20)
    state = _offer(state, A, 120_000_00, start + timedelta(seconds=10))
    assert state["end_ms"] == _ms(start + timedelta(seconds=100))  # the calls restart
    state = _offer(state, B, 121_000_00, start + timedelta(seconds=50))
    assert state["end_ms"] == _ms(start + timedelta(seconds=140))
    assert _at_end(state, LAND, _ms(start + timedelta(seconds=139))).events == []
    closed = _apply(state, change := _at_end(state, LAND, state["end_ms"]))
    event = _closed(change)
    assert event.sold and event.winner_uscc == B and event.winning_paddle == 2
    assert event.price_fen == 121_000_00 and event.base_price_met is True
    assert "第16条" in event.article
    assert _at_end(closed, LAND, state["end_ms"] + 5).events == []  # exactly once


def test_auction_stops_without_sale_below_the_base_price_39号令第12条() -> None:
    state = _offer(_state(method=AuctionMethod.AUCTION, end_at=None), A, 110_000_00,
                   T0 + timedelta(days=20, seconds=1))
    event = _closed(_at_end(state, LAND, state["end_ms"]))
    assert not event.sold and event.reason == AuctionCloseReason.BELOW_BASE_PRICE
    assert event.winner_uscc is None and event.winning_paddle is None
    assert event.base_price_met is False and "第12条" in event.article
    assert "120000" not in event.model_dump_json()  # the base price itself never goes out


def test_listing_end_with_a_bidder_going_on_turns_live_from_top_plus_increment_第21条() -> None:
    state = _offer(_offer(_state(), A, 120_000_00, OPENED), B, 125_000_00, OPENED)
    state = _apply(state, auction.go_on(state, LAND, A, _ms(OPENED)))
    end = state["end_ms"]
    live = _apply(state, change := _at_end(state, LAND, end))
    went = _event_of(change, ListingWentLive)
    assert "第21条" in went.article
    assert went.top_price_fen == 125_000_00 and went.minimum_offer_fen == 126_000_00
    assert live["status"] == auction.LIVE and live["end_ms"] == end + 90_000
    with pytest.raises(DomainError):
        _offer(live, A, 125_500_00, auction.at(end + 1))
    live = _offer(live, A, 126_000_00, auction.at(end + 1_000))
    assert live["end_ms"] == end + 1_000 + 90_000  # calls restart in live bidding
    event = _closed(_at_end(live, LAND, live["end_ms"]))
    assert event.sold and event.winner_uscc == A and event.price_fen == 126_000_00


def test_only_a_bidder_with_an_offer_may_go_on_and_only_in_a_listing() -> None:
    state = _offer(_state(), A, 120_000_00, OPENED)
    with pytest.raises(DomainError) as err:
        auction.go_on(state, LAND, B, _ms(OPENED))
    assert err.value.code == "not_a_bidder"
    online = _state(PROPERTY, None, category=Category.PROPERTY, appraised_fen=1,
                    method=AuctionMethod.ONLINE_BIDDING)
    with pytest.raises(Conflict):
        auction.go_on(_offer(online, A, 100_000_00, OPENED, PROPERTY), PROPERTY, A, _ms(OPENED))


def test_listing_single_bidder_at_or_above_base_wins_39号令第21条() -> None:
    state = _offer(_state(), A, 120_000_00, OPENED)  # exactly the base price
    event = _closed(_at_end(state, LAND, state["end_ms"]))
    assert event.sold and event.winner_uscc == A and event.reason == AuctionCloseReason.SOLD
    assert "第21条" in event.article


def test_listing_with_no_offer_is_no_sale_39号令第21条() -> None:
    state = _state()
    event = _closed(_at_end(state, LAND, state["end_ms"]))
    assert not event.sold and event.reason == AuctionCloseReason.NO_VALID_OFFER
    assert event.offers == 0 and event.price_fen is None


def test_listing_tie_goes_to_the_earliest_offer_39号令第21条() -> None:
    """The increment makes equal offers unreachable through ``offer``; the rule stands."""
    offers = [Offer(1, 1, 130_000_00, 1_000), Offer(2, 2, 130_000_00, 900),
              Offer(3, 3, 129_000_00, 800)]
    outcome = decide(offers, 120_000_00, LAND, by_calls=False)
    assert outcome.sold and outcome.top == offers[1]


offer_lists = st.lists(st.tuples(st.integers(1, 20), st.integers(1, 10**6),
                                 st.integers(0, 10**6)), max_size=12)


@given(offer_lists, st.one_of(st.none(), st.integers(1, 10**6)))
def test_close_picks_highest_then_earliest_and_never_sells_below_base(
        raw: list[tuple[int, int, int]], base: int | None) -> None:
    """39号令第12条 (never under the base), 第21条 (highest, tie to the earliest)."""
    offers = [Offer(n + 1, paddle, price, at) for n, (paddle, price, at) in enumerate(raw)]
    outcome = decide(offers, base, LAND, by_calls=False)
    if not offers:
        assert outcome.reason == AuctionCloseReason.NO_VALID_OFFER
        return
    best = max(o.price_fen for o in offers)
    assert outcome.top is not None and outcome.top.price_fen == best
    assert outcome.top.at_ms == min(o.at_ms for o in offers if o.price_fen == best)
    assert outcome.sold == (base is None or best >= base)


def test_online_bidding_late_offer_extends_the_end_by_the_window() -> None:
    """Common practice (unverified): an offer in the final minutes extends the end."""
    state = _state(PROPERTY, None, category=Category.PROPERTY, appraised_fen=100_000_00,
                   method=AuctionMethod.ONLINE_BIDDING, end_at=T0 + timedelta(days=21))
    end = auction.at(state["end_ms"])
    early = _offer(state, A, 100_000_00, end - timedelta(minutes=6), PROPERTY)
    assert early["end_ms"] == state["end_ms"]  # outside the window: no extension
    late = _offer(early, B, 101_000_00, end - timedelta(minutes=1), PROPERTY)
    assert late["end_ms"] == _ms(end + timedelta(minutes=4))  # 5 min after the offer
    event = _closed(_at_end(late, PROPERTY, late["end_ms"]))
    assert event.sold and event.winner_uscc == B and event.base_price_met is None


def test_property_single_buyer_contracts_at_listing_price_or_higher_32号令第22条() -> None:
    state = _state(PROPERTY, None, category=Category.PROPERTY, appraised_fen=100_000_00,
                   method=AuctionMethod.ONLINE_BIDDING)
    with pytest.raises(DomainError):
        _offer(state, A, 99_999_99, OPENED, PROPERTY)
    state = _offer(state, A, 100_000_00, OPENED, PROPERTY)
    event = _closed(_at_end(state, PROPERTY, state["end_ms"]))
    assert event.sold and event.price_fen == 100_000_00 and "第22条" in event.article


def test_price_cut_needs_a_new_disclosure_32号令第18条() -> None:
    base = dict(category=Category.PROPERTY, appraised_fen=100_000_00,
                method=AuctionMethod.ONLINE_BIDDING, start_at=T0 + timedelta(days=28),
                end_at=T0 + timedelta(days=29))
    state = _state(PROPERTY, None, **base)
    unsold = _apply(state, _at_end(state, PROPERTY, state["end_ms"]))
    now = T0 + timedelta(days=30)  # a Wednesday
    with pytest.raises(DomainError) as err:
        _reprice(unsold, PROPERTY, price_fen=90_000_00, start=now + timedelta(days=20),
                        end=now + timedelta(days=40), now=now)
    assert err.value.code == "announcement_too_short" and "第13条" in err.value.details["article"]
    change = _reprice(unsold, PROPERTY, price_fen=90_000_00,  # below the appraisal now
                             start=now + timedelta(days=28), end=now + timedelta(days=29), now=now)
    reopened = _apply(unsold, change)
    assert reopened["status"] == auction.OPEN and "result" not in reopened
    assert "第18条" in _event_of(change, AuctionRepriced).article
    with pytest.raises(DomainError) as err:
        _reprice(reopened, PROPERTY, price_fen=95_000_00, start=now + timedelta(days=28),
                        end=now + timedelta(days=29), now=now)
    assert err.value.code == "not_a_price_cut"


def test_a_price_below_90_percent_of_the_appraisal_needs_written_approval_32号令第18条(
        ) -> None:
    """新的转让底价低于评估结果的90%时，应当经转让行为批准单位书面同意."""
    base = dict(category=Category.PROPERTY, appraised_fen=100_000_00,
                method=AuctionMethod.ONLINE_BIDDING, start_at=T0 + timedelta(days=28),
                end_at=T0 + timedelta(days=29))
    state = _state(PROPERTY, None, **base)
    unsold = _apply(state, _at_end(state, PROPERTY, state["end_ms"]))
    now = T0 + timedelta(days=30)
    when = dict(start=now + timedelta(days=28), end=now + timedelta(days=29), now=now)
    with pytest.raises(DomainError) as err:
        _reprice(unsold, PROPERTY, price_fen=89_999_99, **when)
    assert err.value.code == "approval_required" and "第18条" in err.value.details["article"]
    _reprice(unsold, PROPERTY, price_fen=90_000_00, **when)  # exactly 90%: no approval
    change = _reprice(unsold, PROPERTY, price_fen=80_000_00, approval_no="国资产权〔2026〕5号",
                      **when)
    assert _event_of(change, AuctionRepriced).approval_no == "国资产权〔2026〕5号"


def test_no_price_cut_once_offers_are_made() -> None:
    state = _offer(_state(), A, 120_000_00, OPENED)
    with pytest.raises(Conflict) as err:
        _reprice(state, LAND, price_fen=90_000_00, start=OPENED + timedelta(days=21),
                        end=OPENED + timedelta(days=31), now=OPENED)
    assert err.value.code == "offers_made"


def test_sale_notices_publish_the_deal_price_never_the_base_price() -> None:
    """出让公告 / 成交公示: the terms, the winner and the deal price (成交价); of the base price
    only whether it was met (39号令第12条: secret)."""
    from services.announcement import domain as notices

    facts = notices.TenderFacts("宗地A-01", Category.LAND, "440300")
    published = notices.draft(_event(), facts, None, T0)
    state = _offer(_state(), A, 130_000_00, OPENED)
    closed = _closed(_at_end(state, LAND, state["end_ms"]))
    result = notices.draft(closed, facts, None, T0)
    assert published is not None and result is not None
    assert published.title == "宗地A-01挂牌出让公告" and published.content["HAS_BASE_PRICE"]
    assert result.title == "宗地A-01成交公示" and result.content["DEAL_PRICE"] == "130000.00"
    assert result.content["WIN_BIDDER_CODE"] == A and result.content["BASE_PRICE_MET"] is True
    assert "120000" not in str(published.content) + str(result.content)


# applications and deposits (竞买申请、竞买保证金) ------------------------------------------
DEPOSITED = {"deposit_fen": 20_000_00, "applications_close_at": T0 + timedelta(days=28)}


def _merge(state: dict[str, Any], change: Change) -> dict[str, Any]:
    """Apply dotted paths one level deep (applicants.X, applicants.X.status, bidders.X)."""
    new = {**state, "applicants": dict(state.get("applicants") or {}),
           "bidders": dict(state.get("bidders") or {})}
    for key, value in change.set.items():
        parts = key.split(".")
        if len(parts) == 1:
            new[key] = value
        elif len(parts) == 2:
            new[parts[0]][parts[1]] = value
        else:
            new[parts[0]][parts[1]] = {**new[parts[0]][parts[1]], parts[2]: value}
    return new


def test_a_sale_with_a_deposit_needs_an_application_window_within_bidding() -> None:
    """39号令第14条 (unverified): applications are reviewed before the bidder may offer."""
    _validate(LAND, _event(**DEPOSITED), 120_000_00, "d")
    for bad in ({"deposit_fen": 1}, {**DEPOSITED, "applications_close_at": T0 + timedelta(days=31)},
                {**DEPOSITED, "applications_close_at": T0}):
        with pytest.raises(DomainError) as exc:
            _validate(LAND, _event(**bad), 120_000_00, "d")
        assert exc.value.code == "applications_close_at_invalid"
        assert "第14条" in exc.value.details["article"]
    with pytest.raises(DomainError) as exc:
        _validate(LAND, _event(applications_close_at=T0 + timedelta(days=25)), 120_000_00, "d")
    assert exc.value.code == "applications_without_deposit"


def test_only_qualified_applicants_get_a_paddle_and_may_offer_39号令第14条() -> None:
    state = _state(**DEPOSITED)
    open_at = T0 + timedelta(days=21)
    with pytest.raises(DomainError) as exc:
        auction.offer(state, LAND, bidder=A, name=A, price_fen=100_000_00, seen_offers=None,
                      now_ms=_ms(open_at))
    assert exc.value.code == "not_qualified"
    with pytest.raises(DomainError) as exc:
        auction.apply(state, LAND, bidder=A, name="甲", account="6222-A", paid_fen=19_999_99,
                      now_ms=_ms(T0 + timedelta(days=1)))
    assert exc.value.code == "deposit_required"
    for bidder in (A, B):
        state = _merge(state, auction.apply(state, LAND, bidder=bidder, name=bidder,
                                            account=f"acct-{bidder}", paid_fen=20_000_00,
                                            now_ms=_ms(T0 + timedelta(days=1))))
    again = auction.apply(state, LAND, bidder=A, name="甲", account="acct-" + A,
                          paid_fen=20_000_00, now_ms=_ms(T0 + timedelta(days=2)))
    assert again.set == {} and again.events == []
    with pytest.raises(Conflict) as closed:
        auction.apply(state, LAND, bidder=SELLER, name="x", account="x", paid_fen=20_000_00,
                      now_ms=_ms(T0 + timedelta(days=28)))
    assert closed.value.code == "applications_closed"
    state = _merge(state, auction.review(state, LAND, BOOK.calendar, bidder=A, qualified=True,
                                         reason="", now=T0 + timedelta(days=2)))
    assert auction.paddle_of(state, A) == 1
    rejected = auction.review(state, LAND, BOOK.calendar, bidder=B, qualified=False,
                              reason="资格证明不全", now=T0 + timedelta(days=2))
    [settled] = [o.event for o in rejected.events]
    assert [(d.bidder_uscc, d.action, d.amount_fen) for d in settled.deposits] == [
        (B, "refund", 20_000_00)]
    state = _merge(state, rejected)
    assert auction.paddle_of(state, B) is None
    with pytest.raises(Conflict):
        auction.review(state, LAND, BOOK.calendar, bidder=B, qualified=True, reason="",
                       now=T0 + timedelta(days=3))
    state = _offer(state, A, 120_000_00, open_at)
    assert state["offers"][0]["paddle"] == 1


def test_at_the_close_the_winners_deposit_counts_towards_the_price_others_refunded() -> None:
    """39号令第24条 (unverified): refunds within 5 working days of the end."""
    state = _state(**DEPOSITED)
    for bidder in (A, B):
        state = _merge(state, auction.apply(state, LAND, bidder=bidder, name=bidder,
                                            account=f"acct-{bidder}", paid_fen=20_000_00,
                                            now_ms=_ms(T0)))
        state = _merge(state, auction.review(state, LAND, BOOK.calendar, bidder=bidder,
                                             qualified=True, reason="", now=T0))
    state = _offer(state, A, 120_000_00, T0 + timedelta(days=21))
    state = _offer(state, B, 121_000_00, T0 + timedelta(days=22))
    end = T0 + timedelta(days=30)  # a Wednesday
    change = auction.settle_deposits(state, _at_end(state, LAND, _ms(end)), LAND,
                                     BOOK.calendar, end)
    closed, settled = (o.event for o in change.events)
    assert isinstance(closed, AuctionClosed) and closed.winner_uscc == B
    by = {d.bidder_uscc: d for d in settled.deposits}
    assert (by[B].action, by[B].due) == ("to_price", None)
    assert by[A].action == "refund" and by[A].due == BOOK.calendar.add_working_days(end, 5)
    assert by[A].payer_account == "acct-" + A


def test_a_price_cut_of_a_sale_with_a_deposit_opens_a_new_round_of_applications() -> None:
    """A new disclosure (32号令第18条, unverified): the deposits held are refunded, and the
    bidders apply and are reviewed again before the new window closes."""
    base = dict(category=Category.PROPERTY, method=AuctionMethod.ONLINE_BIDDING,
                appraised_fen=100_000_00, has_base_price=False, start_at=T0 + timedelta(days=28),
                end_at=T0 + timedelta(days=29), deposit_fen=10_000_00,
                applications_close_at=T0 + timedelta(days=27))
    state = _state(PROPERTY, None, **base)
    state = _merge(state, auction.apply(state, PROPERTY, bidder=A, name=A, account="acct-A",
                                        paid_fen=10_000_00, now_ms=_ms(T0)))
    state = _merge(state, auction.review(state, PROPERTY, BOOK.calendar, bidder=A,
                                         qualified=True, reason="", now=T0))
    now = T0 + timedelta(days=2)
    with pytest.raises(DomainError) as exc:
        _reprice(state, PROPERTY, price_fen=95_000_00, start=now + timedelta(days=30),
                 end=now + timedelta(days=31), now=now)
    assert exc.value.code == "applications_close_at_invalid"
    change = _reprice(state, PROPERTY, price_fen=95_000_00, start=now + timedelta(days=30),
                      end=now + timedelta(days=31), now=now,
                      applications_close_at=now + timedelta(days=29))
    assert change.set["applicants"] == {} and change.set["bidders"] == {}
    settled = [o.event for o in change.events if isinstance(o.event, AuctionDepositsSettled)]
    assert [(d.bidder_uscc, d.action) for d in settled[0].deposits] == [(A, "refund")]


# mining rights (矿业权出让): 矿业权交易规则 (国土资规〔2017〕7号) and the provinces' online
# rules; article numbers unverified (rules.yaml) ------------------------------------------
MINING = BOOK.for_auctions(Category.MINING)
M_START = BOOK.calendar.add_working_days(T0, 20)


def _mining(method: AuctionMethod = AuctionMethod.AUCTION, **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        category=Category.MINING, name="示例县铜矿采矿权", method=method,
        appraised_fen=100_000_00, has_base_price=False, start_at=M_START,
        end_at=None if method is AuctionMethod.AUCTION
        else BOOK.calendar.add_working_days(M_START, 10),
        deposit_fen=20_000_00, applications_close_at=M_START - timedelta(days=1))
    fields.update(kw)
    return fields


def _qualified(state: dict[str, Any], rules: AuctionRules, *bidders: str) -> dict[str, Any]:
    for bidder in bidders:
        state = _merge(state, auction.apply(state, rules, bidder=bidder, name=bidder,
                                            account=f"acct-{bidder}", paid_fen=20_000_00,
                                            now_ms=_ms(T0)))
        state = _merge(state, auction.review(state, rules, BOOK.calendar, bidder=bidder,
                                             qualified=True, reason="", now=T0))
    return state


def test_mining_rules_count_working_days_and_say_unverified() -> None:
    """矿业权交易规则 (unverified): announced 20 working days before, listed >= 10 working
    days; an auction needs 3 bidders; the result is publicised 10 working days."""
    assert (MINING.announce_before.unit, MINING.announce_before.n) == ("working_days", 20)
    assert (MINING.listing_period.unit, MINING.listing_period.n) == ("working_days", 10)
    assert MINING.minimum_bidders.n == 3 and MINING.result_publicity.n == 10
    assert AuctionMethod.ONLINE_BIDDING not in MINING.methods
    assert all("unverified" in r.source for r in (
        MINING.announce_before, MINING.listing_period, MINING.minimum_bidders,
        MINING.result_publicity))


def test_mining_announcement_20_working_days_before_offers_open_矿业权交易规则() -> None:
    _validate(MINING, _event(**_mining()), None, None)
    early = M_START - timedelta(hours=1)
    with pytest.raises(DomainError) as exc:
        _validate(MINING, _event(**_mining(start_at=early,
                                           applications_close_at=early - timedelta(days=1))),
                  None, None)
    assert exc.value.code == "announcement_too_short"
    assert "20个工作日" in exc.value.details["article"]


def test_mining_listing_lasts_10_working_days_not_10_calendar_days_矿业权交易规则() -> None:
    """Ten calendar days hold two weekends' days: short of ten working days."""
    listing = AuctionMethod.LISTING
    _validate(MINING, _event(**_mining(listing)), None, None)
    for end in (M_START + timedelta(days=10),
                BOOK.calendar.add_working_days(M_START, 10) - timedelta(minutes=1)):
        with pytest.raises(DomainError) as exc:
            _validate(MINING, _event(**_mining(listing, end_at=end)), None, None)
        assert exc.value.code == "listing_too_short"
        assert "10个工作日" in exc.value.details["article"]
    # land keeps counting calendar days (39号令第20条): ten days are enough there
    _validate(LAND, _event(start_at=T0 + timedelta(days=20), end_at=T0 + timedelta(days=30)),
              120_000_00, "d")


def test_a_mining_auction_counts_its_bidders_from_applications_四川规则() -> None:
    """拍卖竞买人不得少于3人 (unverified): the count needs applications, so an auction
    without a deposit is refused; a listing (no minimum) takes any registered bidder."""
    with pytest.raises(DomainError) as exc:
        _validate(MINING, _event(**_mining(deposit_fen=0, applications_close_at=None)),
                  None, None)
    assert exc.value.code == "applications_required"
    assert "不得少于3人" in exc.value.details["article"]
    _validate(MINING, _event(**_mining(AuctionMethod.LISTING, deposit_fen=0,
                                       applications_close_at=None)), None, None)


def test_a_mining_auction_with_two_bidders_takes_no_offer_and_closes_unsold() -> None:
    """Two qualified bidders of the three required: every offer is refused, and at its end
    the auction closes without sale (too_few_bidders); both deposits are refunded."""
    state = _qualified(_state(MINING, None, **_mining()), MINING, A, B)
    with pytest.raises(Conflict) as exc:
        auction.offer(state, MINING, bidder=A, name=A, price_fen=100_000_00, seen_offers=None,
                      now_ms=_ms(M_START) + 1)
    assert exc.value.code == "too_few_bidders"
    end = int(state["end_ms"])
    change = auction.settle_deposits(state, _at_end(state, MINING, end), MINING,
                                     BOOK.calendar, auction.at(end))
    closed, settled = (o.event for o in change.events)
    assert isinstance(closed, AuctionClosed) and isinstance(settled, AuctionDepositsSettled)
    assert (closed.sold, closed.reason, closed.offers) == (
        False, AuctionCloseReason.TOO_FEW_BIDDERS, 0)
    assert closed.article == MINING.minimum_bidders.source
    assert sorted((d.bidder_uscc, d.action) for d in settled.deposits) == sorted(
        [(A, "refund"), (B, "refund")])


def test_a_mining_auction_with_three_bidders_sells_after_the_calls() -> None:
    C = new_uscc(random.Random(11))
    state = _qualified(_state(MINING, None, **_mining()), MINING, A, B, C)
    state = _offer(state, B, 100_000_00, M_START + timedelta(seconds=1), MINING)
    state = _offer(state, C, 101_000_00, M_START + timedelta(seconds=2), MINING)
    closed = _closed(_at_end(state, MINING, int(state["end_ms"])))
    assert (closed.sold, closed.reason, closed.winner_uscc) == (True, AuctionCloseReason.SOLD, C)


def test_a_mining_result_is_publicised_10_working_days_other_sales_per_their_rules() -> None:
    """成交结果公示 >= 10 working days (矿业权, unverified); property's result notice 5
    working days (32号令第29条, unverified); land's result is a notice without a period."""
    state = _qualified(_state(MINING, None, **_mining(AuctionMethod.LISTING)), MINING, A)
    state = _offer(state, A, 100_000_00, M_START + timedelta(hours=1), MINING)
    end = int(state["end_ms"])
    closed = _closed(_at_end(state, MINING, end))
    assert closed.sold and closed.winner_uscc == A  # a listing needs no 3 bidders
    assert closed.publicity_end == BOOK.calendar.add_working_days(auction.at(end), 10)
    assert closed.publicity_article == MINING.result_publicity.source
    land = _offer(_state(), A, 120_000_00, OPENED)
    land_closed = _closed(_at_end(land, LAND, int(land["end_ms"])))
    assert land_closed.publicity_end is None and land_closed.publicity_article is None


def test_a_minimum_of_bidders_needs_the_qualification_review() -> None:
    raw = MINING.model_dump()
    raw["qualification"] = {**raw["qualification"], "value": 0}
    with pytest.raises(ValidationError, match="qualification"):
        AuctionRules.model_validate(raw)


def test_mining_notices_name_the_right_and_publicise_the_result_with_its_period() -> None:
    """矿业权拍卖/挂牌出让公告; the result (成交公示) carries its publicity period, the basis
    and how to object; a period already over publishes no open publicity."""
    from services.announcement import domain as notices

    facts = notices.TenderFacts("示例县铜矿采矿权", Category.MINING, "440300")
    published = notices.draft(_event(**_mining()), facts, None, T0)
    assert published is not None and published.title == "示例县铜矿采矿权矿业权拍卖出让公告"
    state = _qualified(_state(MINING, None, **_mining(AuctionMethod.LISTING)), MINING, A)
    state = _offer(state, A, 100_000_00, M_START + timedelta(hours=1), MINING)
    closed = _closed(_at_end(state, MINING, int(state["end_ms"])))
    assert closed.publicity_end is not None
    now = closed.closed_at + timedelta(seconds=1)
    result = notices.draft(closed, facts, None, now)
    assert result is not None and result.publicity_end == closed.publicity_end
    assert result.content["PUBLICITY_END_TIME"] == closed.publicity_end.isoformat()
    assert result.content["PUBLICITY_BASIS"] == MINING.result_publicity.source
    assert "异议" in result.content["OBJECTION_METHOD"]
    late = notices.draft(closed, facts, None, closed.publicity_end + timedelta(seconds=1))
    assert late is not None and late.publicity_end is None
    land = _offer(_state(), A, 130_000_00, OPENED)
    land_result = notices.draft(_closed(_at_end(land, LAND, land["end_ms"])),
                                notices.TenderFacts("宗地A-01", Category.LAND, "440300"),
                                None, T0)
    assert land_result is not None and land_result.publicity_end is None
    assert "PUBLICITY_END_TIME" not in land_result.content


# the confirmation (成交确认书; 39号令第22条, unverified) ---------------------------------
def _deep(state: dict[str, Any], change: Change) -> dict[str, Any]:
    """Apply a change's dotted paths at any depth (on copies)."""
    import copy

    new = copy.deepcopy(state)
    for key, value in change.set.items():
        *path, last = key.split(".")
        node = new
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return new


def _sold_with_deposit() -> tuple[dict[str, Any], AuctionClosed]:
    state = _qualified(_state(**DEPOSITED), LAND, A, B)
    state = _offer(state, A, 120_000_00, T0 + timedelta(days=21))
    state = _offer(state, B, 125_000_00, T0 + timedelta(days=22))
    change = _at_end(state, LAND, int(state["end_ms"]))
    return _deep(state, change), _closed(change)


def test_a_sold_result_asks_the_winner_to_sign_the_confirmation_in_time_39号令第22条() -> None:
    state, closed = _sold_with_deposit()
    end = auction.at(int(state["end_ms"]))
    due = BOOK.calendar.add_working_days(end, 1)
    assert closed.confirmation_due == due and closed.winner_uscc == B
    assert state["confirmation"]["status"] == "pending" and state["result"]["confirmation_due"]
    with pytest.raises(DomainError) as exc:
        auction.confirm(state, LAND, A, _ms(end), BOOK.calendar)
    assert exc.value.code == "not_the_winner"
    change = auction.confirm(state, LAND, B, _ms(end) + 1, BOOK.calendar)
    signed = _event_of(change, AuctionConfirmed)
    assert (signed.winner_uscc, signed.price_fen) == (B, 125_000_00)
    assert "第22条" in signed.article
    state = _deep(state, change)
    assert auction.confirm(state, LAND, B, _ms(end) + 2, BOOK.calendar).events == []  # again
    assert auction.confirmation_due(state, LAND, _ms(due)).events == []  # signed: nothing due


def test_an_unsigned_confirmation_loses_the_sale_and_the_deposit_once() -> None:
    """逾期不签订成交确认书: 竞买保证金不予退还 (39号令第22条, unverified), a credit fact."""
    state, closed = _sold_with_deposit()
    assert closed.confirmation_due is not None
    due = _ms(closed.confirmation_due)
    assert auction.confirmation_due(state, LAND, due - 1).events == []  # not yet
    change = auction.confirmation_due(state, LAND, due)
    overdue, settled = (o.event for o in change.events)
    assert isinstance(overdue, AuctionConfirmationOverdue)
    assert (overdue.winner_uscc, overdue.deposit_forfeited_fen) == (B, 20_000_00)
    assert isinstance(settled, AuctionDepositsSettled)
    assert [(d.bidder_uscc, d.action, d.amount_fen, d.payer_account) for d in
            settled.deposits] == [(B, "forfeit", 20_000_00, "acct-" + B)]
    state = _deep(state, change)
    assert auction.confirmation_due(state, LAND, due + 5).events == []  # exactly once
    with pytest.raises(Conflict) as exc:
        auction.confirm(state, LAND, B, due + 10, BOOK.calendar)
    assert exc.value.code == "confirmation_overdue"


def test_a_late_signature_is_refused_even_before_the_timer_fires() -> None:
    state, closed = _sold_with_deposit()
    assert closed.confirmation_due is not None
    with pytest.raises(Conflict) as exc:
        auction.confirm(state, LAND, B, _ms(closed.confirmation_due), BOOK.calendar)
    assert exc.value.code == "confirmation_overdue"


def test_an_unsold_sale_asks_no_confirmation() -> None:
    state = _state()
    change = _at_end(state, LAND, int(state["end_ms"]))
    assert _closed(change).confirmation_due is None and "confirmation" not in change.set
    with pytest.raises(Conflict) as exc:
        auction.confirm(_deep(state, change), LAND, A, int(state["end_ms"]) + 1,
                        BOOK.calendar)
    assert exc.value.code == "no_confirmation"


def test_a_lapsed_sale_is_announced_without_naming_the_winner() -> None:
    """成交不成立公告 after an unsigned confirmation; in OCDS the award is cancelled."""
    from services.announcement import domain as notices
    from services.announcement.ocds import release

    state, closed = _sold_with_deposit()
    assert closed.confirmation_due is not None
    change = auction.confirmation_due(state, LAND, _ms(closed.confirmation_due))
    lapsed = _event_of(change, AuctionConfirmationOverdue)
    facts = notices.TenderFacts("宗地A-01", Category.LAND, "440300")
    draft = notices.draft(lapsed, facts, None, T0)
    assert draft is not None and draft.title == "宗地A-01成交不成立公告"
    assert B not in str(draft.content) and "第22条" in draft.content["LEGAL_BASIS"]
    notice = {"id": "N", "notice_type": draft.notice_type.value,
              "tender_id": lapsed.auction_id, "published_at": T0.isoformat(),
              "content": draft.content, "title": draft.title, "category": "land",
              "region_code": "440300", "seq": 1}
    assert release(notice, "ocds-test")["awards"][0]["status"] == "cancelled"



# the sale contract (出让合同; 39号令第21条, 矿业权交易规则第26条-27条, unverified) -----------
def _confirmed(state: dict[str, Any], rules: AuctionRules, winner: str,
               at_ms: int) -> tuple[dict[str, Any], AuctionConfirmed]:
    change = auction.confirm(state, rules, winner, at_ms, BOOK.calendar)
    return _deep(state, change), _event_of(change, AuctionConfirmed)


def _mining_sold() -> tuple[dict[str, Any], AuctionClosed]:
    """A mining listing sold to A (deposit paid), its result publicised 10 working days."""
    state = _qualified(_state(MINING, None, **_mining(AuctionMethod.LISTING)), MINING, A)
    state = _offer(state, A, 100_000_00, M_START + timedelta(hours=1), MINING)
    change = _at_end(state, MINING, int(state["end_ms"]))
    return _deep(state, change), _closed(change)


def _sign(state: dict[str, Any], rules: AuctionRules, at_ms: int, price: int = 125_000_00,
          no: str = "示出让〔2026〕7号") -> Change:
    return auction.sign_contract(state, rules, contract_no=no, price_fen=price, now_ms=at_ms,
                                 cal=BOOK.calendar)


def test_the_contract_follows_the_confirmation_at_the_deal_price_39号令第21条() -> None:
    """竞得人按成交确认书约定的时间签订出让合同: due 10 working days after the confirmation
    (land has no result publicity); only at the deal price; recorded once."""
    state, _ = _sold_with_deposit()
    end = int(state["end_ms"])
    with pytest.raises(Conflict) as exc:
        _sign(state, LAND, end + 1)
    assert exc.value.code == "no_contract"  # the confirmation comes first
    state, confirmed = _confirmed(state, LAND, B, end + 1)
    due = BOOK.calendar.add_working_days(auction.at(end + 1), 10)
    assert confirmed.contract_due == due and state["contract"]["status"] == "pending"
    with pytest.raises(DomainError) as err:
        _sign(state, LAND, end + 2, price=120_000_00)
    assert err.value.code == "contract_price_mismatch"
    assert err.value.details["deal_price_fen"] == 125_000_00
    assert "第21条" in err.value.details["article"]
    change = _sign(state, LAND, end + 3)
    signed = _event_of(change, AuctionContractSigned)
    assert (signed.winner_uscc, signed.price_fen, signed.contract_no) == (
        B, 125_000_00, "示出让〔2026〕7号")
    state = _deep(state, change)
    assert _sign(state, LAND, end + 4).events == []  # the same contract again
    with pytest.raises(Conflict) as exc:
        _sign(state, LAND, end + 5, no="another")
    assert exc.value.code == "contract_signed"
    assert auction.contract_due(state, LAND, auction.ms(due)).events == []  # signed


def test_an_unsigned_contract_forfeits_the_deposit_once_and_is_refused_after() -> None:
    state, _ = _sold_with_deposit()
    state, confirmed = _confirmed(state, LAND, B, int(state["end_ms"]) + 1)
    assert confirmed.contract_due is not None
    due = auction.ms(confirmed.contract_due)
    with pytest.raises(Conflict) as exc:
        _sign(state, LAND, due)  # late, even before the timer fires
    assert exc.value.code == "contract_overdue"
    assert auction.contract_due(state, LAND, due - 1).events == []
    change = auction.contract_due(state, LAND, due)
    overdue, settled = (o.event for o in change.events)
    assert isinstance(overdue, AuctionContractOverdue)
    assert (overdue.winner_uscc, overdue.deposit_forfeited_fen) == (B, 20_000_00)
    assert isinstance(settled, AuctionDepositsSettled)
    assert [(d.bidder_uscc, d.action) for d in settled.deposits] == [(B, "forfeit")]
    state = _deep(state, change)
    assert auction.contract_due(state, LAND, due + 5).events == []  # exactly once


def test_property_asks_no_second_contract_its_confirmation_is_the_contract_32号令() -> None:
    assert PROPERTY.contract_within.value == 0 and "产权交易合同" in \
        PROPERTY.contract_within.source
    raw = LAND.model_dump()
    raw["confirmation_within"] = {**raw["confirmation_within"], "value": 0}
    with pytest.raises(ValidationError, match="contract_within needs confirmation_within"):
        AuctionRules.model_validate(raw)


def test_a_property_result_is_publicised_from_its_contract_32号令第29条() -> None:
    """产权交易合同生效后 the result is announced for >= 5 working days, with the appraisal,
    the listing price and the deal price (32号令第29条, unverified): not at the close. The
    confirmation is the contract; an objection upheld in that period annuls it."""
    from services.announcement import domain as notices
    from services.announcement.ocds import release

    assert PROPERTY.result_publicity_after_contract.value == 1
    assert "第29条" in PROPERTY.result_publicity_after_contract.source
    state = _state(PROPERTY, None, category=Category.PROPERTY, appraised_fen=100_000_00,
                   method=AuctionMethod.ONLINE_BIDDING)
    state = _offer(state, A, 101_000_00, OPENED, PROPERTY)
    change = _at_end(state, PROPERTY, state["end_ms"])
    closed = _closed(change)
    assert closed.sold and closed.publicity_end is None and closed.confirmation_due
    state = _deep(state, change)
    signed_ms = int(state["end_ms"]) + 60_000
    state, confirmed = _confirmed(state, PROPERTY, A, signed_ms)
    assert confirmed.contract_due is None  # no second contract
    assert confirmed.publicity_end == BOOK.calendar.add_working_days(auction.at(signed_ms), 5)
    assert (confirmed.appraised_fen, confirmed.listing_price_fen) == (100_000_00,
                                                                      state["starting_price_fen"])
    assert state["result"]["publicity_end"] == confirmed.publicity_end.isoformat()

    facts = notices.TenderFacts("示例公司100%股权", Category.PROPERTY, "440300",
                                {notices.SALE: {"name": "示例受让有限公司", "code": A}})
    at_close = notices.draft(closed, facts, None, closed.closed_at)
    assert at_close is not None and at_close.publicity_end is None
    now = confirmed.confirmed_at + timedelta(seconds=1)
    result = notices.draft(confirmed, facts, None, now)
    assert result is not None and result.title == "示例公司100%股权产权交易结果公告"
    assert result.notice_type.value == "sale_contract"
    assert result.publicity_end == confirmed.publicity_end
    c = result.content
    assert (c["APPRAISED_PRICE"], c["CONTRACT_AMOUNT"], c["WIN_BIDDER_NAME"]) == (
        "100000.00", "101000.00", "示例受让有限公司")
    assert c["LISTING_PRICE"] and "第29条" in c["PUBLICITY_BASIS"] and "异议" in c[
        "OBJECTION_METHOD"]
    notice = {"id": "N", "notice_type": "sale_contract", "tender_id": confirmed.auction_id,
              "published_at": now.isoformat(), "content": c, "title": result.title,
              "category": "property", "region_code": "440300", "seq": 1}
    [contract] = release(notice, "ocds-test")["contracts"]
    assert (contract["awardID"], contract["value"]["amount"]) == (confirmed.auction_id,
                                                                  101_000.0)

    state = _deep(state, auction.objection_filed(state, "objP"))
    change = auction.objection_answered(state, PROPERTY, BOOK.calendar, objection_id="objP",
                                        upheld=True, answer="受让方资格不符", now=now)
    annulled = _event_of(change, AuctionResultAnnulled)
    assert annulled.winner_uscc == A and _deep(state, change)["confirmation"]["status"] == "void"

    land, _ = _sold_with_deposit()
    land, land_confirmed = _confirmed(land, LAND, B, int(land["end_ms"]) + 1)
    assert land_confirmed.publicity_end is None  # land publicised its result at the close
    assert notices.draft(land_confirmed, facts, None, now) is None
    raw = LAND.model_dump()
    raw["result_publicity_after_contract"] = {**raw["result_publicity_after_contract"],
                                              "value": 1}
    with pytest.raises(ValidationError, match="result_publicity_after_contract needs"):
        AuctionRules.model_validate(raw)


def test_a_mining_contract_waits_for_the_publicity_and_its_objections_矿业权交易规则第27条(
        ) -> None:
    """The contract is due 10 working days after the result's publicity (not the
    confirmation); during the publicity it is refused, and while an objection waits the
    sale is suspended (交易中止): refused, and the due time holds until the answer, which
    gives the full time again."""
    state, closed = _mining_sold()
    assert closed.publicity_end is not None
    end = int(state["end_ms"])
    state, confirmed = _confirmed(state, MINING, A, end + 1)
    assert confirmed.contract_due == BOOK.calendar.add_working_days(closed.publicity_end, 10)
    with pytest.raises(Conflict) as exc:
        _sign(state, MINING, end + 2, price=100_000_00)
    assert exc.value.code == "publicity_running"
    state = _deep(state, auction.objection_filed(state, "obj1"))
    assert auction.objection_filed(state, "obj1").set == {}  # the same objection again
    after = auction.ms(closed.publicity_end) + 1
    with pytest.raises(Conflict) as exc:
        _sign(state, MINING, after, price=100_000_00)
    assert exc.value.code == "objection_pending" and exc.value.details["objections"] == ["obj1"]
    due = auction.ms(confirmed.contract_due)
    held = auction.contract_due(state, MINING, due)
    assert held.events == [] and held.set == {"contract.status": "held"}
    state = _deep(state, held)
    answered_at = auction.at(due + 1000)
    change = auction.objection_answered(state, MINING, BOOK.calendar, objection_id="obj1",
                                        upheld=False, answer="权属清楚", now=answered_at)
    assert change.events == []
    state = _deep(state, change)
    new_due = BOOK.calendar.add_working_days(answered_at, 10)
    assert (state["contract"]["status"], state["contract"]["due"]) == (
        "pending", new_due.isoformat())
    signed = _event_of(_sign(state, MINING, due + 2000, price=100_000_00),
                       AuctionContractSigned)
    assert signed.winner_uscc == A and "第26条" in signed.article


def test_an_upheld_objection_annuls_the_result_and_refunds_the_winner_once() -> None:
    """成交公示期内异议成立: the result does not stand; the confirmation and the contract
    fall; the winner's deposit (counted towards the price) is refunded, not forfeited."""
    state, closed = _mining_sold()
    end = int(state["end_ms"])
    state, _ = _confirmed(state, MINING, A, end + 1)
    state = _deep(state, auction.objection_filed(state, "obj2"))
    now = closed.closed_at + timedelta(hours=2)
    change = auction.objection_answered(state, MINING, BOOK.calendar, objection_id="obj2",
                                        upheld=True, answer="竞得人资格不符", now=now)
    annulled, settled = (o.event for o in change.events)
    assert isinstance(annulled, AuctionResultAnnulled)
    assert (annulled.winner_uscc, annulled.price_fen, annulled.objection_id,
            annulled.contract_signed) == (A, 100_000_00, "obj2", False)
    assert annulled.reason == "竞得人资格不符" and "10个工作日" in annulled.article
    assert isinstance(settled, AuctionDepositsSettled)
    assert [(d.bidder_uscc, d.action) for d in settled.deposits] == [(A, "refund")]
    state = _deep(state, change)
    assert (state["confirmation"]["status"], state["contract"]["status"]) == ("void", "void")
    again = auction.objection_answered(state, MINING, BOOK.calendar, objection_id="obj2",
                                       upheld=True, answer="x", now=now)
    assert again.events == []  # once
    for code, call in (("result_annulled", lambda: _sign(state, MINING, end + 10**9,
                                                         price=100_000_00)),
                       ("result_annulled", lambda: auction.confirm(
                           state, MINING, A, end + 2, BOOK.calendar))):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.code == code
    assert auction.contract_due(state, MINING, end + 10**10).events == []


def test_an_objection_upheld_after_the_sale_fell_through_changes_nothing_more() -> None:
    """A winner that did not confirm has lost its deposit and the sale already: an upheld
    objection then annuls nothing twice and refunds nothing."""
    state, closed = _mining_sold()
    assert closed.confirmation_due is not None
    state = _deep(state, auction.objection_filed(state, "obj3"))
    state = _deep(state, auction.confirmation_due(state, MINING,
                                                  auction.ms(closed.confirmation_due)))
    change = auction.objection_answered(state, MINING, BOOK.calendar, objection_id="obj3",
                                        upheld=True, answer="成立", now=closed.closed_at)
    assert change.events == [] and change.set == {"objections.obj3": "upheld"}


def test_annulled_and_unsigned_contract_sales_are_announced_as_lapsed() -> None:
    from services.announcement import domain as notices
    from services.announcement.ocds import release

    facts = notices.TenderFacts("示例县铜矿采矿权", Category.MINING, "440300")
    annulled = AuctionResultAnnulled(
        auction_id="2026ABCDEFGHIJKLM001", winner_uscc=A, price_fen=100_000_00,
        objection_id="obj", reason="竞得人资格不符", annulled_at=T0, contract_signed=False,
        article=MINING.result_publicity.source)
    overdue = AuctionContractOverdue(auction_id="2026ABCDEFGHIJKLM001", winner_uscc=A, due=T0,
                                     deposit_forfeited_fen=0,
                                     article=MINING.contract_within.source)
    titles = []
    for e in (annulled, overdue):
        draft = notices.draft(e, facts, None, T0)
        assert draft is not None and A not in str(draft.content)
        titles.append(draft.title)
        notice = {"id": "N", "notice_type": draft.notice_type.value, "tender_id": e.auction_id,
                  "published_at": T0.isoformat(), "content": draft.content,
                  "title": draft.title, "category": "mining", "region_code": "440300",
                  "seq": 1}
        award = release(notice, "ocds-test")["awards"][0]
        assert award["status"] == "cancelled" and award["statusDetails"]
    assert titles == ["示例县铜矿采矿权成交结果无效公告", "示例县铜矿采矿权成交不成立公告"]


def test_a_signed_sale_contract_is_announced_with_its_number_and_price_39号令第21条() -> None:
    """出让合同公告: the contract's number, the buyer the result named and the price (the
    deal price), as OCDS a contract on the sale's award; never the base price."""
    from services.announcement import domain as notices
    from services.announcement.ocds import release

    facts = notices.TenderFacts("宗地A-01", Category.LAND, "440300",
                                {notices.SALE: {"name": "竞得置业有限公司", "code": B}})
    signed = AuctionContractSigned(auction_id="2026ABCDEFGHIJKLM001", winner_uscc=B,
                                   contract_no="示出让〔2026〕7号", price_fen=125_000_00,
                                   signed_at=T0, article=LAND.contract_within.source)
    draft = notices.draft(signed, facts, None, T0)
    assert draft is not None and draft.title == "宗地A-01出让合同公告"
    assert draft.publicity_end is None
    assert (draft.content["CONTRACT_NO"], draft.content["WIN_BIDDER_NAME"],
            draft.content["CONTRACT_AMOUNT"]) == ("示出让〔2026〕7号", "竞得置业有限公司",
                                                   "125000.00")
    assert "第21条" in draft.content["LEGAL_BASIS"]
    notice = {"id": "N", "notice_type": draft.notice_type.value, "tender_id": signed.auction_id,
              "published_at": T0.isoformat(), "content": draft.content, "title": draft.title,
              "category": "land", "region_code": "440300", "seq": 1}
    [contract] = release(notice, "ocds-test")["contracts"]
    assert (contract["dateSigned"], contract["status"]) == (T0.isoformat(), "active")


# a sale by agreement (协议出让; 矿业权交易规则第32条, unverified) --------------------------
AGREED_AT = BOOK.calendar.add_working_days(T0, 10)


def _agreement(**kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        category=Category.MINING, name="示例县铜矿深部采矿权", method=AuctionMethod.AGREEMENT,
        starting_price_fen=100_000_00, increment_fen=0, appraised_fen=100_000_00,
        has_base_price=False, start_at=AGREED_AT, end_at=None, buyer_uscc=A,
        buyer_name="示例矿业有限公司", approval_no="示府函〔2026〕12号")
    fields.update(kw)
    return fields


def test_a_sale_by_agreement_names_its_buyer_and_consent_and_is_publicised_first() -> None:
    """协议出让: mining and land (not property); a named buyer and the people's
    government's consent (报请同级人民政府同意); at least the appraisal (评估价值、市场基准价
    就高); no bidding period, deposit or increment; concluded only after its publicity (10
    working days)."""
    assert AuctionMethod.AGREEMENT in MINING.methods & LAND.methods
    assert AuctionMethod.AGREEMENT not in PROPERTY.methods
    assert MINING.agreement_publicity.n == 10 and "第32条" in MINING.agreement_publicity.source
    _validate(MINING, _event(**_agreement()), None, None)
    cases = [("method_not_allowed", PROPERTY, _agreement(category=Category.PROPERTY)),
             ("agreement_terms_required", MINING, _agreement(buyer_uscc=None)),
             ("agreement_terms_required", MINING, _agreement(approval_no=" ")),
             ("seller_cannot_buy", MINING, _agreement(buyer_uscc=SELLER)),
             ("agreement_takes_no_offers", MINING, _agreement(end_at=AGREED_AT)),
             ("agreement_takes_no_offers", MINING, _agreement(deposit_fen=1)),
             ("publicity_too_short", MINING,
              _agreement(start_at=AGREED_AT - timedelta(minutes=1))),
             ("price_below_appraisal", MINING, _agreement(starting_price_fen=99_999_99)),
             ("buyer_by_agreement_only", MINING, _mining(buyer_uscc=A))]
    for code, rules, fields in cases:
        with pytest.raises(DomainError) as exc:
            _validate(rules, _event(**fields), None, None)
        assert exc.value.code == code, (code, fields)


def _agreed_state() -> dict[str, Any]:
    return _state(MINING, None, **_agreement())


def test_a_sale_by_agreement_takes_no_offer_and_concludes_with_its_buyer_at_its_end() -> None:
    state = _agreed_state()
    assert state["end_ms"] == _ms(AGREED_AT) and auction.paddle_of(state, A) == 1
    with pytest.raises(Conflict) as exc:
        auction.offer(state, MINING, bidder=B, name=B, price_fen=200_000_00, seen_offers=None,
                      now_ms=_ms(AGREED_AT) + 1)
    assert exc.value.code == "no_offers"
    with pytest.raises(DomainError) as err:
        _reprice(state, MINING, price_fen=90_000_00, start=AGREED_AT, end=None, now=T0)
    assert err.value.code == "price_cut_not_allowed"
    assert _at_end(state, MINING, _ms(AGREED_AT) - 1).events == []
    change = _at_end(state, MINING, _ms(AGREED_AT))
    closed = _closed(change)
    assert (closed.sold, closed.reason, closed.winner_uscc, closed.price_fen, closed.offers) == (
        True, AuctionCloseReason.SOLD, A, 100_000_00, 0)
    # publicised before: no result publicity and no confirmation; the contract is due
    assert closed.publicity_end is None and closed.confirmation_due is None
    assert closed.contract_due == BOOK.calendar.add_working_days(AGREED_AT, 10)
    state = _deep(state, change)
    assert "confirmation" not in state and state["contract"]["winner"] == A
    signed = _event_of(_sign(state, MINING, _ms(AGREED_AT) + 5, price=100_000_00),
                       AuctionContractSigned)
    assert signed.winner_uscc == A


def test_an_objection_holds_a_sale_by_agreement_and_upheld_it_is_not_concluded() -> None:
    """交易中止 while an objection waits (矿业权交易规则第27条); upheld, the sale closes
    unsold (objection_upheld); dismissed, it concludes."""
    state = _deep(_agreed_state(), auction.objection_filed(_agreed_state(), "o1"))
    assert _at_end(state, MINING, _ms(AGREED_AT) + 1).events == []  # held
    dismissed = _deep(state, auction.objection_answered(
        state, MINING, BOOK.calendar, objection_id="o1", upheld=False, answer="无异议事实",
        now=AGREED_AT))
    assert _closed(_at_end(dismissed, MINING, _ms(AGREED_AT) + 2)).sold
    upheld_change = auction.objection_answered(
        state, MINING, BOOK.calendar, objection_id="o1", upheld=True, answer="深部已设探矿权",
        now=AGREED_AT)
    assert upheld_change.events == []  # nothing concluded yet: nothing to annul
    closed = _closed(_at_end(_deep(state, upheld_change), MINING, _ms(AGREED_AT) + 2))
    assert (closed.sold, closed.reason, closed.winner_uscc) == (
        False, AuctionCloseReason.OBJECTION_UPHELD, None)
    assert closed.article == MINING.agreement_publicity.source


def test_a_sale_by_agreement_is_publicised_with_its_buyer_and_a_period_to_object() -> None:
    from services.announcement import domain as notices
    from services.announcement.ocds import release

    facts = notices.TenderFacts("示例县铜矿深部采矿权", Category.MINING, "440300")
    draft = notices.draft(_event(**_agreement()), facts, None, T0)
    assert draft is not None and draft.title == "示例县铜矿深部采矿权矿业权协议出让公示"
    assert draft.publicity_end == AGREED_AT
    assert (draft.content["BUYER_CODE"], draft.content["APPROVAL_NO"]) == (
        A, "示府函〔2026〕12号")
    assert "异议" in draft.content["OBJECTION_METHOD"]
    notice = {"id": "N", "notice_type": draft.notice_type.value,
              "tender_id": "2026ABCDEFGHIJKLM001", "published_at": T0.isoformat(),
              "content": draft.content, "title": draft.title, "category": "mining",
              "region_code": "440300", "seq": 1}
    assert release(notice, "ocds-test")["tender"]["procurementMethod"] == "direct"


# a land sale by agreement (协议出让国有土地使用权规定, 国土资源部令第21号; unverified) ------
LAND_AGREED_AT = BOOK.calendar.add_working_days(T0, 5)


def _land_agreement(**kw: Any) -> dict[str, Any]:
    return _agreement(**{"category": Category.LAND, "name": "宗地B-02",
                         "start_at": LAND_AGREED_AT, "appraised_fen": None,
                         "benchmark_price_fen": 130_000_00, "has_base_price": True, **kw})


def test_a_land_sale_by_agreement_is_at_least_70_percent_of_the_benchmark_21号令第5条() -> None:
    """协议出让最低价: at least 70% of the parcel grade's benchmark land price (第5条), and
    the agreed price not below the base price set collectively (第11条); the sale is
    publicised first so another intending user can come forward (第9条)."""
    assert LAND.agreement_price_floor_percent.value == 70
    assert "第5条" in LAND.agreement_price_floor_percent.source
    decision = "示自然资〔2026〕集体决策9号"
    _validate(LAND, _event(**_land_agreement()), 95_000_00, decision)
    _validate(LAND, _event(**_land_agreement(starting_price_fen=91_000_00)), 91_000_00,
              decision)  # exactly 70% of 130万
    cases = [("benchmark_price_required", _land_agreement(benchmark_price_fen=None), 95_000_00),
             ("price_below_agreement_floor", _land_agreement(starting_price_fen=90_999_99),
              90_000_00),
             ("base_price_below_agreement_floor", _land_agreement(), 90_999_99),
             ("price_below_base", _land_agreement(), 100_000_01),
             ("base_price_required", _land_agreement(), None),
             ("publicity_too_short", _land_agreement(
                 start_at=LAND_AGREED_AT - timedelta(minutes=1)), 95_000_00),
             ("buyer_by_agreement_only", _mining(benchmark_price_fen=1), None)]
    for code, fields, base in cases:
        rules = MINING if fields["category"] == Category.MINING else LAND
        with pytest.raises(DomainError) as exc:
            _validate(rules, _event(**fields), base, decision if base else None)
        assert exc.value.code == code, (code, fields)
    with pytest.raises(DomainError) as exc:
        _validate(LAND, _event(**_land_agreement(starting_price_fen=90_000_00)), 90_000_00,
                  decision)
    assert exc.value.details["minimum_price_fen"] == 91_000_00


def test_a_land_sale_by_agreement_is_publicised_15_days_from_its_contract_21号令第14条(
        ) -> None:
    """The sale concludes with its buyer at the end of its publicity; the contract is then
    due (10 working days); once signed, the result is publicised >= 15 days from it
    (出让结果公示, with a period to object); an objection upheld then annuls it, contract
    and all."""
    from services.announcement import domain as notices

    assert LAND.agreement_result_publicity.n == 15
    state = _state(LAND, 95_000_00, **_land_agreement())
    change = _at_end(state, LAND, _ms(LAND_AGREED_AT))
    closed = _closed(change)
    assert (closed.sold, closed.winner_uscc, closed.price_fen) == (True, A, 100_000_00)
    assert closed.confirmation_due is None and closed.publicity_end is None
    assert closed.contract_due == BOOK.calendar.add_working_days(LAND_AGREED_AT, 10)
    state = _deep(state, change)
    signed_ms = _ms(LAND_AGREED_AT) + 60_000
    change = _sign(state, LAND, signed_ms, price=100_000_00)
    signed = _event_of(change, AuctionContractSigned)
    assert signed.publicity_end == auction.at(signed_ms) + timedelta(days=15)
    assert signed.publicity_article == LAND.agreement_result_publicity.source
    state = _deep(state, change)
    assert state["result"]["publicity_end"] == signed.publicity_end.isoformat()

    facts = notices.TenderFacts("宗地B-02", Category.LAND, "440300",
                                {notices.SALE: {"name": "示例矿业有限公司", "code": A}})
    draft = notices.draft(signed, facts, None, signed.signed_at)
    assert draft is not None and draft.title == "宗地B-02出让结果公示"
    assert draft.publicity_end == signed.publicity_end
    assert "第14条" in draft.content["PUBLICITY_BASIS"] and "异议" in draft.content[
        "OBJECTION_METHOD"]
    assert "95000" not in str(draft.content)  # never the base price

    state = _deep(state, auction.objection_filed(state, "oL"))
    change = auction.objection_answered(state, LAND, BOOK.calendar, objection_id="oL",
                                        upheld=True, answer="另有意向用地者",
                                        now=signed.signed_at + timedelta(days=1))
    annulled = _event_of(change, AuctionResultAnnulled)
    assert annulled.contract_signed and annulled.article == LAND.agreement_result_publicity.source
    assert _deep(state, change)["contract"]["status"] == "void"


# one-shot offers (网络竞价-一次报价; 32号令第22条, unverified) --------------------------------
C = new_uscc(random.Random(11))
ONE_SHOT = dict(category=Category.PROPERTY, appraised_fen=100_000_00,
                method=AuctionMethod.ONE_SHOT, increment_fen=0)


def _one_shot(**kw: Any) -> dict[str, Any]:
    return _state(PROPERTY, None, **{**ONE_SHOT, **kw})


def _shot(state: dict[str, Any], bidder: str, price: int, at: datetime,
          offer_id: str | None = None, rules: AuctionRules = PROPERTY) -> dict[str, Any]:
    change = auction.offer(state, rules, bidder=bidder, name=f"受让方{bidder[-4:]}",
                           price_fen=price, seen_offers=None, now_ms=_ms(at), offer_id=offer_id)
    assert change.events == []  # nothing leaves the sale's record before the close
    return _apply(state, change)


def _refusal(state: dict[str, Any], bidder: str, price: int, at: datetime,
             **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        auction.offer(state, PROPERTY, bidder=bidder, name=bidder, price_fen=price,
                      now_ms=_ms(at), **{"seen_offers": None, **kw})
    return err.value


def test_one_shot_offers_are_a_property_method_with_sourced_rules_32号令第22条() -> None:
    """网络竞价-一次报价 is one of property's methods (32号令第22条, unverified); land has
    none; the tie rule is a configurable flag, by default the earliest equal offer."""
    assert AuctionMethod.ONE_SHOT in PROPERTY.methods
    assert AuctionMethod.ONE_SHOT not in LAND.methods and not LAND.one_shot_result.value
    assert "第22条" in PROPERTY.one_shot_result.source
    assert "unverified" in PROPERTY.one_shot_result.source
    assert PROPERTY.one_shot_tie_earliest.value == 1
    assert "unverified" in PROPERTY.one_shot_tie_earliest.source
    with pytest.raises(DomainError) as err:
        _validate(LAND, _event(method=AuctionMethod.ONE_SHOT, increment_fen=0), 120_000_00,
                  "2026-集体决策-07")
    assert err.value.code == "method_not_allowed"
    raw = PROPERTY.model_dump()
    raw["one_shot_result"] = {**raw["one_shot_result"], "value": 0}
    with pytest.raises(ValidationError, match="one_shot_result"):
        AuctionRules.model_validate(raw)


def test_one_shot_announcement_has_a_fixed_end_and_no_increment_32号令第22条() -> None:
    start = T0 + timedelta(days=28)  # 20 working days after a Monday: 4 weeks
    ok = _event(**ONE_SHOT, start_at=start, end_at=start + timedelta(days=1))
    _validate(PROPERTY, ok, None, None)
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, ok.model_copy(update={"increment_fen": 1_000_00}), None, None)
    assert err.value.code == "one_shot_takes_no_increment"
    with pytest.raises(DomainError) as err:
        _validate(PROPERTY, ok.model_copy(update={"end_at": None}), None, None)
    assert err.value.code == "listing_too_short"
    state = _one_shot()
    late = _shot(state, A, 100_000_00, auction.at(state["end_ms"]) - timedelta(seconds=1))
    assert late["end_ms"] == state["end_ms"]  # no extension for one-shot offers


def test_one_shot_highest_offer_wins_and_every_offer_is_published_at_the_close_第22条(
        ) -> None:
    """At the end the highest offer wins; the close ranks every offer with its buyer's name
    and price (the result publishes them), and the winner's confirmation follows."""
    state = _one_shot()
    state = _shot(state, A, 101_000_00, OPENED)
    state = _shot(state, B, 108_000_00, OPENED + timedelta(minutes=1))
    state = _shot(state, C, 100_000_00, OPENED + timedelta(minutes=2))
    change = _at_end(state, PROPERTY, state["end_ms"])
    closed = _closed(change)
    assert closed.sold and closed.reason is AuctionCloseReason.SOLD
    assert (closed.winner_uscc, closed.price_fen, closed.offers) == (B, 108_000_00, 3)
    assert "第22条" in closed.article and closed.confirmation_due is not None
    assert [(x.rank, x.bidder_uscc, x.price_fen) for x in closed.offer_lines] == [
        (1, B, 108_000_00), (2, A, 101_000_00), (3, C, 100_000_00)]
    assert closed.offer_lines[0].bidder_name == f"受让方{B[-4:]}"
    assert _at_end(_apply(state, change), PROPERTY, state["end_ms"] + 1) == Change()  # once


def test_one_shot_equal_highest_offers_go_to_the_earliest_received_unless_the_rule_says_no(
        ) -> None:
    """Exchange practice (unverified): 最高报价相同的, 先提交者为受让方, in the order the sale's
    record took them (a replica's clock cannot reorder them); with the flag at 0 a tie is
    no sale (tied_offers)."""
    offers = [Offer(1, 1, 105_000_00, 2_000), Offer(2, 2, 105_000_00, 1_000),
              Offer(3, 3, 104_000_00, 500)]
    outcome = auction.decide_one_shot(offers, None, PROPERTY)
    assert outcome.sold and outcome.top == offers[0]  # the first received, whatever its clock
    assert "unverified" in outcome.article
    state = _shot(_shot(_one_shot(), A, 105_000_00, OPENED), B, 105_000_00,
                  OPENED + timedelta(seconds=1))
    assert _closed(_at_end(state, PROPERTY, state["end_ms"])).winner_uscc == A
    raw = PROPERTY.model_dump()
    raw["one_shot_tie_earliest"] = {**raw["one_shot_tie_earliest"], "value": 0}
    strict = AuctionRules.model_validate(raw)
    tied = _closed(_at_end(state, strict, state["end_ms"]))
    assert not tied.sold and tied.reason is AuctionCloseReason.TIED_OFFERS
    assert tied.winner_uscc is None and tied.confirmation_due is None
    assert auction.decide_one_shot(offers[2:], None, strict).sold  # one top offer: sold


def test_one_shot_no_valid_offer_is_no_sale_32号令第22条() -> None:
    state = _one_shot()
    closed = _closed(_at_end(state, PROPERTY, state["end_ms"]))
    assert not closed.sold and closed.reason is AuctionCloseReason.NO_VALID_OFFER
    assert closed.offer_lines == [] and closed.price_fen is None


def test_one_shot_offer_is_made_once_and_never_changed_一次报价不得更改() -> None:
    """A second offer by the same buyer is refused (higher, lower or equal); a retry of the
    same request (its offer_id, same price) changes nothing and makes no second offer."""
    state = _shot(_one_shot(), A, 101_000_00, OPENED, offer_id="a-1")
    for price in (102_000_00, 100_000_00, 101_000_00):
        err = _refusal(state, A, price, OPENED + timedelta(minutes=1))
        assert isinstance(err, Conflict) and err.code == "offer_already_made"
        assert err.details["price_fen"] == 101_000_00  # its own offer, nothing else
    again = auction.offer(state, PROPERTY, bidder=A, name=A, price_fen=101_000_00,
                          seen_offers=None, now_ms=_ms(OPENED) + 5, offer_id="a-1")
    assert again == Change()
    err = _refusal(state, A, 109_000_00, OPENED, offer_id="a-1")
    assert err.code == "offer_id_reused"
    assert len(state["offers"]) == 1 and auction.own_offer(state, A) == Offer(
        1, 1, 101_000_00, _ms(OPENED))


def test_one_shot_offer_below_listing_price_outside_bidding_or_unqualified_is_refused(
        ) -> None:
    """At least the listing price (转让底价, 32号令第12条; 422); before the start and after the
    end 409; a sale with a deposit takes offers from qualified buyers only (32号令第15条)."""
    state = _one_shot()
    err = _refusal(state, A, 99_999_99, OPENED)
    assert err.code == "offer_too_low" and err.details["minimum_offer_fen"] == 100_000_00
    assert "第22条" in err.details["article"]
    assert _refusal(state, A, 100_000_00, T0).code == "bidding_not_open"
    assert _refusal(state, A, 100_000_00, auction.at(state["end_ms"])).code == "bidding_ended"
    assert _refusal(state, A, 100_000_00, OPENED, seen_offers=0).code == "offers_sealed"
    deposit = _one_shot(**DEPOSITED)
    err = _refusal(deposit, A, 100_000_00, OPENED)
    assert err.code == "not_qualified" and err.status == 403
    qualified = _qualified(deposit, PROPERTY, A)
    assert len(_shot(qualified, A, 100_000_00, OPENED)["offers"]) == 1


def test_one_shot_reveals_no_offer_offeror_or_count_before_the_end() -> None:
    """Sealed until the close (as sealed bids, 20号令): the public view is the same whether
    or not offers were made, and shows no count, top or paddle; a buyer reads its own offer
    only; after the close the count and the top appear."""
    from services.bidding.auction_api import public_view

    empty = _one_shot()
    state = _shot(_shot(empty, A, 101_000_00, OPENED), B, 107_000_00, OPENED)
    now = _ms(OPENED) + 1
    view = public_view(state, now)
    assert view == public_view(empty, now)
    assert (view["offers"], view["top_price_fen"], view["top_paddle"]) == (None, None, None)
    assert view["sealed"] is True and view["minimum_offer_fen"] == 100_000_00
    assert not any(x in str(view) for x in (A, B, "10100000", "10700000"))
    assert auction.sealed(state) and auction.own_offer(state, B) == Offer(
        2, 2, 107_000_00, _ms(OPENED))
    closed = _apply(state, _at_end(state, PROPERTY, state["end_ms"]))
    after = public_view(closed, state["end_ms"] + 1)
    assert not after["sealed"] and (after["offers"], after["top_price_fen"]) == (2, 107_000_00)


def test_one_shot_notices_name_the_method_and_publish_every_offer_at_the_close() -> None:
    """产权转让信息披露 names the method; the result (成交公示) lists each buyer and its
    price, ranked (names and prices published at the end, as an opening record is)."""
    from services.announcement import domain as notices

    facts = notices.TenderFacts("示例公司100%股权", Category.PROPERTY, "440300")
    published = notices.draft(_event(**ONE_SHOT), facts, None, T0)
    assert published is not None and published.content["TRADE_METHOD"] == "one_shot"
    state = _shot(_shot(_one_shot(), A, 101_000_00, OPENED), B, 103_000_00, OPENED)
    result = notices.draft(_closed(_at_end(state, PROPERTY, state["end_ms"])), facts, None, T0)
    assert result is not None and result.title == "示例公司100%股权成交公示"
    assert [(o["RANK"], o["BIDDER_CODE"], o["PRICE"]) for o in result.content["OFFERS"]] == [
        (1, B, "103000.00"), (2, A, "101000.00")]
    assert result.content["WIN_BIDDER_CODE"] == B


def test_one_shot_price_cut_tells_the_seller_nothing_of_the_offers_32号令第18条() -> None:
    """A price cut (32号令第18条) is refused from the start to the close whether or not an
    offer was made (the refusal may not reveal one); before the start and after no sale
    it is a price cut as for any sale."""
    state = _one_shot(start_at=T0 + timedelta(days=28), end_at=T0 + timedelta(days=29))
    during = T0 + timedelta(days=28, hours=1)
    offered = _shot(state, A, 100_000_00, during)
    when = dict(price_fen=95_000_00, start=during + timedelta(days=28),
                end=during + timedelta(days=29), now=during)
    codes = set()
    for s in (state, offered):
        with pytest.raises(Conflict) as err:
            _reprice(s, PROPERTY, **when)
        codes.add(err.value.code)
    assert codes == {"offers_sealed"}
    before = T0 + timedelta(days=1)
    _reprice(state, PROPERTY, price_fen=95_000_00, start=before + timedelta(days=28),
             end=before + timedelta(days=29), now=before)
    unsold = _apply(state, _at_end(state, PROPERTY, state["end_ms"]))
    now = T0 + timedelta(days=30)
    _reprice(unsold, PROPERTY, price_fen=95_000_00, start=now + timedelta(days=28),
             end=now + timedelta(days=29), now=now)

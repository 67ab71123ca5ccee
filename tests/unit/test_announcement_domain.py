"""Which events become notices, and what a notice may show (public data only)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.announcement import NoticeType
from contracts.bidding import BidderLine, BidsOpened, BidSubmitted, ExpertsDrawn
from contracts.categories import Category
from ggzy.testing.data import new_uscc
from services.announcement.domain import Publicity, draft, load_publicity

TID, SEC = "1124ABCDEFGHIJKLM001", "1124ABCDEFGHIJKLM001001"


def test_confidential_events_are_never_notices() -> None:
    """20号令: no bidder before opening; 法37: no committee before the award."""
    now = datetime.now(UTC)
    assert draft(BidSubmitted(tender_id=TID, section_code=SEC, bid_id="b", digest="d",
                              bidder_uscc=new_uscc(), received_at=now), "x") is None
    assert draft(ExpertsDrawn(tender_id=TID, section_code=SEC, expert_ids=["EXP-1"],
                              commitment="c"), "x") is None


def test_opening_record_shows_names_and_prices_in_yuan_only() -> None:
    event = BidsOpened(tender_id=TID, section_code=SEC, opened_at=datetime.now(UTC), lines=[
        BidderLine(bid_id="b", bidder_uscc=new_uscc(), bidder_name="甲", price_fen=100050,
                   status="valid")])
    notice = draft(event, "某工程")
    assert notice is not None and notice.notice_type == NoticeType.OPENING
    assert notice.content["bids"] == [{"bidder_name": "甲", "price_yuan": "1000.50",
                                       "status": "valid"}]
    assert notice.title == "某工程开标记录"


def test_publicity_periods_come_from_the_rules_with_their_article() -> None:
    """条例54: candidates publicised for at least 3 days."""
    rules = load_publicity()
    assert rules[Category.CONSTRUCTION].value == 3
    assert "第54条" in rules[Category.CONSTRUCTION].source
    friday = datetime(2026, 3, 6, 9, tzinfo=UTC)
    assert Publicity(1, "working_days", "x").end(friday).day == 9  # the next Monday

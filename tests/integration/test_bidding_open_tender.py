"""A bid reads its tender from a short-lived copy only while the copy says bids are
still taken; a refusal at the deadline is always decided on the stored tender (法28;
real store)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts.categories import Category
from ggzy.runtime.errors import NotFound
from ggzy.testing.infra import Infra
from services.bidding.domain import tender
from services.bidding.domain.rules import load
from services.bidding.domain.timeline import RuleViolation
from services.bidding.handlers import Bidding
from tests.integration.conftest import bidding_app

pytestmark = pytest.mark.integration
DEADLINE = datetime(2030, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def bidding(infra: Infra) -> AsyncIterator[Bidding]:
    # a copy that lives for the whole test: only the rule, not the clock, may end it
    async with bidding_app(infra, load(), frozenset({Category.CONSTRUCTION}),
                           open_tender_s=3600) as app:
        yield app


async def _tender(app: Bidding, deadline: datetime) -> str:
    tender_id = "2026" + uuid.uuid4().hex[:13].upper() + "001"
    await app.ctx.tenders.create(tender_id, {
        "tender_id": tender_id, "category": "construction", "status": "open",
        "bid_deadline": deadline.isoformat(), "deadline_ms": tender.ms(deadline),
        "section_state": {f"{tender_id}001": {"status": "bidding"}}, "audit": []}, [])
    return tender_id


async def _refused(app: Bidding, tender_id: str, at: datetime) -> bool:
    state = await app.bids.open_tender(tender_id, at)
    try:
        tender.refuse_after_deadline(state, at, app.ctx.rules(state))
    except RuleViolation as exc:
        assert exc.code == "bid_deadline_passed"
        return True
    return False


async def test_a_bid_before_the_deadline_is_answered_from_the_copy(bidding: Bidding) -> None:
    tender_id = await _tender(bidding, DEADLINE)
    first = await bidding.bids.open_tender(tender_id, DEADLINE - timedelta(minutes=1))
    again = await bidding.bids.open_tender(tender_id, DEADLINE - timedelta(seconds=1))
    assert again is first
    assert "audit" not in first


async def test_refuses_a_bid_at_the_deadline_on_the_stored_tender(bidding: Bidding) -> None:
    tender_id = await _tender(bidding, DEADLINE)
    assert not await _refused(bidding, tender_id, DEADLINE - timedelta(seconds=1))
    assert await _refused(bidding, tender_id, DEADLINE)
    assert await _refused(bidding, tender_id, DEADLINE + timedelta(hours=1))


async def test_a_deadline_postponed_elsewhere_is_seen_before_refusing(bidding: Bidding) -> None:
    """Another replica postponed the deadline (法23) after this one kept its copy."""
    tender_id = await _tender(bidding, DEADLINE)
    await bidding.bids.open_tender(tender_id, DEADLINE - timedelta(minutes=1))  # the copy
    later = DEADLINE + timedelta(days=15)
    await bidding.ctx.tenders.collection.update_one({"_id": tender_id}, {"$set": {
        "bid_deadline": later.isoformat(), "deadline_ms": tender.ms(later)}})
    assert not await _refused(bidding, tender_id, DEADLINE + timedelta(seconds=1))
    assert await _refused(bidding, tender_id, later)


async def test_a_closed_tender_is_never_kept(bidding: Bidding) -> None:
    tender_id = await _tender(bidding, DEADLINE)
    await bidding.ctx.tenders.collection.update_one({"_id": tender_id},
                                                {"$set": {"status": "closed"}})
    assert await _refused(bidding, tender_id, DEADLINE - timedelta(minutes=1))
    assert bidding.ctx.open_tenders.get(tender_id) is None


async def test_an_unknown_tender_is_not_found(bidding: Bidding) -> None:
    with pytest.raises(NotFound):
        await bidding.bids.open_tender("2026NOPE", DEADLINE)

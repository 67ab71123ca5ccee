"""A bid received before the deadline whose write ends as bidding closes (real store).

The opening reads a section's bids once, a grace after the deadline. A bid's request
may have passed the deadline check before that read and its write end after it: such
a bid must not get a receipt and then be missing from the opening (20号令: a bid
received in time is opened; 招标投标法第28条: one after the deadline is refused). The
opening seals the tender before it reads the bids; a bid whose write ends late asks
whether the read had it (``Bids.confirm_taken``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.categories import Category
from ggzy.runtime.errors import Unavailable
from ggzy.runtime.timers import Timer
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from services.bidding.domain import tender
from services.bidding.domain.rules import load
from services.bidding.domain.timeline import RuleViolation
from services.bidding.handlers import Bidding, bids
from services.bidding.handlers.context import DEADLINE
from services.bidding.store import LATE, SUBMITTED
from tests.integration.conftest import bidding_app

pytestmark = pytest.mark.integration
C = Category.CONSTRUCTION


@pytest.fixture
async def bidding(infra: Infra) -> AsyncIterator[Bidding]:
    async with bidding_app(infra, load(), frozenset({C})) as app:
        yield app


class Tender:
    def __init__(self, app: Bidding) -> None:
        self.app = app
        self.tender_id = "2026" + uuid.uuid4().hex[:13].upper() + "001"
        self.section = f"{self.tender_id}001"
        self.deadline = datetime.now(UTC) - timedelta(seconds=5)

    async def create(self) -> Tender:
        await self.app.ctx.tenders.create(self.tender_id, {
            "tender_id": self.tender_id, "category": C.value, "method": "open_tender",
            "status": "open", "tenderee_uscc": new_uscc(),
            "bid_deadline": self.deadline.isoformat(), "deadline_ms": tender.ms(self.deadline),
            "section_state": {self.section: {"status": "bidding"}}, "audit": []}, [])
        return self

    async def bid(self, deposit: bool = False) -> tuple[str, str]:
        """A bid received a second before the deadline, as its write stores it."""
        bidder = new_uscc()
        bid_id = f"{self.tender_id}:{self.section}:{bidder}"
        held = {"amount_fen": 100, "payer_account": "6222" + bidder[-8:], "form": "transfer"}
        await self.app.ctx.bids.create(bid_id, {
            "tender_id": self.tender_id, "section_code": self.section, "bidder_uscc": bidder,
            "status": SUBMITTED, "ciphertext": "c2VhbGVk", "nonce": "bm9uY2U=",
            "digest": "ab" * 32, "fingerprint": {}, "deposit": held if deposit else None,
            "received_ms": tender.ms(self.deadline) - 1000, "bidder": {"name": "某公司"}},
            [])
        return bid_id, bidder

    async def close(self) -> None:
        """The deadline's timer fires (the seal, the read, the close)."""
        due = tender.ms(self.deadline) + self.app.ctx.grace_ms
        await self.app.opening.on_deadline(Timer(f"{DEADLINE}:{self.tender_id}", DEADLINE,
                                                 due, {"tender_id": self.tender_id}, 1))

    async def confirm(self, bid_id: str, bidder: str) -> None:
        state = await self.app.ctx.tender(self.tender_id)
        await self.app.bids.confirm_taken(self.tender_id, self.section, bid_id, bidder,
                                          self.app.ctx.rules(state))


async def _status(app: Bidding, bid_id: str) -> Any:
    doc = await app.ctx.bids.get(bid_id)
    assert doc is not None
    return doc["status"]


async def test_a_bid_written_after_the_opening_read_is_refused_and_set_aside(
        bidding: Bidding) -> None:
    t = await Tender(bidding).create()
    for _ in range(3):
        await t.bid()
    await t.close()
    state = await bidding.ctx.tender(t.tender_id)
    assert state["sealed_for"] == tender.ms(t.deadline)
    assert state["section_state"][t.section]["status"] == "decrypting"
    late_id, late = await t.bid(deposit=True)  # its write ended after the opening's read
    with pytest.raises(RuleViolation) as refused:
        await t.confirm(late_id, late)
    assert refused.value.code == "bid_deadline_passed"
    assert "招标投标法第28条" in refused.value.details["article"]
    assert await _status(bidding, late_id) == LATE  # never opened, never revealed
    doc = await bidding.ctx.bids.get(late_id)
    assert doc is not None
    sent = {e["headers"]["ce_type"].split(".")[-2]: json.loads(e["value"])
            for e in doc["outbox"].values()}  # no relay here: the events wait in the outbox
    assert sent["BidWithdrawn"]["bidder_uscc"] == late
    assert sent["DepositRefundsScheduled"]["trigger"] == "late"
    dossier = await bidding.ctx.store.dossier(t.tender_id, t.section)
    assert dossier is not None and late not in {b["bidder_uscc"] for b in dossier}
    assert len(dossier) == 3


async def test_a_bid_the_opening_read_keeps_its_receipt(bidding: Bidding) -> None:
    t = await Tender(bidding).create()
    ids = [await t.bid() for _ in range(3)]
    await t.close()
    bid_id, bidder = ids[-1]  # written before the read; its write's answer came late
    await t.confirm(bid_id, bidder)
    assert await _status(bidding, bid_id) == SUBMITTED


async def test_a_bid_written_before_the_seal_needs_no_wait(bidding: Bidding) -> None:
    t = await Tender(bidding).create()
    bid_id, bidder = await t.bid()
    await t.confirm(bid_id, bidder)  # not sealed: the opening's read comes after it
    assert await _status(bidding, bid_id) == SUBMITTED
    state = await bidding.ctx.tender(t.tender_id)
    assert state["status"] == "open" and "sealed_for" not in state


async def test_a_failed_section_tells_a_late_bid_from_a_counted_one(bidding: Bidding) -> None:
    """Fewer than 3 bids fail the section (条例44); the failed section keeps who had bid."""
    t = await Tender(bidding).create()
    counted_id, counted = await t.bid()
    await t.close()
    sec = (await bidding.ctx.tender(t.tender_id))["section_state"][t.section]
    assert sec["status"] == "failed" and sec["received"] == [counted]
    await t.confirm(counted_id, counted)
    late_id, late = await t.bid()
    with pytest.raises(RuleViolation):
        await t.confirm(late_id, late)
    assert await _status(bidding, late_id) == LATE


async def test_a_seal_without_its_close_is_not_decided(
        bidding: Bidding, monkeypatch: pytest.MonkeyPatch) -> None:
    """The opening stopped between its seal and its close (its timer comes again): the bid
    is answered 503, to be asked again, and is not set aside meanwhile."""
    monkeypatch.setattr(bids, "SEAL_WAIT_S", 0.3)
    t = await Tender(bidding).create()
    await bidding.ctx.tenders.update(t.tender_id, lambda s, v: tender.seal(s))
    bid_id, bidder = await t.bid()
    with pytest.raises(Unavailable) as unsure:
        await t.confirm(bid_id, bidder)
    assert unsure.value.code == "bid_unconfirmed"
    assert await _status(bidding, bid_id) == SUBMITTED
    await t.close()  # the timer again: the read has it now
    await t.confirm(bid_id, bidder)
    assert await _status(bidding, bid_id) == SUBMITTED

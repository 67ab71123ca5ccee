"""Bidding's opening reads its bidders from the bids' snapshots and re-reads only
entities registration changed since (real store)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from services.bidding.opening import opening_lines
from services.bidding.store import BiddingStore, bidder_snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(infra: Infra) -> AsyncIterator[BiddingStore]:
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    name = "t" + uuid.uuid4().hex[:10] + "_bidding"
    s = BiddingStore(mongo[name])
    await s.setup()
    yield s
    await mongo.drop_database(name)
    await mongo.close()


def entity(name: str, rep: str, controlled_by: list[str] | None = None) -> Doc:
    return {"name": name, "legal_representative_ref": rep, "controlled_by": controlled_by or [],
            "kinds": ["bidder"], "region_code": "440300"}


def bid(uscc: str, received_ms: int, snapshot: Doc | None) -> Doc:
    doc: Doc = {"_id": f"T:S:{uscc}", "bidder_uscc": uscc, "received_ms": received_ms,
                "opened": 1, "price_fen": 1_000_000}
    if snapshot is not None:
        doc["bidder"] = snapshot
    return doc


async def test_an_entity_changed_after_the_bids_is_read_again(store: BiddingStore) -> None:
    a, b, c = new_uscc(), new_uscc(), new_uscc()
    for uscc, rep in ((a, "rep-a"), (b, "rep-b"), (c, "rep-c")):
        await store.project("entity", uscc, 1, entity(f"name {uscc}", rep))
    # a and c were projected long before the section's first bid
    hour_ago = now_ms() - 3_600_000
    await store.entities.update_many({"_id": {"$in": [a, c]}}, {"$set": {"projected_ms": hour_ago}})
    first = hour_ago + 2 * store.snapshot_margin_ms
    bids = [bid(a, first, bidder_snapshot(entity("A as bid", "rep-a"))),
            bid(b, first + 1, bidder_snapshot(entity("B as bid", "rep-b")))]
    # registration then tells that b has a's legal representative (after both bids)
    await store.project("entity", b, 2, entity("B renamed", "rep-a"))
    seen = await store.bidders_at_opening(bids)
    assert seen[a]["name"] == "A as bid"  # unchanged since: its snapshot, not re-read
    assert seen[b]["name"] == "B renamed"  # changed since the first bid: read again
    assert seen[b]["legal_representative_ref"] == "rep-a"
    # 条例34: the same legal representative makes both bids invalid at opening
    lines = opening_lines(bids, seen, deadline_ms=first + 10)
    assert {ln.bidder_uscc: ln.status for ln in lines} == {a: "invalid_related",
                                                           b: "invalid_related"}
    assert {ln.bidder_name for ln in lines} == {"A as bid", "B renamed"}


async def test_a_bid_without_a_snapshot_reads_its_entity(store: BiddingStore) -> None:
    a, b = new_uscc(), new_uscc()
    await store.project("entity", a, 1, entity("A projected", "rep-1", controlled_by=[b]))
    await store.entities.update_one({"_id": a}, {"$set": {"projected_ms": 0}})
    seen = await store.bidders_at_opening([bid(a, now_ms(), None)])
    assert seen[a]["name"] == "A projected"
    assert seen[a]["controlled_by"] == [b]
    assert set(seen) == {a}


async def test_the_snapshot_keeps_only_what_the_opening_uses() -> None:
    snap = bidder_snapshot({**entity("N", "r", ["x"]), "contacts": [{"phone": "1"}],
                            "_id": "u", "version": 3})
    assert snap == {"name": "N", "legal_representative_ref": "r", "controlled_by": ["x"]}

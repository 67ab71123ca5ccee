"""Bidding's opening reads its bidders from the bids' snapshots and re-reads only
entities registration changed since (real store)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from pymongo import AsyncMongoClient

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.cache import TTLCache
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from services.bidding import store as bidding_store
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
    await store.project("entity", new_uscc(), 1, entity("not a bidder here", "rep-x"))
    seen = await store.bidders_at_opening(bids)
    assert set(seen) == {a, b}  # projected since, but not bidding here: not read
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


def received(n: int, tender_id: str = "T1", code: str = "S1") -> list[Doc]:
    return [{"_id": f"{tender_id}:{code}:{i:05d}", "section_code": code,
             "bidder_uscc": f"U{i:05d}", "received_ms": 1_000 + (n - i),  # newest first
             "digest": f"d{i}", "fingerprint": {"upload_ip": f"10.0.{i % 250}.1"},
             "deposit": {"payer_account": f"A{i}", "amount_fen": 100},
             "bidder": {"name": f"N{i}"}} for i in range(n)]


async def test_the_opening_reads_the_dossier_and_the_revealed_keys(store: BiddingStore) -> None:
    bids = received(2_500)
    await store.write_dossier("T1", "S1", bids)
    assert await store.dossiers.count_documents({"tender_id": "T1"}) == 3  # 1,000 a part
    for b in bids[:3]:
        assert await store.record_reveal("T1", "S1", b["bidder_uscc"], "k", 7_000 + 1)
    # a timer fired again rewrites the dossier: what was revealed stays
    await store.write_dossier("T1", "S1", bids)
    got = await store.dossier("T1", "S1")
    assert got is not None
    assert [b["_id"] for b in got] == [b["_id"] for b in sorted(
        bids, key=lambda b: int(b["received_ms"]))]
    opened = {b["bidder_uscc"]: b["price_fen"] for b in got if b.get("opened")}
    assert opened == {b["bidder_uscc"]: 7_001 for b in bids[:3]}
    assert got[0]["fingerprint"] == bids[-1]["fingerprint"]
    assert got[0]["bidder"] == bids[-1]["bidder"]
    assert await store.dossier("T1", "S2") is None  # another section: nothing


async def test_changed_entities_and_those_without_a_snapshot_are_read_together(
        store: BiddingStore) -> None:
    a, b, c = new_uscc(), new_uscc(), new_uscc()
    for uscc in (a, b, c):
        await store.project("entity", uscc, 1, entity(f"old {uscc}", f"rep-{uscc}"))
    await store.entities.update_many({}, {"$set": {"projected_ms": 0}})
    first = now_ms()
    await store.project("entity", b, 2, entity("B now", "rep-b", controlled_by=[a]))
    bids = [bid(a, first, bidder_snapshot(entity("A as bid", "rep-a"))),
            bid(b, first, bidder_snapshot(entity("B as bid", "rep-b"))), bid(c, first, None)]
    seen = await store.bidders_at_opening(bids)
    assert seen[a]["name"] == "A as bid"
    assert seen[b]["name"] == "B now" and seen[b]["controlled_by"] == [a]
    assert seen[c]["name"] == f"old {c}"  # no snapshot: read
    assert set(seen) == {a, b, c}


async def test_the_ledger_keeps_key_and_price_and_reads_entries_kept_before(
        store: BiddingStore) -> None:
    bids = received(40, "T4")
    await store.write_dossier("T4", "S1", bids)
    for n, b in enumerate(bids[:20]):
        assert await store.record_reveal("T4", "S1", b["bidder_uscc"], f"key{n}=", 5_000 + n)
    buckets = await store.reveals.find({"tender_id": "T4"}).to_list(None)
    kept = {u: v for d in buckets for u, v in d["keys"].items()}
    assert kept == {b["bidder_uscc"]: f"{5_000 + n}:key{n}=" for n, b in enumerate(bids[:20])}
    # a section whose window opened before: its entries are sub-documents
    old = bids[30]["bidder_uscc"]
    await store.reveals.update_one({"_id": "T4:S1:0"}, {"$set": {
        f"keys.{old}": {"key": "old=", "price_fen": 9_999}}})
    got = await store.dossier("T4", "S1")
    assert got is not None
    prices = {b["bidder_uscc"]: b["price_fen"] for b in got if b.get("opened")}
    assert prices == {**{b["bidder_uscc"]: 5_000 + n for n, b in enumerate(bids[:20])},
                      old: 9_999}
    assert bidding_store.reveal_price(bidding_store.reveal_entry("a:b", -3)) == -3

async def test_a_reveal_keeps_its_operation_and_the_first_reveal_stands(
        store: BiddingStore) -> None:
    """20号令: the decryption on record (who, when, from where); a repeated reveal (a
    retried request) neither rewrites it nor adds another."""
    bids = received(3, "T5")
    await store.write_dossier("T5", "S1", bids)
    for b in bids:
        await store.bids.insert_one({**b, "tender_id": "T5", "section_code": "S1",
                                     "status": "submitted", "ops": []})
    first = {"n": 1, "at": "2026-12-01T10:00:00+00:00", "actor": "u-1",
             "action": "reveal_key", "data": {}, "prev": "0" * 64, "hash": "a" * 64}
    uscc = bids[0]["bidder_uscc"]
    assert await store.record_reveal("T5", "S1", uscc, "k1=", 100, first)
    assert await store.record_reveal("T5", "S1", uscc, "k1=", 100, {**first, "hash": "b" * 64})
    ops = {b["bidder_uscc"]: b["ops"] for b in await store.bid_operations("T5", "S1")}
    assert ops[uscc] == [first]  # the first stands
    assert all(ops[b["bidder_uscc"]] == [] for b in bids[1:])
    # the ledger keeps the key and price only, as before (its documents stay small)
    got = await store.dossier("T5", "S1")
    assert got is not None and [b["price_fen"] for b in got if b.get("opened")] == [100]
    buckets = await store.reveals.find({"tender_id": "T5"}).to_list(None)
    assert [v for d in buckets for v in d["keys"].values()] == ["100:k1="]


async def test_an_incomplete_dossier_or_no_ledger_falls_back(store: BiddingStore) -> None:
    await store.write_dossier("T2", "S1", received(1_500, "T2"))
    await store.dossiers.delete_one({"_id": "T2:S1:2"})
    assert await store.dossier("T2", "S1") is None  # the caller reads the bids instead
    assert not await store.record_reveal("T3", "S1", "U00001", "k", 1)  # no ledger there


async def test_a_bid_reads_its_bidder_its_restriction_and_its_deposit_reduction_together(
        store: BiddingStore) -> None:
    """Credit restrictions (BLACK_LIST) and deposit reductions (国办发〔2015〕63号)."""
    banned, rated, unknown = new_uscc(), new_uscc(), new_uscc()
    await store.project("entity", banned, 1, entity("banned", "rep-1"))
    await store.project("entity", rated, 1, entity("rated", "rep-2"))
    await store.restrict("R1", banned, {"categories": ["construction"], "start": "2026-01-01",
                                        "end": "2027-12-31", "reason": "collusion",
                                        "decision_no": "D-1"})
    await store.restrict("R2", rated, {"categories": ["construction"], "start": "2026-01-01",
                                       "end": "2027-12-31", "reason": "old", "decision_no": "D-2"})
    await store.lift("R2")
    await store.project_credit(rated, 1, 50)
    day = date(2026, 12, 1)
    reads = store.store.stats["read_batches"]
    found, restriction, reduction = await store.bidder_facts(banned, "construction", day)
    assert store.store.stats["read_batches"] == reads + 1  # three reads, one round trip
    assert found is not None and found["name"] == "banned"
    assert restriction is not None and restriction["decision_no"] == "D-1"
    assert reduction == 0
    assert (await store.bidder_facts(banned, "procurement", day))[1] is None
    assert (await store.bidder_facts(banned, "construction", date(2028, 1, 1)))[1] is None
    found, restriction, reduction = await store.bidder_facts(rated, "construction", day)
    assert found is not None and restriction is None and reduction == 50  # R2 was lifted
    assert await store.bidder_facts(unknown, "construction", day) == (None, None, 0)
    reads = store.store.stats["read_batches"]
    await store.bidder_facts(rated, "construction", day)
    assert store.store.stats["read_batches"] == reads  # answered by the caches


def _banned(decision_no: str) -> Doc:
    return {"categories": ["construction"], "start": "2026-01-01", "end": "2027-12-31",
            "reason": "collusion", "decision_no": decision_no}


async def test_concurrent_bids_check_their_bidders_against_one_read_of_the_restriction_list(
        store: BiddingStore) -> None:
    bidders = [new_uscc() for _ in range(5)]
    for n, uscc in enumerate(bidders):
        await store.project("entity", uscc, 1, entity(f"b{n}", f"rep-{n}"))
    await store.restrict("R1", bidders[0], _banned("D-1"))
    await store.restrict("R2", bidders[1], _banned("D-2"))
    await store.lift("R2")
    day = date(2026, 12, 1)
    reads = store.store.stats["reads"]
    facts = await asyncio.gather(*(store.bidder_facts(u, "construction", day, False)
                                   for u in bidders))
    # five entities and one list of the restrictions in force (no deposit reductions)
    assert store.store.stats["reads"] == reads + 6
    assert [f[1]["decision_no"] if f[1] else None for f in facts] == ["D-1"] + [None] * 4
    assert all(f[2] == 0 for f in facts)
    other = new_uscc()  # a bidder not seen before: its check reads only its entity
    reads = store.store.stats["reads"]
    assert await store.bidder_facts(other, "construction", day, False) == (None, None, 0)
    assert store.store.stats["reads"] == reads + 1


async def test_a_restriction_change_here_counts_at_once_and_one_elsewhere_within_the_lag(
        store: BiddingStore) -> None:
    clock = [0.0]
    store.restriction_list = TTLCache(store.restriction_list.ttl_s, clock=lambda: clock[0])
    elsewhere = BiddingStore(store.bids.database)  # another replica on the same store
    uscc, day = new_uscc(), date(2026, 12, 1)
    await store.project("entity", uscc, 1, entity("b", "rep"))
    assert (await store.bidder_facts(uscc, "construction", day))[1] is None  # list read
    await store.restrict("R1", uscc, _banned("D-1"))
    assert (await store.bidder_facts(uscc, "construction", day))[1] is not None
    await elsewhere.lift("R1")
    assert (await store.bidder_facts(uscc, "construction", day))[1] is not None  # the list
    clock[0] += store.restriction_list.ttl_s  # ... until it is lag_s old
    assert (await store.bidder_facts(uscc, "construction", day))[1] is None


async def test_with_more_restrictions_in_force_than_a_list_holds_each_bid_reads_its_own(
        store: BiddingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bidding_store, "RESTRICTION_LIST_MAX", 2)
    bidders = [new_uscc() for _ in range(3)]
    for n, uscc in enumerate(bidders):
        await store.project("entity", uscc, 1, entity(f"b{n}", f"rep-{n}"))
        await store.restrict(f"R{n}", uscc, _banned(f"D-{n}"))
    day = date(2026, 12, 1)
    first = await store.bidder_facts(bidders[0], "construction", day)  # from the long list
    assert first[1] is not None and first[1]["decision_no"] == "D-0"
    assert store.restriction_list.get(bidding_store.LISTED) is None  # not kept
    reads = store.store.stats["reads"]
    second = await store.bidder_facts(bidders[1], "construction", day)
    assert second[1] is not None and second[1]["decision_no"] == "D-1"
    assert store.store.stats["reads"] == reads + 3  # entity, its restrictions, reduction

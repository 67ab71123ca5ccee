"""Group commit (ggzy.runtime.batching.Store) against the real store: concurrent
single-document operations share round trips, and each still gets its own outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Aggregates, Cause, Change
from ggzy.runtime.batching import Store
from ggzy.testing.infra import Infra

Doc = dict[str, Any]


class Env:
    def __init__(self, infra: Infra) -> None:
        self.db_name = "t" + uuid.uuid4().hex[:10] + "_batching"
        self.mongo: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        self.coll: AsyncCollection[Doc] = self.mongo[self.db_name]["things"]
        self.other: AsyncCollection[Doc] = self.mongo[self.db_name]["others"]
        self.batches: list[tuple[str, int]] = []
        self.store = Store(self.mongo, observe=lambda kind, n: self.batches.append((kind, n)))


@pytest.fixture
async def env(infra: Infra) -> AsyncIterator[Env]:
    e = Env(infra)
    await e.store.start()
    yield e
    await e.mongo.drop_database(e.db_name)
    await e.mongo.close()


async def test_the_store_answers_the_client_level_bulk_write(env: Env) -> None:
    # nx-27017 and MongoDB >= 8.0 do; without it the Store sends operations one by one.
    assert env.store.bulk_write_supported


async def test_concurrent_inserts_share_a_round_trip_and_a_duplicate_fails_alone(
        env: Env) -> None:
    await env.coll.insert_one({"_id": "taken", "n": 0})
    ids = [f"d{i}" for i in range(20)] + ["taken"]
    results = await asyncio.gather(
        *(env.store.insert_one(env.coll if i % 2 else env.other, {"_id": d, "n": i})
          for i, d in enumerate(ids[:-1])),
        env.store.insert_one(env.coll, {"_id": "taken", "n": 99}),
        return_exceptions=True)
    assert all(r is None for r in results[:-1])
    assert isinstance(results[-1], DuplicateKeyError)
    assert await env.coll.count_documents({}) == 11  # 10 odd ones and the one taken before
    assert await env.other.count_documents({}) == 10
    assert (await env.coll.find_one({"_id": "taken"}) or {})["n"] == 0  # not overwritten
    assert ("write", 21) in env.batches  # all of them in one bulkWrite


async def test_each_conditional_update_learns_whether_its_own_filter_matched(env: Env) -> None:
    await env.coll.insert_many([{"_id": f"u{i}", "version": 1} for i in range(10)])
    # even ones expect version 1 (right), odd ones version 7 (stale)
    matched = await asyncio.gather(*(
        env.store.update_one(env.coll, {"_id": f"u{i}", "version": 1 if i % 2 == 0 else 7},
                             {"$set": {"version": 2}}) for i in range(10)))
    assert matched == [1, 0] * 5
    docs = {d["_id"]: d["version"] for d in await env.coll.find().to_list(None)}
    assert docs == {f"u{i}": 2 if i % 2 == 0 else 1 for i in range(10)}
    assert ("write", 10) in env.batches


async def test_an_update_of_many_documents_shares_the_round_trip_and_counts_its_own(
        env: Env) -> None:
    await env.coll.insert_many([{"_id": f"m{i}", "version": i % 3} for i in range(9)])
    wanted = {"$or": [{"_id": f"m{i}", "version": 1} for i in range(9)]}  # m1, m4, m7
    many, one, alone = await asyncio.gather(
        env.store.update_many_soon(env.coll, wanted, {"$set": {"hit": 1}}),
        env.store.update_one(env.coll, {"_id": "m0", "version": 0}, {"$set": {"hit": 2}}),
        env.store.update_one(env.coll, {"_id": "m2", "version": 0}, {"$set": {"hit": 3}}))
    assert (many, one, alone) == (3, 1, 0)
    docs = {d["_id"]: d.get("hit") for d in await env.coll.find().to_list(None)}
    assert docs == {f"m{i}": 1 if i % 3 == 1 else 2 if i == 0 else None for i in range(9)}
    assert ("write", 3) in env.batches
    assert await env.store.update_many_soon(env.coll, {"version": 2}, {"$set": {"hit": 4}}) == 3


async def test_reads_by_id_are_batched_and_each_reader_gets_its_own_copy(env: Env) -> None:
    await env.coll.insert_many([{"_id": f"r{i}", "tags": ["a"], "secret": i} for i in range(5)])
    found = await asyncio.gather(
        *(env.store.find_one(env.coll, f"r{i}", {"secret": 0}) for i in range(5)),
        env.store.find_one(env.coll, "r1", {"secret": 0}),
        env.store.find_one(env.coll, "missing", {"secret": 0}),
        env.store.find_one(env.coll, "r2"))  # another projection: its own query
    assert [d["_id"] if d else None for d in found] == ["r0", "r1", "r2", "r3", "r4", "r1",
                                                       None, "r2"]
    assert all("secret" not in d for d in found[:6] if d)
    assert found[7] is not None and found[7]["secret"] == 2
    first, second = found[1], found[5]
    assert first is not None and second is not None and first is not second
    first["tags"].append("changed by one reader")
    assert second["tags"] == ["a"]
    assert ("read", 8) in env.batches


async def test_a_lone_operation_goes_out_at_once_as_a_plain_command(env: Env) -> None:
    await env.store.insert_one(env.coll, {"_id": "alone"})
    assert env.batches == [("write", 1)]
    assert await env.store.update_one(env.coll, {"_id": "alone"}, {"$set": {"x": 1}}) == 1
    assert await env.store.find_one(env.coll, "alone") == {"_id": "alone", "x": 1}


async def test_concurrent_decisions_on_one_aggregate_all_apply_once(env: Env) -> None:
    """Group commit must not break optimistic concurrency: 12 concurrent increments of one
    aggregate (some conflicting in the same bulkWrite) all apply, each exactly once."""
    aggs = Aggregates(env.coll, source="/test", topic_prefix="t", on_queued=lambda: None,
                      store=env.store)
    await aggs.create("counter", {"n": 0}, [])

    def incr(state: Doc, _version: int) -> Change:
        return Change(set={"n": int(state["n"]) + 1})

    results = await asyncio.gather(*(aggs.update("counter", incr, Cause(message_id=f"m{i}"))
                                     for i in range(12)))
    assert all(not r.duplicate for r in results)
    doc = await aggs.get("counter")
    assert doc is not None and doc["n"] == 12 and doc["version"] == 13
    again = await aggs.update("counter", incr, Cause(message_id="m3"))
    assert again.duplicate
    assert any(kind == "write" and n > 1 for kind, n in env.batches)


async def test_reads_by_a_field_are_batched_and_grouped_by_value(env: Env) -> None:
    await env.coll.insert_many([
        {"_id": "a1", "subject": "A", "revoked": 0}, {"_id": "a2", "subject": "A", "revoked": 0},
        {"_id": "a3", "subject": "A", "revoked": 1}, {"_id": "b1", "subject": "B", "revoked": 0}])
    a, b, c, a_again = await asyncio.gather(
        *(env.store.find_by(env.coll, "subject", s, {"revoked": 0}) for s in "ABCA"))
    assert sorted(d["_id"] for d in a) == ["a1", "a2"]  # not the revoked one
    assert [d["_id"] for d in b] == ["b1"]
    assert c == []
    assert sorted(d["_id"] for d in a_again) == ["a1", "a2"] and a_again[0] is not a[0]
    assert ("read", 4) in env.batches

"""The outbox: state and events in one write; a relay crash loses and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.registration import PartnerRegistered
from contracts.topics import Stage, topic_name
from ggzy.runtime import outbox
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Outgoing, entry_of, now_ms, stamp
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.outbox import OutboxRelay, new_producer
from ggzy.runtime.service import ensure_topics
from ggzy.runtime.settings import Settings
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import read_topic

PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"


class Env:
    def __init__(self, infra: Infra) -> None:
        self.infra = infra
        self.prefix = "t" + uuid.uuid4().hex[:10]
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url,
                                                                        tz_aware=True)
        self.coll = self.mongo[f"{self.prefix}_outbox"]["partners"]
        self.woken = 0
        self.aggs = Aggregates(self.coll, source="/test", topic_prefix=self.prefix,
                               on_queued=self._wake)
        self.topic = topic_name(Stage.REGISTRATION, prefix=self.prefix)

    def _wake(self) -> None:
        self.woken += 1

    async def relay(self, lease_s: float = 30.0) -> OutboxRelay:
        producer = new_producer(self.infra.kafka_bootstrap)
        await producer.start()
        return OutboxRelay([self.coll], producer, Metrics(), interval_s=0.1, lease_s=lease_s)


@pytest.fixture
async def env(infra: Infra) -> AsyncIterator[Env]:
    e = Env(infra)
    settings = Settings(kafka_bootstrap=infra.kafka_bootstrap, partitions=1)
    await ensure_topics(settings, [e.topic])
    yield e
    await e.mongo.drop_database(f"{e.prefix}_outbox")
    await e.mongo.close()


def partner(pid: str, name: str = "系统") -> PartnerRegistered:
    return PartnerRegistered(partner_id=pid, name=name, operator_uscc=new_uscc(),
                             public_key_pem=PEM, categories=[])


async def test_state_and_events_are_written_together_and_published_by_the_relay(
        env: Env) -> None:
    await env.aggs.create("p-one", {"name": "a"}, [Outgoing(partner("p-one"))])
    doc = await env.aggs.get("p-one")
    assert doc is not None and doc["outbox_pending"] == 1 and len(doc["outbox"]) == 1
    assert env.woken == 1
    relay = await env.relay()
    assert await relay.flush() == 1
    await relay.producer.stop()  # type: ignore[union-attr]
    doc = await env.aggs.get("p-one")
    assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0
    records = await read_topic(env.infra.kafka_bootstrap, env.topic, lambda rs: len(rs) >= 1)
    assert [r.key for r in records] == ["p-one"]


async def test_relay_crash_after_publish_republishes_the_same_ids_and_nothing_is_lost(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    await env.aggs.create("p-two", {"name": "a"}, [Outgoing(partner("p-two"))])
    crashing = await env.relay(lease_s=0.5)

    def crash(*_: object) -> list[object]:
        raise RuntimeError("relay process died before clearing its outbox")

    monkeypatch.setattr(outbox, "_clear", crash)
    with pytest.raises(RuntimeError):
        await crashing.flush()
    await crashing.producer.stop()  # type: ignore[union-attr]
    monkeypatch.undo()
    doc = await env.aggs.get("p-two")
    assert doc is not None and doc["outbox_pending"] == 1  # still queued
    second = await env.relay(lease_s=0.5)
    assert await second.flush() == 0  # the dead relay's lease still holds
    await asyncio.sleep(0.6)  # let the lease run out (a lease is a time, by design)
    assert await second.flush() == 1
    await second.producer.stop()  # type: ignore[union-attr]
    records = await read_topic(env.infra.kafka_bootstrap, env.topic, lambda rs: len(rs) >= 2)
    ids = [r.headers["ce_id"] for r in records if r.key == "p-two"]
    assert len(ids) == 2 and len(set(ids)) == 1  # same event id: consumers deduplicate


async def test_events_queued_while_the_relay_publishes_are_kept_for_the_next_round(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    await env.aggs.create("p-three", {"name": "a"}, [Outgoing(partner("p-three"))])
    relay = await env.relay()
    original = relay._send

    async def send_then_write(docs: list[dict[str, Any]]) -> Any:
        sent = await original(docs)
        await env.aggs.update("p-three", lambda state, v: Change(
            set={"name": "b"}, events=[Outgoing(partner("p-three", "second"))]))
        return sent

    monkeypatch.setattr(relay, "_send", send_then_write)
    assert await relay.flush() == 1
    doc = await env.aggs.get("p-three")
    assert doc is not None and doc["outbox_pending"] == 1 and len(doc["outbox"]) == 1
    monkeypatch.undo()
    assert await relay.flush() == 1
    await relay.producer.stop()  # type: ignore[union-attr]
    records = await read_topic(env.infra.kafka_bootstrap, env.topic,
                               lambda rs: len([r for r in rs if r.key == "p-three"]) >= 2)
    names = [r.json()["name"] for r in records if r.key == "p-three"]
    assert names == ["系统", "second"]  # in order


async def test_one_write_clears_a_pass_and_keeps_what_was_queued_on_one_meanwhile(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [f"p-many-{n}" for n in range(5)]
    for aid in ids:
        await env.aggs.create(aid, {"name": "a"}, [Outgoing(partner(aid))])
    relay = await env.relay()
    original = relay._send

    async def send_then_write(docs: list[dict[str, Any]]) -> Any:
        sent = await original(docs)
        await env.aggs.update(ids[2], lambda state, v: Change(
            set={"name": "b"}, events=[Outgoing(partner(ids[2], "second"))]))
        return sent

    monkeypatch.setattr(relay, "_send", send_then_write)
    assert await relay.flush() == 5
    monkeypatch.undo()
    for aid in ids:
        doc = await env.aggs.get(aid)
        assert doc is not None and doc["relay_lease"] == 0 and doc["relay_owner"] is None
        if aid == ids[2]:  # the event published is gone, the one queued meanwhile stays
            assert doc["outbox_pending"] == 1
            assert [json.loads(e["value"])["name"] for e in doc["outbox"].values()] == [
                "second"]
        else:
            assert doc["outbox"] == {} and doc["outbox_pending"] == 0
    assert await relay.flush() == 1
    await relay.producer.stop()  # type: ignore[union-attr]
    records = await read_topic(env.infra.kafka_bootstrap, env.topic,
                               lambda rs: len([r for r in rs if r.key in ids]) >= 6)
    names = [(r.key, r.json()["name"]) for r in records if r.key in ids]
    assert sorted(names) == sorted([(aid, "系统") for aid in ids] + [(ids[2], "second")])


async def test_an_incoming_message_is_applied_at_most_once(env: Env) -> None:
    await env.aggs.create("p-four", {"count": 0}, [])

    def bump(state: dict[str, Any], version: int) -> Change:
        return Change(set={"count": state["count"] + 1})

    cause = Cause(message_id="evt-1")
    results = await asyncio.gather(*(env.aggs.update("p-four", bump, cause) for _ in range(5)))
    doc = await env.aggs.get("p-four")
    assert doc is not None and doc["count"] == 1
    assert sum(not r.duplicate for r in results) == 1
    assert 0 < doc["processed"]["evt-1"] <= now_ms()


class FastEnv:
    """Aggregates wired to a relay's fast path, as the runtime wires them."""

    def __init__(self, env: Env, relay: OutboxRelay, *, lease_new: bool = False) -> None:
        self.relay = relay
        self.aggs = Aggregates(env.coll, source="/test", topic_prefix=env.prefix,
                               on_queued=relay.wake, on_fresh=relay.offer,
                               lease_new=relay.lease_new if lease_new else None)


async def published(env: Env, key: str, *relays: OutboxRelay, at_least: int = 1) -> list[Any]:
    """Stop the relays' producers, then the records of ``key`` on the topic."""
    for relay in relays:
        await relay.producer.stop()  # type: ignore[union-attr]
    records = await read_topic(env.infra.kafka_bootstrap, env.topic,
                               lambda rs: len([r for r in rs if r.key == key]) >= at_least)
    return [r for r in records if r.key == key]


async def test_the_fast_path_publishes_a_fresh_write_from_memory_and_clears_it(
        env: Env) -> None:
    relay = await env.relay()
    fast = FastEnv(env, relay)
    await fast.aggs.create("f-one", {"name": "a"}, [Outgoing(partner("f-one"))])
    assert len(relay._fresh) == 1
    assert await relay.relay_fresh() == 1
    assert await relay.flush() == 0  # nothing was left for a sweep
    doc = await env.aggs.get("f-one")
    assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0
    assert doc["relay_lease"] == 0
    assert len(await published(env, "f-one", relay)) == 1


async def test_a_write_behind_pending_events_leaves_both_to_the_sweep_in_order(
        env: Env) -> None:
    relay = await env.relay()
    fast = FastEnv(env, relay)
    await fast.aggs.create("f-two", {"name": "a"}, [Outgoing(partner("f-two", "first"))])
    # written again before the relay ran: the second write is not fresh (the first event
    # is still pending), and the offered first one can no longer be claimed on version 1
    await fast.aggs.update("f-two", lambda s, v: Change(
        set={"name": "b"}, events=[Outgoing(partner("f-two", "second"))]))
    assert len(relay._fresh) == 1 and relay._sweep_soon
    assert await relay.relay_fresh() == 0
    assert await relay.flush() == 2
    records = await published(env, "f-two", relay, at_least=2)
    assert [r.json()["name"] for r in records] == ["first", "second"]
    doc = await env.aggs.get("f-two")
    assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0


async def test_a_fresh_write_held_by_another_relay_is_not_published_twice(env: Env) -> None:
    relay, other = await env.relay(), await env.relay()
    fast = FastEnv(env, relay)
    await fast.aggs.create("f-three", {"name": "a"}, [Outgoing(partner("f-three"))])
    assert await other.flush() == 1  # another replica's sweep got there first
    assert await relay.relay_fresh() == 0  # the claim on version 1 fails: it is not pending
    assert len(await published(env, "f-three", relay, other)) == 1


async def test_a_new_aggregate_is_inserted_leased_to_its_relay_and_published_unclaimed(
        env: Env) -> None:
    relay, other = await env.relay(), await env.relay()
    fast = FastEnv(env, relay, lease_new=True)
    await fast.aggs.create("f-four", {"name": "a"}, [Outgoing(partner("f-four"))])
    doc = await env.aggs.get("f-four")
    assert doc is not None and doc["relay_owner"] == relay.owner and doc["relay_lease"] > now_ms()
    assert await other.flush() == 0  # another replica's sweep leaves it alone
    assert await relay.relay_fresh() == 1
    doc = await env.aggs.get("f-four")
    assert doc is not None and doc["outbox"] == {} and doc["relay_lease"] == 0
    assert len(await published(env, "f-four", relay, other)) == 1


async def test_a_new_aggregate_whose_relay_died_is_swept_when_its_lease_runs_out(
        env: Env) -> None:
    dead, other = await env.relay(lease_s=0.5), await env.relay()
    fast = FastEnv(env, dead, lease_new=True)
    await fast.aggs.create("f-five", {"name": "a"}, [Outgoing(partner("f-five"))])
    await dead.producer.stop()  # type: ignore[union-attr]  # it never publishes
    assert await other.flush() == 0
    await asyncio.sleep(0.6)
    assert await other.flush() == 1
    assert len(await published(env, "f-five", other)) == 1


async def test_an_update_with_nothing_pending_is_written_leased_and_published_unclaimed(
        env: Env) -> None:
    relay, other = await env.relay(), await env.relay()
    fast = FastEnv(env, relay, lease_new=True)
    await fast.aggs.create("f-six", {"name": "a"}, [Outgoing(partner("f-six", "first"))])
    assert await relay.relay_fresh() == 1
    await fast.aggs.update("f-six", lambda s, v: Change(
        set={"name": "b"}, events=[Outgoing(partner("f-six", "second"))]))
    doc = await env.aggs.get("f-six")
    assert doc is not None and doc["version"] == 2
    assert doc["relay_owner"] == relay.owner and doc["relay_lease"] > now_ms()
    assert await other.flush() == 0  # another replica's sweep leaves it alone
    assert relay._fresh[0].owner == relay.owner
    assert await relay.relay_fresh() == 1
    doc = await env.aggs.get("f-six")
    assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0
    assert doc["relay_lease"] == 0 and doc["relay_owner"] is None
    records = await published(env, "f-six", relay, other, at_least=2)
    assert [r.json()["name"] for r in records] == ["first", "second"]


async def test_an_update_of_an_aggregate_another_relay_holds_does_not_take_its_lease(
        env: Env) -> None:
    relay, other = await env.relay(), await env.relay()
    fast = FastEnv(env, relay, lease_new=True)
    await fast.aggs.create("f-seven", {"name": "a"}, [Outgoing(partner("f-seven"))])
    assert await relay.relay_fresh() == 1
    held_until = now_ms() + 30_000  # e.g. another relay's claim that is still running
    await env.coll.update_one({"_id": "f-seven"}, {"$set": {"relay_lease": held_until,
                                                           "relay_owner": "someone"}})
    await fast.aggs.update("f-seven", lambda s, v: Change(
        set={"name": "b"}, events=[Outgoing(partner("f-seven", "second"))]))
    doc = await env.aggs.get("f-seven")
    assert doc is not None and doc["version"] == 2 and len(doc["outbox"]) == 1
    assert doc["relay_owner"] == "someone" and doc["relay_lease"] == held_until
    assert await relay.relay_fresh() == 0  # offered unleased: its claim fails while held
    assert await other.flush() == 0
    await env.coll.update_one({"_id": "f-seven"}, {"$set": {"relay_lease": 0}})
    assert await other.flush() == 1  # once the lease is free, a sweep publishes it
    records = await published(env, "f-seven", relay, other, at_least=2)
    assert [r.json()["name"] for r in records] == ["系统", "second"]


async def test_a_lease_taken_between_the_read_and_the_leased_write_is_respected(
        env: Env) -> None:
    relay = await env.relay()
    fast = FastEnv(env, relay, lease_new=True)
    await fast.aggs.create("f-eight", {"name": "a"}, [Outgoing(partner("f-eight"))])
    assert await relay.relay_fresh() == 1
    doc = await fast.aggs.get("f-eight")
    assert doc is not None
    await env.coll.update_one({"_id": "f-eight"}, {"$set": {"relay_lease": now_ms() + 30_000,
                                                           "relay_owner": "someone"}})
    change = Change(set={"name": "b"}, events=[Outgoing(partner("f-eight", "second"))])
    assert await fast.aggs.write_on(doc, change, Cause()) is None  # nothing written
    after = await env.aggs.get("f-eight")
    assert after is not None and after["version"] == 1 and after["relay_owner"] == "someone"
    await relay.producer.stop()  # type: ignore[union-attr]


async def test_a_send_that_fails_releases_the_aggregate_and_a_later_round_publishes_it(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    await env.aggs.create("p-nine", {"name": "a"}, [Outgoing(partner("p-nine"))])
    relay = await env.relay()
    producer = relay.producer
    assert producer is not None

    async def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("the broker refused the record")

    monkeypatch.setattr(producer, "send_batch", refuse)
    assert await relay.flush() == 0
    doc = await env.aggs.get("p-nine")
    assert doc is not None and doc["outbox_pending"] == 1 and doc["relay_lease"] == 0
    monkeypatch.undo()
    assert await relay.flush() == 1
    assert len(await published(env, "p-nine", relay)) == 1


async def test_a_delivery_that_fails_releases_every_aggregate_of_its_batch(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for pid in ("p-ten", "p-eleven"):
        await env.aggs.create(pid, {"name": "a"}, [Outgoing(partner(pid))])
    relay = await env.relay()
    producer = relay.producer
    assert producer is not None

    async def unacknowledged(*_: object, **__: object) -> asyncio.Future[None]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivery.set_exception(RuntimeError("the broker did not acknowledge the batch"))
        return delivery

    monkeypatch.setattr(producer, "send_batch", unacknowledged)
    assert await relay.flush() == 0
    for pid in ("p-ten", "p-eleven"):
        doc = await env.aggs.get(pid)
        assert doc is not None and doc["outbox_pending"] == 1 and doc["relay_lease"] == 0
    monkeypatch.undo()
    assert await relay.flush() == 2
    assert len(await published(env, "p-eleven", relay)) == 1


async def test_events_beyond_one_batch_go_in_the_next_in_order_per_aggregate(env: Env) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=env.infra.kafka_bootstrap, acks="all",
                                enable_idempotence=True, max_batch_size=2048)
    await producer.start()
    relay = OutboxRelay([env.coll], producer, Metrics(), interval_s=0.1)
    pids = [f"p-batch-{n}" for n in range(3)]
    for pid in pids:  # four events of ~700 bytes each: a batch holds two
        await env.aggs.create(pid, {"name": "a"}, [
            Outgoing(partner(pid, name=f"{n}:" + "系" * 190)) for n in range(4)])
    assert await relay.flush() == 12
    await producer.stop()
    records = await read_topic(env.infra.kafka_bootstrap, env.topic,
                               lambda rs: len([r for r in rs if r.key in pids]) >= 12)
    for pid in pids:
        assert [r.json()["name"].split(":")[0] for r in records if r.key == pid] == \
            ["0", "1", "2", "3"]
    for pid in pids:
        doc = await env.aggs.get(pid)
        assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0


async def test_many_events_sent_at_once_go_as_batches_in_order_per_key_with_their_ids(
        env: Env) -> None:
    relay = await env.relay()
    cause, now = Cause(message_id="m-batch", correlation_id="c-batch"), now_ms()
    events = [Outgoing(partner(f"b-{i % 4}", f"n{i}")) for i in range(outbox.SEND_IN_BATCHES * 3)]
    entries = [entry_of(out, stamp(out, cause, "/test", f"id-{i}"), env.prefix, i, now)
               for i, out in enumerate(events)]
    await relay.send_now(entries)
    await relay.producer.stop()  # type: ignore[union-attr]
    records = await read_topic(env.infra.kafka_bootstrap, env.topic,
                               lambda rs: len(rs) >= len(entries))
    assert len(records) == len(entries)
    for key in ("b-0", "b-1", "b-2", "b-3"):
        mine = [r for r in records if r.key == key]
        expected = [i for i in range(len(entries)) if i % 4 == int(key[-1])]
        assert [r.json()["name"] for r in mine] == [f"n{i}" for i in expected]
        assert [r.headers["ce_id"] for r in mine] == [f"id-{i}" for i in expected]
        assert {r.headers["ce_causationid"] for r in mine} == {"m-batch"}

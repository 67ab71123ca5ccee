"""The outbox relay: publishes queued events, in order, then clears them.

Two paths, one protocol. The fast path: a write that queued events on an
aggregate with nothing else pending hands them to this replica's relay
(``offer``), which claims the aggregate with a conditional single-document write
on that very version (group-committed with the service's other writes), so it
publishes from memory without reading the document back. The sweep, every
``interval_s`` and whenever a fast claim fails or a write finds older events
pending: a relay claims aggregates with pending events under a lease (so a second
replica never publishes the same aggregate at the same time), publishes each
aggregate's events in order with an idempotent producer (acks=all; one batch
per topic and partition for all the aggregates of a pass), and then
clears exactly the events it published (one multi-document update for the
aggregates of a pass published at one version, matching those still at it;
group-committed with the service's other writes: ``batching.Store``).
A crash between publish and clear republishes the same events with the same ids
when the lease runs out; consumers deduplicate on the id, so nothing is lost and
no effect happens twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from pymongo.asynchronous.collection import AsyncCollection

from ggzy.runtime.aggregates import EPOCH, IDLE, PENDING, Doc, Fresh, now_ms
from ggzy.runtime.batching import Store, settled
from ggzy.runtime.metrics import Metrics

log = logging.getLogger("ggzy.outbox")


# The largest message the platform sends: an opening record of 10,000 bids is ~1.5 MB,
# above Kafka's 1 MB default. Topics are created with this limit (service.ensure_topics)
# and consumers fetch up to it (consumer.subscribe).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


# Records buffered per partition before a send waits for the batch to drain: at
# aiokafka's 16 KiB default, a relay publishing hundreds of aggregates at once spends
# its time waking the senders queued behind each full batch.
MAX_BATCH_BYTES = 1024 * 1024
# Entries of one ``send_soon`` from which they go as batches built for them, not by ``send``
# (where each record costs ~20 µs of the producer's CPU against ~9 µs appended to a batch)
SEND_IN_BATCHES = 16
SWEEP_LIMIT = 1000  # aggregates a sweep takes at once (the next sweep follows at once)


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    """The idempotent producer every relay uses (acks=all, ordered retries)."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                            linger_ms=2, request_timeout_ms=30000,
                            max_request_size=MAX_MESSAGE_BYTES, max_batch_size=MAX_BATCH_BYTES,
                            partitioner=KeyPartitioner())


class KeyPartitioner:
    """Kafka's default partitioner (murmur2 of the key, as aiokafka's and the Java
    client's), keeping the hashes of the last keys seen: a service's keys repeat (its
    aggregates, recipients, lanes), and murmur2 is pure Python (``murmur2`` below: the
    same hash as aiokafka's, in about half its time)."""

    def __init__(self, keys: int = 10_000) -> None:
        self.keys = keys
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int],
                 available: list[int]) -> int:
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self.keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's ``Utils.murmur2``, aiokafka's ``murmur2``),
    reading the input four bytes at a time."""
    length = len(data)
    m = 0x5BD1E995
    h = 0x9747B28C ^ length
    for k in struct.unpack_from(f"<{length >> 2}I", data):
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    extra, tail = length & 3, length & ~3
    if extra:
        if extra >= 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


class OutboxRelay:
    """Publishes the outboxes of a service's aggregate collections."""

    def __init__(self, collections: list[AsyncCollection[Doc]], producer: AIOKafkaProducer | None,
                 metrics: Metrics, *, interval_s: float = 0.5, lease_s: float = 30.0,
                 store: Store | None = None) -> None:
        self.collections = collections
        self.store = store
        self.producer = producer
        self.metrics = metrics
        self.interval_s = interval_s
        self.lease_ms = int(lease_s * 1000)
        self._wake = asyncio.Event()
        self._fresh: list[Fresh] = []
        self._counters: dict[str, Any] = {}  # published per topic, the labelled children
        self.partitioner = KeyPartitioner()  # the hashes of its keys, kept across passes
        self.owner = uuid.uuid4().hex  # leases of new aggregates, taken at their insert
        self._sweep_soon = True
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create the claim index and start relaying in the background."""
        for coll in self.collections:
            await coll.create_index([("outbox_pending", 1), ("relay_lease", 1)])
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        """Ask for a sweep now (a write queued events behind others still pending)."""
        self._sweep_soon = True
        self._wake.set()

    def lease_new(self) -> tuple[int, str]:
        """The lease a new aggregate is inserted with: held by this relay from the start."""
        return now_ms() + self.lease_ms, self.owner

    def offer(self, fresh: Fresh) -> None:
        """Publish events a write has just queued, from memory (the fast path)."""
        self._fresh.append(fresh)
        self._wake.set()

    async def stop(self) -> None:
        """Stop after a last flush, so what was committed before shutdown goes out."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.relay_fresh()
            await self.flush()

    async def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            try:
                await self.relay_fresh()
                if self._sweep_soon or time.monotonic() >= next_sweep:
                    self._sweep_soon = False
                    next_sweep = time.monotonic() + self.interval_s
                    if await self.flush():
                        self._sweep_soon = True  # more may have queued meanwhile
            except Exception:
                log.exception("outbox relay cycle failed")
                self._sweep_soon = False
            if not self._fresh and not self._sweep_soon and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           max(0.0, next_sweep - time.monotonic()))
                self._wake.clear()

    async def relay_fresh(self) -> int:
        """Claim, publish and clear what writes offered; what cannot be claimed on the
        version written (written again since, or held by another relay) is swept."""
        fresh, self._fresh = self._fresh, []
        if not fresh:
            return 0
        store = self._store(fresh[0].coll)
        docs = [(f, {"_id": f.doc_id, "version": f.version, "outbox": f.outbox}) for f in fresh]
        held = [(f.coll, doc, f.owner) for f, doc in docs if f.owner is not None]  # ours already
        # The others only while these events are still there (not already published
        # and cleared by another replica's sweep).
        claimed = held + await self._claim(store, [
            (f.coll, doc, {f"outbox.{next(iter(f.outbox))}": {"$exists": True}})
            for f, doc in docs if f.owner is None])
        if len(claimed) < len(fresh):
            self._sweep_soon = True
        return await self._publish_claimed(store, claimed)

    async def flush(self) -> int:
        """Publish every claimable pending event once; return how many were published."""
        total = 0
        for coll in self.collections:
            total += await self._flush_collection(coll)
        return total

    async def _flush_collection(self, coll: AsyncCollection[Doc]) -> int:
        # An indexed find, then one conditional claim per aggregate on the version read:
        # what is claimed is exactly what was read. (A multi-document update would do it
        # in one statement, but some stores run that as a scan of the collection.)
        now = now_ms()
        found = await coll.find({"outbox_pending": PENDING, "relay_lease": {"$lt": now}},
                                {"outbox": 1, "version": 1}).limit(SWEEP_LIMIT).to_list(None)
        self._observe(found, now)
        if not found:
            return 0
        store = self._store(coll)
        claimed = await self._claim(store, [(coll, doc, {}) for doc in found])
        if len(claimed) < len(found) or len(found) == SWEEP_LIMIT:
            self._sweep_soon = True
        return await self._publish_claimed(store, claimed)

    def _store(self, coll: AsyncCollection[Doc]) -> Store:
        return self.store or Store(coll.database.client)

    async def _claim(self, store: Store, wanted: list[tuple[AsyncCollection[Doc], Doc, Doc]]
                     ) -> list[tuple[AsyncCollection[Doc], Doc, str]]:
        """Lease each aggregate still at the version read, unleased and matching its extra
        conditions: one conditional write each, group-committed. Returns those leased."""
        now, owner = now_ms(), uuid.uuid4().hex
        claims = await settled([store.update_soon(
            coll, {"_id": doc["_id"], "version": doc["version"], "relay_lease": {"$lt": now},
                   **extra},
            {"$set": {"relay_lease": now + self.lease_ms, "relay_owner": owner}})
            for coll, doc, extra in wanted])
        return [(coll, doc, owner)
                for (coll, doc, _), matched in zip(wanted, claims, strict=True) if matched == 1]

    async def _publish_claimed(self, store: Store,
                               claimed: list[tuple[AsyncCollection[Doc], Doc, str]]) -> int:
        """Publish each claimed aggregate's events in order; clear what went out, release
        the rest for a later attempt."""
        # Every aggregate's events are handed to the producer first, then their
        # deliveries awaited: one pass, one delivery per batch, no task per aggregate.
        try:
            sent = await self._send([doc for _, doc, _ in claimed])
        except Exception as exc:
            sent = [exc] * len(claimed)
        batches = {id(b): b for deliveries in sent if not isinstance(deliveries, Exception)
                   for b in deliveries}
        outcomes = dict(zip(batches, await asyncio.gather(
            *(b.delivery for b in batches.values()), return_exceptions=True), strict=True))
        for key, batch in batches.items():
            if not isinstance(outcomes[key], BaseException):
                self._published(batch.topic).inc(batch.count)
        released: list[asyncio.Future[int]] = []
        # aggregates published at one version under one lease: cleared by one write
        published_by: dict[tuple[int, int, str], tuple[AsyncCollection[Doc], list[Doc]]] = {}
        published = 0
        failed = any(isinstance(outcome, BaseException) for outcome in outcomes.values())
        for (coll, doc, owner), deliveries in zip(claimed, sent, strict=True):
            failure = deliveries if isinstance(deliveries, Exception) else None if not failed \
                else next((outcomes[id(b)] for b in deliveries
                           if isinstance(outcomes[id(b)], BaseException)), None)
            if failure is not None:
                log.warning("publish failed; will retry", extra={"reason": repr(failure)})
                released.append(store.update_soon(
                    coll, {"_id": doc["_id"], "relay_owner": owner},
                    {"$set": {"relay_lease": EPOCH}}))
                continue
            published += len(doc.get("outbox") or {})
            group = (id(coll), int(doc["version"]), owner)
            published_by.setdefault(group, (coll, []))[1].append(doc)
        # One write clears each group (each document's update atomic on its own): the
        # aggregates it matches had nothing added since their events were published.
        clears = [(coll, owner, chunk, store.update_many_soon(coll, *_clear(chunk, owner)))
                  for (_, _, owner), (coll, docs) in published_by.items()
                  for chunk in (docs[i:i + CLEAR_CHUNK] for i in range(0, len(docs), CLEAR_CHUNK))]
        done = await asyncio.gather(*released, *(c[3] for c in clears), return_exceptions=True)
        # Where fewer matched than were published, new events were queued since on some:
        # from those still holding the events published, drop exactly these, keep the flag.
        moved = [store.update_soon(coll, *_drop(doc, owner))
                 for coll, owner, chunk, cleared in clears
                 if cleared.exception() is None and cleared.result() < len(chunk)
                 for doc in chunk if doc.get("outbox")]
        done += await asyncio.gather(*moved, return_exceptions=True)
        for failure in done:
            if isinstance(failure, BaseException):
                raise failure
        return published

    async def send_now(self, entries: list[Doc]) -> None:
        """Send entries shaped as an outbox's (``aggregates.entry_of``), in order, and
        wait until every one is acknowledged."""
        await (await self.send_soon(entries))

    async def send_soon(self, entries: list[Doc]) -> asyncio.Future[Any]:
        """Hand entries shaped as an outbox's to the producer, in order; return what
        completes when every one is acknowledged (or fails with the first failure). A few
        go by ``send``, so the small sends of many concurrent callers share the
        producer's batches; ``SEND_IN_BATCHES`` or more are built into batches of their
        own, as a pass of the relay does (about half the producer's CPU per record)."""
        if self.producer is None:
            raise RuntimeError("relay has no producer: start the service first")
        sent: list[asyncio.Future[Any]] = []
        if len(entries) >= SEND_IN_BATCHES:
            batches = _Batches(self.producer, self.partitioner)
            used: dict[int, _Batch] = {}
            try:
                for entry in entries:
                    batch = await batches.add(entry)
                    used[id(batch)] = batch
            finally:
                await batches.close()
            sent = [batch.delivery for batch in used.values()]
        else:
            for entry in entries:
                topic, key, value, headers = _record(entry)
                sent.append(await self.producer.send(topic, value=value, key=key,
                                                     headers=headers))
        acked = asyncio.gather(*sent)
        topics = [entry["topic"] for entry in entries]

        def count(done: asyncio.Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                for topic in topics:
                    self._published(topic).inc()

        acked.add_done_callback(count)
        return acked

    async def _send(self, docs: list[Doc]) -> list[list[_Batch] | Exception]:
        """Hand every aggregate's events to the producer in order (acks=all, idempotent),
        in one batch per topic and partition (a full one goes and another follows): for
        each aggregate, the batches its events went in, or why they could not all go."""
        producer = self.producer
        if producer is None:
            return [RuntimeError("relay has no producer: start the service first")] * len(docs)
        batches = _Batches(producer, self.partitioner)
        sent: list[list[_Batch] | Exception] = []
        for doc in docs:
            entries = list((doc.get("outbox") or {}).values())
            if len(entries) > 1:
                entries.sort(key=_order)
            added: list[_Batch] = []
            try:
                for entry in entries:  # appended at once where its batch has room
                    added.append(batches.append(entry) or await batches.add(entry))
            except Exception as exc:
                sent.append(exc)
            else:
                sent.append(added)
        await batches.close()
        return sent

    def _published(self, topic: str) -> Any:
        counter = self._counters.get(topic)
        if counter is None:
            counter = self._counters[topic] = self.metrics.outbox_published.labels(topic)
        return counter

    def _observe(self, docs: list[Doc], now: int) -> None:
        self.metrics.outbox_pending.set(len(docs))
        times = [int(e["at"]) for d in docs for e in (d.get("outbox") or {}).values()]
        self.metrics.outbox_oldest_age.set((now - min(times)) / 1000 if times else 0)


RELEASE = {"relay_lease": EPOCH, "relay_owner": None}
CLEAR_CHUNK = 500  # aggregates cleared by one write


def _record(entry: Doc) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    """An outbox entry as a Kafka record: topic, key, value and headers."""
    headers = entry["headers"]
    try:  # as ``Envelope.headers`` writes them: every value text (no str() per header)
        encoded = [(k, v.encode()) for k, v in headers.items()]
    except AttributeError:  # some other value (an entry not written by entry_of)
        encoded = [(k, str(v).encode()) for k, v in headers.items()]
    return entry["topic"], entry["key"].encode(), entry["value"].encode(), encoded


def _order(entry: Doc) -> int:
    return int(entry["order"])


def _clear(published: list[Doc], owner: str) -> tuple[Doc, Doc]:
    """The write that empties the outbox and clears the flag of each aggregate still at
    the version whose events were published (``published`` share one) and still leased
    by the relay that did: at one version an outbox only loses events (new ones come
    with a new version), so its events then are exactly those published. Selected by
    ``_id`` (``$in``: the ``_id`` index), then version and lease."""
    return ({"_id": {"$in": [doc["_id"] for doc in published]},
             "version": published[0]["version"], "relay_owner": owner},
            {"$set": {"outbox": {}, "outbox_pending": IDLE, **RELEASE}})


def _drop(doc: Doc, owner: str) -> tuple[Doc, Doc]:
    """The write that unsets exactly the published events of an aggregate that moved on
    since (its flag stays for the events queued after them), while they are still there
    (not cleared above) and the lease is still the publisher's."""
    outbox = doc["outbox"]
    return ({"_id": doc["_id"], "relay_owner": owner,
             f"outbox.{next(iter(outbox))}": {"$exists": True}},
            {"$unset": {f"outbox.{eid}": "" for eid in outbox}, "$set": RELEASE})


class _Batch:
    """Records handed to the producer as one batch of one topic and partition."""

    def __init__(self, builder: Any, topic: str, partition: int) -> None:
        self.builder, self.topic, self.partition = builder, topic, partition
        self.count = 0
        self.delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()


class _Batches:
    """The open batch of each topic and partition of one relay pass (aiokafka's
    ``create_batch``/``send_batch``: one delivery per batch, not one per record).
    Records of one key go to one partition in the order added, as ``send`` would."""

    def __init__(self, producer: AIOKafkaProducer, partitioner: KeyPartitioner) -> None:
        self.producer = producer
        self.open: dict[tuple[str, int], _Batch] = {}
        self.partitions: dict[str, list[int]] = {}
        self.partitioner = partitioner

    def append(self, entry: Doc) -> _Batch | None:
        """Append ``entry`` to the open batch of its topic and partition if one has room
        (the partitions of its topic known already); None: ``add`` it instead."""
        topic, key, value, headers = _record(entry)
        partitions = self.partitions.get(topic)
        if partitions is None:
            return None
        batch = self.open.get((topic, self.partitioner(key, partitions, partitions)))
        if batch is None or batch.builder.append(key=key, value=value, timestamp=None,
                                                 headers=headers) is None:
            return None
        batch.count += 1
        return batch

    async def add(self, entry: Doc) -> _Batch:
        topic, key, value, headers = _record(entry)
        partitions = self.partitions.get(topic)
        if partitions is None:
            partitions = self.partitions[topic] = sorted(await self.producer.partitions_for(topic))
        partition = self.partitioner(key, partitions, partitions)
        for _ in range(2):
            batch = self.open.get((topic, partition))
            if batch is None:
                batch = self.open[(topic, partition)] = _Batch(self.producer.create_batch(),
                                                               topic, partition)
            if batch.builder.append(key=key, value=value, timestamp=None,
                                    headers=headers) is not None:
                batch.count += 1
                return batch
            if not batch.count:
                break
            await self._go(batch)  # full: it goes, and the record opens the next one
        raise ValueError(f"an event of {len(value)} bytes does not fit in a batch")

    async def _go(self, batch: _Batch) -> None:
        """Hand ``batch`` over; a batch that cannot go fails its delivery."""
        del self.open[(batch.topic, batch.partition)]
        try:
            batch.delivery = await self.producer.send_batch(batch.builder, batch.topic,
                                                            partition=batch.partition)
        except Exception as exc:
            batch.delivery.set_exception(exc)

    async def close(self) -> None:
        """Hand over every batch still open."""
        for batch in list(self.open.values()):
            await self._go(batch)

"""Aggregate documents with their outbox: one atomic write per decision.

Each aggregate is one MongoDB document holding its state, a ``version``, the
events it still has to publish (``outbox``: a map keyed by event id, each with
its order) with an indexed ``outbox_pending`` flag, and the ids of incoming
messages already applied (``processed``). A change is one conditional
``update_one`` (version matches, the incoming id is absent) that sets the state,
records the incoming id and queues the outgoing events together: no dual write,
no multi-document transaction (MongoDB's single-document atomicity).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.base import Message
from contracts.categories import Category
from contracts.envelope import Envelope
from contracts.topics import CATEGORY_SCOPED, topic_name
from ggzy.runtime.batching import Store
from ggzy.runtime.errors import Conflict, NotFound
from ggzy.runtime.logs import correlation_id

EPOCH = 0  # relay leases and bookkeeping times are epoch milliseconds (see now_ms)
BOOKKEEPING = ("_id", "version", "outbox", "outbox_pending", "processed", "relay_lease",
               "relay_owner")
_BOOKKEEPING = frozenset(BOOKKEEPING)
PROCESSED_RETENTION_MS = 14 * 24 * 3600 * 1000
# The pending flag is an integer: booleans written by $set do not compare equal to
# booleans written by insert on every MongoDB-compatible store (nx-27017 stores 0/1).
PENDING, IDLE = 1, 0
Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a change happens: the incoming message (if any) and its flow."""

    message_id: str | None = None  # the incoming message; applied at most once
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event to publish, with its category where the stage is category-scoped."""

    event: Message
    category: Category | None = None


@dataclass(slots=True)
class Change:
    """What a decision does to an aggregate: fields to set or remove, events to emit."""

    set: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    events: list[Outgoing] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of a change: the new version, or that it was a duplicate."""

    version: int
    duplicate: bool = False
    envelopes: tuple[Envelope, ...] = ()


@dataclass(frozen=True, slots=True)
class Fresh:
    """Events a write has just queued on an aggregate that had no others pending."""

    coll: AsyncCollection[Doc]
    doc_id: Any
    version: int
    outbox: Doc
    owner: str | None = None  # a new aggregate, written already leased to this relay


@dataclass(slots=True)
class Write:
    """A decision's conditional update on the version read, ready to send."""

    doc_id: Any
    version: int  # the version it writes
    filter: Doc
    update: Doc
    outbox: Doc
    envelopes: tuple[Envelope, ...]
    fresh: bool
    owner: str | None


def now_ms() -> int:
    """Now in epoch milliseconds: the bookkeeping clock.

    Times the platform compares in queries (leases, timers, processed ids) are
    integers: a datetime written by ``$set`` is not stored as a date on every
    MongoDB-compatible store (nx-27017 turns it into a string), integers are.
    """
    return time.time_ns() // 1_000_000


def state_of(doc: Mapping[str, Any]) -> Doc:
    """The aggregate's own fields, without the outbox bookkeeping."""
    return {k: v for k, v in doc.items() if k not in _BOOKKEEPING}


class Aggregates:
    """One collection of aggregates of a service, written only through decisions."""

    def __init__(self, collection: AsyncCollection[Doc], *, source: str, topic_prefix: str,
                 on_queued: Callable[[], None], store: Store | None = None,
                 on_fresh: Callable[[Fresh], None] | None = None,
                 lease_new: Callable[[], tuple[int, str]] | None = None,
                 cache_size: int = 0) -> None:
        self.collection = collection
        # Single-document reads and writes are group-committed with the service's
        # other concurrent ones (batching.Store); without one, each goes alone.
        self.store = store or Store(collection.database.client)
        self.source = source
        self.topic_prefix = topic_prefix
        self.on_queued = on_queued
        # Events queued on an aggregate with no others pending go to the relay's fast
        # path (published from memory); the others wait for its sweep.
        self.on_fresh = on_fresh
        # A new aggregate is inserted already leased to this replica's relay (no one
        # else can hold it yet), which then publishes it without a claim.
        self.lease_new = lease_new
        # Documents as this replica last wrote them (by id, oldest first; never changed in
        # place, so no copy is made on the way in or out: a BSON copy cost ~20 µs an
        # event to encode and decode, bench/README.md credit session 8), for
        # ``steps.apply_many`` to write on without reading; a write on a stale one does
        # not match its version and falls back to a read. 0: no cache.
        self.cache_size = cache_size
        self.cache: dict[Any, Doc] = {}

    async def get(self, aggregate_id: str) -> Doc | None:
        """The aggregate's document (with its version), or None."""
        return await self.store.find_one(self.collection, aggregate_id)

    async def view(self, aggregate_id: str, without: tuple[str, ...] = ()) -> Doc | None:
        """The aggregate's state for a read, without its bookkeeping nor ``without``
        fields (large parts such as an audit trail a hot read does not need)."""
        hidden = dict.fromkeys(("outbox", "processed", *without), 0)
        return await self.store.find_one(self.collection, aggregate_id, hidden)

    async def create(self, aggregate_id: str, state: Doc, events: list[Outgoing],
                     cause: Cause | None = None) -> Applied:
        """Insert a new aggregate with its first events; Conflict if the id exists."""
        cause = cause or Cause()
        doc, write = self.prepare_new(aggregate_id, state, events, cause)
        try:
            await self.store.insert_one(self.collection, doc)
        except DuplicateKeyError:
            existing = await self.get(aggregate_id) or {}
            if cause.message_id and cause.message_id in existing.get("processed", {}):
                return Applied(version=int(existing["version"]), duplicate=True)
            raise Conflict("already_exists", f"{aggregate_id} already exists",
                           existing_id=aggregate_id) from None
        return self.written(write)

    def prepare_new(self, aggregate_id: str, state: Doc, events: list[Outgoing],
                    cause: Cause) -> tuple[Doc, Write]:
        """The document that opens an aggregate with its first events, and its outcome."""
        now = now_ms()
        outbox, envelopes = self._queue(aggregate_id, 1, events, cause, now)
        doc: Doc = {**state, "_id": aggregate_id, "version": 1, "outbox": outbox,
                    "outbox_pending": PENDING if outbox else IDLE, "relay_lease": EPOCH,
                    "processed": {cause.message_id: now} if cause.message_id else {}}
        owner = None
        if outbox and self.lease_new is not None and self.on_fresh is not None:
            doc["relay_lease"], owner = self.lease_new()
            doc["relay_owner"] = owner
        return doc, Write(aggregate_id, 1, {}, {}, outbox, envelopes, True, owner)

    async def update(self, aggregate_id: str, decide: Callable[[Doc, int], Change],
                     cause: Cause | None = None, attempts: int = 20) -> Applied:
        """Load, decide, and write back atomically, retrying on a concurrent change."""
        cause = cause or Cause()
        for _ in range(attempts):
            doc = await self.get(aggregate_id)
            if doc is None:
                raise NotFound("not_found", f"{aggregate_id} does not exist")
            version = int(doc["version"])
            if cause.message_id and cause.message_id in doc.get("processed", {}):
                return Applied(version=version, duplicate=True)
            change = decide(state_of(doc), version)
            applied = await self.write_on(doc, change, cause)
            if applied is not None:
                return applied
        raise Conflict("concurrent_update", f"{aggregate_id} changed concurrently; try again")

    async def write_on(self, doc: Doc, change: Change, cause: Cause) -> Applied | None:
        """Write ``change`` on the version of ``doc`` already read (the write ``update``
        does after its read); None when the aggregate has moved on since."""
        write = self.prepare(doc, change, cause)
        if await self.store.update_one(self.collection, write.filter, write.update) != 1:
            return None
        return self.written(write)

    def prepare(self, doc: Doc, change: Change, cause: Cause, *, cached: bool = False
                ) -> Write:
        """The conditional update that writes ``change`` on the version of ``doc``.
        ``cached``: ``doc`` is this replica's copy, assumed relayed (its outbox empty):
        the write then matches only if nothing is pending."""
        version = int(doc["version"])
        now = now_ms()
        outbox, envelopes = self._queue(doc["_id"], version + 1, change.events, cause, now)
        filt: Doc = {"_id": doc["_id"], "version": version}
        sets: Doc = {**change.set, "version": version + 1}
        sets.update({f"outbox.{eid}": entry for eid, entry in outbox.items()})
        if outbox:
            sets["outbox_pending"] = PENDING
            if cached:
                filt["outbox_pending"] = IDLE
        if cause.message_id:
            filt[f"processed.{cause.message_id}"] = {"$exists": False}
            sets[f"processed.{cause.message_id}"] = now
        # fresh only if the read saw the outbox and it was empty (a read without the
        # outbox cannot tell, so the events wait for the relay's sweep)
        fresh = "outbox" in doc and not doc["outbox"]
        owner = self._lease_in(doc, filt, sets, now) if outbox and fresh else None
        update: Doc = {"$set": sets}
        unset = list(change.unset) + _expired(doc.get("processed", {}), now)
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        return Write(doc["_id"], version + 1, filt, update, outbox, envelopes, fresh, owner)

    def written(self, write: Write) -> Applied:
        """After ``write`` matched: hand its events to the relay."""
        self._queued(write.outbox, write.doc_id, write.version, fresh=write.fresh,
                     owner=write.owner)
        return Applied(version=write.version, envelopes=write.envelopes)

    def _lease_in(self, doc: Doc, filt: Doc, sets: Doc, now: int) -> str | None:
        """Lease the aggregate to this replica's relay in the write itself, as an insert
        is, when the read saw it unleased: the write then matches only while no relay
        holds it, and the relay publishes it without a claim. None: left to a claim."""
        lease = doc.get("relay_lease")
        if self.lease_new is None or self.on_fresh is None or not isinstance(lease, int) \
                or lease >= now:
            return None
        filt["relay_lease"] = {"$lt": now}
        sets["relay_lease"], owner = self.lease_new()
        sets["relay_owner"] = owner
        return owner

    def _queue(self, aggregate_id: str, version: int, events: list[Outgoing], cause: Cause,
               now: int) -> tuple[Doc, tuple[Envelope, ...]]:
        outbox: Doc = {}
        envelopes: list[Envelope] = []
        for index, out in enumerate(events):
            envelope = self._envelope(out, cause)
            outbox[envelope.id] = entry_of(out, envelope, self.topic_prefix,
                                           version * 1000 + index, now)
            envelopes.append(envelope)
        return outbox, tuple(envelopes)

    def _envelope(self, out: Outgoing, cause: Cause) -> Envelope:
        return stamp(out, cause, self.source)

    def _topic(self, out: Outgoing) -> str:
        return topic_of(out, self.topic_prefix)

    def _queued(self, outbox: Doc, aggregate_id: Any, version: int, *, fresh: bool,
                owner: str | None = None) -> None:
        if not outbox:
            return
        if fresh and self.on_fresh is not None:
            self.on_fresh(Fresh(self.collection, aggregate_id, version, outbox, owner))
        else:
            self.on_queued()


def entry_of(out: Outgoing, envelope: Envelope, prefix: str, order: int, now: int) -> Doc:
    """An outgoing event as the relay sends it (an outbox entry)."""
    return {
        "order": order,
        "topic": topic_of(out, prefix),
        "key": out.event.aggregate_id(),
        "headers": envelope.headers(),
        "value": out.event.model_dump_json(),  # as dump(), serialized by pydantic-core
        "at": now,
    }


def stamp(out: Outgoing, cause: Cause, source: str, event_id: str | None = None) -> Envelope:
    """The envelope of an outgoing event caused by ``cause`` (a new id unless given)."""
    return Envelope.new(
        type=out.event.type_name(),
        source=source,
        subject=out.event.aggregate_id(),
        category=out.category,
        correlationid=cause.correlation_id or correlation_id.get(),
        causationid=cause.message_id,
        id=event_id,
    )


def topic_of(out: Outgoing, prefix: str) -> str:
    """The topic an outgoing event goes to."""
    return _topic(type(out.event), out.category, prefix)


@lru_cache(maxsize=1024)
def _topic(cls: type[Message], category: Category | None, prefix: str) -> str:
    """A message type's topic (its stage, audience and kind are class attributes)."""
    scoped = category if cls.stage in CATEGORY_SCOPED else None
    return topic_name(cls.stage, scoped, audience=cls.audience, kind=cls.kind, prefix=prefix)


def _expired(processed: Mapping[str, Any], now: int) -> list[str]:
    """Paths of processed-message ids older than the retention (pruned by age)."""
    limit = now - PROCESSED_RETENTION_MS
    return [f"processed.{mid}" for mid, at in processed.items()
            if isinstance(at, int) and at < limit]
